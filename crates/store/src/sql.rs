//! The store on SQL: SQLite (the embedded default) and PostgreSQL (scale-out). Queries are
//! written once against `exec::Exec` with `$1`-style parameters, which both accept.
//!
//! SQLite: WAL. Every write is a job for one **writer thread** that owns its own connection and
//! commits every job waiting as one group; a **syncer** thread flushes the WAL (`fdatasync`) before
//! any caller is answered, so a 2xx still means the commit is on disk; a **checkpointer** thread
//! copies the WAL back without stopping the writer; per-entity reads run on **reader threads**.
//! Lists and reports read through a sqlx pool. See `SqlStore::write` and `group_writer`.
//!
//! PostgreSQL: one pool; claims use `FOR UPDATE SKIP LOCKED`, per-contact caps lock the contact
//! row, so several hub instances on one database never claim, enrol or send the same thing twice.

use crate::engine_tables as E;
use crate::exec::{query, query_scalar, BoxFut, DbRow, Exec, Lite, Pool, Sqlx};
use crate::model::{CartFilter, CartRecord, ContactRecord, Effect, EffectKind, IngestOutcome};
use crate::model::{
    CommitOutcome, DeliveryOutcome, Engagement, OutboxRow, OutboxStatus, RunRecord, Timer,
    TimerCommit, TimerKind,
};
use crate::time::{from_ms, to_ms};
use crate::{Ingest, IngestOptions, MessageFilter, Store, StoreError, StoreResult};
use async_trait::async_trait;
use cartback_core::{
    Cart, CartSnapshot, CartStatus, Consent, ContactInfo, Currency, Erasure, Event, EventKind,
    LineItem, Money, OptOut, OptOutChannel, Order, Trust,
};
use chrono::{DateTime, Utc};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};
use std::time::Duration;

pub use crate::exec::Backend;

#[derive(Debug, Clone)]
pub struct SqlStore {
    writer: AnyPool,
    reader: AnyPool,
    backend: Backend,
    /// SQLite's group-commit writer (None on PostgreSQL, where transactions run side by side).
    group: Option<tokio::sync::mpsc::Sender<WriteJob>>,
    /// SQLite's reader threads (None on PostgreSQL, where reads use the pool).
    reads: Option<flume::Sender<ReadJob>>,
    /// SQLite's database file (None on PostgreSQL).
    path: Option<std::path::PathBuf>,
    /// SQLite's ingest journal, when on (see `journal`).
    journal: Option<std::sync::Arc<crate::journal::Journal>>,
}

/// The SQLite store (kept as a name for the embedded default).
pub type SqliteStore = SqlStore;

const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
    PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;";

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
            crate::migrations::postgres().run(&pool).await?;
            return Ok(SqlStore {
                writer: pool.clone(),
                reader: pool,
                backend: Backend::Postgres,
                group: None,
                reads: None,
                path: None,
                journal: None,
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
        let rw = if rest.contains("mode=") {
            format!("sqlite://{rest}")
        } else if rest.contains('?') {
            format!("sqlite://{rest}&mode=rwc")
        } else {
            format!("sqlite://{rest}?mode=rwc")
        };
        let writer = AnyPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute(SQLITE_PRAGMAS).await?;
                    Ok(())
                })
            })
            .connect(&rw)
            .await?;
        crate::migrations::sqlite().run(&writer).await?;
        let reader = AnyPoolOptions::new()
            .max_connections(4)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA busy_timeout = 10000; PRAGMA query_only = ON;")
                        .await?;
                    Ok(())
                })
            })
            .connect(&rw)
            .await?;
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
            writer,
            reader,
            backend: Backend::Sqlite,
            group: Some(group),
            reads: Some(reads),
            path: Some(std::path::PathBuf::from(path)),
            journal: None,
        })
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

    /// The writer pool, for crates that extend the schema in the same database.
    pub fn writer(&self) -> &AnyPool {
        &self.writer
    }

    pub fn reader(&self) -> &AnyPool {
        &self.reader
    }
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

impl SqlStore {
    async fn ingest_once(
        &self,
        ingest: Ingest<'_>,
        cursor: Option<&str>,
        options: &IngestOptions,
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
        let options = options.clone();
        self.write(move |tx| {
            Box::pin(async move {
                let ingest = Ingest {
                    source_id: &source_id,
                    delivery_ids: &delivery_ids,
                    events: &events,
                    received_at,
                    trust,
                };
                let r = ingest_in(tx, ingest, &prepared, cursor.as_deref(), &options).await;
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
        let mut tx = self.writer.begin().await?;
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
            return work(&mut Pool(&self.reader)).await;
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

/// One piece of work for SQLite's writer thread.
type WriteJob = Box<dyn for<'c> FnOnce(&'c mut dyn Exec) -> BoxFut<'c, Done> + Send>;

/// What a job did: keep its savepoint or undo it; and how to answer its caller once the group
/// commit is known (`Some(error)` if it failed).
struct Done {
    keep: bool,
    deliver: Answer,
}

/// SQLite has one writer, and a durable commit is an fsync. Two threads share the work:
///
/// - the **writer** owns its own connection (rusqlite, prepared statements cached), takes every
///   job waiting, runs each in its own savepoint (one failing job never spoils the others) and
///   commits once, with `synchronous = NORMAL`: the commit is written to the WAL but not yet
///   flushed to disk. Every statement runs on this thread: no hop per statement.
/// - the **syncer** then `fdatasync`s the WAL, which makes every commit written so far durable,
///   and only then answers each caller. While it waits on the disk, the writer already runs the
///   next group: one flush covers every commit made in the meantime.
///
/// So a caller still hears "done" only once its commit is on disk (a 2xx means durable), and a
/// group's fsync no longer stalls the next group. Under load N commits share one flush; alone, a
/// job waits for nobody.
fn group_writer(
    mut lite: Lite,
    mut rx: tokio::sync::mpsc::Receiver<WriteJob>,
    synced: std::sync::mpsc::Sender<Vec<Answer>>,
    wal: std::path::PathBuf,
) {
    fn step(lite: &Lite, sql: &str) -> Result<(), String> {
        lite.conn
            .prepare_cached(sql)
            .and_then(|mut s| s.execute([]))
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
    let mut groups: u64 = 0;
    while let Some(first) = rx.blocking_recv() {
        groups += 1;
        if groups.is_multiple_of(32) {
            bound_wal(&lite, &wal);
        }
        let mut jobs = vec![first];
        while jobs.len() < 1024 {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let mut answers = Vec::with_capacity(jobs.len());
        let mut failure = step(&lite, "BEGIN IMMEDIATE").err();
        if failure.is_none() {
            for job in jobs {
                if let Err(e) = step(&lite, "SAVEPOINT job") {
                    failure = Some(e);
                    break;
                }
                // A job that panics (a bug) is undone and its caller hears "not committed";
                // the writer and the other jobs of the group carry on.
                let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    futures::executor::block_on(job(&mut lite))
                }));
                let keep = done.as_ref().is_ok_and(|d| d.keep);
                let undone = if keep {
                    Ok(())
                } else {
                    step(&lite, "ROLLBACK TO SAVEPOINT job")
                };
                if let Ok(done) = done {
                    answers.push(done.deliver);
                }
                if let Err(e) = undone.and_then(|()| step(&lite, "RELEASE SAVEPOINT job")) {
                    failure = Some(e);
                    break;
                }
            }
        }
        if failure.is_none() {
            failure = step(&lite, "COMMIT").err();
        }
        if let Some(e) = &failure {
            tracing::error!(error = %e, "A group commit failed; its writes were not kept.");
            let _ = lite.conn.execute_batch("ROLLBACK");
            // Jobs never reached are dropped: their callers hear "not committed".
            for deliver in answers {
                deliver(Some(e));
            }
            continue;
        }
        if let Err(std::sync::mpsc::SendError(answers)) = synced.send(answers) {
            for deliver in answers {
                deliver(Some("the WAL syncer has stopped"));
            }
        }
    }
}

/// Under sustained writes the checkpointer never quite catches up, and the WAL can only start over
/// once every frame is copied back. Past [`WAL_SOFT_LIMIT`] the writer finishes the copy itself,
/// between two groups (the checkpointer has done most of it), so the next group starts the WAL
/// from the beginning and `journal_size_limit` trims the file.
fn bound_wal(lite: &Lite, wal: &std::path::Path) {
    let big = std::fs::metadata(wal).is_ok_and(|m| m.len() > WAL_SOFT_LIMIT);
    if big {
        if let Err(e) = lite
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
        {
            tracing::warn!(error = %e, "WAL checkpoint failed; it is retried.");
        }
    }
}

/// The WAL size past which the writer completes a checkpoint itself.
const WAL_SOFT_LIMIT: u64 = 64 * 1024 * 1024;

/// An answer waiting for its commit to be durable.
type Answer = Box<dyn FnOnce(Option<&str>) + Send>;

/// Flushes SQLite's WAL file to disk, then answers every caller whose commit it covers, and
/// tells the checkpointer there is something to copy.
fn wal_syncer(
    wal: std::path::PathBuf,
    rx: std::sync::mpsc::Receiver<Vec<Answer>>,
    wrote: std::sync::mpsc::Sender<()>,
) {
    let mut file: Option<std::fs::File> = None;
    while let Ok(first) = rx.recv() {
        let mut answers = first;
        while let Ok(more) = rx.try_recv() {
            answers.extend(more);
        }
        if file.is_none() {
            file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&wal)
                .ok();
        }
        let flushed = match &file {
            Some(f) => f
                .sync_data()
                .map_err(|e| format!("flushing {}: {e}", wal.display())),
            None => Err(format!("cannot open {}", wal.display())),
        };
        if let Err(e) = &flushed {
            tracing::error!(error = %e, "Could not make a group commit durable.");
            file = None;
        }
        let failure = flushed.err();
        for deliver in answers {
            deliver(failure.as_deref());
        }
        let _ = wrote.send(());
    }
}

/// Copies the WAL back into the database file from a connection of its own, so the writer never
/// stops for a checkpoint (its `wal_autocheckpoint` is off). `PASSIVE` never blocks the writer or
/// the readers; a busy moment is simply retried on the next round.
fn checkpointer(lite: Lite, rx: std::sync::mpsc::Receiver<()>) {
    const PAUSE: Duration = Duration::from_millis(50);
    while rx.recv().is_ok() {
        while rx.try_recv().is_ok() {}
        if let Err(e) = lite
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
        {
            tracing::warn!(error = %e, "WAL checkpoint failed; it is retried.");
        }
        std::thread::sleep(PAUSE);
    }
}

/// The body of an ingest inside an open transaction. A duplicate is reported, not undone: the
/// caller rolls back (the transaction, or the job's savepoint).
async fn ingest_in(
    tx: &mut dyn Exec,
    ingest: Ingest<'_>,
    prepared: &[Prepared],
    cursor: Option<&str>,
    options: &IngestOptions,
) -> StoreResult<IngestOutcome> {
    let received = to_ms(ingest.received_at);
    for delivery_id in ingest.delivery_ids {
        let inserted = query(
            "INSERT INTO deliveries (source_id, delivery_id, received_at) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(ingest.source_id)
        .bind(delivery_id)
        .bind(received)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Ok(IngestOutcome::Duplicate);
        }
    }
    let mut effects = Vec::with_capacity(ingest.events.len());
    for event in ingest.events {
        let prep = prepared
            .get(effects.len())
            .ok_or_else(|| corrupt("an event without its prepared payload"))?;
        let kind = apply_event(tx, event, prep, received, ingest.trust, options).await?;
        effects.push(Effect {
            event_id: event.event_id.clone(),
            kind,
        });
    }
    if let Some(c) = cursor {
        query(
            "INSERT INTO poll_cursors (source_id, cursor, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (source_id) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
        )
        .bind(ingest.source_id)
        .bind(c)
        .bind(received)
        .execute(&mut *tx)
        .await?;
    }
    Ok(IngestOutcome::Accepted { effects })
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
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn ingest(
        &self,
        ingest: Ingest<'_>,
        options: &IngestOptions,
    ) -> StoreResult<IngestOutcome> {
        if let Some(journal) = &self.journal {
            return journal.ingest(ingest, options).await;
        }
        // Two instances creating the same cart or contact at once: the loser's transaction fails on
        // the unique key and is replayed; the second time it finds the row and updates it.
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.ingest_once(ingest, None, options).await {
                Err(StoreError::Db(e)) if attempt < 4 && retryable(&e) => continue,
                other => return other,
            }
        }
    }

    async fn ingest_polled(
        &self,
        ingest: Ingest<'_>,
        cursor: Option<&str>,
        options: &IngestOptions,
    ) -> StoreResult<IngestOutcome> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.ingest_once(ingest, cursor, options).await {
                Err(StoreError::Db(e)) if attempt < 4 && retryable(&e) => continue,
                other => return other,
            }
        }
    }

    fn ingest_backlog(&self) -> u64 {
        self.journal.as_ref().map_or(0, |j| j.pending())
    }

    async fn poll_cursor(&self, source_id: &str) -> StoreResult<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT cursor FROM poll_cursors WHERE source_id = $1")
                .bind(source_id)
                .fetch_optional(&self.writer)
                .await?,
        )
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
        let mut q = sqlx::query(&sql);
        for b in binds {
            q = q.bind(b);
        }
        let rows = q.bind(i64::from(limit)).fetch_all(&self.reader).await?;
        rows.iter()
            .map(|r| cart_record(&DbRow::from_any(r)?))
            .collect()
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
        self.reader.close().await;
        self.writer.close().await;
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
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM journal_failed")
            .fetch_one(&self.reader)
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn pending_timers(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM timers")
            .fetch_one(&self.reader)
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn cart_counts(&self) -> StoreResult<Vec<(String, u64)>> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT status, COUNT(*) FROM carts GROUP BY status")
                .fetch_all(&self.reader)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(s, n)| (s, u64::try_from(n).unwrap_or(0)))
            .collect())
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
        Ok(
            sqlx::query_scalar("SELECT tag FROM contact_tags WHERE contact_id = $1 ORDER BY tag")
                .bind(contact_id)
                .fetch_all(&self.reader)
                .await?,
        )
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
        crate::reports::report_data(&self.reader, flow_id, from, to).await
    }

    async fn outbox_message(&self, id: &str) -> StoreResult<Option<OutboxRow>> {
        let id = id.to_string();
        self.read(move |x| Box::pin(async move { E::outbox_message(x, &id).await }))
            .await
    }

    async fn message_link(&self, message_id: &str, index: u32) -> StoreResult<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT url FROM message_links WHERE message_id = $1 AND idx = $2")
                .bind(message_id)
                .bind(i64::from(index))
                .fetch_optional(&self.reader)
                .await?,
        )
    }

    async fn hub_key(&self, name: &str, now: DateTime<Utc>) -> StoreResult<Vec<u8>> {
        let name = name.to_string();
        self.write(move |tx| Box::pin(async move { (E::hub_key(tx, &name, now).await, true) }))
            .await
    }

    async fn messages(&self, filter: &MessageFilter) -> StoreResult<Vec<OutboxRow>> {
        E::messages(&self.reader, filter).await
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
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT channel_id, status, COUNT(*) FROM outbox
             WHERE status IN ('queued', 'failed', 'unknown') GROUP BY channel_id, status",
        )
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(c, s, n)| (c, s, u64::try_from(n).unwrap_or(0)))
            .collect())
    }
}

// ---- applying events -------------------------------------------------------------------------

/// An event's JSON, written before it reaches the writer.
pub(crate) struct Prepared {
    /// What the event log keeps.
    payload: String,
    /// A cart snapshot's line items.
    items: Option<String>,
}

impl Prepared {
    pub(crate) fn of(event: &Event) -> StoreResult<Prepared> {
        // Erasure events keep no identifiers in the log: the log must not undo the erasure.
        let payload = match &event.kind {
            EventKind::Erasure(Erasure::Contact { .. }) => {
                r#"{"type":"erasure","scope":"contact"}"#.to_string()
            }
            kind => serde_json::to_string(kind).map_err(corrupt)?,
        };
        let items = match &event.kind {
            EventKind::CartUpdated(snap) | EventKind::CheckoutStarted(snap) => {
                Some(serde_json::to_string(&snap.items).map_err(corrupt)?)
            }
            _ => None,
        };
        Ok(Prepared { payload, items })
    }
}

async fn apply_event(
    tx: &mut dyn Exec,
    event: &Event,
    prep: &Prepared,
    received: i64,
    trust: Trust,
    options: &IngestOptions,
) -> StoreResult<EffectKind> {
    let payload = prep.payload.as_str();
    let seq: Option<i64> = query_scalar(
        "INSERT INTO events (source_id, event_id, topic, kind, occurred_at, received_at, outcome, payload)
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7)
         ON CONFLICT (source_id, event_id) DO NOTHING RETURNING seq",
    )
    .bind(&event.source_id)
    .bind(&event.event_id)
    .bind(&event.topic)
    .bind(event.kind.name())
    .bind(to_ms(event.occurred_at))
    .bind(received)
    .bind(payload)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(seq) = seq else {
        return Ok(EffectKind::DuplicateEvent);
    };
    let at = to_ms(event.occurred_at);
    let (effect, cart_id, contact_id) = match &event.kind {
        EventKind::CartUpdated(snap) | EventKind::CheckoutStarted(snap) => {
            let contact_id = match &snap.contact {
                Some(c) => {
                    upsert_contact(tx, &event.source_id, c, to_ms(snap.updated_at), trust).await?
                }
                None => None,
            };
            let items = prep.items.as_deref().unwrap_or("[]");
            let (cart_id, stale, status) = upsert_cart(
                tx,
                &event.source_id,
                snap,
                items,
                contact_id.as_deref(),
                received,
            )
            .await?;
            if let (false, Some(after)) = (stale, options.cart_check_after) {
                schedule_cart_check(tx, &cart_id, status, snap, after).await?;
            }
            (
                EffectKind::CartUpserted {
                    cart_id: cart_id.clone(),
                    stale,
                },
                Some(cart_id),
                contact_id,
            )
        }
        EventKind::OrderPlaced(order) => {
            let contact_id = match &order.contact {
                Some(c) => {
                    upsert_contact(tx, &event.source_id, c, to_ms(order.placed_at), trust).await?
                }
                None => None,
            };
            let (cart_id, new) = record_order(
                tx,
                &event.source_id,
                order,
                contact_id.as_deref(),
                received,
                options,
            )
            .await?;
            (
                EffectKind::OrderRecorded {
                    cart_id: cart_id.clone(),
                    new,
                },
                cart_id,
                contact_id,
            )
        }
        EventKind::ContactUpdated(info) => {
            let contact_id = upsert_contact(tx, &event.source_id, info, at, trust).await?;
            (
                EffectKind::ContactUpserted {
                    contact_id: contact_id.clone(),
                },
                None,
                contact_id,
            )
        }
        EventKind::OptOut(opt) => {
            // A public key must not be able to unsubscribe (or resubscribe) anyone.
            let n = if trust == Trust::Verified {
                apply_opt_out(tx, opt, event.source_id == cartback_core::HUB_SOURCE).await?
            } else {
                0
            };
            (EffectKind::ConsentChanged { contacts: n }, None, None)
        }
        EventKind::MessageStatus(update) => {
            record_message_status(tx, update, at).await?;
            (EffectKind::Recorded, None, None)
        }
        EventKind::Erasure(erasure) => {
            let n = erase(tx, &event.source_id, erasure, seq).await?;
            (EffectKind::Erased { contacts: n }, None, None)
        }
    };
    query("UPDATE events SET outcome = $1, cart_id = $2, contact_id = $3 WHERE seq = $4")
        .bind(effect.label())
        .bind(cart_id)
        .bind(contact_id)
        .bind(seq)
        .execute(&mut *tx)
        .await?;
    Ok(effect)
}

struct ExistingContact {
    id: String,
    email_norm: Option<String>,
    updated_at: i64,
}

async fn find_contact(
    tx: &mut dyn Exec,
    column: &str,
    value: &str,
    source_id: &str,
) -> StoreResult<Option<ExistingContact>> {
    let sql = if column == "external_id" {
        "SELECT id, email_norm, updated_at FROM contacts WHERE external_id = $1 AND source_id = $2 LIMIT 1"
            .to_string()
    } else {
        format!("SELECT id, email_norm, updated_at FROM contacts WHERE {column} = $1 LIMIT 1")
    };
    let mut q = query(&sql).bind(value);
    if column == "external_id" {
        q = q.bind(source_id);
    }
    let row = q.fetch_optional(&mut *tx).await?;
    row.map(|r| {
        Ok(ExistingContact {
            id: r.get("id")?,
            email_norm: r.get("email_norm")?,
            updated_at: r.get("updated_at")?,
        })
    })
    .transpose()
}

/// Creates or updates the contact `info` describes; returns its id, or `None` if `info`
/// identifies nobody. Newer reports overwrite; older ones only fill in what is missing.
///
/// A [`Trust::Claimed`] report (a public key) is never believed over what is known: it only fills
/// gaps, its consent is ignored, and an address it adds stays unverified (never sent to) until a
/// verified source reports the same address. Consent never overrides an opt-out the shopper made
/// through the hub's own unsubscribe link.
async fn upsert_contact(
    tx: &mut dyn Exec,
    source_id: &str,
    info: &ContactInfo,
    at: i64,
    trust: Trust,
) -> StoreResult<Option<String>> {
    let email_norm = info.email_norm();
    let mut existing = None;
    if let Some(e) = &email_norm {
        existing = find_contact(tx, "email_norm", e, source_id).await?;
    }
    // Who holds the phone, once looked up (`None`: not looked up yet).
    let mut phone_holder: Option<Option<String>> = None;
    if existing.is_none() {
        if let Some(p) = &info.phone {
            let found = find_contact(tx, "phone", p, source_id).await?;
            phone_holder = Some(found.as_ref().map(|c| c.id.clone()));
            // A phone match belongs to someone else if they already have another email.
            existing = found.filter(|c| {
                email_norm.is_none() || c.email_norm.is_none() || c.email_norm == email_norm
            });
        }
    }
    if existing.is_none() && email_norm.is_none() && info.phone.is_none() {
        if let Some(x) = &info.external_id {
            existing = find_contact(tx, "external_id", x, source_id).await?;
        }
    }
    // Never take an email or phone that another contact holds.
    let phone = match &info.phone {
        Some(p) => {
            let holder: Option<String> = match phone_holder {
                Some(h) => h,
                None => {
                    query_scalar("SELECT id FROM contacts WHERE phone = $1")
                        .bind(p)
                        .fetch_optional(&mut *tx)
                        .await?
                }
            };
            match (&holder, &existing) {
                (Some(h), Some(e)) if *h != e.id => None,
                (Some(_), None) => None,
                _ => Some(p.clone()),
            }
        }
        None => None,
    };
    let email_norm_free = match (&email_norm, &existing) {
        (Some(e), Some(ex)) if ex.email_norm.as_deref() != Some(e.as_str()) => {
            let holder: Option<String> =
                query_scalar("SELECT id FROM contacts WHERE email_norm = $1")
                    .bind(e)
                    .fetch_optional(&mut *tx)
                    .await?;
            holder.is_none()
        }
        _ => true,
    };
    let (email, email_norm) = if email_norm_free {
        (info.email.clone(), email_norm)
    } else {
        (None, None)
    };
    let verified = i64::from(trust == Trust::Verified);
    let (email_consent, sms_consent) = match trust {
        Trust::Verified => (info.email_consent, info.sms_consent),
        Trust::Claimed => (Consent::Unknown, Consent::Unknown),
    };
    match existing {
        None => {
            if email_norm.is_none() && phone.is_none() {
                return Ok(None);
            }
            let id = new_id();
            query(
                "INSERT INTO contacts (id, source_id, email, email_norm, phone, first_name, last_name,
                    locale, time_zone, email_consent, sms_consent, external_id, updated_at, created_at,
                    email_verified, phone_verified)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)",
            )
            .bind(&id)
            .bind(source_id)
            .bind(&email)
            .bind(&email_norm)
            .bind(&phone)
            .bind(&info.first_name)
            .bind(&info.last_name)
            .bind(&info.locale)
            .bind(&info.time_zone)
            .bind(email_consent.as_str())
            .bind(sms_consent.as_str())
            .bind(&info.external_id)
            .bind(at)
            .bind(at)
            .bind(verified)
            .execute(&mut *tx)
            .await?;
            Ok(Some(id))
        }
        Some(ex) if at >= ex.updated_at && trust == Trust::Verified => {
            let email_consent = (email_consent != Consent::Unknown).then(|| email_consent.as_str());
            let sms_consent = (sms_consent != Consent::Unknown).then(|| sms_consent.as_str());
            query(
                "UPDATE contacts SET
                    email = COALESCE($1, email), email_norm = COALESCE($2, email_norm),
                    email_verified = CASE WHEN $2 IS NOT NULL THEN 1 ELSE email_verified END,
                    phone = COALESCE($3, phone),
                    phone_verified = CASE WHEN $3 IS NOT NULL THEN 1 ELSE phone_verified END,
                    first_name = COALESCE($4, first_name),
                    last_name = COALESCE($5, last_name), locale = COALESCE($6, locale),
                    time_zone = COALESCE($7, time_zone),
                    email_consent = CASE WHEN email_optout_hub = 1 THEN email_consent
                        ELSE COALESCE($8, email_consent) END,
                    sms_consent = CASE WHEN sms_optout_hub = 1 THEN sms_consent
                        ELSE COALESCE($9, sms_consent) END,
                    external_id = COALESCE($10, external_id),
                    updated_at = $11
                 WHERE id = $12",
            )
            .bind(&email)
            .bind(&email_norm)
            .bind(&phone)
            .bind(&info.first_name)
            .bind(&info.last_name)
            .bind(&info.locale)
            .bind(&info.time_zone)
            .bind(email_consent)
            .bind(sms_consent)
            .bind(&info.external_id)
            .bind(at)
            .bind(&ex.id)
            .execute(&mut *tx)
            .await?;
            Ok(Some(ex.id))
        }
        Some(ex) => {
            // An older report, or a claim: fill gaps only; consent only where nothing is known
            // yet. An address filled in is verified only if the report is.
            query(
                "UPDATE contacts SET
                    email_verified = CASE WHEN $2 IS NULL THEN email_verified
                        WHEN email_norm IS NULL THEN $12
                        WHEN email_norm = $2 AND $12 = 1 THEN 1
                        ELSE email_verified END,
                    phone_verified = CASE WHEN $3 IS NULL THEN phone_verified
                        WHEN phone IS NULL THEN $12
                        WHEN phone = $3 AND $12 = 1 THEN 1
                        ELSE phone_verified END,
                    email = COALESCE(email, $1), email_norm = COALESCE(email_norm, $2),
                    phone = COALESCE(phone, $3), first_name = COALESCE(first_name, $4),
                    last_name = COALESCE(last_name, $5), locale = COALESCE(locale, $6),
                    time_zone = COALESCE(time_zone, $7),
                    email_consent = CASE WHEN email_consent = 'unknown' THEN $8 ELSE email_consent END,
                    sms_consent = CASE WHEN sms_consent = 'unknown' THEN $9 ELSE sms_consent END,
                    external_id = COALESCE(external_id, $10)
                 WHERE id = $11",
            )
            .bind(&email)
            .bind(&email_norm)
            .bind(&phone)
            .bind(&info.first_name)
            .bind(&info.last_name)
            .bind(&info.locale)
            .bind(&info.time_zone)
            .bind(email_consent.as_str())
            .bind(sms_consent.as_str())
            .bind(&info.external_id)
            .bind(&ex.id)
            .bind(verified)
            .execute(&mut *tx)
            .await?;
            Ok(Some(ex.id))
        }
    }
}

/// Creates or updates a cart from a snapshot. Returns the cart id and whether the snapshot was stale.
async fn upsert_cart(
    tx: &mut dyn Exec,
    source_id: &str,
    snap: &CartSnapshot,
    items: &str,
    contact_id: Option<&str>,
    received: i64,
) -> StoreResult<(String, bool, String)> {
    let item_count: i64 = snap.items.iter().map(|i| i64::from(i.quantity)).sum();
    let updated = to_ms(snap.updated_at);
    let completed = snap.completed_at.map(to_ms);
    let existing =
        query("SELECT id, updated_at, status FROM carts WHERE source_id = $1 AND cart_key = $2")
            .bind(source_id)
            .bind(&snap.key)
            .fetch_optional(&mut *tx)
            .await?;
    let (cart_id, mut status) = match existing {
        None => {
            let id = new_id();
            let status = if completed.is_some() {
                "converted"
            } else {
                "open"
            };
            query(
                "INSERT INTO carts (id, source_id, cart_key, cart_token, checkout_token, platform_id, status,
                    contact_id, items, item_count, currency, subtotal_minor, total_minor, recovery_url,
                    updated_at, completed_at, converted_at, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
            )
            .bind(&id)
            .bind(source_id)
            .bind(&snap.key)
            .bind(&snap.cart_token)
            .bind(&snap.checkout_token)
            .bind(&snap.platform_id)
            .bind(status)
            .bind(contact_id)
            .bind(items)
            .bind(item_count)
            .bind(snap.currency.code())
            .bind(snap.subtotal.map(|m| m.minor))
            .bind(snap.total.minor)
            .bind(&snap.recovery_url)
            .bind(updated)
            .bind(completed)
            .bind(completed)
            .bind(received)
            .execute(&mut *tx)
            .await?;
            (id, status.to_string())
        }
        Some(row) => {
            let id: String = row.get("id")?;
            let stored: i64 = row.get("updated_at")?;
            if updated < stored {
                query(
                    "UPDATE carts SET cart_token = COALESCE(cart_token, $1),
                        checkout_token = COALESCE(checkout_token, $2), platform_id = COALESCE(platform_id, $3),
                        contact_id = COALESCE(contact_id, $4), recovery_url = COALESCE(recovery_url, $5)
                     WHERE id = $6",
                )
                .bind(&snap.cart_token)
                .bind(&snap.checkout_token)
                .bind(&snap.platform_id)
                .bind(contact_id)
                .bind(&snap.recovery_url)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
                let stored_status: String = row.get("status")?;
                return Ok((id, true, stored_status));
            }
            let status: String = query(
                "UPDATE carts SET cart_token = COALESCE($1, cart_token),
                    checkout_token = COALESCE($2, checkout_token), platform_id = COALESCE($3, platform_id),
                    contact_id = COALESCE($4, contact_id), items = $5, item_count = $6, currency = $7,
                    subtotal_minor = $8, total_minor = $9, recovery_url = COALESCE($10, recovery_url),
                    updated_at = $11, completed_at = COALESCE($12, completed_at),
                    status = CASE WHEN $13 IS NOT NULL THEN 'converted' WHEN status = 'abandoned' THEN 'open' ELSE status END,
                    converted_at = COALESCE(converted_at, $14)
                 WHERE id = $15 RETURNING status",
            )
            .bind(&snap.cart_token)
            .bind(&snap.checkout_token)
            .bind(&snap.platform_id)
            .bind(contact_id)
            .bind(items)
            .bind(item_count)
            .bind(snap.currency.code())
            .bind(snap.subtotal.map(|m| m.minor))
            .bind(snap.total.minor)
            .bind(&snap.recovery_url)
            .bind(updated)
            .bind(completed)
            .bind(completed)
            .bind(completed)
            .bind(&id)
            .fetch_one(&mut *tx)
            .await?
            .get("status")?;
            (id, status)
        }
    };
    // An order that arrived before its cart (webhooks are unordered) converts it now.
    let order = query(
        "SELECT order_id, placed_at FROM orders WHERE source_id = $1 AND cart_id IS NULL
           AND ((checkout_token IS NOT NULL AND checkout_token = $2) OR (cart_token IS NOT NULL AND cart_token = $3))
         ORDER BY placed_at LIMIT 1",
    )
    .bind(source_id)
    .bind(&snap.checkout_token)
    .bind(snap.cart_token.as_deref().unwrap_or(&snap.key))
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(o) = order {
        let order_id: String = o.get("order_id")?;
        let placed_at: i64 = o.get("placed_at")?;
        convert_cart(tx, &cart_id, &order_id, placed_at).await?;
        status = "converted".to_string();
        E::upsert_timer(
            tx,
            TimerKind::Attribute,
            &format!("{source_id}\u{1f}{order_id}"),
            received,
        )
        .await?;
        query("UPDATE orders SET cart_id = $1 WHERE source_id = $2 AND order_id = $3")
            .bind(&cart_id)
            .bind(source_id)
            .bind(&order_id)
            .execute(&mut *tx)
            .await?;
    }
    Ok((cart_id, false, status))
}

/// The debounce: every fresh update of an open cart with items moves its abandonment check to
/// `updated_at + after`; a cart that cannot be abandoned loses its pending check.
async fn schedule_cart_check(
    tx: &mut dyn Exec,
    cart_id: &str,
    status: String,
    snap: &CartSnapshot,
    after: Duration,
) -> StoreResult<()> {
    let open = matches!(status.as_str(), "open" | "abandoned");
    if open && !snap.items.is_empty() && snap.completed_at.is_none() {
        let due = to_ms(snap.updated_at)
            .saturating_add(i64::try_from(after.as_millis()).unwrap_or(i64::MAX));
        E::upsert_timer(tx, TimerKind::CartCheck, cart_id, due).await?;
    } else {
        query("DELETE FROM timers WHERE kind = 'cart_check' AND subject = $1")
            .bind(cart_id)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

async fn record_message_status(
    tx: &mut dyn Exec,
    update: &cartback_core::MessageStatusUpdate,
    at: i64,
) -> StoreResult<()> {
    let id: Option<String> = match (&update.message_id, &update.provider_message_id) {
        (Some(id), _) => Some(id.clone()),
        (None, Some(pid)) => {
            query_scalar("SELECT id FROM outbox WHERE provider_message_id = $1 LIMIT 1")
                .bind(pid)
                .fetch_optional(&mut *tx)
                .await?
        }
        (None, None) => None,
    };
    if let Some(id) = id {
        let status = serde_json::to_value(update.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        query("INSERT INTO message_events (message_id, status, at, url) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
            .bind(id)
            .bind(status)
            .bind(at)
            .bind(&update.url)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

async fn convert_cart(
    tx: &mut dyn Exec,
    cart_id: &str,
    order_id: &str,
    placed_at: i64,
) -> StoreResult<()> {
    query(
        "UPDATE carts SET status = 'converted', order_id = COALESCE(order_id, $1),
            converted_at = COALESCE(converted_at, $2) WHERE id = $3",
    )
    .bind(order_id)
    .bind(placed_at)
    .bind(cart_id)
    .execute(&mut *tx)
    .await?;
    query("DELETE FROM timers WHERE kind = 'cart_check' AND subject = $1")
        .bind(cart_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Records an order and converts the cart it matches: by checkout token, then cart token, then the
/// contact's most recent open cart within the match window.
async fn record_order(
    tx: &mut dyn Exec,
    source_id: &str,
    order: &Order,
    contact_id: Option<&str>,
    received: i64,
    options: &IngestOptions,
) -> StoreResult<(Option<String>, bool)> {
    let placed = to_ms(order.placed_at);
    let email_norm = order.contact.as_ref().and_then(ContactInfo::email_norm);
    let inserted = query(
        "INSERT INTO orders (source_id, order_id, name, contact_id, checkout_token, cart_token, email_norm,
            total_minor, currency, placed_at, test, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING",
    )
    .bind(source_id)
    .bind(&order.order_id)
    .bind(&order.name)
    .bind(contact_id)
    .bind(&order.checkout_token)
    .bind(&order.cart_token)
    .bind(&email_norm)
    .bind(order.total.minor)
    .bind(order.total.currency.code())
    .bind(placed)
    .bind(i64::from(order.test))
    .bind(received)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        let cart_id: Option<String> =
            query_scalar("SELECT cart_id FROM orders WHERE source_id = $1 AND order_id = $2")
                .bind(source_id)
                .bind(&order.order_id)
                .fetch_optional(&mut *tx)
                .await?
                .flatten();
        return Ok((cart_id, false));
    }
    let mut cart_id: Option<String> = None;
    if let Some(t) = &order.checkout_token {
        cart_id = query_scalar(
            "SELECT id FROM carts WHERE source_id = $1 AND checkout_token = $2 LIMIT 1",
        )
        .bind(source_id)
        .bind(t)
        .fetch_optional(&mut *tx)
        .await?;
    }
    if cart_id.is_none() {
        if let Some(t) = &order.cart_token {
            cart_id = query_scalar(
                "SELECT id FROM carts WHERE source_id = $1 AND (cart_token = $2 OR cart_key = $3) LIMIT 1",
            )
            .bind(source_id)
            .bind(t)
            .bind(t)
            .fetch_optional(&mut *tx)
            .await?;
        }
    }
    if cart_id.is_none() {
        if let Some(contact) = contact_id {
            let window = i64::try_from(options.order_match_window.as_millis()).unwrap_or(i64::MAX);
            cart_id = query_scalar(
                "SELECT id FROM carts WHERE contact_id = $1 AND status IN ('open', 'abandoned')
                   AND updated_at >= $2 AND updated_at <= $3
                 ORDER BY updated_at DESC LIMIT 1",
            )
            .bind(contact)
            .bind(placed.saturating_sub(window))
            .bind(placed.saturating_add(60_000))
            .fetch_optional(&mut *tx)
            .await?;
        }
    }
    // Attribution runs later, in the engine (it knows each flow's window), from a durable timer.
    E::upsert_timer(
        tx,
        TimerKind::Attribute,
        &format!("{source_id}\u{1f}{}", order.order_id),
        received,
    )
    .await?;
    if let Some(id) = &cart_id {
        convert_cart(tx, id, &order.order_id, placed).await?;
        query("UPDATE orders SET cart_id = $1 WHERE source_id = $2 AND order_id = $3")
            .bind(id)
            .bind(source_id)
            .bind(&order.order_id)
            .execute(&mut *tx)
            .await?;
    }
    Ok((cart_id, true))
}

/// Applies an opt-out or a resubscribe. An opt-out the shopper made through the hub's own
/// unsubscribe link (`by_hub`) is remembered, and no provider's resubscribe overrides it.
async fn apply_opt_out(tx: &mut dyn Exec, opt: &OptOut, by_hub: bool) -> StoreResult<u64> {
    let (consent, sticky, address) = match opt.channel {
        OptOutChannel::Email => (
            "email_consent",
            "email_optout_hub",
            cartback_core::normalize_email(&opt.address),
        ),
        OptOutChannel::Sms => ("sms_consent", "sms_optout_hub", opt.address.clone()),
    };
    let key = match opt.channel {
        OptOutChannel::Email => "email_norm",
        OptOutChannel::Sms => "phone",
    };
    let sql = match (opt.resubscribe, by_hub) {
        (true, _) => format!(
            "UPDATE contacts SET {consent} = 'subscribed' WHERE {key} = $1 AND {sticky} = 0"
        ),
        (false, true) => {
            format!("UPDATE contacts SET {consent} = 'unsubscribed', {sticky} = 1 WHERE {key} = $1")
        }
        (false, false) => {
            format!("UPDATE contacts SET {consent} = 'unsubscribed' WHERE {key} = $1")
        }
    };
    let result = query(&sql).bind(address).execute(&mut *tx).await?;
    Ok(result.rows_affected())
}

/// Erases personal data; anonymous aggregates (cart totals, order totals, counts) stay.
async fn erase(
    tx: &mut dyn Exec,
    source_id: &str,
    erasure: &Erasure,
    keep_seq: i64,
) -> StoreResult<u64> {
    let contact_ids: Vec<String> = match erasure {
        Erasure::Contact {
            email,
            phone,
            external_id,
            order_ids,
        } => {
            let mut ids: Vec<String> = query_scalar(
                "SELECT id FROM contacts WHERE (email_norm IS NOT NULL AND email_norm = $1)
                    OR (phone IS NOT NULL AND phone = $2) OR (external_id IS NOT NULL AND external_id = $3 AND source_id = $4)",
            )
            .bind(email.as_deref().map(cartback_core::normalize_email))
            .bind(phone)
            .bind(external_id)
            .bind(source_id)
            .fetch_all(&mut *tx)
            .await?;
            for order_id in order_ids {
                let c: Option<String> = query_scalar(
                    "SELECT contact_id FROM orders WHERE source_id = $1 AND order_id = $2 AND contact_id IS NOT NULL",
                )
                .bind(source_id)
                .bind(order_id)
                .fetch_optional(&mut *tx)
                .await?
                .flatten();
                ids.extend(c);
                query("UPDATE orders SET email_norm = NULL, contact_id = NULL WHERE source_id = $1 AND order_id = $2")
                    .bind(source_id)
                    .bind(order_id)
                    .execute(&mut *tx)
                    .await?;
            }
            ids.sort();
            ids.dedup();
            ids
        }
        Erasure::Source => {
            query("DELETE FROM events WHERE source_id = $1 AND seq <> $2")
                .bind(source_id)
                .bind(keep_seq)
                .execute(&mut *tx)
                .await?;
            query("UPDATE carts SET contact_id = NULL, recovery_url = NULL, cart_token = NULL, checkout_token = NULL WHERE source_id = $1")
                .bind(source_id)
                .execute(&mut *tx)
                .await?;
            query("UPDATE orders SET email_norm = NULL, contact_id = NULL, cart_token = NULL, checkout_token = NULL WHERE source_id = $1")
                .bind(source_id)
                .execute(&mut *tx)
                .await?;
            query_scalar("SELECT id FROM contacts WHERE source_id = $1")
                .bind(source_id)
                .fetch_all(&mut *tx)
                .await?
        }
    };
    for id in &contact_ids {
        query(
            "DELETE FROM events WHERE seq <> $1 AND (contact_id = $2 OR cart_id IN (SELECT id FROM carts WHERE contact_id = $3))",
        )
        .bind(keep_seq)
        .bind(id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        query("UPDATE carts SET contact_id = NULL, recovery_url = NULL WHERE contact_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        query("UPDATE orders SET contact_id = NULL, email_norm = NULL WHERE contact_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        query("DELETE FROM contacts WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    Ok(contact_ids.len() as u64)
}

// ---- reading ---------------------------------------------------------------------------------

const CONTACT_COLS: &str = "p.id AS p_id, p.email AS p_email, p.phone AS p_phone, p.first_name AS p_first_name,
    p.last_name AS p_last_name, p.locale AS p_locale, p.time_zone AS p_time_zone,
    p.email_consent AS p_email_consent, p.sms_consent AS p_sms_consent, p.external_id AS p_external_id,
    p.email_verified AS p_email_verified, p.phone_verified AS p_phone_verified,
    p.created_at AS p_created_at, p.updated_at AS p_updated_at";

const CART_SELECT: &str = "SELECT c.id, c.source_id, c.cart_key, c.cart_token, c.checkout_token, c.platform_id,
    c.status, c.contact_id, c.items, c.currency, c.subtotal_minor, c.total_minor, c.recovery_url,
    c.updated_at, c.completed_at, c.converted_at, c.order_id, c.created_at,
    p.id AS p_id, p.email AS p_email, p.phone AS p_phone, p.first_name AS p_first_name,
    p.last_name AS p_last_name, p.locale AS p_locale, p.time_zone AS p_time_zone,
    p.email_consent AS p_email_consent, p.sms_consent AS p_sms_consent, p.external_id AS p_external_id,
    p.email_verified AS p_email_verified, p.phone_verified AS p_phone_verified,
    p.created_at AS p_created_at, p.updated_at AS p_updated_at
    FROM carts c LEFT JOIN contacts p ON p.id = c.contact_id";

fn contact_record(r: &DbRow, _prefix: &str) -> StoreResult<Option<ContactRecord>> {
    let id: Option<String> = r.try_get("p_id")?;
    let Some(id) = id else { return Ok(None) };
    let email_consent: String = r.try_get("p_email_consent")?;
    let sms_consent: String = r.try_get("p_sms_consent")?;
    Ok(Some(ContactRecord {
        id,
        info: ContactInfo {
            email: r.try_get("p_email")?,
            phone: r.try_get("p_phone")?,
            first_name: r.try_get("p_first_name")?,
            last_name: r.try_get("p_last_name")?,
            locale: r.try_get("p_locale")?,
            time_zone: r.try_get("p_time_zone")?,
            email_consent: Consent::parse(&email_consent),
            sms_consent: Consent::parse(&sms_consent),
            external_id: r.try_get("p_external_id")?,
        },
        email_verified: r.try_get::<i64, _>("p_email_verified")? != 0,
        phone_verified: r.try_get::<i64, _>("p_phone_verified")? != 0,
        created_at: from_ms(r.try_get("p_created_at")?),
        updated_at: from_ms(r.try_get("p_updated_at")?),
    }))
}

fn cart_record(r: &DbRow) -> StoreResult<CartRecord> {
    let currency_code: String = r.try_get("currency")?;
    let currency = Currency::parse(&currency_code).map_err(corrupt)?;
    let status: String = r.try_get("status")?;
    let items: String = r.try_get("items")?;
    let items: Vec<LineItem> = serde_json::from_str(&items).map_err(corrupt)?;
    let subtotal: Option<i64> = r.try_get("subtotal_minor")?;
    let cart = Cart {
        id: r.try_get("id")?,
        source_id: r.try_get("source_id")?,
        key: r.try_get("cart_key")?,
        cart_token: r.try_get("cart_token")?,
        checkout_token: r.try_get("checkout_token")?,
        platform_id: r.try_get("platform_id")?,
        status: CartStatus::parse(&status)
            .ok_or_else(|| corrupt(format!("cart status {status:?}")))?,
        contact_id: r.try_get("contact_id")?,
        items,
        currency,
        subtotal: subtotal.map(|m| Money::new(m, currency)),
        total: Money::new(r.try_get("total_minor")?, currency),
        recovery_url: r.try_get("recovery_url")?,
        updated_at: from_ms(r.try_get("updated_at")?),
        completed_at: r.try_get::<Option<i64>, _>("completed_at")?.map(from_ms),
        converted_at: r.try_get::<Option<i64>, _>("converted_at")?.map(from_ms),
        order_id: r.try_get("order_id")?,
        created_at: from_ms(r.try_get("created_at")?),
    };
    Ok(CartRecord {
        contact: contact_record(r, "p_")?,
        cart,
    })
}

/// Moves the ingest journal's watermark forward to `$1` (never back).
const JOURNAL_SKIP_TO: &str =
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
        let options = record.options();
        let seq = seq as i64;
        self.submit(move |tx| {
            Box::pin(async move {
                let r = apply_journaled(tx, seq, &record, &prepared, &options).await;
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
async fn apply_journaled(
    tx: &mut dyn Exec,
    seq: i64,
    record: &crate::journal::Record,
    prepared: &[Prepared],
    options: &IngestOptions,
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
    let outcome = ingest_in(&mut *tx, record.ingest(), prepared, None, options).await?;
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
