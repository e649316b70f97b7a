//! The schema migrations, embedded in the binary and run at open: PostgreSQL's with sqlx's
//! migrator, SQLite's with [`run_sqlite`] on the store's own SQLite driver (rusqlite; sqlx carries
//! no SQLite driver, so the build compiles one).
//!
//! Listed here by hand (one line per file) instead of with `sqlx::migrate!`: the macro would make
//! every build compile sqlx's drivers a second time, for the compiler. Both runners keep sqlx's
//! bookkeeping table (`_sqlx_migrations`: version, description, SHA-384 checksum of the SQL), so
//! databases migrated by earlier builds carry on and an edited migration is refused. A test fails
//! when a file is not listed.

use sqlx::migrate::{Migration, MigrationType, Migrator};
use std::borrow::Cow;

/// (version, description, SQL): each file `NNNN_description.sql` of `migrations/sqlite/`.
const SQLITE: &[(i64, &str, &str)] = &[
    (
        1,
        "spine",
        include_str!("../migrations/sqlite/0001_spine.sql"),
    ),
    (
        2,
        "engine",
        include_str!("../migrations/sqlite/0002_engine.sql"),
    ),
    (
        3,
        "tracking",
        include_str!("../migrations/sqlite/0003_tracking.sql"),
    ),
    (
        4,
        "polling",
        include_str!("../migrations/sqlite/0004_polling.sql"),
    ),
    (
        5,
        "attribution",
        include_str!("../migrations/sqlite/0005_attribution.sql"),
    ),
    (
        6,
        "journal",
        include_str!("../migrations/sqlite/0006_journal.sql"),
    ),
    (
        7,
        "trust",
        include_str!("../migrations/sqlite/0007_trust.sql"),
    ),
    (
        8,
        "survey",
        include_str!("../migrations/sqlite/0008_survey.sql"),
    ),
    (
        9,
        "triggers",
        include_str!("../migrations/sqlite/0009_triggers.sql"),
    ),
    (
        10,
        "flow_state",
        include_str!("../migrations/sqlite/0010_flow_state.sql"),
    ),
    (
        11,
        "event_trust",
        include_str!("../migrations/sqlite/0011_event_trust.sql"),
    ),
];

/// The same for `migrations/postgres/`.
const POSTGRES: &[(i64, &str, &str)] = &[
    (
        1,
        "spine",
        include_str!("../migrations/postgres/0001_spine.sql"),
    ),
    (
        2,
        "engine",
        include_str!("../migrations/postgres/0002_engine.sql"),
    ),
    (
        3,
        "tracking",
        include_str!("../migrations/postgres/0003_tracking.sql"),
    ),
    (
        4,
        "polling",
        include_str!("../migrations/postgres/0004_polling.sql"),
    ),
    (
        5,
        "attribution",
        include_str!("../migrations/postgres/0005_attribution.sql"),
    ),
    (
        6,
        "trust",
        include_str!("../migrations/postgres/0006_trust.sql"),
    ),
    (
        7,
        "survey",
        include_str!("../migrations/postgres/0007_survey.sql"),
    ),
    (
        8,
        "triggers",
        include_str!("../migrations/postgres/0008_triggers.sql"),
    ),
    (
        9,
        "flow_state",
        include_str!("../migrations/postgres/0009_flow_state.sql"),
    ),
    (
        10,
        "event_trust",
        include_str!("../migrations/postgres/0010_event_trust.sql"),
    ),
    (
        11,
        "rate_buckets",
        include_str!("../migrations/postgres/0011_rate_buckets.sql"),
    ),
];

fn migrator(list: &'static [(i64, &'static str, &'static str)]) -> Migrator {
    let migrations: Vec<Migration> = list
        .iter()
        .map(|(version, description, sql)| {
            Migration::new(
                *version,
                Cow::Borrowed(*description),
                MigrationType::Simple,
                Cow::Borrowed(*sql),
                false,
            )
        })
        .collect();
    Migrator {
        migrations: Cow::Owned(migrations),
        ..Migrator::DEFAULT
    }
}

/// Runs SQLite's pending migrations on `conn`, each in its own transaction, recorded as sqlx
/// records them. A migration applied earlier whose SQL has changed since, or one that failed half
/// way, stops the store from opening.
pub(crate) fn run_sqlite(conn: &mut rusqlite::Connection) -> Result<(), String> {
    use sha2::Digest;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS _sqlx_migrations (
            version BIGINT PRIMARY KEY,
            description TEXT NOT NULL,
            installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
            success BOOLEAN NOT NULL,
            checksum BLOB NOT NULL,
            execution_time BIGINT NOT NULL
        );",
    )
    .map_err(|e| e.to_string())?;
    let applied: Vec<(i64, bool, Vec<u8>)> = {
        let mut st = conn
            .prepare("SELECT version, success, checksum FROM _sqlx_migrations ORDER BY version")
            .map_err(|e| e.to_string())?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(|e| e.to_string())?;
        rows.collect::<Result<_, _>>().map_err(|e| e.to_string())?
    };
    if let Some((v, ..)) = applied.iter().find(|(_, ok, _)| !ok) {
        return Err(format!(
            "migration {v} is partially applied; fix and remove it by hand"
        ));
    }
    for (version, description, sql) in SQLITE {
        let checksum = sha2::Sha384::digest(sql.as_bytes()).to_vec();
        if let Some((_, _, was)) = applied.iter().find(|(v, ..)| v == version) {
            if *was != checksum {
                return Err(format!(
                    "migration {version} ({description}) was applied with different SQL than this build's"
                ));
            }
            continue;
        }
        let started = std::time::Instant::now();
        let tx = conn.transaction().map_err(|e| e.to_string())?;
        tx.execute_batch(sql)
            .map_err(|e| format!("migration {version} ({description}): {e}"))?;
        let took = i64::try_from(started.elapsed().as_nanos()).unwrap_or(i64::MAX);
        tx.execute(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
             VALUES (?1, ?2, TRUE, ?3, ?4)",
            rusqlite::params![version, description, checksum, took],
        )
        .map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// SQLite's migrations as sqlx would run them (compared against in tests).
#[cfg(test)]
fn sqlite() -> Migrator {
    migrator(SQLITE)
}

/// PostgreSQL's migrations.
pub(crate) fn postgres() -> Migrator {
    migrator(POSTGRES)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file in the folder is listed, under its own version and description.
    fn listed(dir: &str, list: &[(i64, &str, &str)]) {
        let path = format!("{}/migrations/{dir}", env!("CARGO_MANIFEST_DIR"));
        let mut files: Vec<String> = std::fs::read_dir(&path)
            .expect("the migrations folder")
            .map(|e| {
                e.expect("an entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .filter(|f| f.ends_with(".sql"))
            .collect();
        files.sort();
        let names: Vec<String> = list
            .iter()
            .map(|(v, d, _)| format!("{v:04}_{d}.sql"))
            .collect();
        assert_eq!(
            files, names,
            "{dir}: list every migration in src/migrations.rs"
        );
        for (name, (_, _, sql)) in names.iter().zip(list) {
            let on_disk = std::fs::read_to_string(format!("{path}/{name}")).expect("the file");
            assert_eq!(&on_disk, sql, "{name}");
        }
    }

    /// A database migrated by sqlx's own runner (earlier builds) opens with this one: same
    /// checksums; and an edited migration is refused.
    #[test]
    fn sqlite_runner_keeps_sqlx_bookkeeping() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        run_sqlite(&mut conn).unwrap();
        run_sqlite(&mut conn).unwrap();
        let n: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM _sqlx_migrations WHERE success",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n as usize, SQLITE.len());
        // The checksum sqlx computes for the same SQL.
        let first = &sqlite().migrations[0];
        let stored: Vec<u8> = conn
            .query_row(
                "SELECT checksum FROM _sqlx_migrations WHERE version = 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(stored, first.checksum.to_vec());
        conn.execute(
            "UPDATE _sqlx_migrations SET checksum = x'00' WHERE version = 2",
            [],
        )
        .unwrap();
        let e = run_sqlite(&mut conn).unwrap_err();
        assert!(e.contains("migration 2"), "{e}");
    }

    #[test]
    fn every_migration_file_is_listed() {
        listed("sqlite", SQLITE);
        listed("postgres", POSTGRES);
    }
}
