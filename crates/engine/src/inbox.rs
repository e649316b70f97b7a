//! The inbox projector. Under load the store commits a webhook's events to its inbox and the hub
//! answers 202 (see `Store::ingest`); this worker applies them to carts, contacts, orders and
//! timers once the database has room, oldest first, each row deleted in the transaction that
//! applies it. A crash leaves the unapplied rows in place; the next start applies them.

use cartback_store::{IngestOptions, Store};
use std::sync::Arc;
use std::time::Duration;

/// Rows applied per round (each in its own savepoint of one group commit) when the database is
/// free, and when it is taking its turn among webhooks (small, so their answers wait little).
const BATCH: u32 = 256;
const BATCH_WHEN_BUSY: u32 = 32;
/// How long to wait for new rows when the inbox is empty.
const IDLE: Duration = Duration::from_millis(100);
/// The longest the projector holds back for webhooks before it takes its turn, so a hub that is
/// never idle still applies its inbox (a batch a second at least).
const MAX_HOLD: Duration = Duration::from_secs(1);

/// Runs until `shutdown` turns true.
pub fn spawn(
    store: Arc<dyn Store>,
    options: Arc<IngestOptions>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let held = tokio::time::Instant::now();
            while store.busy() && held.elapsed() < MAX_HOLD {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let batch = if store.busy() { BATCH_WHEN_BUSY } else { BATCH };
            let wait = match store.project_inbox(batch, &options).await {
                Ok(0) => IDLE,
                Ok(n) => {
                    metrics::counter!("cartback_inbox_applied_total").increment(n as u64);
                    Duration::ZERO
                }
                Err(err) => {
                    tracing::warn!(error = %err, "Could not apply the inbox.");
                    Duration::from_secs(1)
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
