//! The outbox for both SQLite and PostgreSQL: claiming under a lease, marking sends, finishing,
//! redriving, listing; the hub's keys; and the [`Outbox`] role of [`SqlStore`].

use crate::exec::{corrupt, Backend};
use crate::exec::{query, query_scalar, DbRow, Exec};
use crate::model::*;
use crate::roles::Outbox;
use crate::sql::count;
use crate::sql::SqlStore;
use crate::time::{from_ms, to_ms};
use crate::timers::{ms, skip_locked};
use crate::MessageFilter;
use crate::StoreResult;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::time::Duration;

const OUTBOX_COLS: &str =
    "id, run_id, step, channel_id, contact_id, cart_id, status, message, attempts, next_attempt_at,
    lease_until, provider_message_id, last_error, test, created_at, sent_at";

fn outbox_row(r: &DbRow) -> StoreResult<OutboxRow> {
    let status: String = r.try_get("status")?;
    let message: String = r.try_get("message")?;
    Ok(OutboxRow {
        id: r.try_get("id")?,
        run_id: r.try_get("run_id")?,
        step: u32::try_from(r.try_get::<i64, _>("step")?).unwrap_or(0),
        channel_id: r.try_get("channel_id")?,
        contact_id: r.try_get("contact_id")?,
        cart_id: r.try_get("cart_id")?,
        status: OutboxStatus::parse(&status)
            .ok_or_else(|| corrupt(format!("outbox status {status}")))?,
        message: serde_json::from_str(&message).map_err(corrupt)?,
        attempts: u32::try_from(r.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
        next_attempt_at: from_ms(r.try_get("next_attempt_at")?),
        lease_until: r.try_get("lease_until")?,
        provider_message_id: r.try_get("provider_message_id")?,
        last_error: r.try_get("last_error")?,
        test: r.try_get::<i64, _>("test")? != 0,
        created_at: from_ms(r.try_get("created_at")?),
        sent_at: r.try_get::<Option<i64>, _>("sent_at")?.map(from_ms),
    })
}

pub(crate) async fn claim_outbox(
    tx: &mut dyn Exec,
    backend: Backend,
    channel_id: &str,
    now: DateTime<Utc>,
    lease: Duration,
    limit: u32,
    resend_unknown: bool,
) -> StoreResult<Vec<OutboxRow>> {
    let now_ms = to_ms(now);
    // A claim whose lease ran out before its request went out is simply queued again; a send whose
    // lease ran out may have reached the provider: unknown, not re-sent unless the channel says so.
    query(
        "UPDATE outbox SET status = 'queued', lease_until = NULL
         WHERE channel_id = $1 AND status = 'claimed' AND lease_until <= $2",
    )
    .bind(channel_id)
    .bind(now_ms)
    .execute(&mut *tx)
    .await?;
    query(if resend_unknown {
        "UPDATE outbox SET status = 'queued', lease_until = NULL, last_error = 'lease expired during send'
         WHERE channel_id = $1 AND status = 'sending' AND lease_until <= $2"
    } else {
        "UPDATE outbox SET status = 'unknown', lease_until = NULL, last_error = 'lease expired during send'
         WHERE channel_id = $1 AND status = 'sending' AND lease_until <= $2"
    })
    .bind(channel_id)
    .bind(now_ms)
    .execute(&mut *tx)
    .await?;
    // The shopper bought before it went out.
    query(
        "UPDATE outbox SET status = 'cancelled', last_error = 'cart converted before sending'
         WHERE channel_id = $1 AND status = 'queued' AND test = 0 AND next_attempt_at <= $2
           AND EXISTS (SELECT 1 FROM carts c WHERE c.id = outbox.cart_id AND c.status = 'converted')",
    )
    .bind(channel_id)
    .bind(now_ms)
    .execute(&mut *tx)
    .await?;
    let rows = query(&format!(
        "UPDATE outbox SET status = 'claimed', lease_until = $1, attempts = attempts + 1
         WHERE id IN (SELECT id FROM outbox WHERE channel_id = $2 AND status = 'queued' AND next_attempt_at <= $3
                      ORDER BY next_attempt_at LIMIT $4{})
         RETURNING {OUTBOX_COLS}",
        skip_locked(backend)
    ))
    .bind(now_ms.saturating_add(ms(lease)))
    .bind(channel_id)
    .bind(now_ms)
    .bind(i64::from(limit))
    .fetch_all(&mut *tx)
    .await?;
    let mut out: Vec<OutboxRow> = rows.iter().map(outbox_row).collect::<StoreResult<_>>()?;
    out.sort_by_key(|r| (r.next_attempt_at, r.created_at));
    Ok(out)
}

/// Marks a claimed message as on its way to the provider (from here on, a crash makes it `unknown`).
pub(crate) async fn mark_sending(pool: &mut dyn Exec, row: &OutboxRow) -> StoreResult<bool> {
    let changed = query(
        "UPDATE outbox SET status = 'sending' WHERE id = $1 AND status = 'claimed' AND lease_until = $2",
    )
    .bind(&row.id)
    .bind(row.lease_until)
    .execute(&mut *pool)
    .await?
    .rows_affected();
    Ok(changed == 1)
}

pub(crate) async fn finish_outbox(
    pool: &mut dyn Exec,
    row: &OutboxRow,
    outcome: DeliveryOutcome,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let now_ms = to_ms(now);
    let (status, next, provider, error, sent_at) = match outcome {
        DeliveryOutcome::Sent {
            provider_message_id,
        } => ("sent", None, provider_message_id, None, Some(now_ms)),
        DeliveryOutcome::Retry { at, error } => {
            ("queued", Some(to_ms(at)), None, Some(error), None)
        }
        DeliveryOutcome::Failed { error } => ("failed", None, None, Some(error), None),
        DeliveryOutcome::Unknown { error } => ("unknown", None, None, Some(error), None),
        DeliveryOutcome::Cancelled { reason } => ("cancelled", None, None, Some(reason), None),
    };
    let changed = query(
        "UPDATE outbox SET status = $1, next_attempt_at = COALESCE($2, next_attempt_at), lease_until = NULL,
            provider_message_id = COALESCE($3, provider_message_id), last_error = $4, sent_at = COALESCE($5, sent_at)
         WHERE id = $6 AND status IN ('claimed', 'sending') AND lease_until = $7",
    )
    .bind(status)
    .bind(next)
    .bind(provider)
    .bind(error)
    .bind(sent_at)
    .bind(&row.id)
    .bind(row.lease_until)
    .execute(&mut *pool)
    .await?
    .rows_affected();
    Ok(changed == 1)
}

pub(crate) async fn outbox_message(tx: &mut dyn Exec, id: &str) -> StoreResult<Option<OutboxRow>> {
    let row = query(&format!("SELECT {OUTBOX_COLS} FROM outbox WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    row.as_ref().map(outbox_row).transpose()
}

pub(crate) async fn messages(x: &mut dyn Exec, f: &MessageFilter) -> StoreResult<Vec<OutboxRow>> {
    let limit = if f.limit == 0 { 100 } else { f.limit.min(1000) };
    let (sql, binds) = crate::exec::filtered(
        &format!("SELECT {OUTBOX_COLS} FROM outbox WHERE 1 = 1"),
        &[
            ("status", f.status.map(|s| s.as_str().to_string())),
            ("run_id", f.run_id.clone()),
            ("channel_id", f.channel_id.clone()),
            ("cart_id", f.cart_id.clone()),
        ],
        "created_at DESC, id DESC",
    );
    let mut q = query(&sql);
    for b in binds {
        q = q.bind(b);
    }
    let rows = q.bind(i64::from(limit)).fetch_all(x).await?;
    rows.iter().map(outbox_row).collect()
}

pub(crate) async fn redrive(
    tx: &mut dyn Exec,
    ids: &[String],
    status: Option<OutboxStatus>,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let now_ms = to_ms(now);
    let mut n = 0;
    for id in ids {
        n += query(
            "UPDATE outbox SET status = 'queued', next_attempt_at = $1, lease_until = NULL, attempts = 0
             WHERE id = $2 AND status IN ('failed', 'unknown')",
        )
        .bind(now_ms)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    if let Some(s) = status {
        if matches!(s, OutboxStatus::Failed | OutboxStatus::Unknown) {
            n += query(
                "UPDATE outbox SET status = 'queued', next_attempt_at = $1, lease_until = NULL, attempts = 0 WHERE status = $2",
            )
            .bind(now_ms)
            .bind(s.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
    }
    Ok(n)
}

/// Takes `want` tokens of a channel's shared bucket, or none (PostgreSQL: one statement on the
/// channel's `rate_buckets` row, which it creates full). The bucket refills by the time elapsed on
/// the database's clock since it was last refreshed, at `rate.per_second`, up to `rate.burst`;
/// one clock for every instance, so a fast or slow host cannot mint tokens. A statement that waited
/// for another's row lock may carry an earlier time than the row's: it refills nothing and leaves
/// the row's time as it was. `granted` is a column only so that `RETURNING` can say what this
/// statement gave.
pub(crate) async fn take_send_tokens(
    tx: &mut dyn Exec,
    channel_id: &str,
    want: u32,
    rate: SendRate,
) -> StoreResult<SendTokens> {
    let avail = "LEAST($3::DOUBLE PRECISION, b.tokens
        + GREATEST(0, EXCLUDED.refreshed_at - b.refreshed_at) * $4::DOUBLE PRECISION)";
    // A millionth of a token of slack for the floating-point refill (the engine's GRANT_SLACK).
    let grant = format!("CASE WHEN {avail} >= $2::BIGINT - 1e-6 THEN $2::BIGINT ELSE 0 END");
    let row = query(&format!(
        "INSERT INTO rate_buckets AS b (channel_id, tokens, granted, refreshed_at)
         VALUES ($1,
                 $3::DOUBLE PRECISION - CASE WHEN $3::DOUBLE PRECISION >= $2::BIGINT THEN $2::BIGINT ELSE 0 END,
                 CASE WHEN $3::DOUBLE PRECISION >= $2::BIGINT THEN $2::BIGINT ELSE 0 END,
                 (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT)
         ON CONFLICT (channel_id) DO UPDATE SET
             tokens = {avail} - {grant},
             granted = {grant},
             refreshed_at = GREATEST(b.refreshed_at, EXCLUDED.refreshed_at)
         RETURNING granted, tokens"
    ))
    .bind(channel_id)
    .bind(i64::from(want))
    .bind(f64::from(rate.burst.max(1)))
    .bind(rate.per_second.max(0.0) / 1000.0)
    .fetch_one(&mut *tx)
    .await?;
    Ok(SendTokens {
        granted: u32::try_from(row.try_get::<i64, _>("granted")?).unwrap_or(0),
        left: row.try_get("tokens")?,
    })
}

#[async_trait]
impl Outbox for SqlStore {
    async fn take_send_tokens(
        &self,
        channel_id: &str,
        want: u32,
        rate: SendRate,
    ) -> StoreResult<SendTokens> {
        if self.backend == Backend::Sqlite {
            // One process owns a SQLite database: its own pacing is the whole deployment's.
            return Ok(SendTokens {
                granted: want,
                left: f64::from(rate.burst),
            });
        }
        let channel_id = channel_id.to_string();
        self.write(move |tx| {
            Box::pin(async move { (take_send_tokens(tx, &channel_id, want, rate).await, true) })
        })
        .await
    }

    async fn claim_outbox(
        &self,
        channel_id: &str,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
        resend_unknown: bool,
    ) -> StoreResult<Vec<OutboxRow>> {
        let backend = self.backend;
        let channel_id = channel_id.to_string();
        self.write(move |tx| {
            Box::pin(async move {
                let r =
                    claim_outbox(tx, backend, &channel_id, now, lease, limit, resend_unknown).await;
                (r, true)
            })
        })
        .await
    }

    async fn mark_sending(&self, row: &OutboxRow) -> StoreResult<bool> {
        let row = row.clone();
        self.write(move |tx| Box::pin(async move { (mark_sending(tx, &row).await, true) }))
            .await
    }

    async fn finish_outbox(
        &self,
        row: &OutboxRow,
        outcome: DeliveryOutcome,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let row = row.clone();
        self.write(move |tx| {
            Box::pin(async move { (finish_outbox(tx, &row, outcome, now).await, true) })
        })
        .await
    }

    async fn redrive(
        &self,
        ids: &[String],
        status: Option<OutboxStatus>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let ids = ids.to_vec();
        self.write(move |tx| Box::pin(async move { (redrive(tx, &ids, status, now).await, true) }))
            .await
    }

    async fn queue_depths(&self) -> StoreResult<Vec<(String, String, u64)>> {
        self.read(|x| {
            Box::pin(async move {
                query(
                    "SELECT channel_id, status, COUNT(*) AS n FROM outbox
                     WHERE status IN ('queued', 'failed', 'unknown') GROUP BY channel_id, status",
                )
                .fetch_all(x)
                .await?
                .iter()
                .map(|r| {
                    Ok((
                        r.try_get("channel_id")?,
                        r.try_get("status")?,
                        count(r.try_get("n")?),
                    ))
                })
                .collect()
            })
        })
        .await
    }

    async fn outbox_message(&self, id: &str) -> StoreResult<Option<OutboxRow>> {
        let id = id.to_string();
        self.read(move |x| Box::pin(async move { outbox_message(x, &id).await }))
            .await
    }

    async fn messages(&self, filter: &MessageFilter) -> StoreResult<Vec<OutboxRow>> {
        let filter = filter.clone();
        self.read(move |x| Box::pin(async move { messages(x, &filter).await }))
            .await
    }

    async fn message_link(&self, message_id: &str, index: u32) -> StoreResult<Option<String>> {
        let message_id = message_id.to_string();
        self.read(move |x| {
            Box::pin(async move {
                query_scalar("SELECT url FROM message_links WHERE message_id = $1 AND idx = $2")
                    .bind(message_id)
                    .bind(i64::from(index))
                    .fetch_optional(x)
                    .await
            })
        })
        .await
    }
}
