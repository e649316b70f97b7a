//! `[retention]`: a worker that ages out what the shop chose not to keep (raw events, message
//! bodies, delivery ids), a few hundred records per short transaction with a pause between, so
//! ingestion never waits behind it.

use cartback_core::Clock;
use cartback_store::{RetentionSettings, Store};
use std::sync::Arc;
use std::time::Duration;

/// Records per transaction.
pub const BATCH: u32 = 500;
/// At most this many batches per kind per round; the rest waits for the next round.
pub const BATCHES_PER_ROUND: usize = 20;
/// How often a round runs.
pub const EVERY: Duration = Duration::from_secs(60);

/// One round: each configured kind, in batches; returns how many records went.
pub async fn round(
    store: &dyn Store,
    clock: &dyn Clock,
    settings: &RetentionSettings,
) -> cartback_store::StoreResult<u64> {
    let mut total = 0;
    for (kind, age) in settings.kinds() {
        let before = clock.now() - crate::front::chrono_dur(age);
        for _ in 0..BATCHES_PER_ROUND {
            let n = store.age_out(kind, before, BATCH).await?;
            total += n;
            metrics::counter!("cartback_retention_removed_total", "kind" => kind.as_str())
                .increment(n);
            if n < u64::from(BATCH) {
                break;
            }
            // Let ingestion's writes in between batches.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Ok(total)
}

/// Runs a round every [`EVERY`] until `shutdown` turns true; nothing when nothing is configured.
pub fn spawn(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    settings: RetentionSettings,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> Option<tokio::task::JoinHandle<()>> {
    if settings.kinds().is_empty() {
        return None;
    }
    Some(tokio::spawn(async move {
        loop {
            match round(store.as_ref(), clock.as_ref(), &settings).await {
                Ok(n) if n > 0 => tracing::info!(records = n, "Aged out records past [retention]."),
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "Retention round failed; it runs again."),
            }
            tokio::select! {
                _ = tokio::time::sleep(EVERY) => {}
                _ = shutdown.changed() => return,
            }
        }
    }))
}
