//! Timers for both SQLite and PostgreSQL, written once against `exec::Exec`: scheduling, claiming
//! under a lease, and committing what a fired timer decided (runs enrolled or moved on, messages
//! queued, conversions) in one transaction; and the [`Timers`] role of [`SqlStore`].

use crate::exec::Backend;
use crate::exec::{query, query_scalar, Exec};
use crate::model::*;
use crate::roles::Timers;
use crate::sql::SqlStore;
use crate::time::{from_ms, to_ms};
use crate::StoreResult;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::time::Duration;

pub(crate) fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

pub(crate) use crate::exec::corrupt;

pub(crate) async fn upsert_timer(
    conn: &mut dyn Exec,
    kind: TimerKind,
    subject: &str,
    due: i64,
) -> StoreResult<()> {
    query(
        "INSERT INTO timers (kind, subject, due_at) VALUES ($1, $2, $3)
         ON CONFLICT (kind, subject) DO UPDATE SET due_at = excluded.due_at, lease_until = NULL, attempts = 0",
    )
    .bind(kind.as_str())
    .bind(subject)
    .bind(due)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// `FOR UPDATE SKIP LOCKED` where the database has it (PostgreSQL); SQLite has one writer.
pub(crate) fn skip_locked(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    }
}

pub(crate) fn for_update(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => " FOR UPDATE",
        Backend::Sqlite => "",
    }
}

/// Serializes per-contact counting (re-entry, caps) across instances on PostgreSQL.
async fn lock_contact(conn: &mut dyn Exec, backend: Backend, contact_id: &str) -> StoreResult<()> {
    if backend == Backend::Postgres {
        query("SELECT id FROM contacts WHERE id = $1 FOR UPDATE")
            .bind(contact_id)
            .fetch_optional(&mut *conn)
            .await?;
    }
    Ok(())
}

pub(crate) async fn claim_timers(
    tx: &mut dyn Exec,
    backend: Backend,
    now: DateTime<Utc>,
    lease: Duration,
    limit: u32,
) -> StoreResult<Vec<Timer>> {
    let now_ms = to_ms(now);
    let lease_until = now_ms.saturating_add(ms(lease));
    let rows = query(&format!(
        "UPDATE timers SET lease_until = $1, attempts = attempts + 1
         WHERE id IN (SELECT id FROM timers WHERE due_at <= $2 AND (lease_until IS NULL OR lease_until <= $3)
                      ORDER BY due_at LIMIT $4{})
         RETURNING id, kind, subject, due_at, lease_until, attempts",
        skip_locked(backend)
    ))
    .bind(lease_until)
    .bind(now_ms)
    .bind(now_ms)
    .bind(i64::from(limit))
    .fetch_all(tx)
    .await?;
    let mut timers: Vec<Timer> = rows
        .iter()
        .map(|r| {
            let kind: String = r.get("kind")?;
            Ok(Timer {
                id: r.get("id")?,
                kind: TimerKind::parse(&kind)
                    .ok_or_else(|| corrupt(format!("timer kind {kind}")))?,
                subject: r.get("subject")?,
                due_at: from_ms(r.get("due_at")?),
                lease_until: r.get("lease_until")?,
                attempts: u32::try_from(r.get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
            })
        })
        .collect::<StoreResult<_>>()?;
    timers.sort_by_key(|t| (t.due_at, t.id));
    Ok(timers)
}

async fn count_since(
    conn: &mut dyn Exec,
    sql: &str,
    a: &str,
    b: &str,
    since: i64,
) -> StoreResult<i64> {
    query_scalar(sql)
        .bind(a)
        .bind(b)
        .bind(since)
        .fetch_one(&mut *conn)
        .await
}

/// What the caller of [`commit_timer_in`] must undo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Undo {
    /// Keep everything.
    Nothing,
    /// Roll back: the lease was lost.
    Rollback,
    /// Roll back, then delete the timer (its run moved on without it).
    RollbackAndDeleteTimer,
}

/// Applies a timer's commit on an open transaction (or savepoint). Returns what to undo.
pub(crate) async fn commit_timer_in(
    tx: &mut dyn Exec,
    backend: Backend,
    timer: Option<&Timer>,
    commit: &TimerCommit,
    now: DateTime<Utc>,
) -> StoreResult<(CommitOutcome, Undo)> {
    let now_ms = to_ms(now);
    if let Some(timer) = timer {
        let held: Option<i64> = query_scalar(&format!(
            "SELECT id FROM timers WHERE id = $1 AND lease_until = $2 AND due_at = $3{}",
            for_update(backend)
        ))
        .bind(timer.id)
        .bind(timer.lease_until)
        .bind(to_ms(timer.due_at))
        .fetch_optional(&mut *tx)
        .await?;
        if held.is_none() {
            return Ok((CommitOutcome::default(), Undo::Rollback));
        }
    }
    let mut out = CommitOutcome {
        applied: true,
        ..Default::default()
    };
    if let Some(cart_id) = &commit.abandon_cart {
        query("UPDATE carts SET status = 'abandoned' WHERE id = $1 AND status = 'open'")
            .bind(cart_id)
            .execute(&mut *tx)
            .await?;
    }
    for new in &commit.enrol {
        let r = &new.run;
        let mut status = r.status;
        let mut reason = r.exit_reason.clone();
        if let (Some(cap), Some(contact)) = (&new.reenter, &r.contact_id) {
            lock_contact(&mut *tx, backend, contact).await?;
            let n = count_since(
                &mut *tx,
                "SELECT COUNT(*) FROM flow_runs WHERE contact_id = $1 AND flow_id = $2 AND test = 0
                   AND enrolled_at >= $3 AND NOT (status = 'exited' AND exit_reason = 'reenter_cap')",
                contact,
                &r.flow_id,
                to_ms(cap.since),
            )
            .await?;
            if n >= i64::from(cap.max) {
                status = RunStatus::Exited;
                reason = Some("reenter_cap".into());
            }
        }
        let inserted = query(
            "INSERT INTO flow_runs (id, flow_id, cart_id, contact_id, variant, holdout, status, step, test,
                enrolled_at, updated_at, exit_reason, trigger_ref)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING",
        )
        .bind(&r.id)
        .bind(&r.flow_id)
        .bind(&r.cart_id)
        .bind(&r.contact_id)
        .bind(&r.variant)
        .bind(i64::from(r.holdout))
        .bind(status.as_str())
        .bind(i64::from(r.step))
        .bind(i64::from(r.test))
        .bind(to_ms(r.enrolled_at))
        .bind(now_ms)
        .bind(&reason)
        .bind(&new.trigger)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            continue;
        }
        if status == RunStatus::Exited && reason.as_deref() == Some("reenter_cap") {
            out.reentry_capped.push(r.id.clone());
            continue;
        }
        out.enrolled.push(r.id.clone());
        if let (RunStatus::Running, Some(at)) = (status, new.first_step_at) {
            upsert_timer(&mut *tx, TimerKind::RunStep, &r.id, to_ms(at)).await?;
        }
    }
    if let Some(u) = &commit.run_update {
        let changed = query(
            "UPDATE flow_runs SET step = $1, status = $2, exit_reason = COALESCE($3, exit_reason), updated_at = $4
             WHERE id = $5 AND step = $6 AND status = 'running'",
        )
        .bind(i64::from(u.step))
        .bind(u.status.as_str())
        .bind(&u.exit_reason)
        .bind(now_ms)
        .bind(&u.run_id)
        .bind(i64::from(u.expect_step))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            // The run moved on without us (a test run, an exit): write nothing of this step.
            return Ok((
                CommitOutcome {
                    applied: false,
                    ..Default::default()
                },
                Undo::RollbackAndDeleteTimer,
            ));
        }
    }
    for s in &commit.steps {
        query("INSERT INTO run_steps (run_id, step, outcome, detail, at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING")
            .bind(&s.run_id)
            .bind(i64::from(s.step))
            .bind(&s.outcome)
            .bind(&s.detail)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
    }
    for m in &commit.outbox {
        let mut status = OutboxStatus::Queued;
        if let (Some(cap), Some(contact)) = (&m.cap, &m.contact_id) {
            lock_contact(&mut *tx, backend, contact).await?;
            let n = count_since(
                &mut *tx,
                "SELECT COUNT(*) FROM outbox WHERE contact_id = $1 AND channel_id = $2 AND test = 0
                   AND created_at >= $3 AND status IN ('queued', 'claimed', 'sending', 'sent', 'unknown')
                   AND step < 1000000",
                contact,
                &m.message.channel_id,
                to_ms(cap.since),
            )
            .await?;
            if n >= i64::from(cap.max) {
                status = OutboxStatus::Capped;
            }
        }
        let body = serde_json::to_string(&m.message).map_err(corrupt)?;
        let inserted = query(
            "INSERT INTO outbox (id, run_id, step, channel_id, contact_id, cart_id, status, message, attempts,
                next_attempt_at, test, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10, $11) ON CONFLICT DO NOTHING",
        )
        .bind(&m.message.id)
        .bind(&m.run_id)
        .bind(i64::from(m.step))
        .bind(&m.message.channel_id)
        .bind(&m.contact_id)
        .bind(&m.cart_id)
        .bind(status.as_str())
        .bind(body)
        .bind(now_ms)
        .bind(i64::from(m.message.test))
        .bind(now_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted > 0 {
            for (i, url) in m.links.iter().enumerate() {
                query("INSERT INTO message_links (message_id, idx, url) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                    .bind(&m.message.id)
                    .bind(i64::try_from(i).unwrap_or(i64::MAX))
                    .bind(url)
                    .execute(&mut *tx)
                    .await?;
            }
            match status {
                OutboxStatus::Capped => out.capped.push(m.message.id.clone()),
                _ => out.queued.push(m.message.id.clone()),
            }
        }
    }
    for c in &commit.conversions {
        query(
            "INSERT INTO conversions (source_id, order_id, run_id, flow_id, variant, holdout, message_id, step,
                channel_id, touch, revenue_minor, currency, placed_at, enrolled_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT DO NOTHING",
        )
        .bind(&c.source_id)
        .bind(&c.order_id)
        .bind(&c.run_id)
        .bind(&c.flow_id)
        .bind(&c.variant)
        .bind(i64::from(c.holdout))
        .bind(&c.message_id)
        .bind(c.step.map(i64::from))
        .bind(&c.channel_id)
        .bind(&c.touch)
        .bind(c.revenue_minor)
        .bind(&c.currency)
        .bind(to_ms(c.placed_at))
        .bind(to_ms(c.enrolled_at))
        .execute(&mut *tx)
        .await?;
    }
    for (kind, subject, due) in &commit.timers {
        upsert_timer(&mut *tx, *kind, subject, to_ms(*due)).await?;
    }
    match (timer, commit.reschedule) {
        (Some(timer), Some(at)) => {
            query("UPDATE timers SET due_at = $1, lease_until = NULL, attempts = 0 WHERE id = $2")
                .bind(to_ms(at))
                .bind(timer.id)
                .execute(&mut *tx)
                .await?;
        }
        (Some(timer), None) => {
            query("DELETE FROM timers WHERE id = $1")
                .bind(timer.id)
                .execute(&mut *tx)
                .await?;
        }
        (None, _) => {}
    }
    Ok((out, Undo::Nothing))
}

/// [`commit_timer_in`] inside a savepoint of its own, undoing what it says to undo.
pub(crate) async fn commit_timer_with_undo(
    tx: &mut dyn Exec,
    backend: Backend,
    timer: Option<&Timer>,
    commit: &TimerCommit,
    now: DateTime<Utc>,
) -> StoreResult<CommitOutcome> {
    query("SAVEPOINT timer_commit").execute(&mut *tx).await?;
    let (out, undo) = commit_timer_in(tx, backend, timer, commit, now).await?;
    if undo != Undo::Nothing {
        query("ROLLBACK TO SAVEPOINT timer_commit")
            .execute(&mut *tx)
            .await?;
    }
    if let (Undo::RollbackAndDeleteTimer, Some(timer)) = (undo, timer) {
        // Its run moved on without it: the timer has nothing left to do.
        delete_leased_timer(tx, timer).await?;
    }
    query("RELEASE SAVEPOINT timer_commit")
        .execute(&mut *tx)
        .await?;
    Ok(out)
}

pub(crate) async fn delete_leased_timer(conn: &mut dyn Exec, timer: &Timer) -> StoreResult<()> {
    query("DELETE FROM timers WHERE id = $1 AND lease_until = $2")
        .bind(timer.id)
        .bind(timer.lease_until)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

impl SqlStore {
    /// Applies `commit` (guarded by `timer`'s lease when there is one) in the next write.
    pub(crate) async fn commit(
        &self,
        timer: Option<&Timer>,
        commit: TimerCommit,
        now: DateTime<Utc>,
    ) -> StoreResult<CommitOutcome> {
        let backend = self.backend;
        let timer = timer.cloned();
        self.write(move |tx| {
            Box::pin(async move {
                let r = commit_timer_with_undo(tx, backend, timer.as_ref(), &commit, now).await;
                let keep = r.is_ok();
                (r, keep)
            })
        })
        .await
    }
}

#[async_trait]
impl Timers for SqlStore {
    async fn claim_timers(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<Timer>> {
        let backend = self.backend;
        self.write(move |tx| {
            Box::pin(async move { (claim_timers(tx, backend, now, lease, limit).await, true) })
        })
        .await
    }

    async fn commit_timer(
        &self,
        timer: &Timer,
        commit: TimerCommit,
        now: DateTime<Utc>,
    ) -> StoreResult<CommitOutcome> {
        self.commit(Some(timer), commit, now).await
    }

    async fn apply(&self, commit: TimerCommit, now: DateTime<Utc>) -> StoreResult<CommitOutcome> {
        self.commit(None, commit, now).await
    }

    async fn schedule_timer(
        &self,
        kind: TimerKind,
        subject: &str,
        due: DateTime<Utc>,
    ) -> StoreResult<()> {
        let subject = subject.to_string();
        self.write(move |tx| {
            Box::pin(async move { (upsert_timer(tx, kind, &subject, to_ms(due)).await, true) })
        })
        .await
    }

    async fn pending_timers(&self) -> StoreResult<u64> {
        self.count("SELECT COUNT(*) FROM timers").await
    }

    async fn next_timer_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        self.read(move |x| {
            Box::pin(async move {
                query_scalar::<Option<i64>>(
                    "SELECT MIN(CASE WHEN lease_until IS NOT NULL AND lease_until > due_at
                                     THEN lease_until ELSE due_at END) FROM timers",
                )
                .fetch_one(x)
                .await
                .map(|due| due.map(crate::time::from_ms))
            })
        })
        .await
    }

    async fn timer_due(
        &self,
        kind: TimerKind,
        subject: &str,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        let subject = subject.to_string();
        self.read(move |x| {
            Box::pin(async move {
                query_scalar::<i64>("SELECT due_at FROM timers WHERE kind = $1 AND subject = $2")
                    .bind(kind.as_str())
                    .bind(subject)
                    .fetch_optional(x)
                    .await
                    .map(|due| due.map(crate::time::from_ms))
            })
        })
        .await
    }
}
