//! The store on SQL: SQLite (the embedded default) and PostgreSQL (scale-out). Queries are
//! written once against `exec::Exec` with `$1`-style parameters, which both accept.
//!
//! SQLite: WAL. Every write is a job for one **writer thread** that owns its own connection and
//! commits every job waiting as one group; a **syncer** thread flushes the WAL (`fdatasync`) before
//! any caller is answered, so a 2xx still means the commit is on disk; a **checkpointer** thread
//! copies the WAL back without stopping the writer; per-entity reads run on **reader threads**.
//! SQLite is reached only through rusqlite (sqlx carries no SQLite driver). See `SqlStore::write`;
//! the threads are in
//! `sqlite.rs`, the projections in `projections/`, row reading in `rows.rs`, the journal's side in
//! `sqlite_journal.rs`.
//!
//! PostgreSQL: one pool; claims use `FOR UPDATE SKIP LOCKED`, per-contact caps lock the contact
//! row, so several hub instances on one database never claim, enrol or send the same thing twice.

use crate::engine_tables as E;
use crate::exec::{query, query_scalar, BoxFut, Exec, Lite, Pool, Sqlx, Val};
use crate::model::{CartFilter, CartRecord, ContactRecord, IngestOutcome};
use crate::model::{
    CommitOutcome, DeliveryOutcome, Engagement, OutboxRow, OutboxStatus, RunRecord, Timer,
    TimerCommit, TimerKind,
};
use crate::rules::{IngestRules, NoRules};
use crate::time::to_ms;
use crate::{Ingest, MessageFilter, Store, StoreError, StoreResult};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;
use std::time::Duration;

pub use crate::exec::Backend;
use crate::projections::*;
use crate::rows::*;
use crate::sqlite::*;

#[derive(Debug, Clone)]
pub struct SqlStore {
    /// PostgreSQL's pool (None on SQLite, whose threads own their connections).
    pg: Option<AnyPool>,
    backend: Backend,
    /// SQLite's group-commit writer (None on PostgreSQL, where transactions run side by side).
    group: Option<tokio::sync::mpsc::Sender<WriteJob>>,
    /// SQLite's reader threads (None on PostgreSQL, where reads use the pool).
    reads: Option<flume::Sender<ReadJob>>,
    /// SQLite's database file (None on PostgreSQL).
    path: Option<std::path::PathBuf>,
    /// SQLite's ingest journal, when on (see `journal`).
    journal: Option<std::sync::Arc<crate::journal::Journal>>,
    /// The engine's ingest rules (see `rules`), given once with [`SqlStore::with_rules`].
    rules: std::sync::Arc<dyn IngestRules>,
}

/// The SQLite store (kept as a name for the embedded default).
pub type SqliteStore = SqlStore;

impl SqlStore {
    /// Opens the database at `url` (`sqlite://path.db`, created if missing; or `postgres://...`)
    /// and runs its migrations.
    pub async fn open(url: &str) -> StoreResult<Self> {
        Self::open_with(url, 16).await
    }

    /// As [`SqlStore::open`], with at most `pool_size` PostgreSQL connections.
    pub async fn open_with(url: &str, pool_size: u32) -> StoreResult<Self> {
        sqlx::any::install_default_drivers();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = AnyPoolOptions::new()
                .max_connections(pool_size.max(2))
                .acquire_timeout(Duration::from_secs(30))
                .connect(url)
                .await?;
            crate::migrations::postgres()
                .run(&pool)
                .await
                .map_err(|e| StoreError::Migrate(e.to_string()))?;
            return Ok(SqlStore {
                pg: Some(pool),
                backend: Backend::Postgres,
                group: None,
                reads: None,
                path: None,
                journal: None,
                rules: std::sync::Arc::new(NoRules),
            });
        }
        let Some(rest) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        else {
            return Err(StoreError::Url(url.to_string()));
        };
        let path = rest.split('?').next().unwrap_or(rest);
        if let Some(parent) = std::path::Path::new(path).parent() {
            if !parent.as_os_str().is_empty() && !parent.exists() {
                std::fs::create_dir_all(parent).map_err(|e| {
                    StoreError::Url(format!("{url}: cannot create {}: {e}", parent.display()))
                })?;
            }
        }
        let mut migrate = Lite::open(path)?;
        crate::migrations::run_sqlite(&mut migrate.conn).map_err(StoreError::Migrate)?;
        drop(migrate);
        let lite = Lite::open(path)?;
        let (group, jobs) = tokio::sync::mpsc::channel(4096);
        let (synced, to_sync) = std::sync::mpsc::channel();
        let (wrote, to_checkpoint) = std::sync::mpsc::channel();
        let wal = std::path::PathBuf::from(format!("{path}-wal"));
        let checkpoints = Lite::open(path)?;
        let started = std::thread::Builder::new()
            .name("cartback-sqlite-writer".into())
            .spawn({
                let wal = wal.clone();
                move || group_writer(lite, jobs, synced, wal)
            })
            .and_then(|_| {
                std::thread::Builder::new()
                    .name("cartback-sqlite-sync".into())
                    .spawn(move || wal_syncer(wal, to_sync, wrote))
            })
            .and_then(|_| {
                std::thread::Builder::new()
                    .name("cartback-sqlite-checkpoint".into())
                    .spawn(move || checkpointer(checkpoints, to_checkpoint))
            });
        started.map_err(|e| StoreError::Commit(format!("cannot start the SQLite writer: {e}")))?;
        let (reads, read_jobs) = flume::bounded::<ReadJob>(4096);
        for i in 0..READERS {
            let mut lite = Lite::open_reader(path)?;
            let jobs = read_jobs.clone();
            std::thread::Builder::new()
                .name(format!("cartback-sqlite-read-{i}"))
                .spawn(move || {
                    while let Ok(job) = jobs.recv() {
                        // A read that panics (a bug) drops its answer; the reader carries on.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            job(&mut lite)
                        }));
                    }
                })
                .map_err(|e| StoreError::Commit(format!("cannot start a SQLite reader: {e}")))?;
        }
        Ok(SqlStore {
            pg: None,
            backend: Backend::Sqlite,
            group: Some(group),
            reads: Some(reads),
            path: Some(std::path::PathBuf::from(path)),
            journal: None,
            rules: std::sync::Arc::new(NoRules),
        })
    }

    /// Applies the engine's `rules` to every ingest from now on, replays of the journal included
    /// (call it before [`SqlStore::with_journal`]).
    pub fn with_rules(mut self, rules: std::sync::Arc<dyn IngestRules>) -> Self {
        debug_assert!(
            self.journal.is_none(),
            "the journal's projector keeps the rules it opened with"
        );
        self.rules = rules;
        self
    }

    pub(crate) fn rules(&self) -> std::sync::Arc<dyn IngestRules> {
        self.rules.clone()
    }

    /// Turns SQLite's ingest journal on as `settings` say, after applying whatever an earlier run
    /// left in it (also when `settings` turn it off). PostgreSQL and in-memory SQLite have none.
    pub async fn with_journal(
        mut self,
        settings: &crate::journal::JournalSettings,
    ) -> StoreResult<Self> {
        let Some(path) = self.path.clone() else {
            return Ok(self);
        };
        if path.as_os_str().is_empty() || path.to_string_lossy().contains(":memory:") {
            return Ok(self);
        }
        let dir = crate::journal::dir_for(&path);
        self.journal = crate::journal::open(&self, &dir, settings)
            .await?
            .map(std::sync::Arc::new);
        Ok(self)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Runs `statements` in order as one durable transaction (SQLite: one job of the writer
    /// thread; PostgreSQL: a transaction of its own) and returns the rows they changed. For tools
    /// and tests that reach past the [`Store`] trait (benchmarks seeding a database, say); the hub
    /// itself never calls it.
    pub async fn execute_all(&self, statements: Vec<(String, Vec<SqlValue>)>) -> StoreResult<u64> {
        self.write(move |tx| {
            Box::pin(async move {
                let mut n = 0;
                for (sql, args) in statements {
                    let mut q = query(&sql);
                    for a in args {
                        q = q.bind(a);
                    }
                    match q.execute(&mut *tx).await {
                        Ok(a) => n += a.rows_affected(),
                        Err(e) => return (Err(e), false),
                    }
                }
                (Ok(n), true)
            })
        })
        .await
    }

    /// The first column of the first row of `sql` as an integer (a count, say); for the same
    /// callers as [`SqlStore::execute_all`].
    pub async fn query_i64(&self, sql: &str, args: Vec<SqlValue>) -> StoreResult<Option<i64>> {
        let sql = sql.to_string();
        self.read(move |x| {
            Box::pin(async move {
                let mut q = query_scalar::<Option<i64>>(&sql);
                for a in args {
                    q = q.bind(a);
                }
                Ok(q.fetch_optional(x).await?.flatten())
            })
        })
        .await
    }
}

/// A value bound to a statement of [`SqlStore::execute_all`].
pub type SqlValue = Val;

impl SqlStore {
    async fn ingest_once(
        &self,
        ingest: Ingest<'_>,
        cursor: Option<&str>,
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
        let cursor = cursor.map(str::to_string);
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
                let r = ingest_in(tx, ingest, &prepared, cursor.as_deref(), &*rules).await;
                // A duplicate is answered, and changes nothing.
                let keep = matches!(r, Ok(IngestOutcome::Accepted { .. }));
                (r, keep)
            })
        })
        .await
    }

    async fn commit(
        &self,
        timer: Option<&Timer>,
        commit: TimerCommit,
        now: DateTime<Utc>,
    ) -> StoreResult<CommitOutcome> {
        let backend = self.backend;
        let timer = timer.cloned();
        self.write(move |tx| {
            Box::pin(async move {
                let r = E::commit_timer_with_undo(tx, backend, timer.as_ref(), &commit, now).await;
                let keep = r.is_ok();
                (r, keep)
            })
        })
        .await
    }

    /// Runs `work` in a transaction of its own (PostgreSQL) or in its own savepoint of SQLite's
    /// next group commit, and answers only once that commit is durable. `work` says whether its
    /// changes are kept (`false` undoes them; the answer is still given).
    pub(crate) async fn write<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut dyn Exec) -> BoxFut<'c, (StoreResult<T>, bool)> + Send + 'static,
    {
        if self.group.is_some() {
            return self
                .submit(work)
                .await?
                .await
                .map_err(|_| StoreError::Commit("the write was not committed".into()))?;
        }
        let Some(pool) = &self.pg else {
            return Err(StoreError::Commit(
                "the SQLite writer is not running".into(),
            ));
        };
        let mut tx = pool.begin().await?;
        let (r, keep) = work(&mut Sqlx(&mut tx)).await;
        if keep && r.is_ok() {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        r
    }

    /// Queues `work` for SQLite's writer and returns where its answer will come, once its group
    /// commit is durable: jobs queued one after another run in that order.
    pub(crate) async fn submit<T, F>(
        &self,
        work: F,
    ) -> StoreResult<tokio::sync::oneshot::Receiver<StoreResult<T>>>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut dyn Exec) -> BoxFut<'c, (StoreResult<T>, bool)> + Send + 'static,
    {
        let Some(group) = &self.group else {
            return Err(StoreError::Commit(
                "only SQLite queues jobs for a writer thread".into(),
            ));
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: WriteJob = Box::new(move |tx| {
            Box::pin(async move {
                let (r, keep) = work(tx).await;
                let keep = keep && r.is_ok();
                Done {
                    keep,
                    deliver: Box::new(move |failure| {
                        let _ = reply.send(match failure {
                            Some(e) => Err(StoreError::Commit(e.to_string())),
                            None => r,
                        });
                    }),
                }
            })
        });
        group
            .send(job)
            .await
            .map_err(|_| StoreError::Commit("the writer has stopped".into()))?;
        Ok(answer)
    }
}

/// SQLite reader threads: each owns a read-only connection and runs the reads sent to it,
/// statement after statement on its own thread (no hop per statement).
const READERS: usize = 2;

/// One read for a SQLite reader thread; it answers its caller itself.
type ReadJob = Box<dyn for<'c> FnOnce(&'c mut dyn Exec) + Send>;

impl SqlStore {
    /// Runs the reads of `work` on one of SQLite's reader threads, or on the PostgreSQL pool.
    pub(crate) async fn read<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut dyn Exec) -> BoxFut<'c, StoreResult<T>> + Send + 'static,
    {
        let Some(reads) = &self.reads else {
            let Some(pool) = &self.pg else {
                return Err(StoreError::Commit(
                    "the SQLite readers are not running".into(),
                ));
            };
            return work(&mut Pool(pool)).await;
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: ReadJob = Box::new(move |x| {
            let _ = reply.send(futures::executor::block_on(work(x)));
        });
        reads
            .send_async(job)
            .await
            .map_err(|_| StoreError::Commit("the readers have stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Commit("a read was dropped".into()))?
    }
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl SqlStore {
    /// A `SELECT COUNT(*)` on a reader.
    async fn count(&self, sql: &'static str) -> StoreResult<u64> {
        self.read(move |x| {
            Box::pin(async move { query_scalar::<i64>(sql).fetch_one(x).await.map(count) })
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
impl Store for SqlStore {
    async fn ping(&self) -> StoreResult<()> {
        self.read(|x| Box::pin(async move { query("SELECT 1").fetch_all(x).await.map(|_| ()) }))
            .await
    }

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

    async fn cart(&self, id: &str) -> StoreResult<Option<CartRecord>> {
        let id = id.to_string();
        self.read(move |x| {
            Box::pin(async move {
                let row = query(&format!("{CART_SELECT} WHERE c.id = $1"))
                    .bind(id)
                    .fetch_optional(x)
                    .await?;
                row.map(|r| cart_record(&r)).transpose()
            })
        })
        .await
    }

    async fn carts(&self, filter: &CartFilter) -> StoreResult<Vec<CartRecord>> {
        let limit = if filter.limit == 0 {
            50
        } else {
            filter.limit.min(500)
        };
        let (sql, binds) = crate::exec::filtered(
            &format!("{CART_SELECT} WHERE 1 = 1"),
            &[
                (
                    "p.email_norm",
                    filter.email.as_deref().map(cartback_core::normalize_email),
                ),
                ("c.status", filter.status.map(|s| s.as_str().to_string())),
                ("c.source_id", filter.source_id.clone()),
                ("c.contact_id", filter.contact_id.clone()),
            ],
            "c.updated_at DESC, c.id DESC",
        );
        self.read(move |x| {
            Box::pin(async move {
                let mut q = query(&sql);
                for b in binds {
                    q = q.bind(b);
                }
                let rows = q.bind(i64::from(limit)).fetch_all(x).await?;
                rows.iter().map(cart_record).collect()
            })
        })
        .await
    }

    async fn contact(&self, id: &str) -> StoreResult<Option<ContactRecord>> {
        let id = id.to_string();
        self.read(move |x| {
            Box::pin(async move {
                let row = query(&format!(
                    "SELECT {CONTACT_COLS} FROM contacts p WHERE p.id = $1"
                ))
                .bind(id)
                .fetch_optional(x)
                .await?;
                row.map(|r| contact_record(&r, ""))
                    .transpose()
                    .map(Option::flatten)
            })
        })
        .await
    }

    async fn close(&self) {
        // What the journal holds is durable either way; applying it now spares the next start.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while self.ingest_backlog() > 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if let Some(pool) = &self.pg {
            pool.close().await;
        }
    }

    async fn claim_timers(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<Timer>> {
        let backend = self.backend;
        self.write(move |tx| {
            Box::pin(async move { (E::claim_timers(tx, backend, now, lease, limit).await, true) })
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
            Box::pin(async move { (E::upsert_timer(tx, kind, &subject, to_ms(due)).await, true) })
        })
        .await
    }

    async fn ingest_set_aside(&self) -> StoreResult<u64> {
        if self.backend != Backend::Sqlite {
            return Ok(0);
        }
        self.count("SELECT COUNT(*) FROM journal_failed").await
    }

    async fn pending_timers(&self) -> StoreResult<u64> {
        self.count("SELECT COUNT(*) FROM timers").await
    }

    async fn cart_counts(&self) -> StoreResult<Vec<(String, u64)>> {
        self.read(|x| {
            Box::pin(async move {
                query("SELECT status, COUNT(*) AS n FROM carts GROUP BY status")
                    .fetch_all(x)
                    .await?
                    .iter()
                    .map(|r| Ok((r.try_get("status")?, count(r.try_get("n")?))))
                    .collect()
            })
        })
        .await
    }

    async fn run(&self, id: &str) -> StoreResult<Option<RunRecord>> {
        let id = id.to_string();
        self.read(move |x| Box::pin(async move { E::run(x, &id).await }))
            .await
    }

    async fn runs_for_cart(&self, cart_id: &str) -> StoreResult<Vec<RunRecord>> {
        let cart_id = cart_id.to_string();
        self.read(move |x| Box::pin(async move { E::runs_for_cart(x, &cart_id).await }))
            .await
    }

    async fn engagement(&self, run_id: &str) -> StoreResult<Engagement> {
        let run_id = run_id.to_string();
        self.read(move |x| Box::pin(async move { E::engagement(x, &run_id).await }))
            .await
    }

    async fn contact_tags(&self, contact_id: &str) -> StoreResult<Vec<String>> {
        let contact_id = contact_id.to_string();
        self.read(move |x| {
            Box::pin(async move {
                query_scalar("SELECT tag FROM contact_tags WHERE contact_id = $1 ORDER BY tag")
                    .bind(contact_id)
                    .fetch_all(x)
                    .await
            })
        })
        .await
    }

    async fn add_contact_tag(&self, contact_id: &str, tag: &str) -> StoreResult<()> {
        let (contact_id, tag) = (contact_id.to_string(), tag.to_string());
        self.write(move |tx| {
            Box::pin(async move {
                let r = query(
                    "INSERT INTO contact_tags (contact_id, tag) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                )
                .bind(contact_id)
                .bind(tag)
                .execute(tx)
                .await
                .map(|_| ());
                (r, true)
            })
        })
        .await
    }

    async fn allocate_discount(
        &self,
        flow_id: &str,
        codes: &[String],
        run_id: &str,
        step: u32,
    ) -> StoreResult<Option<String>> {
        let (flow_id, codes, run_id) = (flow_id.to_string(), codes.to_vec(), run_id.to_string());
        self.write(move |tx| {
            Box::pin(async move {
                let r = E::allocate_discount(tx, &flow_id, &codes, &run_id, step).await;
                (r, true)
            })
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
                    E::claim_outbox(tx, backend, &channel_id, now, lease, limit, resend_unknown)
                        .await;
                (r, true)
            })
        })
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
            Box::pin(async move { (E::finish_outbox(tx, &row, outcome, now).await, true) })
        })
        .await
    }

    async fn mark_sending(&self, row: &OutboxRow) -> StoreResult<bool> {
        let row = row.clone();
        self.write(move |tx| Box::pin(async move { (E::mark_sending(tx, &row).await, true) }))
            .await
    }

    async fn order(
        &self,
        source_id: &str,
        order_id: &str,
    ) -> StoreResult<Option<crate::model::OrderRecord>> {
        let (source_id, order_id) = (source_id.to_string(), order_id.to_string());
        self.read(move |x| {
            Box::pin(async move { crate::reports::order(x, &source_id, &order_id).await })
        })
        .await
    }

    async fn runs_for_contact(&self, contact_id: &str) -> StoreResult<Vec<RunRecord>> {
        let contact_id = contact_id.to_string();
        self.read(move |x| {
            Box::pin(async move { crate::reports::runs_for_contact(x, &contact_id).await })
        })
        .await
    }

    async fn message_touches(&self, run_id: &str) -> StoreResult<Vec<crate::model::MessageTouch>> {
        let run_id = run_id.to_string();
        self.read(move |x| {
            Box::pin(async move { crate::reports::message_touches(x, &run_id).await })
        })
        .await
    }

    async fn report_data(
        &self,
        flow_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<crate::model::ReportData> {
        let flow_id = flow_id.to_string();
        self.read(move |x| {
            Box::pin(async move { crate::reports::report_data(x, &flow_id, from, to).await })
        })
        .await
    }

    async fn outbox_message(&self, id: &str) -> StoreResult<Option<OutboxRow>> {
        let id = id.to_string();
        self.read(move |x| Box::pin(async move { E::outbox_message(x, &id).await }))
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

    async fn hub_key(&self, name: &str, now: DateTime<Utc>) -> StoreResult<Vec<u8>> {
        let name = name.to_string();
        self.write(move |tx| Box::pin(async move { (E::hub_key(tx, &name, now).await, true) }))
            .await
    }

    async fn messages(&self, filter: &MessageFilter) -> StoreResult<Vec<OutboxRow>> {
        let filter = filter.clone();
        self.read(move |x| Box::pin(async move { E::messages(x, &filter).await }))
            .await
    }

    async fn redrive(
        &self,
        ids: &[String],
        status: Option<OutboxStatus>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let ids = ids.to_vec();
        self.write(move |tx| {
            Box::pin(async move { (E::redrive(tx, &ids, status, now).await, true) })
        })
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_write_that_panics_is_undone_and_the_writer_carries_on() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = SqlStore::open(&url).await.unwrap();
        let r: StoreResult<()> = store
            .write(|tx| {
                Box::pin(async move {
                    query("INSERT INTO poll_cursors (source_id, cursor, updated_at) VALUES ('s', 'x', 0)")
                        .execute(tx)
                        .await
                        .unwrap();
                    panic!("a bug in a write");
                })
            })
            .await;
        assert!(r.is_err(), "the caller hears it was not committed");
        assert_eq!(store.poll_cursor("s").await.unwrap(), None, "undone");
        // The writer is still there.
        let key = store.hub_key("k", Utc::now()).await.unwrap();
        assert_eq!(key.len(), 32);
        let r: StoreResult<()> = store
            .read(|_| Box::pin(async move { panic!("a bug in a read") }))
            .await;
        assert!(r.is_err());
        assert!(
            store.cart("none").await.unwrap().is_none(),
            "readers carry on"
        );
    }
}
