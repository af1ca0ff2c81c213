//! Codes: their state changes (SPEC §3; the hot path, through the group-commit writer), the
//! reads decisions rest on, and looking codes up.
//!
//! Rows are found by primary key `(product_id, counter)` after decrypting the serial
//! (`crate::locate`): there is no index on the code text.

use std::collections::HashMap;

use serde_json::json;
use sqlx::any::AnyRow;

use sqlx::{Any, Transaction};

use super::audit::{Head, Writes, begin, finish_with};
use super::{Db, Dialect, get};
use crate::locate::Location;
use crate::{
    Actor, CodeRead, CodeRecord, CodeState, Grade, RejectReason, Scheme, Settlement, StoreError,
    Transition,
};

/// A code's state as the changes of one call move it: the state and the reject reason it keeps.
type Current = (CodeState, Option<RejectReason>);

/// Applies `changes` (their rows found in `located`) in one transaction with one event; see
/// `Store::transition`. With `all_or_nothing`, one refused change writes nothing.
pub(crate) async fn transition(
    db: &Db,
    actor: &Actor,
    changes: &[Transition],
    located: &HashMap<&str, Location>,
    all_or_nothing: bool,
) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    let (mut tx, head) = begin(db).await?;
    let (results, applied) =
        apply(&mut tx, db.dialect, &head, changes, located, all_or_nothing).await?;
    if let Some(applied) = applied {
        applied.finish(tx, actor, head).await?;
    }
    Ok(results)
}

/// Changes [`apply`] checked, to be written with their event ([`Applied::finish`]).
pub(crate) struct Applied {
    /// The `codes.transition` event's detail.
    pub(crate) detail: serde_json::Value,
    /// The codes' states and the deciding reads: a row for every code set and every read.
    writes: Writes<'static>,
}

impl Applied {
    /// Writes the changes with their event, in one round trip, and commits.
    pub(crate) async fn finish(
        self,
        tx: Transaction<'static, Any>,
        actor: &Actor,
        head: Head,
    ) -> Result<(), StoreError> {
        let kind = "codes.transition";
        finish_with(tx, actor, head, kind, "codes", self.detail, self.writes).await
    }
}

/// Applies `changes` in `tx` under the event `head` will be: the answer for each change, and
/// what to write with the event — `None` when nothing is to be written (nothing valid, or with
/// `all_or_nothing` one refusal), and the transaction must be dropped.
pub(crate) async fn apply(
    tx: &mut Transaction<'static, Any>,
    dialect: Dialect,
    head: &Head,
    changes: &[Transition],
    located: &HashMap<&str, Location>,
    all_or_nothing: bool,
) -> Result<(Vec<Result<(), StoreError>>, Option<Applied>), StoreError> {
    // Rows by primary key, per product.
    let mut by_product: HashMap<&str, Vec<i64>> = HashMap::new();
    for (product, counter) in located.values() {
        by_product
            .entry(product.as_str())
            .or_default()
            .push(*counter);
    }
    let mut states: HashMap<String, Current> = HashMap::new();
    for (product, counters) in &by_product {
        const WHAT: &str = "read code states";
        let rows = sqlx::query(&format!(
            "SELECT code, state, reason FROM codes WHERE product_id = $1 AND {}",
            dialect.counter_in_json(2)
        ))
        .bind(product)
        .bind(serde_json::to_string(counters).unwrap_or_default())
        .fetch_all(&mut **tx)
        .await
        .map_err(StoreError::db(WHAT))?;
        for row in &rows {
            let code: String = get(row, "code", WHAT)?;
            // Only the very text asked for: a forged serial that decrypts to a real counter
            // names another code, which is not taken for it.
            if located.contains_key(code.as_str()) {
                let state = get::<String>(row, "state", WHAT)?.parse()?;
                // The stored reason too: a rejected code keeps it through destroyed and
                // released (it is why QA acted), so the UPDATE below must write it back.
                let reason = get::<Option<String>>(row, "reason", WHAT)?
                    .map(|r| r.parse::<RejectReason>())
                    .transpose()?;
                states.insert(code, (state, reason));
            }
        }
    }
    let mut results = Vec::with_capacity(changes.len());
    let mut applied = Vec::new();
    for change in changes {
        let result = check(change, &mut states);
        if result.is_ok() {
            applied.push(change);
        }
        results.push(result);
    }
    if applied.is_empty() || (all_or_nothing && applied.len() < changes.len()) {
        // Nothing valid: roll back, the chain head stays where it was.
        return Ok((results, None));
    }
    // One UPDATE per final (state, reason) and product: codes changed twice in the group get
    // their last state.
    let mut groups: HashMap<Current, Vec<&str>> = HashMap::new();
    for change in &applied {
        if let Some(last) = states.get(change.code.as_str()) {
            groups.entry(*last).or_default().push(change.code.as_str());
        }
    }
    let mut updates = Vec::new();
    let mut codes_set = 0;
    for ((state, reason), mut codes) in groups {
        codes.sort_unstable();
        codes.dedup();
        codes_set += codes.len();
        let mut rows: HashMap<&str, Vec<i64>> = HashMap::new();
        for code in &codes {
            if let Some((product, counter)) = located.get(code) {
                rows.entry(product.as_str()).or_default().push(*counter);
            }
        }
        for (product, counters) in rows {
            updates.push(StateUpdate {
                state,
                reason,
                product,
                counters,
            });
        }
    }
    let (decided, released) = read_upserts(&applied, located);
    // Releases' re-scans (QA's, rare) in a statement of their own: in one with the deciding
    // reads, PostgreSQL would refuse a code rejected and released in the same group (an
    // upsert may not touch a row twice in one command).
    if let Some(released) = released {
        sqlx::query(&released.sql(dialect, 1, 2))
            .bind(head.seq)
            .bind(released.rows.as_str())
            .execute(&mut **tx)
            .await
            .map_err(StoreError::db(format!(
                "record the re-scans of {} released codes",
                released.count
            )))?;
    }
    let writes = states_and_reads(dialect, head, &updates, decided, codes_set as u64);
    Ok((
        results,
        Some(Applied {
            detail: transition_detail(&applied),
            writes,
        }),
    ))
}

/// The codes of one product to be set to one state (and reason), by counter.
struct StateUpdate<'a> {
    state: CodeState,
    reason: Option<RejectReason>,
    product: &'a str,
    counters: Vec<i64>,
}

/// The writes that set every update's codes to its state and record the deciding `reads`,
/// under the event `head` is for, sent with the event in one round trip
/// ([`super::audit::finish_with`]): a commit of the line's writer sets codes `sent`,
/// `printed` and decided at once and records the reads of its decisions, and each statement
/// is a round trip to SQLite's worker thread (or to PostgreSQL). No two touch the same row: a
/// code has one final state, and the reads are keyed by row. Each update finds its rows by
/// primary key. Every one of the `codes` codes changes, and a row per read.
fn states_and_reads(
    dialect: Dialect,
    head: &Head,
    updates: &[StateUpdate<'_>],
    reads: Option<ReadUpsert>,
    codes: u64,
) -> Writes<'static> {
    let mut writes = Writes::default();
    for update in updates {
        let at = writes.next_arg();
        writes
            .statement(format!(
                "UPDATE codes SET state = ${at}, reason = ${}, last_event = ${} \
                 WHERE product_id = ${} AND {}",
                at + 1,
                at + 2,
                at + 3,
                dialect.counter_in_json(at + 4)
            ))
            .bind(update.state.as_str())
            .bind(update.reason.map(RejectReason::as_str))
            .bind(head.seq)
            .bind(update.product.to_owned())
            .bind(serde_json::to_string(&update.counters).unwrap_or_default());
    }
    let recorded = reads.as_ref().map_or(0, |r| r.count as u64);
    if let Some(read) = reads {
        let at = writes.next_arg();
        writes
            .statement(read.sql(dialect, at, at + 1))
            .bind(head.seq)
            .bind(read.rows);
    }
    writes.expect(
        codes + recorded,
        format!("setting the states of {codes} codes and recording {recorded} reads"),
    );
    writes
}

/// One upsert of reads into `code_reads`: the deciding reads, or releases' re-scans.
struct ReadUpsert {
    /// The columns it writes: (`grade`, `data`) or (`release_grade`, `release_data`).
    columns: (&'static str, &'static str),
    /// Its rows, a JSON array of `{p, c, g, d}`: product, counter, grade, data.
    rows: String,
    /// How many.
    count: usize,
}

impl ReadUpsert {
    /// The statement, the event bound at `$event` and its rows at `$n`.
    fn sql(&self, dialect: Dialect, event: u32, n: u32) -> String {
        let (grade, data) = self.columns;
        let source = match dialect {
            Dialect::Postgres => format!(
                "SELECT r.p, r.c, r.g, r.d FROM json_to_recordset(${n}::json) \
                 AS r(p text, c bigint, g text, d text)"
            ),
            Dialect::Sqlite => format!(
                "SELECT j.value ->> 'p', j.value ->> 'c', j.value ->> 'g', j.value ->> 'd' \
                 FROM json_each(${n}) AS j"
            ),
        };
        // `WHERE true`: SQLite's grammar needs it between a SELECT and an upsert's ON CONFLICT
        // (sqlite.org/lang_upsert.html, "Parsing Ambiguity").
        format!(
            "INSERT INTO code_reads (product_id, counter, {grade}, {data}, event) \
             SELECT s.*, ${event} FROM ({source}) AS s WHERE true \
             ON CONFLICT (product_id, counter) DO UPDATE \
             SET {grade} = excluded.{grade}, {data} = excluded.{data}, event = excluded.event"
        )
    }
}

/// The reads the decisions of `applied` were made on, one row per code (the latest wins): at
/// most one upsert for the deciding reads and one for releases' re-scans, whatever the
/// group's size, so a commit's cost does not grow by a statement per unit (issue 20).
fn read_upserts(
    applied: &[&Transition],
    located: &HashMap<&str, Location>,
) -> (Option<ReadUpsert>, Option<ReadUpsert>) {
    // Keyed by row, so a code read twice in the group is written once, with its last read:
    // PostgreSQL refuses an upsert that touches a row twice.
    let mut decided: HashMap<(&str, i64), &CodeRead> = HashMap::new();
    let mut released: HashMap<(&str, i64), &CodeRead> = HashMap::new();
    for change in applied {
        let (Some(read), Some((product, counter))) =
            (&change.read, located.get(change.code.as_str()))
        else {
            continue;
        };
        // A release's re-scan goes beside the read the unit was rejected on, not over it.
        let into = if change.to == CodeState::Released {
            &mut released
        } else {
            &mut decided
        };
        into.insert((product.as_str(), *counter), read);
    }
    let upsert = |reads: HashMap<(&str, i64), &CodeRead>, columns| {
        if reads.is_empty() {
            return None;
        }
        let rows: Vec<serde_json::Value> = reads
            .iter()
            .map(|((product, counter), read)| {
                json!({ "p": product, "c": counter, "g": read.grade.map(Grade::as_str), "d": read.data })
            })
            .collect();
        Some(ReadUpsert {
            columns,
            rows: serde_json::Value::from(rows).to_string(),
            count: reads.len(),
        })
    };
    (
        upsert(decided, ("grade", "data")),
        upsert(released, ("release_grade", "release_data")),
    )
}

/// The `codes.transition` event's detail. Its bytes are hashed into the chain: keep the keys
/// and their order.
fn transition_detail(applied: &[&Transition]) -> serde_json::Value {
    // Runs of consecutive changes with the same target, in order: compact for the hot path
    // (one run per group) and still exact when a code changes twice in a group.
    let mut runs: Vec<(CodeState, Option<RejectReason>, Vec<&str>)> = Vec::new();
    for c in applied {
        match runs.last_mut() {
            Some((to, reason, codes)) if *to == c.to && *reason == c.reason => {
                codes.push(c.code.as_str())
            }
            _ => runs.push((c.to, c.reason, vec![c.code.as_str()])),
        }
    }
    let runs: Vec<serde_json::Value> = runs
        .into_iter()
        .map(|(to, reason, codes)| json!({ "to": to.as_str(), "reason": reason, "codes": codes }))
        .collect();
    let mut detail = json!({ "count": applied.len(), "changes": runs });
    // The reads go into the chained event too, so a changed read is a broken chain and a later
    // read (a release's re-scan) does not erase the one before.
    let reads: Vec<serde_json::Value> = applied
        .iter()
        .filter_map(|c| {
            c.read
                .as_ref()
                .map(|r| json!({ "code": c.code, "grade": r.grade, "data": r.data }))
        })
        .collect();
    if !reads.is_empty() {
        detail["reads"] = reads.into();
    }
    detail
}

/// Checks one change against the code's current state (moved by the changes before it).
fn check(change: &Transition, states: &mut HashMap<String, Current>) -> Result<(), StoreError> {
    match (&change.reason, change.to) {
        (None, CodeState::Rejected) => {
            return Err(StoreError::invalid(
                "reason",
                "a rejected code needs a reason",
            ));
        }
        (Some(_), to) if to != CodeState::Rejected => {
            return Err(StoreError::invalid(
                "reason",
                "only rejected codes have a reason",
            ));
        }
        _ => {}
    }
    let Some(current) = states.get_mut(change.code.as_str()) else {
        return Err(StoreError::NotFound {
            what: "code",
            id: change.code.clone(),
        });
    };
    if !current.0.can_become(change.to) {
        return Err(StoreError::Transition {
            code: change.code.clone(),
            from: current.0,
            to: change.to,
        });
    }
    // Packing a unit into a carton and taking it out (SPEC §3a rework) also set or clear its
    // link to the carton: only the package operations (`crate::sql::links`) make these
    // changes, in the same statement, so no unit is packed in no carton.
    if change.to == CodeState::Packed
        || (current.0 == CodeState::Packed && change.to == CodeState::Verified)
    {
        let how = if change.to == CodeState::Packed {
            "put it into a carton with `tracemark pack add`"
        } else {
            "take it out of its carton with `tracemark pack remove`"
        };
        return Err(StoreError::invalid(
            "state",
            format!("code {} is {}: {how}", change.code, current.0),
        ));
    }
    // Keep a reject reason through destroyed/released: it is why QA acted.
    let reason = change.reason.or(current.1);
    *current = (change.to, reason);
    Ok(())
}

/// A code row with its read, as `code` and `codes_of_batch` select it.
const CODE_WITH_READ: &str = "SELECT c.product_id AS product_id, c.counter AS counter, \
    c.code AS code, c.batch_id AS batch_id, c.state AS state, c.reason AS reason, \
    c.package_sscc AS package_sscc, r.grade AS grade, r.data AS data, r.release_grade AS release_grade, \
    r.release_data AS release_data \
    FROM codes c LEFT JOIN code_reads r ON r.product_id = c.product_id AND r.counter = c.counter";

/// One code by its text, at its `location` (`None`: it cannot be one of this store's).
pub(crate) async fn code(
    db: &Db,
    code: &str,
    location: Option<&Location>,
) -> Result<Option<CodeRecord>, StoreError> {
    let Some((product, counter)) = location else {
        return Ok(None);
    };
    let row = sqlx::query(&format!(
        "{CODE_WITH_READ} WHERE c.product_id = $1 AND c.counter = $2"
    ))
    .bind(product)
    .bind(counter)
    .fetch_optional(&db.pool)
    .await
    .map_err(StoreError::db(format!("read code {code}")))?;
    let Some(row) = row else { return Ok(None) };
    // The row of that counter holds exactly this text, or this text is no code here.
    if get::<String>(&row, "code", "read a code")? != code {
        return Ok(None);
    }
    code_record(&row).map(Some)
}

/// The condition the partial index `codes_batch_rejects` (migration 0018) is defined on. A
/// query uses the index only when its own condition holds this text or one of its terms: SQLite
/// proves a partial index usable by comparing terms, and a bound parameter matches none.
pub(crate) const REJECT_STATES: &str =
    "(c.state = 'rejected' OR c.state = 'destroyed' OR c.state = 'released')";

/// Codes of a batch in `state`, in counter order: `limit` of them after the first `offset`.
pub(crate) async fn codes_of_batch(
    db: &Db,
    batch: i64,
    state: CodeState,
    offset: i64,
    limit: i64,
) -> Result<Vec<CodeRecord>, StoreError> {
    // The state is written into the text, not bound: `c.state = 'rejected'` is one of the
    // terms of the partial index on QA's states (see REJECT_STATES), so QA's lists read that
    // index instead of every code of the batch. `as_str` is one of the fixed state names.
    let rows = sqlx::query(&format!(
        "{CODE_WITH_READ} WHERE c.batch_id = $1 AND c.state = '{}' \
         ORDER BY c.counter LIMIT $2 OFFSET $3",
        state.as_str()
    ))
    .bind(batch)
    .bind(limit)
    .bind(offset)
    .fetch_all(&db.pool)
    .await
    .map_err(StoreError::db(format!(
        "list the {state} codes of batch {batch}"
    )))?;
    rows.iter().map(code_record).collect()
}

/// Who settled the destroyed or released codes of batch `batch`, and when: the user and time
/// of the event that last changed each (both states are final, so that event is QA's
/// decision). With `window` (`state`, `offset`, `limit`), only the codes of that state that
/// [`codes_of_batch`] lists for the same window. A code whose event was purged (seed 003 §8.5)
/// is left out.
pub(crate) async fn settlements(
    db: &Db,
    batch: i64,
    window: Option<(CodeState, i64, i64)>,
) -> Result<Vec<Settlement>, StoreError> {
    const WHAT: &str = "read a settlement";
    let (states, page) = match window {
        // As in codes_of_batch: the state in the text, for the partial index.
        Some((state, offset, limit)) => (
            format!("c.state = '{}'", state.as_str()),
            format!("ORDER BY c.counter LIMIT {limit} OFFSET {offset}"),
        ),
        None => (
            format!(
                "c.state IN ('{}', '{}')",
                CodeState::Destroyed.as_str(),
                CodeState::Released.as_str()
            ),
            String::new(),
        ),
    };
    // The window is cut from the codes before the join (LEFT JOIN: a purged event does not
    // shift it), so it holds the same codes as codes_of_batch's.
    let rows = sqlx::query(&format!(
        "SELECT c.code AS code, e.actor_user AS actor_user, e.at AS at \
         FROM (SELECT c.code, c.last_event, c.counter FROM codes c \
               WHERE c.batch_id = $1 AND {REJECT_STATES} AND {states} {page}) c \
         LEFT JOIN events e ON e.seq = c.last_event",
    ))
    .bind(batch)
    .fetch_all(&db.pool)
    .await
    .map_err(StoreError::db(format!(
        "read who settled the rejects of batch {batch}"
    )))?;
    let mut settled = Vec::with_capacity(rows.len());
    for row in &rows {
        let (Some(by), Some(at)) = (get(row, "actor_user", WHAT)?, get(row, "at", WHAT)?) else {
            continue;
        };
        settled.push(Settlement {
            code: get(row, "code", WHAT)?,
            by,
            at,
        });
    }
    Ok(settled)
}

/// A row of [`CODE_WITH_READ`] as a record.
fn code_record(row: &AnyRow) -> Result<CodeRecord, StoreError> {
    const WHAT: &str = "read a code";
    let code: String = get(row, "code", WHAT)?;
    // The serial as the code's scheme defines it (tracemark_codes::scheme).
    let serial = Scheme::parts_of(&code)
        .map(|parts| parts.serial)
        .unwrap_or_default();
    let reason = get::<Option<String>>(row, "reason", WHAT)?
        .map(|r| {
            r.parse()
                .map_err(|e| StoreError::corrupt(format!("code {code}: {e}")))
        })
        .transpose()?;
    let grade: Option<String> = get(row, "grade", WHAT)?;
    let release_grade: Option<String> = get(row, "release_grade", WHAT)?;
    let release_data: Option<String> = get(row, "release_data", WHAT)?;
    let release_read = (release_grade.is_some() || release_data.is_some()).then(|| CodeRead {
        grade: release_grade.as_deref().and_then(Grade::parse),
        data: release_data,
    });
    Ok(CodeRecord {
        product_id: get(row, "product_id", WHAT)?,
        counter: get(row, "counter", WHAT)?,
        serial,
        batch_id: get(row, "batch_id", WHAT)?,
        state: get::<String>(row, "state", WHAT)?.parse()?,
        reason,
        grade: grade.as_deref().and_then(Grade::parse),
        data: get(row, "data", WHAT)?,
        release_read,
        package: get(row, "package_sscc", WHAT)?,
        code,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CodeRead;

    /// The detail is hashed into the chain: its bytes (keys in insertion order, serde_json's
    /// `preserve_order`) must not change with the code around it.
    #[test]
    fn transition_detail_bytes_are_stable() {
        let sent = Transition::to("(01)09506000134352(21)1", CodeState::Sent);
        let mut rejected = Transition::to("(01)09506000134352(21)2", CodeState::Rejected);
        rejected.reason = Some(RejectReason::LowGrade);
        rejected.read = Some(CodeRead {
            grade: Some(Grade::D),
            data: Some("0109506000134352212".into()),
        });
        let detail = transition_detail(&[&sent, &rejected]);
        assert_eq!(
            detail.to_string(),
            r#"{"count":2,"changes":[{"to":"sent","reason":null,"codes":["(01)09506000134352(21)1"]},{"to":"rejected","reason":"low_grade","codes":["(01)09506000134352(21)2"]}],"reads":[{"code":"(01)09506000134352(21)2","grade":"D","data":"0109506000134352212"}]}"#
        );
    }
}
