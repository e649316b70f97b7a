//! Polled sources: one worker per source reads the platform's API on its interval, commits the
//! events together with the next cursor, and backs off as the platform asks.

use cartback_core::{Clock, LinkPolicy, PollError, Poller};
use cartback_store::{Ingest, IngestOptions, Store, StoreResult};
use std::sync::Arc;
use std::time::Duration;

/// One poll round for `source_id`: returns how long to wait before the next one.
pub async fn poll_once(
    store: &dyn Store,
    clock: &dyn Clock,
    options: &IngestOptions,
    links: &LinkPolicy,
    source_id: &str,
    poller: &dyn Poller,
) -> StoreResult<Duration> {
    let cursor = store.poll_cursor(source_id).await?;
    let now = clock.now();
    match poller.poll(source_id, cursor.as_deref(), now).await {
        Ok(mut batch) => {
            let n = batch.events.len();
            // The same checks as a webhook's events; an event that fails them is left out (the
            // cursor still moves: polling it again would fail again).
            batch.events.retain_mut(|e| {
                match cartback_core::check_events(std::slice::from_mut(e)) {
                    Ok(()) => true,
                    Err(reason) => {
                        tracing::warn!(%source_id, %reason, "Skipped a polled event.");
                        false
                    }
                }
            });
            // Only links on the shop's own hosts are kept (docs/SECURITY.md).
            links.scrub_events(&mut batch.events);
            store
                .ingest_polled(
                    Ingest {
                        source_id,
                        delivery_ids: &[],
                        events: &batch.events,
                        received_at: now,
                        trust: cartback_core::Trust::Verified,
                    },
                    batch.cursor.as_deref(),
                    options,
                )
                .await?;
            metrics::counter!("cartback_polled_events_total", "source" => source_id.to_string())
                .increment(n as u64);
            if n > 0 {
                tracing::info!(%source_id, events = n, more = batch.more, "Polled source.");
            }
            Ok(if batch.more {
                Duration::ZERO
            } else {
                poller.interval()
            })
        }
        Err(PollError::Retryable {
            reason,
            retry_after,
        }) => {
            tracing::warn!(%source_id, %reason, "Poll failed; retrying later.");
            Ok(retry_after
                .unwrap_or_else(|| poller.interval())
                .max(Duration::from_secs(1)))
        }
        Err(PollError::Permanent { reason }) => {
            // Credentials or URL are wrong: keep trying slowly so a fix needs no restart.
            tracing::error!(%source_id, %reason, "Poll refused; check the source's settings.");
            Ok(poller.interval().max(Duration::from_secs(300)))
        }
    }
}

/// Spawns the polling worker of one source; it stops when `shutdown` turns true.
pub fn spawn(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    options: Arc<IngestOptions>,
    links: LinkPolicy,
    source_id: String,
    poller: Arc<dyn Poller>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let wait = match poll_once(
                store.as_ref(),
                clock.as_ref(),
                &options,
                &links,
                &source_id,
                poller.as_ref(),
            )
            .await
            {
                Ok(w) => w,
                Err(err) => {
                    tracing::warn!(%source_id, error = %err, "Could not store polled events.");
                    Duration::from_secs(5)
                }
            };
            if *shutdown.borrow() {
                return;
            }
            if !wait.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.changed() => return,
                }
            }
        }
    })
}
