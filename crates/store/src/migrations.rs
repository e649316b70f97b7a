//! The schema migrations, embedded in the binary and run with sqlx's migrator at open.
//!
//! Listed here by hand (one line per file) instead of with `sqlx::migrate!`: the macro would make
//! every build compile sqlx's drivers a second time, for the compiler, with a second copy of
//! SQLite. The version, the SQL and so the checksum are the same as the macro's, so databases
//! migrated by earlier builds carry on. A test fails when a file is not listed.

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

/// SQLite's migrations.
pub(crate) fn sqlite() -> Migrator {
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

    #[test]
    fn every_migration_file_is_listed() {
        listed("sqlite", SQLITE);
        listed("postgres", POSTGRES);
    }
}
