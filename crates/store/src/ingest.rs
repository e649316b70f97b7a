//! The [`IngestLog`] role of [`SqlStore`]: a request's deliveries, events and effects committed in
//! one transaction (PostgreSQL), one savepoint of SQLite's group commit, or SQLite's ingest journal
//! when it is on; the projections it applies are in `projections/`.

use crate::exec::{query, query_scalar, Backend};
use crate::model::IngestOutcome;
use crate::projections::*;
use crate::roles::IngestLog;
use crate::sql::SqlStore;
use crate::{Ingest, StoreError, StoreResult};
use async_trait::async_trait;

impl SqlStore {
    async fn ingest_once(
        &self,
        ingest: Ingest<'_>,
        cursor: Option<(&str, &str)>,
    ) -> StoreResult<IngestOutcome> {
        let source_id = ingest.source_id.to_string();
        let delivery_ids = ingest.delivery_ids.to_vec();
        let events = ingest.events.to_vec();
        // JSON is written here, on the caller's task, not on the single writer thread.
        let prepared = events
            .iter()
            .map(Prepared::of)
            .collect::<StoreResult<Vec<_>>>()?;
        let received_at = ingest.received_at;
        let trust = ingest.trust;
        let cursor = cursor.map(|(k, v)| (k.to_string(), v.to_string()));
        let rules = self.rules();
        self.write(move |tx| {
            Box::pin(async move {
                let ingest = Ingest {
                    source_id: &source_id,
                    delivery_ids: &delivery_ids,
                    events: &events,
                    received_at,
                    trust,
                };
                let r = ingest_in(
                    tx,
                    ingest,
                    &prepared,
                    cursor.as_ref().map(|(k, v)| (k.as_str(), v.as_str())),
                    &*rules,
                )
                .await;
                // A duplicate is answered, and changes nothing.
                let keep = matches!(r, Ok(IngestOutcome::Accepted { .. }));
                (r, keep)
            })
        })
        .await
    }
}

/// Unique violations, serialization failures and deadlocks: worth one more try.
fn retryable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            db.is_unique_violation()
                || matches!(db.code().as_deref(), Some("40001") | Some("40P01"))
        }
        _ => false,
    }
}

#[async_trait]
impl IngestLog for SqlStore {
    async fn ingest(&self, ingest: Ingest<'_>) -> StoreResult<IngestOutcome> {
        if let Some(journal) = &self.journal {
            return journal.ingest(ingest).await;
        }
        // Two instances creating the same cart or contact at once: the loser's transaction fails on
        // the unique key and is replayed; the second time it finds the row and updates it.
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.ingest_once(ingest, None).await {
                Err(StoreError::Db(e)) if attempt < 4 && retryable(&e) => continue,
                other => return other,
            }
        }
    }

    async fn ingest_polled(
        &self,
        ingest: Ingest<'_>,
        cursor: Option<&str>,
    ) -> StoreResult<IngestOutcome> {
        self.ingest_with_cursor(ingest, ingest.source_id, cursor)
            .await
    }

    async fn ingest_with_cursor(
        &self,
        ingest: Ingest<'_>,
        cursor_key: &str,
        cursor: Option<&str>,
    ) -> StoreResult<IngestOutcome> {
        let cursor = cursor.map(|c| (cursor_key, c));
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.ingest_once(ingest, cursor).await {
                Err(StoreError::Db(e)) if attempt < 4 && retryable(&e) => continue,
                other => return other,
            }
        }
    }

    fn ingest_backlog(&self) -> u64 {
        self.journal.as_ref().map_or(0, |j| j.pending())
    }

    async fn ingest_set_aside(&self) -> StoreResult<u64> {
        if self.backend != Backend::Sqlite {
            return Ok(0);
        }
        self.count("SELECT COUNT(*) FROM journal_failed").await
    }

    async fn poll_cursor(&self, source_id: &str) -> StoreResult<Option<String>> {
        let source_id = source_id.to_string();
        self.read(move |x| {
            Box::pin(async move {
                query_scalar("SELECT cursor FROM poll_cursors WHERE source_id = $1")
                    .bind(source_id)
                    .fetch_optional(x)
                    .await
            })
        })
        .await
    }

    async fn clear_poll_cursor(&self, key: &str) -> StoreResult<bool> {
        let key = key.to_string();
        self.write(move |tx| {
            Box::pin(async move {
                let r = query("DELETE FROM poll_cursors WHERE source_id = $1")
                    .bind(key)
                    .execute(tx)
                    .await
                    .map(|done| done.rows_affected() > 0);
                let keep = r.is_ok();
                (r, keep)
            })
        })
        .await
    }
}
