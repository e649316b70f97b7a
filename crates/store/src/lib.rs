//! cartback-store: everything the hub persists, behind one trait made of roles.
//!
//! # Layout
//! - [`roles`]: the contract: [`Store`] is [`IngestLog`] + [`Timers`] + [`Runs`] + [`Outbox`] +
//!   [`ReadModel`] + [`Reports`] + [`Surveys`]; `use cartback_store::prelude::*` to call them.
//! - [`rules`]: the seam through which the engine's ingest rules (the debounce, which cart an
//!   order converts) reach ingest: told once, when the store opens.
//! - [`decisions`]: what the engine decides and the store writes ([`TimerCommit`], [`NewRun`],
//!   [`NewMessage`], [`ConversionRow`], [`DeliveryOutcome`]), rule-free records.
//! - [`model`]: the records the store returns ([`ContactRecord`], [`CartRecord`]) and what one
//!   ingest did ([`IngestOutcome`], [`Effect`]).
//! - [`sql`]: [`SqlStore`], SQLite (the embedded default: WAL, one writer thread, reader threads)
//!   and PostgreSQL (several instances on one database: `FOR UPDATE SKIP LOCKED` claims) through
//!   one code path: opening, the write and read plumbing, and the [`Store`] impl. Each role's impl
//!   sits with the SQL it runs: `ingest` ([`IngestLog`]), `timers`, `runs`, `outbox`, `read_model`
//!   (contact and cart rows read back), `reports`, `surveys` ([`Surveys`]: "why they left").
//!   Beside them: `sqlite` (the writer, syncer and checkpointer threads), `projections` (one
//!   ingest: contacts apart; carts, orders, opt-outs, erasure), `sqlite_journal` (the store's side
//!   of the journal), `exec` (one query API over sqlx for PostgreSQL or a thread's own rusqlite
//!   connection for SQLite) and `migrations` (the schema migrations per backend, `migrations/`).
//! - [`journal`]: SQLite's ingest journal: a webhook is answered once its translated events are
//!   flushed to an append-only file; a projector applies them in order, exactly once, moments later.
//! - `testdb` (cargo feature `testdb`, for dev-dependencies): throw-away SQLite files and
//!   PostgreSQL schemas for tests (`CARTBACK_TEST_PG_URL`).
//! - [`time`]: instants as integer milliseconds, the one representation every backend stores.
//!
//! An implementation commits an inbound request's delivery ids, its events and their effect on
//! carts, contacts and orders in **one transaction**, so a webhook is answered 2xx only after all
//! of it is durable, and a redelivery changes nothing. SQLite and PostgreSQL pass the same shared
//! test suite (`tests/suite.rs`).

pub mod dead_letters;
pub mod decisions;
mod exec;
mod ingest;
pub mod journal;
mod migrations;
pub mod model;
mod outbox;
pub mod privacy;
mod projections;
mod read_model;
mod reports;
pub mod roles;
pub mod rules;
mod runs;
pub mod sql;
mod sqlite;
mod sqlite_journal;
mod surveys;
#[cfg(feature = "testdb")]
pub mod testdb;
pub mod time;
mod timers;

use cartback_core::{Event, Trust};
use chrono::{DateTime, Utc};

pub use dead_letters::{DeadLetters, Redriven, SetAside};
pub use model::{
    CapCheck, CartFilter, CartRecord, CommitOutcome, ContactRecord, ConversionGroup, ConversionRow,
    DeliveryOutcome, Effect, EffectKind, Engagement, IngestOutcome, LoggedEvent, MessageGroup,
    MessageTouch, NewMessage, NewRun, OrderRecord, OutboxRow, OutboxStatus, OutcomeGroup,
    ReplayEvent, ReportData, RunGroup, RunRecord, RunStatus, RunUpdate, SendRate, SendTokens,
    StepLog, StepRecord, Timer, TimerCommit, TimerKind, CLOSING_STEP,
};
pub use privacy::{Privacy, Retained, RetentionSettings};
pub use roles::{IngestLog, Outbox, ReadModel, Reports, Runs, Store, Surveys, Timers};
pub use rules::{CheckPlan, IngestRules, NoRules, OrderCandidates};
pub use sql::{Backend, SqlStore, SqlValue, SqliteStore};
pub use surveys::{SurveyAnswer, SurveyCount, SurveyData, SurveyText};

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

/// Every role trait, for callers of an `Arc<dyn Store>`: `use cartback_store::prelude::*;`.
pub mod prelude {
    pub use crate::dead_letters::DeadLetters;
    pub use crate::privacy::Privacy;
    pub use crate::roles::{IngestLog, Outbox, ReadModel, Reports, Runs, Store, Surveys, Timers};
}

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
