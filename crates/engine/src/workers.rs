//! The workers: timers, every channel's outbox, and the gauges, until shutdown.

use crate::front::*;
use cartback_store::StoreResult;
use std::sync::Arc;
use std::time::Duration;

impl Engine {
    // ---- workers ----

    /// Publishes queue depth and dead-letter gauges per channel (`cartback_outbox_messages{channel,status}`)
    /// and the number of pending timers.
    pub async fn publish_gauges(&self) -> StoreResult<()> {
        let mut seen = std::collections::BTreeSet::new();
        for (channel, status, n) in self.store.queue_depths().await? {
            metrics::gauge!("cartback_outbox_messages", "channel" => channel.clone(), "status" => status.clone()).set(n as f64);
            seen.insert((channel, status));
        }
        for channel in self.channels.keys() {
            for status in ["queued", "failed", "unknown"] {
                if !seen.contains(&(channel.clone(), status.to_string())) {
                    metrics::gauge!("cartback_outbox_messages", "channel" => channel.clone(), "status" => status).set(0.0);
                }
            }
        }
        metrics::gauge!("cartback_timers_pending").set(self.store.pending_timers().await? as f64);
        // Webhooks acknowledged (durable in SQLite's ingest journal) and not yet applied.
        metrics::gauge!("cartback_ingest_backlog").set(self.store.ingest_backlog() as f64);
        // Records that could not be applied, kept in `journal_failed`: anything above 0 wants an operator.
        metrics::gauge!("cartback_ingest_set_aside")
            .set(self.store.ingest_set_aside().await? as f64);
        for status in ["open", "abandoned", "converted"] {
            metrics::gauge!("cartback_carts", "status" => status).set(0.0);
        }
        for (status, n) in self.store.cart_counts().await? {
            metrics::gauge!("cartback_carts", "status" => status).set(n as f64);
        }
        Ok(())
    }

    /// Spawns the timer worker and one delivery worker per channel; they stop when `shutdown` turns true.
    pub fn spawn(
        self: &Arc<Self>,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let mut handles = Vec::new();
        let engine = self.clone();
        let mut stop = shutdown.clone();
        let gauges = self.clone();
        let mut gauge_stop = shutdown.clone();
        handles.push(tokio::spawn(async move {
            loop {
                if let Err(err) = gauges.publish_gauges().await {
                    tracing::debug!(error = %err, "Could not read queue depths.");
                }
                tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                _ = gauge_stop.changed() => return}
            }
        }));
        handles.push(tokio::spawn(async move {
            loop {
                let busy = match engine.tick().await {
                    Ok(n) => n > 0,
                    Err(err) => {
                        tracing::warn!(error = %err, "Timer worker could not claim timers.");
                        false
                    }
                };
                if *stop.borrow() {
                    return;
                }
                if !busy {
                    tokio::select! {
                    _ = tokio::time::sleep(engine.idle_poll) => {}
                    _ = stop.changed() => return}
                }
            }
        }));
        for id in self.channels.keys() {
            let id = id.clone();
            let engine = self.clone();
            let mut stop = shutdown.clone();
            handles.push(tokio::spawn(async move {
                let mut idle = engine.idle_poll;
                loop {
                    let (busy, pause) = match engine.deliver_round(&id).await {
                        Ok((n, pause)) => (n > 0, pause),
                        Err(err) => {
                            tracing::warn!(channel = %id, error = %err, "Delivery worker could not claim messages.");
                            (false, None)
                        }
                    };
                    if *stop.borrow() {
                        return;
                    }
                    // An idle, failing or throttled channel backs off instead of re-reading its queue
                    // in a tight loop; other channels have their own workers and are not slowed.
                    idle = if busy { engine.idle_poll } else { (idle * 2).min(engine.idle_poll * 10) };
                    let rest = match pause {
                        Some(p) => p.min(Duration::from_secs(60)),
                        None if busy => Duration::ZERO,
                        None => idle};
                    if !rest.is_zero() {
                        tokio::select! {
                            _ = tokio::time::sleep(rest) => {}
                            _ = stop.changed() => return}
                    }
                }
            }));
        }
        handles
    }
}
