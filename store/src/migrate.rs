//! Schema migrations, compiled into the binary so an installed controller needs no files.
//!
//! Each dialect has its own directory with the same version numbers; `migrations_match_files`
//! (below) fails when a file is added there but not here.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

use super::Store;
use super::sql::Dialect;

/// (version, description, SQL) per dialect.
type Embedded = &'static [(i64, &'static str, &'static str)];

const SQLITE: Embedded = &[
    (
        1,
        "store",
        include_str!("../../migrations/sqlite/0001_store.sql"),
    ),
    (
        2,
        "block_issue",
        include_str!("../../migrations/sqlite/0002_block_issue.sql"),
    ),
    (
        3,
        "hot_path",
        include_str!("../../migrations/sqlite/0003_hot_path.sql"),
    ),
    (
        4,
        "pack_sizes",
        include_str!("../../migrations/sqlite/0004_pack_sizes.sql"),
    ),
    (
        5,
        "keys_and_purge",
        include_str!("../../migrations/sqlite/0005_keys_and_purge.sql"),
    ),
    (
        6,
        "min_grade",
        include_str!("../../migrations/sqlite/0006_min_grade.sql"),
    ),
    (
        7,
        "no_code_index",
        include_str!("../../migrations/sqlite/0007_no_code_index.sql"),
    ),
    (
        8,
        "code_reads",
        include_str!("../../migrations/sqlite/0008_code_reads.sql"),
    ),
    (
        9,
        "simulated_and_release_read",
        include_str!("../../migrations/sqlite/0009_simulated_and_release_read.sql"),
    ),
    (
        10,
        "restore_reject_reasons",
        include_str!("../../migrations/sqlite/0010_restore_reject_reasons.sql"),
    ),
    (
        11,
        "packages",
        include_str!("../../migrations/sqlite/0011_packages.sql"),
    ),
    (
        12,
        "label_count",
        include_str!("../../migrations/sqlite/0012_label_count.sql"),
    ),
    (
        13,
        "company_prefix_length",
        include_str!("../../migrations/sqlite/0013_company_prefix_length.sql"),
    ),
    (
        14,
        "outbox",
        include_str!("../../migrations/sqlite/0014_outbox.sql"),
    ),
    (
        15,
        "users",
        include_str!("../../migrations/sqlite/0015_users.sql"),
    ),
    (
        16,
        "batch_release",
        include_str!("../../migrations/sqlite/0016_batch_release.sql"),
    ),
    (
        17,
        "reject_images",
        include_str!("../../migrations/sqlite/0017_reject_images.sql"),
    ),
    (
        18,
        "reject_index",
        include_str!("../../migrations/sqlite/0018_reject_index.sql"),
    ),
    (
        19,
        "public_lookup",
        include_str!("../../migrations/sqlite/0019_public_lookup.sql"),
    ),
    (
        20,
        "shipments",
        include_str!("../../migrations/sqlite/0020_shipments.sql"),
    ),
    (
        21,
        "report_index",
        include_str!("../../migrations/sqlite/0021_report_index.sql"),
    ),
    (
        22,
        "dispatch_orders",
        include_str!("../../migrations/sqlite/0022_dispatch_orders.sql"),
    ),
    (
        23,
        "journal_marks",
        include_str!("../../migrations/sqlite/0023_journal_marks.sql"),
    ),
];

const POSTGRES: Embedded = &[
    (
        1,
        "store",
        include_str!("../../migrations/postgres/0001_store.sql"),
    ),
    (
        2,
        "block_issue",
        include_str!("../../migrations/postgres/0002_block_issue.sql"),
    ),
    (
        3,
        "hot_path",
        include_str!("../../migrations/postgres/0003_hot_path.sql"),
    ),
    (
        4,
        "pack_sizes",
        include_str!("../../migrations/postgres/0004_pack_sizes.sql"),
    ),
    (
        5,
        "keys_and_purge",
        include_str!("../../migrations/postgres/0005_keys_and_purge.sql"),
    ),
    (
        6,
        "min_grade",
        include_str!("../../migrations/postgres/0006_min_grade.sql"),
    ),
    (
        7,
        "no_code_index",
        include_str!("../../migrations/postgres/0007_no_code_index.sql"),
    ),
    (
        8,
        "code_reads",
        include_str!("../../migrations/postgres/0008_code_reads.sql"),
    ),
    (
        9,
        "simulated_and_release_read",
        include_str!("../../migrations/postgres/0009_simulated_and_release_read.sql"),
    ),
    (
        10,
        "restore_reject_reasons",
        include_str!("../../migrations/postgres/0010_restore_reject_reasons.sql"),
    ),
    (
        11,
        "packages",
        include_str!("../../migrations/postgres/0011_packages.sql"),
    ),
    (
        12,
        "label_count",
        include_str!("../../migrations/postgres/0012_label_count.sql"),
    ),
    (
        13,
        "company_prefix_length",
        include_str!("../../migrations/postgres/0013_company_prefix_length.sql"),
    ),
    (
        14,
        "outbox",
        include_str!("../../migrations/postgres/0014_outbox.sql"),
    ),
    (
        15,
        "users",
        include_str!("../../migrations/postgres/0015_users.sql"),
    ),
    (
        16,
        "batch_release",
        include_str!("../../migrations/postgres/0016_batch_release.sql"),
    ),
    (
        17,
        "reject_images",
        include_str!("../../migrations/postgres/0017_reject_images.sql"),
    ),
    (
        18,
        "reject_index",
        include_str!("../../migrations/postgres/0018_reject_index.sql"),
    ),
    (
        19,
        "public_lookup",
        include_str!("../../migrations/postgres/0019_public_lookup.sql"),
    ),
    (
        20,
        "shipments",
        include_str!("../../migrations/postgres/0020_shipments.sql"),
    ),
    (
        21,
        "report_index",
        include_str!("../../migrations/postgres/0021_report_index.sql"),
    ),
    (
        22,
        "dispatch_orders",
        include_str!("../../migrations/postgres/0022_dispatch_orders.sql"),
    ),
    (
        23,
        "journal_marks",
        include_str!("../../migrations/postgres/0023_journal_marks.sql"),
    ),
];

#[derive(Debug)]
struct Source(Embedded);

impl MigrationSource<'static> for Source {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 'static>> {
        Box::pin(async move {
            Ok(self
                .0
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
                .collect())
        })
    }
}

/// Counts the tables of an SQLite database when it has no tracemark migration history.
const SQLITE_FOREIGN_TABLES: &str = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' \
     AND name NOT LIKE 'sqlite_%' \
     AND NOT EXISTS (SELECT 1 FROM sqlite_master WHERE name = '_sqlx_migrations')";

/// Counts the tables of a PostgreSQL schema when it has no tracemark migration history.
const POSTGRES_FOREIGN_TABLES: &str = "SELECT COUNT(*) FROM information_schema.tables \
     WHERE table_schema = current_schema() \
     AND NOT EXISTS (SELECT 1 FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations')";

/// Refuses databases that hold other applications' tables, then applies pending migrations.
pub(super) async fn run(store: &Store) -> Result<(), String> {
    let db = &store.db;
    let (check, source) = match db.dialect {
        Dialect::Sqlite => (SQLITE_FOREIGN_TABLES, SQLITE),
        Dialect::Postgres => (POSTGRES_FOREIGN_TABLES, POSTGRES),
    };
    let foreign: i64 = sqlx::query_scalar(check)
        .fetch_one(&db.pool)
        .await
        .map_err(|e| format!("cannot read the database: {e}"))?;
    if foreign > 0 {
        return Err(not_ours(foreign));
    }
    let migrator = Migrator::new(Source(source))
        .await
        .map_err(|e| e.to_string())?;
    // Two processes opening a new SQLite file at once (a test watching a demo it started)
    // both find a migration pending; each runs in its own transaction, so the one that loses
    // rolls back and, run again, finds it applied. (PostgreSQL's migrator takes a lock.)
    let retries = match db.dialect {
        Dialect::Sqlite => 5,
        Dialect::Postgres => 0,
    };
    let mut attempt = 0;
    loop {
        match migrator.run(db.pool.inner()).await {
            Ok(()) => return Ok(()),
            Err(e) if attempt < retries => {
                attempt += 1;
                tracing::debug!(error = %e, attempt, "SQLite migration raced; again");
                tokio::time::sleep(std::time::Duration::from_millis(20 * attempt)).await;
            }
            Err(e) => return Err(format!("migration failed: {e}")),
        }
    }
}

/// Refuses an SQLite database holding other applications' tables. Run on a plain native
/// connection before the pool is opened, because opening the pool switches the file to WAL
/// mode.
pub(super) async fn check_sqlite(conn: &mut sqlx::SqliteConnection) -> Result<(), String> {
    let foreign: i64 = sqlx::query_scalar(SQLITE_FOREIGN_TABLES)
        .fetch_one(conn)
        .await
        .map_err(|e| format!("cannot read the database: {e}"))?;
    if foreign > 0 {
        return Err(not_ours(foreign));
    }
    Ok(())
}

fn not_ours(tables: i64) -> String {
    format!(
        "not a tracemark store: it has {tables} table(s) but no tracemark migration history; \
         refusing to change it"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &str) -> Vec<String> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../migrations")
            .join(dir);
        let mut names: Vec<String> = std::fs::read_dir(&path)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    #[test]
    fn migrations_match_files() {
        for (dir, embedded) in [("sqlite", SQLITE), ("postgres", POSTGRES)] {
            let expected: Vec<String> = embedded
                .iter()
                .map(|(v, d, _)| format!("{v:04}_{d}.sql"))
                .collect();
            assert_eq!(files(dir), expected, "migrations/{dir}");
        }
    }
}
