//! What the batch report (issue 17, SPEC §10, seed 003 §10.2) reads from the store, counted by
//! the database: the units decided per time bucket with their final state and grade, the
//! rejects per reason, and the audit events of the batch and its line. A million-unit batch is
//! read as a few hundred aggregated rows, never as a million rows (docs/performance.md, "Batch
//! report (issue 17)").

use serde::Serialize;

use super::{CodeState, Event, Grade, RejectReason, Store, StoreError, sql};

/// Units decided in one time bucket with one final state and one read grade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecisionCell {
    /// The bucket, `0..buckets`; `None` when the units' decision time is unknown: no read
    /// stored and settled or packed since, or the deciding event purged (seed 003 §8.5).
    pub bucket: Option<i64>,
    /// The units' state now.
    pub state: CodeState,
    /// The grade the camera gave (ISO/IEC 15415); `None` without a grade or without a read.
    pub grade: Option<Grade>,
    /// Whether a read is stored for these units (`code_reads`).
    pub read: bool,
    /// How many units.
    pub units: i64,
}

/// A batch's decided units (verified or rejected, whatever happened next), in `buckets` equal
/// slices of time from the first decision to the last.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Decisions {
    /// The first decision, unix seconds (`None`: no dated decision).
    pub first: Option<i64>,
    /// The last decision, unix seconds.
    pub last: Option<i64>,
    /// How many buckets `[first, last + 1)` is cut into: as asked, or one per second when
    /// the decisions span fewer seconds.
    pub buckets: i64,
    /// The counts.
    pub cells: Vec<DecisionCell>,
}

/// The event a unit was decided in: its stored read's; without a read, its last state change
/// while that is still the decision (verified, rejected). A unit without a read that was
/// settled, packed or sampled since has no decision time (its last change is QA's or
/// packing's): it is counted as undated rather than placed at the wrong time.
/// A release's re-scan moves the read's event to the release: such a unit is undated too.
const EV: &str = "CASE WHEN r.event IS NOT NULL AND (c.state <> 'released' \
     OR (r.release_grade IS NULL AND r.release_data IS NULL)) THEN r.event \
     WHEN r.event IS NULL AND c.state IN ('verified', 'rejected') THEN c.last_event END";

/// The states of a code the camera has decided on (SPEC §3: verified or rejected, and every
/// state that follows those).
const DECIDED: &str = "('verified', 'packed', 'shipped', 'sampled', 'rejected', 'destroyed', \
     'released')";

/// Every code of a batch counted in one pass: what the reconciliation counts (per state, and
/// the codes' links to cartons) and the decisions in time. One statement reads each code once,
/// so the reconciliation and the charts of a report agree even while the line runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BatchTally {
    /// Codes per state (states without a code left out): [`Store::batch_counts`].
    pub counts: Vec<(CodeState, i64)>,
    /// Codes `packed` or `shipped` linked to no carton ([`crate::reconcile::PackageFigures`]).
    pub packed_in_no_carton: i64,
    /// Codes linked to a carton while not `packed` or `shipped`.
    pub linked_not_packed: i64,
    /// The decided units in time: [`Store::batch_decisions`].
    pub decisions: Decisions,
}

/// Whether the camera has decided on a code in `state` ([`DECIDED`]).
fn decided(state: CodeState) -> bool {
    use CodeState::*;
    matches!(
        state,
        Verified | Packed | Shipped | Sampled | Rejected | Destroyed | Released
    )
}

impl Store {
    /// The decided units of batch `id`, counted per bucket (of `buckets` between its first and
    /// last decision), final state and grade. A unit's time is the event of its stored read
    /// (the camera's decision), else its last state change while it is still verified or
    /// rejected; otherwise it is undated ([`DecisionCell::bucket`]).
    pub async fn batch_decisions(&self, id: i64, buckets: i64) -> Result<Decisions, StoreError> {
        Ok(self.batch_tally(id, buckets).await?.decisions)
    }

    /// Every code of batch `id` counted in one pass ([`BatchTally`]): per state, per link to a
    /// carton, and the decided ones per bucket of time as [`Store::batch_decisions`].
    pub async fn batch_tally(&self, id: i64, buckets: i64) -> Result<BatchTally, StoreError> {
        self.batch(id).await?;
        let buckets = buckets.max(1);
        let codes = sql::batches::BatchCodes::of(&self.db, id).await?;
        let epoch = match self.db.dialect {
            sql::Dialect::Sqlite => "CAST(strftime('%s', e.at) AS INTEGER)",
            sql::Dialect::Postgres => {
                "CAST(FLOOR(EXTRACT(EPOCH FROM CAST(e.at AS timestamptz))) AS BIGINT)"
            }
        };
        // Grouped by event first: a group commit decides many units in one event, so the join
        // with the events reads one row per event, not per unit. A code not decided yet has no
        // event (it is counted, not placed in time).
        let statement = format!(
            "WITH d AS (\
               SELECT CASE WHEN c.state IN {DECIDED} THEN {EV} END AS ev, c.state AS state, \
                 r.grade AS grade, \
                 CAST(CASE WHEN r.event IS NULL THEN 0 ELSE 1 END AS BIGINT) AS has_read, \
                 CAST(CASE WHEN c.package_sscc IS NULL THEN 0 ELSE 1 END AS BIGINT) AS linked, \
                 COUNT(*) AS n \
               FROM codes c LEFT JOIN code_reads r \
                 ON r.product_id = c.product_id AND r.counter = c.counter \
               WHERE {filter} \
               GROUP BY 1, 2, 3, 4, 5), \
             t AS (SELECT d.state, d.grade, d.has_read, d.linked, d.n, {epoch} AS s \
               FROM d LEFT JOIN events e ON e.seq = d.ev), \
             span AS (SELECT MIN(s) AS lo, MAX(s) AS hi, \
               CASE WHEN MAX(s) - MIN(s) + 1 < $2 THEN MAX(s) - MIN(s) + 1 ELSE $2 END AS k \
               FROM t) \
             SELECT (t.s - span.lo) * span.k / (span.hi - span.lo + 1) AS bucket, \
               span.lo AS lo, span.hi AS hi, span.k AS k, t.state AS state, t.grade AS grade, \
               t.has_read AS has_read, t.linked AS linked, CAST(SUM(t.n) AS BIGINT) AS units \
             FROM t CROSS JOIN span \
             GROUP BY (t.s - span.lo) * span.k / (span.hi - span.lo + 1), span.lo, span.hi, \
               span.k, t.state, t.grade, t.has_read, t.linked",
            filter = codes.filter(3),
        );
        const WHAT: &str = "count a batch's codes";
        let rows = codes
            .bind(sqlx::query(&statement).bind(id).bind(buckets))
            .fetch_all(&self.db.pool)
            .await
            .map_err(StoreError::db(format!("count the codes of batch {id}")))?;
        let mut tally = BatchTally {
            decisions: Decisions {
                buckets,
                ..Decisions::default()
            },
            ..BatchTally::default()
        };
        let decisions = &mut tally.decisions;
        for row in &rows {
            decisions.first = decisions.first.or(sql::get(row, "lo", WHAT)?);
            decisions.last = decisions.last.or(sql::get(row, "hi", WHAT)?);
            if let Some(k) = sql::get::<Option<i64>>(row, "k", WHAT)? {
                decisions.buckets = k;
            }
            let state: CodeState = sql::get::<String>(row, "state", WHAT)?.parse()?;
            let units: i64 = sql::get(row, "units", WHAT)?;
            match tally.counts.iter_mut().find(|(s, _)| *s == state) {
                Some((_, n)) => *n += units,
                None => tally.counts.push((state, units)),
            }
            let in_carton_state = matches!(state, CodeState::Packed | CodeState::Shipped);
            match (sql::get::<i64>(row, "linked", WHAT)? != 0, in_carton_state) {
                (false, true) => tally.packed_in_no_carton += units,
                (true, false) => tally.linked_not_packed += units,
                _ => {}
            }
            if !decided(state) {
                continue;
            }
            let grade = sql::get::<Option<String>>(row, "grade", WHAT)?
                .map(|g| {
                    Grade::parse(&g).ok_or_else(|| StoreError::corrupt(format!("grade {g:?}")))
                })
                .transpose()?;
            decisions.cells.push(DecisionCell {
                bucket: sql::get(row, "bucket", WHAT)?,
                state,
                grade,
                read: sql::get::<i64>(row, "has_read", WHAT)? != 0,
                units,
            });
        }
        Ok(tally)
    }

    /// The rejected units of batch `id` (rejected, destroyed or released) per reject reason,
    /// from the partial index on those states (SQLite migration 0018). A reason of `None` is a
    /// unit rejected before reasons were kept.
    pub async fn batch_reject_reasons(
        &self,
        id: i64,
    ) -> Result<Vec<(Option<RejectReason>, i64)>, StoreError> {
        self.batch(id).await?;
        const WHAT: &str = "count the rejects of a batch by reason";
        let rows = sqlx::query(&format!(
            "SELECT c.reason AS reason, COUNT(*) AS n FROM codes c \
             WHERE c.batch_id = $1 AND {} GROUP BY c.reason",
            sql::codes::REJECT_STATES
        ))
        .bind(id)
        .fetch_all(&self.db.pool)
        .await
        .map_err(StoreError::db(format!("count the rejects of batch {id}")))?;
        rows.iter()
            .map(|row| {
                let reason = sql::get::<Option<String>>(row, "reason", WHAT)?
                    .map(|r| r.parse::<RejectReason>())
                    .transpose()?;
                Ok((reason, sql::get(row, "n", WHAT)?))
            })
            .collect()
    }

    /// The audit events about batch `id` (its creation, state changes, release) and the
    /// operators' commands to `line` while it produced this batch (`line.paused`, `.resumed`,
    /// `.stopped`, `.alarm_acknowledged`), in order; through the index of migration 0021.
    pub async fn batch_timeline(
        &self,
        id: i64,
        line: Option<&str>,
    ) -> Result<Vec<Event>, StoreError> {
        let batch_subject = format!("batch:{id}");
        // A line subject no event has when the batch names no line.
        let line_subject = line.map_or_else(String::new, |l| format!("line:{l}"));
        let rows = sqlx::query(
            "SELECT seq, at, actor_user, actor_device, kind, subject, detail, prev_hash, hash \
             FROM events WHERE subject = $1 OR subject = $2 ORDER BY seq",
        )
        .bind(&batch_subject)
        .bind(&line_subject)
        .fetch_all(&self.db.pool)
        .await
        .map_err(StoreError::db(format!("read the events of batch {id}")))?;
        let mut events = Vec::with_capacity(rows.len());
        for row in &rows {
            let event = sql::audit::event_from_row(row)?;
            if event.subject == line_subject {
                // A line makes many batches: keep its commands while it made this one.
                let detail: serde_json::Value =
                    serde_json::from_str(&event.detail).unwrap_or_default();
                if detail.get("batch").and_then(serde_json::Value::as_i64) != Some(id) {
                    continue;
                }
            }
            events.push(event);
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decided_states_are_the_sql_list() {
        let mut listed: Vec<&str> = crate::vocab::CODE_STATES
            .iter()
            .filter(|s| decided(**s))
            .map(|s| s.as_str())
            .collect();
        let mut sql: Vec<&str> = DECIDED
            .trim_matches(|c| c == '(' || c == ')')
            .split(", ")
            .map(|s| s.trim_matches('\''))
            .collect();
        listed.sort_unstable();
        sql.sort_unstable();
        assert_eq!(listed, sql);
    }
}
