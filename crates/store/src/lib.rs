//! cartback-store: everything the hub persists, behind one trait.
//!
//! # Layout
//! - [`model`]: the records the store returns ([`ContactRecord`], [`CartRecord`]) and what one
//!   ingest did ([`IngestOutcome`], [`Effect`]).
//! - [`sqlite`]: the embedded default, [`SqliteStore`] (WAL, one writer connection, embedded migrations).
//! - [`time`]: instants as integer milliseconds, the one representation every backend stores.
//!
//! The [`Store`] trait is the contract: an implementation commits an inbound request's delivery ids,
//! its events and their effect on carts, contacts and orders in **one transaction**, so a webhook
//! is answered 2xx only after all of it is durable, and a redelivery changes nothing. A PostgreSQL
//! implementation follows the same trait and the same shared test suite.

pub mod model;
pub mod sqlite;
pub mod time;

use async_trait::async_trait;
use cartback_core::Event;
use chrono::{DateTime, Utc};
use std::time::Duration;

pub use model::{CartFilter, CartRecord, ContactRecord, Effect, EffectKind, IngestOutcome};
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored row is unreadable: {0}")]
    Corrupt(String),
    #[error("store url {0:?} is not supported (use sqlite://PATH or postgres://...)")]
    Url(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Knobs of ingestion that come from configuration.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// How far back an order may match a cart by the contact's email alone.
    pub order_match_window: Duration,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            order_match_window: Duration::from_secs(7 * 86_400),
        }
    }
}

/// One inbound request, translated.
#[derive(Debug, Clone, Copy)]
pub struct Ingest<'a> {
    pub source_id: &'a str,
    pub delivery_ids: &'a [String],
    pub events: &'a [Event],
    pub received_at: DateTime<Utc>,
}

#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// Is the database reachable? (`/readyz`)
    async fn ping(&self) -> StoreResult<()>;

    /// Commits a request's delivery ids, events and their effects atomically. If any delivery id
    /// was seen before, nothing is written and [`IngestOutcome::Duplicate`] is returned.
    async fn ingest(
        &self,
        ingest: Ingest<'_>,
        options: &IngestOptions,
    ) -> StoreResult<IngestOutcome>;

    async fn cart(&self, id: &str) -> StoreResult<Option<CartRecord>>;

    async fn carts(&self, filter: &CartFilter) -> StoreResult<Vec<CartRecord>>;

    async fn contact(&self, id: &str) -> StoreResult<Option<ContactRecord>>;

    /// Closes pools, flushing what is pending.
    async fn close(&self);
}

/// Opens the store a URL names and runs its migrations.
pub async fn open(url: &str) -> StoreResult<std::sync::Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(std::sync::Arc::new(SqliteStore::open(url).await?))
    } else {
        Err(StoreError::Url(url.to_string()))
    }
}
