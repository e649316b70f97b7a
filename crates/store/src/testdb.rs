//! Throw-away databases for tests: a temporary SQLite file, or a fresh schema in the PostgreSQL
//! named by `CARTBACK_TEST_PG_URL`, dropped when the guard is dropped.
//!
//! Without `CARTBACK_TEST_PG_URL` a PostgreSQL test prints why and passes without running, except
//! under CI (`CI=true`), where it fails: CI must run it. Behind the `testdb` cargo feature, which
//! only dev-dependencies turn on.

use crate::sql::{Backend, SqlStore};
use crate::StoreResult;
use sqlx::Executor;

/// The PostgreSQL server tests use, from `CARTBACK_TEST_PG_URL` (CI sets it).
pub fn pg_url() -> Option<String> {
    std::env::var("CARTBACK_TEST_PG_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
}

/// Whether this is a CI run (`CI=true`): there a test that cannot get its database fails instead
/// of passing without running.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Keeps a test database alive; removes it on drop.
pub struct TestDb {
    pub backend: Backend,
    /// The URL to open (SQLite file, or PostgreSQL with the schema on its search path).
    pub url: String,
    dir: Option<tempfile::TempDir>,
    schema: Option<(String, String)>,
    /// SQLite's ingest journal, when the test wants it on.
    journal: Option<crate::journal::JournalSettings>,
}

impl TestDb {
    /// A fresh, empty database of `backend`, or `None` (with the reason printed) when PostgreSQL
    /// is not configured.
    ///
    /// # Panics
    /// When PostgreSQL is not configured and `CI=true`, when `CARTBACK_TEST_PG_URL` cannot be
    /// reached, or when no temporary folder can be made.
    pub async fn new(backend: Backend) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary folder for the test database");
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                Some(TestDb {
                    backend,
                    url,
                    dir: Some(dir),
                    schema: None,
                    journal: None,
                })
            }
            Backend::Postgres => {
                let Some(base) = pg_url() else {
                    assert!(
                        !in_ci(),
                        "CI=true but CARTBACK_TEST_PG_URL is not set: CI runs the PostgreSQL tests \
                         (.ci/run points it at the machine's PostgreSQL), so this test fails rather than \
                         pass without running"
                    );
                    eprintln!("skipped: set CARTBACK_TEST_PG_URL (e.g. postgres://postgres@127.0.0.1:5432/test) to run the PostgreSQL tests");
                    return None;
                };
                let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
                sqlx::any::install_default_drivers();
                let mut conn = match <sqlx::AnyConnection as sqlx::Connection>::connect(&base).await
                {
                    Ok(conn) => conn,
                    Err(e) => panic!("CARTBACK_TEST_PG_URL cannot be reached: {e}"),
                };
                conn.execute(format!("CREATE SCHEMA {schema}").as_str())
                    .await
                    .expect("create schema");
                let sep = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
                Some(TestDb {
                    backend,
                    url,
                    dir: None,
                    schema: Some((base, schema)),
                    journal: None,
                })
            }
        }
    }

    pub async fn open(&self) -> StoreResult<SqlStore> {
        self.open_with_rules(std::sync::Arc::new(crate::NoRules))
            .await
    }

    /// [`TestDb::open`] with the ingest `rules` (before the journal opens, as the hub does).
    pub async fn open_with_rules(
        &self,
        rules: std::sync::Arc<dyn crate::IngestRules>,
    ) -> StoreResult<SqlStore> {
        let store = SqlStore::open_with(&self.url, 8).await?.with_rules(rules);
        match &self.journal {
            Some(settings) => store.with_journal(settings).await,
            None => Ok(store),
        }
    }

    /// Opens the store with SQLite's ingest journal on, as `settings` say (PostgreSQL has none).
    pub fn with_journal(mut self, settings: crate::journal::JournalSettings) -> TestDb {
        self.journal = Some(settings);
        self
    }

    /// The folder of a SQLite database (tests put other files there).
    pub fn dir(&self) -> Option<&std::path::Path> {
        self.dir.as_ref().map(|d| d.path())
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((base, schema)) = self.schema.take() {
            // Async drop is not a thing: a short-lived runtime on its own thread drops the schema.
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    if let Ok(mut conn) =
                        <sqlx::AnyConnection as sqlx::Connection>::connect(&base).await
                    {
                        let _ = conn
                            .execute(format!("DROP SCHEMA IF EXISTS {schema} CASCADE").as_str())
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

/// Runs each named `async fn(&TestDb)` on SQLite, SQLite with the ingest journal, and PostgreSQL
/// (skipped with the reason when `CARTBACK_TEST_PG_URL` is not set; failing under `CI=true`):
/// `cartback_store::on_every_backend!(redelivery_changes_nothing, ...);`.
#[macro_export]
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    if let Some(db) = $crate::testdb::TestDb::new($crate::Backend::Sqlite).await {
                        super::$name(&db).await;
                    }
                }
                /// SQLite with the ingest journal: every webhook goes through it, and a lone one
                /// is answered with its effects, as without it.
                #[tokio::test]
                async fn sqlite_journal() {
                    if let Some(db) = $crate::testdb::TestDb::new($crate::Backend::Sqlite).await {
                        let db = db.with_journal(Default::default());
                        super::$name(&db).await;
                    }
                }
                #[tokio::test]
                async fn postgres() {
                    if let Some(db) = $crate::testdb::TestDb::new($crate::Backend::Postgres).await {
                        super::$name(&db).await;
                    }
                }
            }
        )*
    };
}
