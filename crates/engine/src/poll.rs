//! Polled sources: one worker per source reads the platform's API on its interval, hands the
//! events and the next cursor to the engine's front door (`accept`), and backs off as the
//! platform asks.

use crate::accept::Arrival;
use crate::front::Engine;
use cartback_core::{PollError, Poller};
use cartback_store::StoreResult;
use std::sync::Arc;
use std::time::Duration;

/// One poll round for `source_id`: returns how long to wait before the next one.
pub async fn poll_once(
    engine: &Engine,
    source_id: &str,
    poller: &dyn Poller,
) -> StoreResult<Duration> {
    let cursor = engine.store.poll_cursor(source_id).await?;
    let now = engine.clock.now();
    match poller.poll(source_id, cursor.as_deref(), now).await {
        Ok(batch) => {
            let n = batch.events.len();
            engine
                .accept_polled(
                    Arrival {
                        source_id,
                        delivery_ids: &[],
                        events: batch.events,
                        received_at: now,
                        trust: cartback_core::Trust::Verified,
                    },
                    batch.cursor.as_deref(),
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
    engine: Arc<Engine>,
    source_id: String,
    poller: Arc<dyn Poller>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let wait = match poll_once(&engine, &source_id, poller.as_ref()).await {
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
