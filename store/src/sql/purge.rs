//! Retention purge SQL (seed 003 §8.5: records are kept for the retention period, then may go).
//!
//! A purge removes a prefix of the event log, never a code record (the codes are the proof that
//! no serial was issued twice). It first records a checkpoint — the hash of the last removed
//! event — in an append-only table; the database lets an event be deleted only when a
//! checkpoint covers it. The purge's own `audit.purge` event repeats the checkpoint inside the
//! chain, so `audit verify` can start from the checkpoint and prove it was not forged.

use serde_json::json;

use super::audit::{begin, finish};
use super::{Db, get};
use crate::audit::PurgeReport;
use crate::{Actor, StoreError, now};

/// Products created before `before` with their retention in years: the records a purge up to
/// `before` could touch.
pub(crate) async fn retention_of_products_before(
    db: &Db,
    before: &str,
) -> Result<Vec<(String, i64)>, StoreError> {
    const WHAT: &str = "read the products' retention";
    let rows =
        sqlx::query("SELECT id, retention_years FROM products WHERE created_at < $1 ORDER BY id")
            .bind(before)
            .fetch_all(&db.pool)
            .await
            .map_err(StoreError::db(WHAT))?;
    rows.iter()
        .map(|row| Ok((get(row, "id", WHAT)?, get(row, "retention_years", WHAT)?)))
        .collect()
}

/// Removes every event before the first one at or after `before` (an RFC 3339 prefix), after
/// recording the checkpoint. The caller has checked retention.
pub(crate) async fn purge_events(
    db: &Db,
    actor: &Actor,
    before: &str,
) -> Result<PurgeReport, StoreError> {
    let (mut tx, head) = begin(db).await?;
    // The purged prefix ends before the first event at or after the cut, so it is contiguous
    // even if a clock once went backwards.
    let first_kept: Option<i64> = sqlx::query_scalar("SELECT MIN(seq) FROM events WHERE at >= $1")
        .bind(before)
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::db("find the first event to keep"))?;
    let through = first_kept.unwrap_or(head.seq) - 1;
    let previous: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(through_seq), 0) FROM audit_checkpoints")
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::db("read the audit checkpoints"))?;
    if through <= previous {
        // Nothing new to purge; dropping `tx` rolls the head back.
        return Ok(PurgeReport {
            events: 0,
            through_seq: previous,
            hash: None,
        });
    }
    let hash: String = sqlx::query_scalar("SELECT hash FROM events WHERE seq = $1")
        .bind(through)
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::db(format!("read event {through}")))?;
    sqlx::query(
        "INSERT INTO audit_checkpoints (through_seq, hash, purged_before, at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(through)
    .bind(&hash)
    .bind(before)
    .bind(now())
    .execute(&mut *tx)
    .await
    .map_err(StoreError::db("record the audit checkpoint"))?;
    let deleted = sqlx::query("DELETE FROM events WHERE seq <= $1")
        .bind(through)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(format!("remove events up to {through}")))?
        .rows_affected();
    let events = i64::try_from(deleted).unwrap_or(i64::MAX);
    let detail = json!({
        "before": before, "through_seq": through, "hash": hash, "events": events,
    });
    finish(tx, actor, head, "audit.purge", "audit", detail).await?;
    Ok(PurgeReport {
        events,
        through_seq: through,
        hash: Some(hash),
    })
}
