//! The store's contract, by role. The engine and the server hold an `Arc<dyn Store>`; each role
//! trait says what one part of the hub asks of it, and each has its room in this crate, where
//! [`SqlStore`](crate::SqlStore) implements it:
//!
//! | role          | what                                                   | implemented in      |
//! |---------------|--------------------------------------------------------|---------------------|
//! | [`IngestLog`] | requests committed with their effects, exactly once    | `ingest.rs`         |
//! | [`Timers`]    | durable timers, leases, commits of what firing decided | `timers.rs`         |
//! | [`Runs`]      | runs, discount codes, tags                             | `runs.rs`           |
//! | [`Outbox`]    | messages on their way; channels' shared send rates     | `outbox.rs`         |
//! | [`ReadModel`] | carts, contacts, orders as the projections keep them   | `read_model.rs`     |
//! | [`Reports`]   | what a flow's report counts                            | `reports.rs`        |
//! | [`Surveys`]   | "why they left": survey answers, one per cart           | `surveys.rs`        |
//! | [`Privacy`](crate::Privacy) | a shopper's export, wiping what was sent, `[retention]` | `privacy.rs` |
//! | [`DeadLetters`](crate::DeadLetters) | journal records set aside: listed, redriven | `dead_letters.rs` |
//! | [`Store`]     | all of them, plus health, shutdown and the hub's keys  | `sql.rs`            |
//!
//! Calling a role's method on an `Arc<dyn Store>` needs the role in scope:
//! `use cartback_store::prelude::*;` brings them all.

use crate::model::{self, *};
use crate::{CartFilter, Ingest, MessageFilter, StoreResult};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// The whole store: every role, and what belongs to none (health, shutdown, the hub's keys).
#[async_trait]
pub trait Store:
    IngestLog
    + Timers
    + Runs
    + Outbox
    + ReadModel
    + Reports
    + Surveys
    + crate::privacy::Privacy
    + crate::dead_letters::DeadLetters
    + std::fmt::Debug
    + 'static
{
    /// Is the database reachable? (`/readyz`)
    async fn ping(&self) -> StoreResult<()>;

    /// Closes pools, flushing what is pending.
    async fn close(&self);

    /// A named random key the hub generates once and keeps (link signing), shared by every instance.
    async fn hub_key(&self, name: &str, now: DateTime<Utc>) -> StoreResult<Vec<u8>>;
}

/// What arrives: requests committed with their effects, exactly once.
#[async_trait]
pub trait IngestLog: Send + Sync {
    /// Commits a request's delivery ids, events and their effects atomically. If any delivery id
    /// was seen before, nothing is written and [`IngestOutcome::Duplicate`] is returned.
    async fn ingest(&self, ingest: Ingest<'_>) -> StoreResult<IngestOutcome>;

    /// [`Store::ingest`] for a polled source: `cursor` (where the next poll starts) is saved in the
    /// same transaction, so a restart neither re-reads everything nor misses an update.
    async fn ingest_polled(
        &self,
        ingest: Ingest<'_>,
        cursor: Option<&str>,
    ) -> StoreResult<IngestOutcome>;

    /// Webhooks durable in SQLite's ingest journal and not yet applied (0 without a journal).
    fn ingest_backlog(&self) -> u64 {
        0
    }

    /// Journal records that failed to apply again and again and were set aside in
    /// `journal_failed` for an operator (SQLite; 0 elsewhere).
    async fn ingest_set_aside(&self) -> StoreResult<u64> {
        Ok(0)
    }

    /// Where a polled source resumes.
    async fn poll_cursor(&self, source_id: &str) -> StoreResult<Option<String>>;

    /// [`IngestLog::ingest_polled`] with the cursor kept under `cursor_key` rather than the
    /// source's id: an import (`import:<source id>`) resumes apart from the source's live poller.
    async fn ingest_with_cursor(
        &self,
        ingest: Ingest<'_>,
        cursor_key: &str,
        cursor: Option<&str>,
    ) -> StoreResult<IngestOutcome>;

    /// Forgets the cursor kept under `key` (a finished import); true when there was one.
    async fn clear_poll_cursor(&self, key: &str) -> StoreResult<bool>;
}

/// Durable timers: claimed under a lease, committed with what their firing decided.
#[async_trait]
pub trait Timers: Send + Sync {
    /// Claims up to `limit` due timers with a lease ending at `now + lease`.
    async fn claim_timers(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<Timer>>;

    /// Applies what a fired timer decided and completes (or reschedules) it, in one transaction,
    /// only if the timer is still leased as claimed.
    async fn commit_timer(
        &self,
        timer: &Timer,
        commit: TimerCommit,
        now: DateTime<Utc>,
    ) -> StoreResult<CommitOutcome>;

    /// Applies a commit that no timer guards (test runs, admin actions).
    async fn apply(&self, commit: TimerCommit, now: DateTime<Utc>) -> StoreResult<CommitOutcome>;

    /// Creates or moves a timer.
    async fn schedule_timer(
        &self,
        kind: TimerKind,
        subject: &str,
        due: DateTime<Utc>,
    ) -> StoreResult<()>;

    async fn pending_timers(&self) -> StoreResult<u64>;

    /// When the timer of this kind and subject is due, if there is one (a run's next step).
    async fn timer_due(&self, kind: TimerKind, subject: &str)
        -> StoreResult<Option<DateTime<Utc>>>;

    /// The earliest moment any timer can next be claimed (its due time, or the end of the lease
    /// that holds it); `None` with no timer. A virtual clock (`cartback simulate`) jumps there.
    async fn next_timer_due(&self) -> StoreResult<Option<DateTime<Utc>>>;
}

/// A flow's runs and what their steps write besides messages (discount codes, tags).
#[async_trait]
pub trait Runs: Send + Sync {
    async fn run(&self, id: &str) -> StoreResult<Option<RunRecord>>;

    async fn runs_for_cart(&self, cart_id: &str) -> StoreResult<Vec<RunRecord>>;

    async fn runs_for_contact(&self, contact_id: &str) -> StoreResult<Vec<RunRecord>>;

    /// Whether any message of the run was delivered, opened, clicked.
    async fn engagement(&self, run_id: &str) -> StoreResult<Engagement>;

    /// A run's sent messages with their last delivery and click times.
    /// A run's step log, oldest first: what became of each step, and why a step was skipped.
    async fn run_steps(&self, run_id: &str) -> StoreResult<Vec<model::StepRecord>>;

    async fn message_touches(&self, run_id: &str) -> StoreResult<Vec<model::MessageTouch>>;

    /// The discount code for (run, step): the one given before, else the first unused code of the list.
    async fn allocate_discount(
        &self,
        flow_id: &str,
        codes: &[String],
        run_id: &str,
        step: u32,
    ) -> StoreResult<Option<String>>;

    /// Tags the contact; `true` when the tag is new to it (a `tag:` flow starts then).
    async fn add_contact_tag(&self, contact_id: &str, tag: &str) -> StoreResult<bool>;

    /// What started a run, when no cart abandonment did (`event:<log seq>`, `tag:<name>`).
    async fn run_trigger(&self, run_id: &str) -> StoreResult<Option<String>>;

    /// Pauses or resumes a flow (for every instance).
    async fn set_flow_paused(
        &self,
        flow_id: &str,
        paused: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// The flows paused now.
    async fn paused_flows(&self) -> StoreResult<Vec<String>>;
}

/// Messages on their way: claimed under a lease, sent, finished, redriven.
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Claims up to `limit` due messages of a channel. Rows whose lease expired mid-send become
    /// `unknown` (or queued again when `resend_unknown`); queued rows whose cart converted are cancelled.
    async fn claim_outbox(
        &self,
        channel_id: &str,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
        resend_unknown: bool,
    ) -> StoreResult<Vec<OutboxRow>>;

    /// Marks a claimed message as on its way to the provider, if the lease still holds. A claim that
    /// expires before this is queued again; one that expires after it becomes `unknown`.
    async fn mark_sending(&self, row: &OutboxRow) -> StoreResult<bool>;

    /// Records the outcome of a delivery attempt, if the lease still holds.
    async fn finish_outbox(
        &self,
        row: &OutboxRow,
        outcome: DeliveryOutcome,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Queues failed/unknown messages again (all of `status`, or the given ids).
    async fn redrive(
        &self,
        ids: &[String],
        status: Option<OutboxStatus>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;

    /// Messages per channel and status, for the `queued`, `failed` and `unknown` statuses.
    async fn queue_depths(&self) -> StoreResult<Vec<(String, String, u64)>>;

    async fn outbox_message(&self, id: &str) -> StoreResult<Option<OutboxRow>>;

    async fn messages(&self, filter: &MessageFilter) -> StoreResult<Vec<OutboxRow>>;

    /// The URL tracked link `index` of a message redirects to.
    async fn message_link(&self, message_id: &str, index: u32) -> StoreResult<Option<String>>;

    /// Takes `want` send tokens of channel `channel_id` from the bucket every instance of the
    /// deployment shares, refilled at `rate.per_second` by the database's clock and capped at
    /// `rate.burst`: all of them, or none when fewer are there (then `left` says how many are).
    /// PostgreSQL keeps the bucket in `rate_buckets`, one row per channel, taken in one statement;
    /// SQLite grants `want` at once without touching the database: one process owns it, so the
    /// engine's own pacing is already the whole deployment's.
    async fn take_send_tokens(
        &self,
        channel_id: &str,
        want: u32,
        rate: SendRate,
    ) -> StoreResult<SendTokens>;
}

/// Carts, contacts and orders as the projections keep them.
#[async_trait]
pub trait ReadModel: Send + Sync {
    async fn cart(&self, id: &str) -> StoreResult<Option<CartRecord>>;

    async fn carts(&self, filter: &CartFilter) -> StoreResult<Vec<CartRecord>>;

    async fn contact(&self, id: &str) -> StoreResult<Option<ContactRecord>>;

    async fn contact_tags(&self, contact_id: &str) -> StoreResult<Vec<String>>;

    /// Carts per status (`open`, `abandoned`, `converted`).
    async fn cart_counts(&self) -> StoreResult<Vec<(String, u64)>>;

    /// One event of the log by its number, as it was applied.
    async fn logged_event(&self, seq: i64) -> StoreResult<Option<model::LoggedEvent>>;

    /// The log as it arrived, for `cartback simulate`: up to `limit` events received in
    /// `[from, to]` after number `after_seq`, in the order they were logged. Erased entries and
    /// the hub's own reports on the messages it sent (`message_status`) are left out.
    async fn replay_events(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<model::ReplayEvent>>;

    async fn order(
        &self,
        source_id: &str,
        order_id: &str,
    ) -> StoreResult<Option<model::OrderRecord>>;
}

/// What a flow's report counts.
#[async_trait]
pub trait Reports: Send + Sync {
    /// Grouped counts for a flow's report, over runs enrolled in `[from, to)`.
    async fn report_data(
        &self,
        flow_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<model::ReportData>;
}

/// "Why they left": survey answers, one per cart, and what the flow report counts of them.
#[async_trait]
pub trait Surveys: Send + Sync {
    /// Keeps an answer unless its cart has one already: `true` when this one was kept. A second
    /// answer for the same cart (another message, a double submit) changes nothing.
    async fn record_survey_answer(&self, answer: &crate::SurveyAnswer) -> StoreResult<bool>;

    /// The answer given for a cart, if any.
    async fn survey_answer(&self, cart_id: &str) -> StoreResult<Option<crate::SurveyAnswer>>;

    /// Answers per reason and value band of a flow's runs enrolled in `[from, to)`, and its
    /// newest free-text answers (at most `texts`); test runs left out.
    async fn survey_report(
        &self,
        flow_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        texts: u32,
    ) -> StoreResult<crate::SurveyData>;
}
