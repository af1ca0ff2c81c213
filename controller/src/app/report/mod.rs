//! The batch report (issue 17, SPEC §10, seed 003 §10.2 "reports and charts of quality
//! metrics, trends and anomalies"): who made the batch and when, its reconciliation — the very
//! [`batches::report`] that `tracemark batch report --json` prints —, throughput and reject rate
//! over time, the rejects by reason (Pareto), the grades the camera gave (ISO/IEC 15415 A–F),
//! the stops and state changes on a timeline, packing and upload summaries, and the audit
//! chain's verification.
//!
//! Every figure is counted by the database (`tracemark_store::report`): the time series are
//! one grouped query over the batch's codes, so a million-unit batch is a few hundred rows
//! here. This module turns them into the report's figures (buckets, Pareto order, cumulative
//! shares, pause intervals); the HTML and its SVG charts are drawn by `http::hmi::report`, the
//! PDF printed by [`pdf`].

pub mod pdf;

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tracemark_store::audit::AuditReport;
use tracemark_store::report::Decisions;
use tracemark_store::upload::Delivery;
use tracemark_store::{CodeState, Grade, Producer, Product, RejectReason, Store};

use super::AppError;
use super::batches::{self, BatchReport};

/// Time buckets of the throughput and reject-rate charts: fine enough to show a shift's
/// trend, few enough that every bar has a readable label and a table row.
pub const BUCKETS: i64 = 24;

/// The grades of the distribution, best first (ISO/IEC 15415 §7), and `none` for a read
/// without a grade (a no-read).
pub const GRADES: [&str; 6] = ["A", "B", "C", "D", "F", "none"];

/// The whole report of one batch.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// When the report was made (RFC 3339, UTC).
    pub generated_at: String,
    /// The producer, when set.
    pub producer: Option<Producer>,
    /// The product made.
    pub product: Product,
    /// The batch, its reconciliation and its packages: `tracemark batch report --json`.
    pub summary: BatchReport,
    /// When the batch first ran (its first `batch.state` event to `running`).
    pub started_at: Option<String>,
    /// Decided units per time bucket, in order.
    pub throughput: Vec<Bucket>,
    /// Seconds per bucket.
    pub bucket_seconds: f64,
    /// Units whose deciding event was purged (retention): counted, not placed in time.
    pub undated_units: i64,
    /// Of those, rejected.
    pub undated_rejected: i64,
    /// Rejected units per reason, most first (a Pareto chart).
    pub rejects: Vec<ReasonCount>,
    /// Camera reads per grade, in [`GRADES`] order.
    pub grades: Vec<GradeCount>,
    /// The reads counted in [`Report::grades`].
    pub reads: i64,
    /// The batch's and its line's audit events, in order.
    pub timeline: Vec<Mark>,
    /// The times the batch was paused.
    pub pauses: Vec<Pause>,
    /// The start and end of the timeline (unix seconds).
    pub span: (i64, i64),
    /// The deliveries of the batch's own document to the upload targets.
    pub deliveries: Vec<Delivery>,
    /// The deliveries of the shipments that carry the batch's units (each shipment is its
    /// own document, docs/shipping.md): shown apart, since a shipment may carry other
    /// batches' units too.
    pub shipment_deliveries: Vec<Delivery>,
    /// The audit chain's verification.
    pub audit: AuditReport,
}

/// Units the camera decided in one slice of time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bucket {
    /// Its start (unix seconds).
    pub start: i64,
    /// Its end, exclusive.
    pub end: i64,
    /// Its start as shown (`HH:MM:SS`, UTC; with the date when the batch spans days).
    pub label: String,
    /// Units decided (verified or rejected).
    pub units: i64,
    /// Of those, rejected.
    pub rejected: i64,
    /// `rejected / units` in percent (0 without units).
    pub reject_rate: f64,
}

/// Rejected units of one reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReasonCount {
    /// The reason's stored name (`no_read`, …); `unknown_reason` when none was kept.
    pub reason: String,
    /// How many units.
    pub units: i64,
    /// Share of all rejects of this and the reasons before it, in percent.
    pub cumulative: f64,
}

/// Reads of one grade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GradeCount {
    /// `A`–`F`, or `none`.
    pub grade: &'static str,
    /// How many reads.
    pub reads: i64,
}

/// What an audit event on the timeline was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkKind {
    /// `batch.create`.
    Created,
    /// `batch.state` to running from created.
    Started,
    /// `batch.state` to paused.
    Paused,
    /// `batch.state` back to running.
    Resumed,
    /// `batch.state` to closed.
    Closed,
    /// `batch.release`.
    Released,
    /// `line.paused`: an operator paused the line.
    LinePaused,
    /// `line.resumed`.
    LineResumed,
    /// `line.stopped`.
    LineStopped,
    /// `line.alarm_acknowledged`: an operator acknowledged the line's alarm.
    AlarmAcknowledged,
}

impl MarkKind {
    /// The words key (`controller/src/http/hmi/i18n/*.toml`).
    pub fn key(self) -> &'static str {
        match self {
            MarkKind::Created => "mark_created",
            MarkKind::Started => "mark_started",
            MarkKind::Paused => "mark_paused",
            MarkKind::Resumed => "mark_resumed",
            MarkKind::Closed => "mark_closed",
            MarkKind::Released => "mark_released",
            MarkKind::LinePaused => "mark_line_paused",
            MarkKind::LineResumed => "mark_line_resumed",
            MarkKind::LineStopped => "mark_line_stopped",
            MarkKind::AlarmAcknowledged => "mark_alarm_acknowledged",
        }
    }

    /// A stop or an alarm: drawn as abnormal (ISA-101).
    pub fn abnormal(self) -> bool {
        matches!(
            self,
            MarkKind::Paused
                | MarkKind::LinePaused
                | MarkKind::LineStopped
                | MarkKind::AlarmAcknowledged
        )
    }
}

/// One audit event on the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mark {
    /// Its place in the chain.
    pub seq: i64,
    /// When (RFC 3339, UTC).
    pub at: String,
    /// When, unix seconds.
    pub unix: i64,
    /// What.
    pub kind: MarkKind,
    /// Who.
    pub user: String,
    /// The operator's reason, when one was given.
    pub reason: Option<String>,
}

/// A time the batch was paused, to its resumption or close (or the report's time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pause {
    /// Paused at (unix seconds).
    pub from: i64,
    /// Running again, or closed, at.
    pub to: i64,
}

/// The report of batch `id`.
pub async fn batch(store: &Store, id: i64) -> Result<Report, AppError> {
    // One pass over the batch's codes gives both the reconciliation's counts and the time
    // series: on a million-unit batch each pass takes a second or more (docs/performance.md
    // "Batch report (issue 17)"), and one statement makes the two agree while the line runs.
    let tally = store.batch_tally(id, BUCKETS).await?;
    let summary = batches::report_of_tally(store, id, &tally).await?;
    let decisions = tally.decisions;
    let product = store.product(&summary.batch.product_id).await?;
    let producer = store.producer().await?;
    let reasons = store.batch_reject_reasons(id).await?;
    let events = store
        .batch_timeline(id, summary.batch.line.as_deref())
        .await?;
    let deliveries = store.batch_deliveries(id).await?;
    let shipment_deliveries = store.batch_shipment_deliveries(id).await?;
    let audit = super::audit::verify(store).await?;
    let now = OffsetDateTime::now_utc();
    let timeline: Vec<Mark> = events.iter().filter_map(mark).collect();
    let started_at = timeline
        .iter()
        .find(|m| m.kind == MarkKind::Started)
        .map(|m| m.at.clone());
    let (throughput, bucket_seconds) = buckets(&decisions);
    let (undated_units, undated_rejected) = undated(&decisions);
    let (grades, reads) = grades(&decisions);
    let span = span(&timeline, &decisions, now.unix_timestamp());
    let pauses = pauses(&timeline, span.1);
    Ok(Report {
        generated_at: now.format(&Rfc3339).unwrap_or_default(),
        producer,
        product,
        summary,
        started_at,
        throughput,
        bucket_seconds,
        undated_units,
        undated_rejected,
        rejects: pareto(reasons),
        grades,
        reads,
        timeline,
        pauses,
        span,
        deliveries,
        shipment_deliveries,
        audit,
    })
}

/// Rejected, destroyed and released units were rejected by the camera (SPEC §3).
fn is_rejected(state: CodeState) -> bool {
    matches!(
        state,
        CodeState::Rejected | CodeState::Destroyed | CodeState::Released
    )
}

/// Unix seconds of an RFC 3339 time.
fn unix(at: &str) -> Option<i64> {
    OffsetDateTime::parse(at, &Rfc3339)
        .ok()
        .map(OffsetDateTime::unix_timestamp)
}

/// `unix` as shown on an axis: the time of day (UTC), with the date when `with_date`.
pub fn clock(unix: i64, with_date: bool) -> String {
    let Ok(t) = OffsetDateTime::from_unix_timestamp(unix) else {
        return unix.to_string();
    };
    let time = format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second());
    if with_date {
        format!("{} {time}", t.date())
    } else {
        time
    }
}

/// Every bucket from the first decision to the last, the empty ones too; and their width.
fn buckets(decisions: &Decisions) -> (Vec<Bucket>, f64) {
    let (Some(first), Some(last)) = (decisions.first, decisions.last) else {
        return (Vec::new(), 0.0);
    };
    let k = decisions.buckets.max(1);
    let span = last - first + 1;
    // The store's rule: a unit at second `s` is in bucket `(s - first) * k / span`, so bucket
    // `i` starts at the first second `s` with `(s - first) * k >= i * span`.
    let start = |i: i64| first + (i * span + k - 1) / k;
    let with_date = first / 86_400 != last / 86_400;
    let mut out: Vec<Bucket> = (0..k)
        .map(|i| Bucket {
            start: start(i),
            end: start(i + 1),
            label: clock(start(i), with_date),
            units: 0,
            rejected: 0,
            reject_rate: 0.0,
        })
        .collect();
    for cell in &decisions.cells {
        let Some(bucket) = cell.bucket.and_then(|b| usize::try_from(b).ok()) else {
            continue;
        };
        if let Some(b) = out.get_mut(bucket) {
            b.units += cell.units;
            if is_rejected(cell.state) {
                b.rejected += cell.units;
            }
        }
    }
    for b in &mut out {
        if b.units > 0 {
            b.reject_rate = b.rejected as f64 * 100.0 / b.units as f64;
        }
    }
    (out, span as f64 / k as f64)
}

/// Units (and rejects) whose time is unknown.
fn undated(decisions: &Decisions) -> (i64, i64) {
    decisions
        .cells
        .iter()
        .filter(|c| c.bucket.is_none())
        .fold((0, 0), |(units, rejected), c| {
            (
                units + c.units,
                rejected + if is_rejected(c.state) { c.units } else { 0 },
            )
        })
}

/// Reads per grade, in [`GRADES`] order, and how many reads.
fn grades(decisions: &Decisions) -> (Vec<GradeCount>, i64) {
    let mut counts: Vec<GradeCount> = GRADES
        .iter()
        .map(|grade| GradeCount { grade, reads: 0 })
        .collect();
    for cell in decisions.cells.iter().filter(|c| c.read) {
        let name = cell.grade.map_or("none", Grade::as_str);
        if let Some(count) = counts.iter_mut().find(|c| c.grade == name) {
            count.reads += cell.units;
        }
    }
    let reads = counts.iter().map(|c| c.reads).sum();
    (counts, reads)
}

/// The reasons, most rejects first (ties in SPEC order), with their cumulative share.
fn pareto(reasons: Vec<(Option<RejectReason>, i64)>) -> Vec<ReasonCount> {
    let order = |r: &Option<RejectReason>| {
        r.and_then(|r| RejectReason::ALL.iter().position(|x| *x == r))
            .unwrap_or(RejectReason::ALL.len())
    };
    let mut reasons: Vec<(Option<RejectReason>, i64)> =
        reasons.into_iter().filter(|(_, n)| *n > 0).collect();
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then(order(&a.0).cmp(&order(&b.0))));
    let total: i64 = reasons.iter().map(|(_, n)| n).sum();
    let mut running = 0;
    reasons
        .into_iter()
        .map(|(reason, units)| {
            running += units;
            ReasonCount {
                reason: reason
                    .map_or("unknown_reason", RejectReason::as_str)
                    .to_owned(),
                units,
                cumulative: running as f64 * 100.0 / total.max(1) as f64,
            }
        })
        .collect()
}

/// An audit event as a timeline mark; `None` for what the timeline does not show.
fn mark(event: &tracemark_store::Event) -> Option<Mark> {
    let detail: serde_json::Value = serde_json::from_str(&event.detail).unwrap_or_default();
    let text = |key: &str| detail.get(key).and_then(serde_json::Value::as_str);
    let kind = match event.kind.as_str() {
        "batch.create" => MarkKind::Created,
        "batch.release" => MarkKind::Released,
        "batch.state" => match (text("from"), text("to")) {
            (Some("created"), Some("running")) => MarkKind::Started,
            (_, Some("running")) => MarkKind::Resumed,
            (_, Some("paused")) => MarkKind::Paused,
            (_, Some("closed")) => MarkKind::Closed,
            _ => return None,
        },
        "line.paused" => MarkKind::LinePaused,
        "line.resumed" => MarkKind::LineResumed,
        "line.stopped" => MarkKind::LineStopped,
        "line.alarm_acknowledged" => MarkKind::AlarmAcknowledged,
        _ => return None,
    };
    Some(Mark {
        seq: event.seq,
        at: event.at.clone(),
        unix: unix(&event.at)?,
        kind,
        user: event.user.clone(),
        reason: text("reason").map(str::to_owned),
    })
}

/// From the first mark or decision to the close (or the last decision, or now).
fn span(timeline: &[Mark], decisions: &Decisions, now: i64) -> (i64, i64) {
    let times = timeline
        .iter()
        .map(|m| m.unix)
        .chain(decisions.first)
        .chain(decisions.last.map(|l| l + 1));
    let from = times.clone().min().unwrap_or(now);
    let closed = timeline.iter().any(|m| m.kind == MarkKind::Closed);
    let to = if closed {
        times.max().unwrap_or(now)
    } else {
        now
    };
    (from, to.max(from + 1))
}

/// The intervals from each pause of the batch to its resumption or close.
fn pauses(timeline: &[Mark], end: i64) -> Vec<Pause> {
    let mut out = Vec::new();
    let mut since = None;
    for m in timeline {
        match m.kind {
            MarkKind::Paused => since = since.or(Some(m.unix)),
            MarkKind::Resumed | MarkKind::Closed => {
                if let Some(from) = since.take() {
                    out.push(Pause { from, to: m.unix });
                }
            }
            _ => {}
        }
    }
    if let Some(from) = since {
        out.push(Pause { from, to: end });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracemark_store::report::DecisionCell;

    fn cell(bucket: i64, state: CodeState, grade: Option<Grade>, units: i64) -> DecisionCell {
        DecisionCell {
            bucket: Some(bucket),
            state,
            grade,
            read: true,
            units,
        }
    }

    #[test]
    fn buckets_follow_the_stores_rule_and_sum_to_the_units() {
        // 100 s in 24 buckets: the store puts second s in (s - first) * 24 / 100.
        let decisions = Decisions {
            first: Some(1_000),
            last: Some(1_099),
            buckets: 24,
            cells: vec![
                cell(0, CodeState::Verified, Some(Grade::A), 8),
                cell(0, CodeState::Destroyed, Some(Grade::D), 2),
                cell(23, CodeState::Packed, None, 5),
            ],
        };
        let (out, width) = buckets(&decisions);
        assert_eq!(out.len(), 24);
        assert!((width - 100.0 / 24.0).abs() < 1e-9);
        for s in 1_000..1_100 {
            let expected = (s - 1_000) * 24 / 100;
            let found = out.iter().position(|b| b.start <= s && s < b.end);
            assert_eq!(found, Some(expected as usize), "second {s}");
        }
        assert_eq!(out[0].units, 10);
        assert!((out[0].reject_rate - 20.0).abs() < 1e-9);
        assert_eq!(out.iter().map(|b| b.units).sum::<i64>(), 15);
        let (grades, reads) = grades(&decisions);
        assert_eq!(reads, 15);
        assert_eq!(grades[5].reads, 5, "{grades:?}");
    }

    #[test]
    fn pareto_is_most_first_with_cumulative_shares() {
        let out = pareto(vec![
            (Some(RejectReason::Late), 1),
            (Some(RejectReason::NoRead), 3),
            (None, 0),
            (Some(RejectReason::LowGrade), 4),
        ]);
        let names: Vec<&str> = out.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(names, ["low_grade", "no_read", "late"]);
        assert!((out[1].cumulative - 87.5).abs() < 1e-9);
        assert!((out[2].cumulative - 100.0).abs() < 1e-9);
    }

    #[test]
    fn an_empty_batch_has_no_buckets() {
        let (out, width) = buckets(&Decisions::default());
        assert!(out.is_empty());
        assert_eq!(width, 0.0);
        assert!(pareto(Vec::new()).is_empty());
    }

    #[test]
    fn a_pause_lasts_until_the_batch_runs_again_or_closes() {
        let m = |unix, kind| Mark {
            seq: unix,
            at: String::new(),
            unix,
            kind,
            user: "u".into(),
            reason: None,
        };
        let timeline = [
            m(10, MarkKind::Started),
            m(20, MarkKind::Paused),
            m(25, MarkKind::Resumed),
            m(30, MarkKind::Paused),
        ];
        assert_eq!(
            pauses(&timeline, 40),
            [Pause { from: 20, to: 25 }, Pause { from: 30, to: 40 }]
        );
    }
}
