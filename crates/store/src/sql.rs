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

use crate::exec::{query, query_scalar, BoxFut, Exec, Lite, Pool, Sqlx, Val};
use crate::roles::IngestLog;
use crate::rules::{IngestRules, NoRules};
use crate::time::to_ms;
use crate::{Store, StoreError, StoreResult};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;
use std::time::Duration;

pub use crate::exec::Backend;

use crate::sqlite::*;

#[derive(Debug, Clone)]
pub struct SqlStore {
    /// PostgreSQL's pool (None on SQLite, whose threads own their connections).
    pg: Option<AnyPool>,
    pub(crate) backend: Backend,
    /// SQLite's group-commit writer (None on PostgreSQL, where transactions run side by side).
    group: Option<tokio::sync::mpsc::Sender<WriteJob>>,
    /// SQLite's reader threads (None on PostgreSQL, where reads use the pool).
    reads: Option<flume::Sender<ReadJob>>,
    /// SQLite's database file (None on PostgreSQL).
    path: Option<std::path::PathBuf>,
    /// SQLite's ingest journal, when on (see `journal`).
    pub(crate) journal: Option<std::sync::Arc<crate::journal::Journal>>,
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
        Self::open_sqlite(rest.split('?').next().unwrap_or(rest), true)
    }

    /// A SQLite database whose commits are never flushed to disk: for work thrown away at the end
    /// (`cartback simulate`'s scratch database), never for the shop's data. A crash may lose any
    /// of it.
    pub async fn open_scratch(path: &std::path::Path) -> StoreResult<Self> {
        sqlx::any::install_default_drivers();
        Self::open_sqlite(&path.to_string_lossy(), false)
    }

    fn open_sqlite(path: &str, durable: bool) -> StoreResult<Self> {
        if let Some(parent) = std::path::Path::new(path).parent() {
            if !parent.as_os_str().is_empty() && !parent.exists() {
                std::fs::create_dir_all(parent).map_err(|e| {
                    StoreError::Url(format!("{path}: cannot create {}: {e}", parent.display()))
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
                move || group_writer(lite, jobs, synced, wal, durable)
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

pub(crate) fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl SqlStore {
    /// A `SELECT COUNT(*)` on a reader.
    pub(crate) async fn count(&self, sql: &'static str) -> StoreResult<u64> {
        self.read(move |x| {
            Box::pin(async move { query_scalar::<i64>(sql).fetch_one(x).await.map(count) })
        })
        .await
    }
}

/// The hub's named random key (link signing): made once, kept, shared by every instance.
pub(crate) async fn hub_key(
    tx: &mut dyn Exec,
    name: &str,
    now: DateTime<Utc>,
) -> StoreResult<Vec<u8>> {
    let mut fresh = uuid::Uuid::new_v4().as_bytes().to_vec();
    fresh.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    query(
        "INSERT INTO hub_keys (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(name)
    .bind(fresh)
    .bind(to_ms(now))
    .execute(&mut *tx)
    .await?;
    query_scalar("SELECT value FROM hub_keys WHERE name = $1")
        .bind(name)
        .fetch_one(&mut *tx)
        .await
}

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> StoreResult<()> {
        self.read(|x| Box::pin(async move { query("SELECT 1").fetch_all(x).await.map(|_| ()) }))
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

    async fn hub_key(&self, name: &str, now: DateTime<Utc>) -> StoreResult<Vec<u8>> {
        let name = name.to_string();
        self.write(move |tx| Box::pin(async move { (hub_key(tx, &name, now).await, true) }))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::*;

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
