//! Backup and restore of an SQLite store (seed 003 §11: database disaster recovery).
//!
//! A backup is a consistent snapshot taken with `VACUUM INTO` while the controller may keep
//! writing; it is verified (audit chain) before it is reported good. PostgreSQL stores are backed
//! up with the database's own tools (`pg_dump`, `pg_basebackup`, replication), not here.

use std::path::Path;

use super::{Actor, Db, Store, StoreError};

/// What a verified backup or restore holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    /// Events in the verified audit chain.
    pub events: i64,
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

async fn verify_copy(path: &Path, actor: &Actor) -> Result<BackupReport, StoreError> {
    let copy = Store::open(&sqlite_url(path), actor.clone()).await?;
    let report = copy.verify_audit().await;
    copy.close().await;
    let report = report?;
    match report.first_bad {
        None => Ok(BackupReport {
            events: report.events,
        }),
        Some(bad) => Err(StoreError::Corrupt(format!(
            "{}: audit chain broken at event {}: {}",
            path.display(),
            bad.seq,
            bad.reason
        ))),
    }
}

impl Store {
    /// Writes a consistent snapshot of this SQLite store to `path` (which must not exist) and
    /// verifies it.
    pub async fn backup(&self, path: &Path) -> Result<BackupReport, StoreError> {
        let Db::Sqlite(pool) = &self.db else {
            return Err(StoreError::invalid(
                "db",
                "PostgreSQL is backed up with pg_dump or pg_basebackup (and replicated)",
            ));
        };
        if path.exists() {
            return Err(StoreError::invalid(
                "out",
                format!("{} exists; refusing to overwrite it", path.display()),
            ));
        }
        let target = path.to_str().ok_or_else(|| {
            StoreError::invalid("out", format!("{} is not valid UTF-8", path.display()))
        })?;
        sqlx::query("VACUUM INTO $1")
            .bind(target)
            .execute(pool)
            .await
            .map_err(StoreError::db(format!("back up to {target}")))?;
        verify_copy(path, &self.actor).await
    }
}

/// Verifies the backup at `from`, copies it to the SQLite file `to` (which must not exist), and
/// advances every serial counter by `counter_gap`: codes issued after the snapshot was taken are
/// not in it, and must never be issued again (choose a gap above what a line issues between
/// backups).
pub async fn restore(
    from: &Path,
    to: &Path,
    counter_gap: i64,
    actor: Actor,
) -> Result<BackupReport, StoreError> {
    if !from.is_file() {
        return Err(StoreError::invalid(
            "file",
            format!("{} is not a file", from.display()),
        ));
    }
    if to.exists() {
        return Err(StoreError::invalid(
            "db",
            format!(
                "{} exists; restore only into a new file (move the damaged one away first)",
                to.display()
            ),
        ));
    }
    // Verify a scratch copy, so that checking the backup cannot alter it.
    let scratch = to.with_extension("restore-check");
    std::fs::copy(from, &scratch).map_err(|e| {
        StoreError::Failed(format!(
            "copy {} to {}: {e}",
            from.display(),
            scratch.display()
        ))
    })?;
    let checked = verify_copy(&scratch, &actor).await;
    let _ = std::fs::remove_file(&scratch);
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", scratch.display()));
    }
    checked?;
    std::fs::copy(from, to).map_err(|e| {
        StoreError::Failed(format!("copy {} to {}: {e}", from.display(), to.display()))
    })?;
    let restored = Store::open(&sqlite_url(to), actor.clone()).await?;
    let why = format!("restored from {}", from.display());
    let skipped = restored.skip_counters(counter_gap, &why).await;
    restored.close().await;
    skipped?;
    verify_copy(to, &actor).await
}
