//! The loose units of a batch (verified, in no package) in the order they were verified: what
//! an interrupted packing station had in its open case (docs/aggregation.md "After kill -9").
//!
//! A code row keeps only the sequence number of its last event (`last_event`), and the line
//! commits its state changes in groups, one `codes.transition` event per group. The order
//! inside a group is in the event's detail: `changes` lists runs of codes in the order they
//! were decided (`super::codes::transition_detail`). So the order is (event, place in it).

use std::collections::HashMap;

use super::{Db, get};
use crate::StoreError;

/// The batch's codes in state `verified` by the line (not by rework), in the order they became
/// so (see the module).
pub(crate) async fn loose_units(db: &Db, batch_id: i64) -> Result<Vec<String>, StoreError> {
    const WHAT: &str = "read the loose units of a batch";
    let rows = sqlx::query(
        "SELECT code, last_event FROM codes WHERE batch_id = $1 AND state = 'verified' \
         ORDER BY last_event",
    )
    .bind(batch_id)
    .fetch_all(&db.pool)
    .await
    .map_err(StoreError::db(WHAT))?;
    let mut loose = Vec::with_capacity(rows.len());
    for row in &rows {
        loose.push((
            get::<String>(row, "code", WHAT)?,
            get::<i64>(row, "last_event", WHAT)?,
        ));
    }
    let mut seqs: Vec<i64> = loose.iter().map(|(_, seq)| *seq).collect();
    seqs.dedup();
    let mut place: HashMap<String, usize> = HashMap::with_capacity(loose.len());
    let mut rework = Vec::new();
    for seq in seqs {
        let detail = sqlx::query("SELECT kind, detail FROM events WHERE seq = $1")
            .bind(seq)
            .fetch_optional(&db.pool)
            .await
            .map_err(StoreError::db(WHAT))?;
        let Some(row) = detail else { continue };
        if get::<String>(&row, "kind", WHAT)? != "codes.transition" {
            // Verified again by rework (taken out of a carton): such a unit is in the
            // operator's hands, not in the case packer; it stays loose for rework.
            rework.push(seq);
            continue;
        }
        let detail: serde_json::Value =
            serde_json::from_str(&get::<String>(&row, "detail", WHAT)?).unwrap_or_default();
        let runs = detail["changes"].as_array().cloned().unwrap_or_default();
        let mut n = 0;
        for run in runs {
            for code in run["codes"].as_array().into_iter().flatten() {
                if let Some(code) = code.as_str() {
                    // The last mention wins: a code changed twice in a group ends there.
                    place.insert(code.to_owned(), n);
                }
                n += 1;
            }
        }
    }
    loose.retain(|(_, seq)| !rework.contains(seq));
    loose.sort_by(|(a, seq_a), (b, seq_b)| {
        let at = |code: &str| place.get(code).copied().unwrap_or(usize::MAX);
        (seq_a, at(a), a).cmp(&(seq_b, at(b), b))
    });
    Ok(loose.into_iter().map(|(code, _)| code).collect())
}
