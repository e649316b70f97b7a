//! cartback-store: everything the hub persists, behind one trait.
//!
//! # Layout
//! - [`model`]: the records the store returns ([`ContactRecord`], [`CartRecord`]) and what one
//!   ingest did ([`IngestOutcome`], [`Effect`]).
//! - [`sql`]: [`SqlStore`], SQLite (the embedded default: WAL, one writer thread) and PostgreSQL
//!   (several instances on one database: `FOR UPDATE SKIP LOCKED` claims) through one code path:
//!   opening, the `Store` impl and the reader threads. Beside it: `sqlite` (the writer, syncer and
//!   checkpointer threads), `projections` (one ingest: contacts, carts, orders, opt-outs,
//!   erasure), `rows` (contact and cart rows read back), `engine_tables` (timers, runs, outbox),
//!   `reports` (what attribution and the reports read), `sqlite_journal` (the store's side of the
//!   journal), `exec` (one query API over sqlx or a thread's own rusqlite connection) and
//!   `migrations` (the schema migrations per backend, `migrations/`).
//! - [`journal`]: SQLite's ingest journal: a webhook is answered once its translated events are
//!   flushed to an append-only file; a projector applies them in order, exactly once, moments later.
//! - `testdb` (cargo feature `testdb`, for dev-dependencies): throw-away SQLite files and
//!   PostgreSQL schemas for tests (`CARTBACK_TEST_PG_URL`).
//! - [`time`]: instants as integer milliseconds, the one representation every backend stores.
//!
//! The [`Store`] trait is the contract: an implementation commits an inbound request's delivery ids,
//! its events and their effect on carts, contacts and orders in **one transaction**, so a webhook
//! is answered 2xx only after all of it is durable, and a redelivery changes nothing. A PostgreSQL
//! implementation follows the same trait and the same shared test suite.

mod engine_tables;
mod exec;
pub mod journal;
mod migrations;
pub mod model;
mod projections;
mod reports;
mod rows;
pub mod rules;
pub mod sql;
mod sqlite;
mod sqlite_journal;
#[cfg(feature = "testdb")]
pub mod testdb;
pub mod time;

use async_trait::async_trait;
use cartback_core::{Event, Trust};
use chrono::{DateTime, Utc};
use std::time::Duration;

pub use model::{
    CapCheck, CartFilter, CartRecord, CommitOutcome, ContactRecord, ConversionGroup, ConversionRow,
    DeliveryOutcome, Effect, EffectKind, Engagement, IngestOutcome, MessageGroup, MessageTouch,
    NewMessage, NewRun, OrderRecord, OutboxRow, OutboxStatus, ReportData, RunGroup, RunRecord,
    RunStatus, RunUpdate, StepLog, Timer, TimerCommit, TimerKind,
};
pub use rules::{CheckPlan, IngestRules, NoRules, OrderCandidates};
pub use sql::{Backend, SqlStore, SqlValue, SqliteStore};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database error: {0}")]
    Sqlite(String),
    #[error("migration failed: {0}")]
    Migrate(String),
    #[error("stored row is unreadable: {0}")]
    Corrupt(String),
    #[error("commit failed: {0}")]
    Commit(String),
    #[error("store url {0:?} is not supported (use sqlite://PATH or postgres://...)")]
    Url(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Which queued messages to list.
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    pub status: Option<OutboxStatus>,
    pub cart_id: Option<String>,
    pub run_id: Option<String>,
    pub channel_id: Option<String>,
    pub limit: u32,
}

/// One inbound request, translated.
#[derive(Debug, Clone, Copy)]
pub struct Ingest<'a> {
    pub source_id: &'a str,
    pub delivery_ids: &'a [String],
    pub events: &'a [Event],
    pub received_at: DateTime<Utc>,
    /// Whether the request's contact details are the shopper's or only claims (a public key).
    pub trust: Trust,
}

#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// Is the database reachable? (`/readyz`)
    async fn ping(&self) -> StoreResult<()>;

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

    async fn cart(&self, id: &str) -> StoreResult<Option<CartRecord>>;

    async fn carts(&self, filter: &CartFilter) -> StoreResult<Vec<CartRecord>>;

    async fn contact(&self, id: &str) -> StoreResult<Option<ContactRecord>>;

    /// Closes pools, flushing what is pending.
    async fn close(&self);

    // ---- engine: timers and runs ----

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

    /// Carts per status (`open`, `abandoned`, `converted`).
    async fn cart_counts(&self) -> StoreResult<Vec<(String, u64)>>;

    async fn run(&self, id: &str) -> StoreResult<Option<RunRecord>>;

    async fn runs_for_cart(&self, cart_id: &str) -> StoreResult<Vec<RunRecord>>;

    /// Whether any message of the run was delivered, opened, clicked.
    async fn engagement(&self, run_id: &str) -> StoreResult<Engagement>;

    async fn contact_tags(&self, contact_id: &str) -> StoreResult<Vec<String>>;

    async fn add_contact_tag(&self, contact_id: &str, tag: &str) -> StoreResult<()>;

    /// The discount code for (run, step): the one given before, else the first unused code of the list.
    async fn allocate_discount(
        &self,
        flow_id: &str,
        codes: &[String],
        run_id: &str,
        step: u32,
    ) -> StoreResult<Option<String>>;

    // ---- outbox ----

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

    async fn messages(&self, filter: &MessageFilter) -> StoreResult<Vec<OutboxRow>>;

    async fn outbox_message(&self, id: &str) -> StoreResult<Option<OutboxRow>>;

    async fn order(
        &self,
        source_id: &str,
        order_id: &str,
    ) -> StoreResult<Option<model::OrderRecord>>;

    async fn runs_for_contact(&self, contact_id: &str) -> StoreResult<Vec<RunRecord>>;

    /// A run's sent messages with their last delivery and click times.
    async fn message_touches(&self, run_id: &str) -> StoreResult<Vec<model::MessageTouch>>;

    /// Grouped counts for a flow's report, over runs enrolled in `[from, to)`.
    async fn report_data(
        &self,
        flow_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<model::ReportData>;

    /// The URL tracked link `index` of a message redirects to.
    async fn message_link(&self, message_id: &str, index: u32) -> StoreResult<Option<String>>;

    /// A named random key the hub generates once and keeps (link signing), shared by every instance.
    async fn hub_key(&self, name: &str, now: DateTime<Utc>) -> StoreResult<Vec<u8>>;

    /// Queues failed/unknown messages again (all of `status`, or the given ids).
    async fn redrive(
        &self,
        ids: &[String],
        status: Option<OutboxStatus>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;

    /// Messages per channel and status, for the `queued`, `failed` and `unknown` statuses.
    async fn queue_depths(&self) -> StoreResult<Vec<(String, String, u64)>>;
}

/// Opens the store a URL names and runs its migrations.
pub async fn open(url: &str) -> StoreResult<std::sync::Arc<dyn Store>> {
    open_with(url, 16).await
}

/// As [`open`], with at most `pool_size` PostgreSQL connections.
pub async fn open_with(url: &str, pool_size: u32) -> StoreResult<std::sync::Arc<dyn Store>> {
    if url.starts_with("sqlite:")
        || url.starts_with("postgres://")
        || url.starts_with("postgresql://")
    {
        Ok(std::sync::Arc::new(
            SqlStore::open_with(url, pool_size).await?,
        ))
    } else {
        Err(StoreError::Url(url.to_string()))
    }
}

/// Opens the store `settings` describe, `url` being its URL already resolved against the config
/// file: [`open_with`], and SQLite's ingest journal as `[store.journal]` says.
pub async fn open_settings(
    url: &str,
    settings: &StoreSettings,
    rules: std::sync::Arc<dyn IngestRules>,
) -> StoreResult<std::sync::Arc<dyn Store>> {
    if !(url.starts_with("sqlite:")
        || url.starts_with("postgres://")
        || url.starts_with("postgresql://"))
    {
        return Err(StoreError::Url(url.to_string()));
    }
    Ok(std::sync::Arc::new(
        SqlStore::open_with(url, settings.pool_size)
            .await?
            .with_rules(rules)
            .with_journal(&settings.journal)
            .await?,
    ))
}

fn default_store_url() -> String {
    "sqlite://cartback.db".into()
}

/// The `[store]` table.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSettings {
    /// `sqlite://PATH` (relative paths are relative to the config file) or `postgres://...`.
    #[serde(default = "default_store_url")]
    pub url: String,
    /// PostgreSQL connections per instance (SQLite always writes through one).
    #[serde(default = "default_pool_size")]
    pub pool_size: u32,
    /// SQLite's ingest journal (`[store.journal]`); PostgreSQL commits every webhook inline.
    #[serde(default)]
    pub journal: journal::JournalSettings,
}

fn default_pool_size() -> u32 {
    16
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            url: default_store_url(),
            pool_size: default_pool_size(),
            journal: journal::JournalSettings::default(),
        }
    }
}

impl StoreSettings {
    pub fn validate(&self) -> Vec<cartback_core::Problem> {
        if self.url.starts_with("sqlite:")
            || self.url.starts_with("postgres://")
            || self.url.starts_with("postgresql://")
        {
            let mut errors = self.journal.validate();
            if self.pool_size == 0 || self.pool_size > 1000 {
                errors.push(cartback_core::Problem::new(
                    "pool_size",
                    "must be between 1 and 1000",
                ));
            }
            errors
        } else {
            vec![cartback_core::Problem::new(
                "url",
                format!("{:?} is not a sqlite:// or postgres:// URL", self.url),
            )]
        }
    }

    /// The URL with a relative SQLite path made relative to `base` (the config file's folder).
    pub fn resolved_url(&self, base: &std::path::Path) -> String {
        let Some(rest) = self
            .url
            .strip_prefix("sqlite://")
            .or_else(|| self.url.strip_prefix("sqlite:"))
        else {
            return self.url.clone();
        };
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        if path.is_empty() || path == ":memory:" || std::path::Path::new(path).is_absolute() {
            return self.url.clone();
        }
        let full = base.join(path);
        match query {
            Some(q) => format!("sqlite://{}?{q}", full.display()),
            None => format!("sqlite://{}", full.display()),
        }
    }
}
