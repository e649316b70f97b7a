//! Dead letters of the ingest journal: records that failed to apply five times are kept whole in
//! `journal_failed` with their error (SQLite). An operator lists and inspects them, and redrives
//! one: it is applied as a webhook is (one transaction), and leaves the table once applied. A
//! redrive is idempotent: a record applied before is recognised by its delivery and event ids
//! (a duplicate), and leaves the table all the same. (Failed and unknown messages are the
//! outbox's: `Outbox::redrive`.)

use crate::exec::query;
use crate::model::IngestOutcome;
use crate::sql::SqlStore;
use crate::time::from_ms;
use crate::StoreResult;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// A journal record set aside.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SetAside {
    pub seq: i64,
    pub source_id: String,
    /// How many events it carries.
    pub events: usize,
    pub error: String,
    pub failed_at: DateTime<Utc>,
    /// The record as kept (the translated request: source, delivery ids, events), for
    /// [`DeadLetters::set_aside_one`] only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<serde_json::Value>,
}

/// What a redrive came to.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Redriven {
    /// Applied now (or recognised as applied before): it left the table.
    Applied { duplicate: bool },
    /// It failed again: it stays, with this error.
    Failed { error: String },
    /// No such record.
    Missing,
}

/// The dead-letter role.
#[async_trait]
pub trait DeadLetters: Send + Sync {
    /// The records set aside, oldest first, at most `limit` (without their bodies).
    async fn set_aside(&self, limit: u32) -> StoreResult<Vec<SetAside>>;

    /// One record set aside, with its body.
    async fn set_aside_one(&self, seq: i64) -> StoreResult<Option<SetAside>>;

    /// Applies a record set aside again.
    async fn redrive_set_aside(&self, seq: i64) -> StoreResult<Redriven>;
}

fn read(r: &crate::exec::DbRow, with_body: bool) -> StoreResult<SetAside> {
    let text: String = r.try_get("record")?;
    let record: serde_json::Value = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    Ok(SetAside {
        seq: r.try_get("seq")?,
        source_id: record["source_id"].as_str().unwrap_or_default().to_string(),
        events: record["events"].as_array().map_or(0, Vec::len),
        error: r.try_get("error")?,
        failed_at: from_ms(r.try_get("failed_at")?),
        record: with_body.then_some(record),
    })
}

#[async_trait]
impl DeadLetters for SqlStore {
    async fn set_aside(&self, limit: u32) -> StoreResult<Vec<SetAside>> {
        // PostgreSQL has no journal: nothing is ever set aside.
        if self.backend() != crate::Backend::Sqlite {
            return Ok(Vec::new());
        }
        self.read(move |x| {
            Box::pin(async move {
                query("SELECT seq, record, error, failed_at FROM journal_failed ORDER BY seq LIMIT $1")
                    .bind(i64::from(limit))
                    .fetch_all(x)
                    .await?
                    .iter()
                    .map(|r| read(r, false))
                    .collect()
            })
        })
        .await
    }

    async fn set_aside_one(&self, seq: i64) -> StoreResult<Option<SetAside>> {
        if self.backend() != crate::Backend::Sqlite {
            return Ok(None);
        }
        self.read(move |x| {
            Box::pin(async move {
                query("SELECT seq, record, error, failed_at FROM journal_failed WHERE seq = $1")
                    .bind(seq)
                    .fetch_optional(x)
                    .await?
                    .map(|r| read(&r, true))
                    .transpose()
            })
        })
        .await
    }

    async fn redrive_set_aside(&self, seq: i64) -> StoreResult<Redriven> {
        let Some(kept) = self.set_aside_one(seq).await? else {
            return Ok(Redriven::Missing);
        };
        let text = kept.record.map(|r| r.to_string()).unwrap_or_default();
        let record = match crate::journal::Record::decode(text.as_bytes()) {
            Ok(r) => r,
            Err(e) => {
                return Ok(Redriven::Failed {
                    error: e.to_string(),
                })
            }
        };
        let outcome = crate::roles::IngestLog::ingest_polled(self, record.ingest(), None).await;
        let result = match outcome {
            Ok(o) => Redriven::Applied {
                duplicate: o == IngestOutcome::Duplicate,
            },
            Err(e) => Redriven::Failed {
                error: e.to_string(),
            },
        };
        let (delete, error) = match &result {
            Redriven::Applied { .. } => (true, String::new()),
            Redriven::Failed { error } => (false, error.clone()),
            Redriven::Missing => return Ok(result),
        };
        self.write(move |tx| {
            Box::pin(async move {
                let r = if delete {
                    query("DELETE FROM journal_failed WHERE seq = $1")
                        .bind(seq)
                        .execute(tx)
                        .await
                } else {
                    query("UPDATE journal_failed SET error = $1 WHERE seq = $2")
                        .bind(error)
                        .bind(seq)
                        .execute(tx)
                        .await
                };
                (r.map(|_| ()), true)
            })
        })
        .await?;
        Ok(result)
    }
}
