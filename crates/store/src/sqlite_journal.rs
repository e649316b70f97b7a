//! The SQLite store's side of the ingest journal: its watermark, applying a record in the
//! writer's group commit, skipping and setting aside, and the `journal::Projection` it offers.

use crate::exec::{query, query_scalar, Exec};
use crate::model::IngestOutcome;
use crate::rules::IngestRules;
use crate::time::to_ms;
use crate::{StoreError, StoreResult};
use async_trait::async_trait;
use chrono::Utc;

use crate::projections::*;
use crate::sql::SqlStore;

/// Moves the ingest journal's watermark forward to `$1` (never back).
pub(crate) const JOURNAL_SKIP_TO: &str =
    "UPDATE journal_state SET applied_seq = $1 WHERE id = 1 AND applied_seq < $1";

/// The ingest journal's side of the database (SQLite; see `journal`).
impl SqlStore {
    /// Every journal record up to this one is applied.
    pub(crate) async fn journal_watermark(&self) -> StoreResult<u64> {
        let applied: i64 = self
            .write(|tx| {
                Box::pin(async move {
                    let r = query_scalar("SELECT applied_seq FROM journal_state WHERE id = 1")
                        .fetch_one(tx)
                        .await;
                    (r, false)
                })
            })
            .await?;
        Ok(applied.max(0) as u64)
    }

    /// Queues the job that applies journal record `seq`: the ingest, and the watermark moved to
    /// `seq`, in one savepoint, only if record `seq - 1` is applied. A record applied before
    /// answers [`IngestOutcome::Duplicate`] and changes nothing.
    pub(crate) async fn journal_apply(
        &self,
        seq: u64,
        payload: &[u8],
    ) -> StoreResult<tokio::sync::oneshot::Receiver<StoreResult<IngestOutcome>>> {
        // Decoding and JSON for the rows happen here, on the projector's task, not on the
        // single writer thread.
        let record = crate::journal::Record::decode(payload)?;
        let prepared = record
            .events
            .iter()
            .map(Prepared::of)
            .collect::<StoreResult<Vec<_>>>()?;
        let rules = self.rules();
        let seq = seq as i64;
        self.submit(move |tx| {
            Box::pin(async move {
                let r = apply_journaled(tx, seq, &record, &prepared, &*rules).await;
                let keep = matches!(r, Ok(Some(_)));
                (r.map(|o| o.unwrap_or(IngestOutcome::Duplicate)), keep)
            })
        })
        .await
    }

    /// Moves the watermark past records that cannot be read back (damaged on disk).
    pub(crate) async fn journal_skip_to(&self, seq: u64) -> StoreResult<()> {
        let seq = seq as i64;
        self.write(move |tx| {
            Box::pin(async move {
                let r = query(JOURNAL_SKIP_TO)
                    .bind(seq)
                    .execute(tx)
                    .await
                    .map(|_| ());
                let keep = r.is_ok();
                (r, keep)
            })
        })
        .await
    }

    /// Keeps a record that fails to apply in `journal_failed`, with its error, and moves the
    /// watermark past it.
    pub(crate) async fn journal_set_aside(
        &self,
        seq: u64,
        record: String,
        error: String,
    ) -> StoreResult<()> {
        let seq = seq as i64;
        let now = to_ms(Utc::now());
        self.write(move |tx| {
            Box::pin(async move {
                let r = async {
                    query(
                        "INSERT INTO journal_failed (seq, record, error, failed_at) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (seq) DO NOTHING",
                    )
                    .bind(seq)
                    .bind(record)
                    .bind(error)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    query(JOURNAL_SKIP_TO)
                        .bind(seq)
                        .execute(&mut *tx)
                        .await?;
                    Ok(())
                }
                .await;
                let keep = r.is_ok();
                (r, keep)
            })
        })
        .await
    }
}

/// Applies journal record `seq` inside the writer's job savepoint. `Ok(None)`: applied before.
pub(crate) async fn apply_journaled(
    tx: &mut dyn Exec,
    seq: i64,
    record: &crate::journal::Record,
    prepared: &[Prepared],
    rules: &dyn IngestRules,
) -> StoreResult<Option<IngestOutcome>> {
    let applied: i64 = query_scalar("SELECT applied_seq FROM journal_state WHERE id = 1")
        .fetch_one(&mut *tx)
        .await?;
    if applied >= seq {
        return Ok(None);
    }
    if applied != seq - 1 {
        return Err(StoreError::Commit(format!(
            "journal record {seq} waits for record {} (applied up to {applied})",
            applied + 1
        )));
    }
    query("SAVEPOINT journal_record").execute(&mut *tx).await?;
    let outcome = ingest_in(&mut *tx, record.ingest(), prepared, None, rules).await?;
    if outcome == IngestOutcome::Duplicate {
        // A redelivery: its delivery ids are not kept, but the record counts as applied.
        query("ROLLBACK TO SAVEPOINT journal_record")
            .execute(&mut *tx)
            .await?;
    }
    query("RELEASE SAVEPOINT journal_record")
        .execute(&mut *tx)
        .await?;
    query("UPDATE journal_state SET applied_seq = $1 WHERE id = 1")
        .bind(seq)
        .execute(&mut *tx)
        .await?;
    Ok(Some(outcome))
}

#[async_trait]
impl crate::journal::Projection for SqlStore {
    async fn watermark(&self) -> StoreResult<u64> {
        self.journal_watermark().await
    }

    async fn apply(
        &self,
        seq: u64,
        payload: &[u8],
    ) -> StoreResult<tokio::sync::oneshot::Receiver<StoreResult<IngestOutcome>>> {
        self.journal_apply(seq, payload).await
    }

    async fn skip_to(&self, seq: u64) -> StoreResult<()> {
        self.journal_skip_to(seq).await
    }

    async fn set_aside(&self, seq: u64, record: String, error: String) -> StoreResult<()> {
        self.journal_set_aside(seq, record, error).await
    }
}
