//! The hash-chained event log (seed 003 §8.3–8.5) and disaster recovery (§11): verify, read,
//! purge after retention, back up and restore.

use std::path::{Path, PathBuf};

use serde::Serialize;
use time::Date;
use tracemark_store::audit::{AuditReport, Event, PurgeReport};
use tracemark_store::backup::{BackupReport, restore, restore_into_postgres};
use tracemark_store::model::parse_date;
use tracemark_store::{Actor, Store};

use super::AppError;

/// Recomputes the hash chain; the report names the first bad event, if any.
pub async fn verify(store: &Store) -> Result<AuditReport, AppError> {
    Ok(store.verify_audit().await?)
}

/// Most events one page holds.
pub const MAX_PAGE: i64 = 1_000_000;

/// One page of the audit log, and where the next one starts.
#[derive(Debug, Clone, Serialize)]
pub struct EventPage {
    /// The events, in order.
    pub events: Vec<Event>,
    /// The cursor of the next page (the `after` to ask with), when there are more events.
    pub next_after: Option<i64>,
}

/// Events after `after` (a sequence number, 0 for the start), at most `limit` (1 to
/// [`MAX_PAGE`]), in order, and the cursor of the next page when there are more.
pub async fn events(store: &Store, after: i64, limit: i64) -> Result<EventPage, AppError> {
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(AppError::input(
            "limit",
            format!("{limit} is not between 1 and {MAX_PAGE}"),
        ));
    }
    if after < 0 {
        return Err(AppError::input("after", format!("{after} is below 0")));
    }
    // One more than asked says whether there is a next page without counting the log.
    let mut events = store.events(after, limit + 1).await?;
    let more = events.len() as i64 > limit;
    events.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next_after = more.then(|| events.last().map_or(after, |e| e.seq));
    Ok(EventPage { events, next_after })
}

/// Removes the events before `before` (`YYYY-MM-DD`, 00:00 UTC) once every product that existed
/// then has passed its retention (seed 003 §8.5); refuses, removing nothing, otherwise.
pub async fn purge(store: &Store, actor: &Actor, before: &str) -> Result<PurgeReport, AppError> {
    let before: Date = parse_date("before", before)?;
    let today = time::OffsetDateTime::now_utc().date();
    Ok(store
        .with_actor(actor.clone())
        .purge_audit(before, today)
        .await?)
}

/// Writes a verified snapshot of the store to the SQLite file `out` (which must not exist).
pub async fn backup(store: &Store, out: &Path) -> Result<BackupReport, AppError> {
    Ok(store.backup(out).await?)
}

/// Where a restore goes, read from the target store's URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreTarget {
    /// A new SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL database without tracemark data.
    Postgres(String),
}

impl RestoreTarget {
    /// `sqlite://FILE[?…]` or `postgres://…`.
    pub fn of(url: &str) -> Result<RestoreTarget, AppError> {
        if url.starts_with("postgres") {
            return Ok(RestoreTarget::Postgres(url.to_owned()));
        }
        let Some(path) = url.strip_prefix("sqlite://") else {
            return Err(AppError::input(
                "db",
                "restore into sqlite://FILE or postgres://…",
            ));
        };
        Ok(RestoreTarget::Sqlite(PathBuf::from(
            path.split('?').next().unwrap_or(path),
        )))
    }
}

/// Verifies the snapshot `file` and restores it into `target`, then skips `counter_gap` serials
/// per product so that codes issued after the snapshot are never issued again.
pub async fn restore_snapshot(
    file: &Path,
    target: &RestoreTarget,
    counter_gap: i64,
    actor: &Actor,
) -> Result<BackupReport, AppError> {
    Ok(match target {
        RestoreTarget::Sqlite(path) => restore(file, path, counter_gap, actor.clone()).await?,
        RestoreTarget::Postgres(url) => {
            restore_into_postgres(file, url, counter_gap, actor.clone()).await?
        }
    })
}
