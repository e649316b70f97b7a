//! `on_every_backend!`: runs a test body on SQLite, SQLite with the ingest journal, and
//! PostgreSQL (shared by the store's test files).

/// Runs a test body on every backend.
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    if let Some(db) = cartback_store::testdb::TestDb::new(cartback_store::Backend::Sqlite).await {
                        super::$name(&db).await;
                    }
                }
                /// SQLite with the ingest journal: every webhook goes through it, and a lone one
                /// is answered with its effects, as without it.
                #[tokio::test]
                async fn sqlite_journal() {
                    if let Some(db) = cartback_store::testdb::TestDb::new(cartback_store::Backend::Sqlite).await {
                        let db = db.with_journal(Default::default());
                        super::$name(&db).await;
                    }
                }
                #[tokio::test]
                async fn postgres() {
                    if let Some(db) = cartback_store::testdb::TestDb::new(cartback_store::Backend::Postgres).await {
                        super::$name(&db).await;
                    }
                }
            }
        )*
    };
}
