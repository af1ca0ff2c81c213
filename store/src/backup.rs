//! Backup and restore (seed 003 §11: database disaster recovery).
//!
//! A backup is always an SQLite file holding a consistent snapshot, taken while controllers may
//! keep writing: `VACUUM INTO` for an SQLite store, one REPEATABLE READ snapshot copied table by
//! table for PostgreSQL (`transfer`). It is verified (audit chain) before it is reported good.
//! A restore goes into a new SQLite file or an empty PostgreSQL database, and skips a gap of
//! serial counters so that codes issued after the snapshot are never issued again.
//! (Streaming replication and `pg_basebackup` remain the plant's first line of defence.)

use std::path::{Path, PathBuf};

use sqlx::Connection;

use super::{Actor, Store, StoreError, sql, transfer};

/// What a verified backup or restore holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    /// Events in the verified audit chain.
    pub events: i64,
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

fn remove_sqlite_files(path: &Path) {
    let _ = std::fs::remove_file(path);
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// Creates the SQLite file `path` with the current schema and copies a snapshot of the
/// PostgreSQL store `db` into it.
async fn backup_postgres(db: &sql::Db, path: &Path, actor: &Actor) -> Result<u64, StoreError> {
    // Opening creates and migrates the file; the copy then fills the empty tables.
    Store::open(&sqlite_url(path), actor.clone())
        .await?
        .close()
        .await;
    let mut target = sql::connect(&sqlite_url(path))
        .await
        .map_err(StoreError::db(format!("open {}", path.display())))?;
    let mut source = db
        .pool
        .acquire()
        .await
        .map_err(StoreError::db("connect to PostgreSQL"))?;
    let copied = transfer::postgres_to_sqlite(&mut source, &mut target).await;
    let _ = target.close().await;
    copied
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
        if path.exists() {
            return Err(StoreError::invalid(
                "out",
                format!("{} exists; refusing to overwrite it", path.display()),
            ));
        }
        if self.is_postgres() {
            let copied = backup_postgres(&self.db, path, &self.actor).await;
            if copied.is_err() {
                remove_sqlite_files(path);
            }
            copied?;
            return verify_copy(path, &self.actor).await;
        }
        let target = path.to_str().ok_or_else(|| {
            StoreError::invalid("out", format!("{} is not valid UTF-8", path.display()))
        })?;
        sqlx::query("VACUUM INTO $1")
            .bind(target)
            .execute(&self.db.pool)
            .await
            .map_err(StoreError::db(format!("back up to {target}")))?;
        verify_copy(path, &self.actor).await
    }
}

/// Verifies the backup at `from`, copies it to the SQLite file `to` (which must not exist), and
/// advances every serial counter by `counter_gap`: codes issued after the snapshot was taken are
/// not in it, and must never be issued again (choose a gap above what a line issues between
/// backups). SSCC counters are advanced too (`Store::skip_sscc_references`).
pub async fn restore(
    from: &Path,
    to: &Path,
    counter_gap: i64,
    actor: Actor,
) -> Result<BackupReport, StoreError> {
    if to.exists() {
        return Err(StoreError::invalid(
            "db",
            format!(
                "{} exists; restore only into a new file (move the damaged one away first)",
                to.display()
            ),
        ));
    }
    verify_snapshot(from, to, &actor).await?;
    std::fs::copy(from, to).map_err(|source| StoreError::FileCopy {
        from: from.to_owned(),
        to: to.to_owned(),
        source,
    })?;
    let restored = Store::open(&sqlite_url(to), actor.clone()).await?;
    let why = format!("restored from {}", from.display());
    let skipped = match restored.skip_counters(counter_gap, &why).await {
        Ok(_) => restored.skip_sscc_references(&why).await.map(|_| ()),
        Err(e) => Err(e),
    };
    restored.close().await;
    skipped?;
    verify_copy(to, &actor).await
}

/// Verifies the snapshot `from` on a scratch copy next to `near`, so that checking the backup
/// cannot alter it.
async fn verify_snapshot(from: &Path, near: &Path, actor: &Actor) -> Result<(), StoreError> {
    let scratch = verified_scratch(from, near, actor).await?;
    remove_sqlite_files(&scratch);
    Ok(())
}

/// Copies the snapshot `from` to a scratch file next to `near`, brings it to the current schema
/// and verifies it; returns the scratch file, which the caller removes.
async fn verified_scratch(from: &Path, near: &Path, actor: &Actor) -> Result<PathBuf, StoreError> {
    if !from.is_file() {
        return Err(StoreError::invalid(
            "file",
            format!("{} is not a file", from.display()),
        ));
    }
    let scratch = near.with_extension("restore-check");
    std::fs::copy(from, &scratch).map_err(|source| StoreError::FileCopy {
        from: from.to_owned(),
        to: scratch.clone(),
        source,
    })?;
    match verify_copy(&scratch, actor).await {
        Ok(_) => Ok(scratch),
        Err(e) => {
            remove_sqlite_files(&scratch);
            Err(e)
        }
    }
}

/// Verifies the backup at `from` and copies it into the PostgreSQL database at `url`, which
/// must hold no tracemark data yet (a new database or schema), then skips `counter_gap`
/// serials per product like [`restore`] and verifies the result.
pub async fn restore_into_postgres(
    from: &Path,
    url: &str,
    counter_gap: i64,
    actor: Actor,
) -> Result<BackupReport, StoreError> {
    let target = Store::open(url, actor.clone()).await?;
    if !target.is_postgres() {
        target.close().await;
        return Err(StoreError::invalid("db", "not a PostgreSQL URL"));
    }
    let (head, _) = target.audit_head().await?;
    let products = target.products().await?;
    if head != 0 || !products.is_empty() {
        target.close().await;
        return Err(StoreError::invalid(
            "db",
            format!(
                "the target already holds tracemark data ({head} events, {} products); \
                 restore only into an empty database",
                products.len()
            ),
        ));
    }
    // The copy reads the verified scratch file, which also has the current schema even when
    // the snapshot was written by an older tracemark.
    let unique = format!(
        "tracemark-restore-{}-{}",
        std::process::id(),
        super::now().replace([':', '.'], "-")
    );
    let scratch = match verified_scratch(from, &std::env::temp_dir().join(unique), &actor).await {
        Ok(scratch) => scratch,
        Err(e) => {
            target.close().await;
            return Err(e);
        }
    };
    let copied = async {
        let mut source = sql::connect(&sqlite_url(&scratch))
            .await
            .map_err(StoreError::db(format!("open {}", scratch.display())))?;
        let mut conn = target
            .db
            .pool
            .acquire()
            .await
            .map_err(StoreError::db("connect to PostgreSQL"))?;
        let copied = transfer::sqlite_to_postgres(&mut source, &mut conn).await;
        let _ = source.close().await;
        copied
    }
    .await;
    remove_sqlite_files(&scratch);
    let result = match copied {
        Ok(_) => {
            let why = format!("restored from {}", from.display());
            match target.skip_counters(counter_gap, &why).await {
                Ok(_) => match target.skip_sscc_references(&why).await {
                    Ok(_) => target.verify_audit().await,
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    };
    target.close().await;
    let report = result?;
    match report.first_bad {
        None => Ok(BackupReport {
            events: report.events,
        }),
        Some(bad) => Err(StoreError::Corrupt(format!(
            "restored store: audit chain broken at event {}: {}",
            bad.seq, bad.reason
        ))),
    }
}
