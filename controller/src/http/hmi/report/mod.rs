//! The batch report as a page (issue 17, SPEC §10): `/batches/{id}/report` for every logged-in
//! role, and the very same HTML for `tracemark report batch ID --out FILE.html` ([`html`]).
//! The figures are `app::report`'s; this module only words them (en, zh-CN) and draws them
//! ([`svg`]).

pub mod svg;

use axum::extract::{Path, State};
use axum::response::Response;
use axum_extra::extract::cookie::CookieJar;

use super::i18n::{self, Words};
use super::{error_page, page_user, render};
use crate::app::AppError;
use crate::app::report::{self, Report};
use crate::app::users::Language;
use crate::http::state::ApiState;
use svg::{Bar, Point, Span, Tick};

#[derive(askama::Template)]
#[template(path = "hmi/report.html")]
struct ReportPage<'a> {
    w: &'static Words,
    lang: &'static str,
    r: &'a Report,
    /// Served by the HMI: a link back to the batch's page.
    hmi: bool,
    /// The words key of each reject reason, in `r.rejects` order.
    reason_keys: Vec<String>,
    /// The stored name of each timeline mark's kind, in `r.timeline` order.
    mark_kinds: Vec<String>,
    throughput_svg: String,
    rate_svg: String,
    pareto_svg: String,
    grades_svg: String,
    timeline_svg: String,
}

/// The report page of batch `id` (every logged-in role may read it, as the API's
/// `batch_report`).
pub(super) async fn page(
    State(state): State<ApiState>,
    jar: CookieJar,
    Path(id): Path<i64>,
) -> Response {
    let user = match page_user(&state, &jar).await {
        Ok(user) => user,
        Err(to_login) => return to_login,
    };
    match report::batch(&state.store, id).await {
        Ok(report) => render(&view(&report, user.language, true)),
        Err(error) => error_page(error),
    }
}

/// The report as a self-contained HTML document in `language` (what the CLI writes).
pub fn html(report: &Report, language: Language) -> Result<String, AppError> {
    askama::Template::render(&view(report, language, false))
        .map_err(|e| AppError::internal("draw the report", e))
}

/// A count with thousands separators, as a reader says it.
fn count(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

fn view(r: &Report, language: Language, hmi: bool) -> ReportPage<'_> {
    let w = i18n::words(language);
    let reason_keys: Vec<String> = r
        .rejects
        .iter()
        .map(|x| format!("reason_{}", x.reason))
        .collect();
    ReportPage {
        w,
        lang: i18n::html_lang(language),
        r,
        hmi,
        mark_kinds: r
            .timeline
            .iter()
            .map(|m| m.kind.key().trim_start_matches("mark_").to_owned())
            .collect(),
        throughput_svg: throughput(w, r),
        rate_svg: rate(w, r),
        pareto_svg: pareto(w, r, &reason_keys),
        grades_svg: grades(w, r),
        timeline_svg: timeline(w, r),
        reason_keys,
    }
}

fn throughput(w: &Words, r: &Report) -> String {
    let bars: Vec<Bar> = r
        .throughput
        .iter()
        .map(|b| Bar {
            label: b.label.clone(),
            value: b.units as f64,
            abnormal: b.rejected as f64,
            title: format!(
                "{}: {} {}, {} {}",
                b.label,
                count(b.units),
                w.t("units"),
                count(b.rejected),
                w.t("rejected")
            ),
            data: vec![
                ("start", b.start.to_string()),
                ("units", b.units.to_string()),
                ("rejected", b.rejected.to_string()),
            ],
        })
        .collect();
    let total: i64 = r.throughput.iter().map(|b| b.units).sum();
    svg::bars(
        "chart-throughput",
        w.t("chart_throughput"),
        &format!(
            "{} {} {}, {} {}",
            w.t("chart_throughput_desc"),
            r.throughput.len(),
            w.t("buckets"),
            count(total),
            w.t("units")
        ),
        &bars,
        None,
        w.t("no_units"),
    )
}

fn rate(w: &Words, r: &Report) -> String {
    let labels: Vec<String> = r.throughput.iter().map(|b| b.label.clone()).collect();
    let points: Vec<Point> = r
        .throughput
        .iter()
        .map(|b| Point {
            percent: b.reject_rate,
            title: format!("{}: {:.1} %", b.label, b.reject_rate),
            data: vec![
                ("start", b.start.to_string()),
                ("rate", format!("{:.3}", b.reject_rate)),
            ],
        })
        .collect();
    svg::rate_line(
        "chart-reject-rate",
        w.t("chart_reject_rate"),
        w.t("chart_reject_rate_desc"),
        &labels,
        &points,
        w.t("no_units"),
    )
}

fn pareto(w: &Words, r: &Report, keys: &[String]) -> String {
    let name = |i: usize| keys.get(i).map_or("", |k| w.t(k));
    let bars: Vec<Bar> = r
        .rejects
        .iter()
        .enumerate()
        .map(|(i, x)| Bar {
            label: name(i).to_owned(),
            value: x.units as f64,
            abnormal: 0.0,
            title: format!("{}: {} ({:.1} %)", name(i), count(x.units), x.cumulative),
            data: vec![("reason", x.reason.clone()), ("units", x.units.to_string())],
        })
        .collect();
    let line: Vec<Point> = r
        .rejects
        .iter()
        .enumerate()
        .map(|(i, x)| Point {
            percent: x.cumulative,
            title: format!("{} {}: {:.1} %", w.t("cumulative"), name(i), x.cumulative),
            data: vec![("cumulative", format!("{:.3}", x.cumulative))],
        })
        .collect();
    let total: i64 = r.rejects.iter().map(|x| x.units).sum();
    svg::bars(
        "chart-pareto",
        w.t("chart_pareto"),
        &format!(
            "{} {} {}",
            w.t("chart_pareto_desc"),
            count(total),
            w.t("rejected")
        ),
        &bars,
        Some(&line),
        w.t("no_rejects"),
    )
}

fn grades(w: &Words, r: &Report) -> String {
    let bars: Vec<Bar> = if r.reads == 0 {
        Vec::new()
    } else {
        r.grades
            .iter()
            .map(|g| {
                let label = if g.grade == "none" {
                    w.t("grade_none").to_owned()
                } else {
                    g.grade.to_owned()
                };
                Bar {
                    title: format!("{label}: {} {}", count(g.reads), w.t("reads")),
                    label,
                    value: g.reads as f64,
                    // F fails ISO/IEC 15415; a read without a grade is a no-read.
                    abnormal: if matches!(g.grade, "F" | "none") {
                        g.reads as f64
                    } else {
                        0.0
                    },
                    data: vec![
                        ("grade", g.grade.to_owned()),
                        ("reads", g.reads.to_string()),
                    ],
                }
            })
            .collect()
    };
    svg::bars(
        "chart-grades",
        w.t("chart_grades"),
        &format!(
            "{} {} {}",
            w.t("chart_grades_desc"),
            count(r.reads),
            w.t("reads")
        ),
        &bars,
        None,
        w.t("no_reads"),
    )
}

fn timeline(w: &Words, r: &Report) -> String {
    let with_date = r.span.0 / 86_400 != r.span.1 / 86_400;
    let spans: Vec<Span> = r
        .pauses
        .iter()
        .map(|p| Span {
            from: p.from,
            to: p.to,
            title: format!(
                "{} {} – {} ({} s)",
                w.t("mark_paused"),
                report::clock(p.from, with_date),
                report::clock(p.to, with_date),
                p.to - p.from
            ),
        })
        .collect();
    let ticks: Vec<Tick> = r
        .timeline
        .iter()
        .map(|m| {
            let what = w.t(m.kind.key());
            let reason = m
                .reason
                .as_deref()
                .map(|x| format!(": {x}"))
                .unwrap_or_default();
            Tick {
                at: m.unix,
                label: what.to_owned(),
                title: format!(
                    "{} {what} ({}){reason}",
                    report::clock(m.unix, with_date),
                    m.user
                ),
                abnormal: m.kind.abnormal(),
                data: vec![
                    ("kind", m.kind.key().trim_start_matches("mark_").to_owned()),
                    ("seq", m.seq.to_string()),
                    ("at", m.unix.to_string()),
                ],
            }
        })
        .collect();
    svg::timeline(
        "chart-timeline",
        w.t("chart_timeline"),
        &format!(
            "{} {} {}, {} {}",
            w.t("chart_timeline_desc"),
            r.timeline.len(),
            w.t("events"),
            r.pauses.len(),
            w.t("pauses")
        ),
        r.span,
        (
            &report::clock(r.span.0, with_date),
            &report::clock(r.span.1, with_date),
        ),
        &spans,
        &ticks,
    )
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn counts_have_thousands_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000_000), "1,000,000");
        assert_eq!(count(-12_345), "-12,345");
    }
}
