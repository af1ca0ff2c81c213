//! `GET /metrics`: the plant's Grafana reads the line through Prometheus (issue 16; docs/api.md
//! "Metrics"). The Prometheus text exposition format, version 0.0.4
//! (`text/plain; version=0.0.4`), encoded by `prometheus-client`.
//!
//! Each scrape builds the figures afresh from what is already kept — the live lines' views and
//! the store — so nothing on the line's path counts twice and a scrape costs nothing between
//! scrapes. A counter resets when the process restarts, which Prometheus's `rate()` allows for.
//!
//! The decision latency: the runtime keeps its samples and computes percentiles (p50, p99,
//! max) when the run ends, not a histogram; they are exported as gauges with a `quantile`
//! label (`0.5`, `0.99`, `1`), in seconds, and are empty (0 samples) while the line runs.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tracemark_store::upload::DeliveryState;
use tracemark_store::{BatchState, Store};

use super::problem::{ApiError, Problem};
use super::state::ApiState;
use crate::app::AppError;
use crate::app::{batches, uploads};
use crate::commissioning::LiveView;
use crate::line::LineStats;

type Labels = Vec<(&'static str, String)>;
type Counters = Family<Labels, Counter>;
type Gauges = Family<Labels, Gauge>;
type Seconds = Family<Labels, Gauge<f64, AtomicU64>>;

/// A line counter: its name (the exporter adds `_total`), its help, its value.
type LineCounter = (&'static str, &'static str, fn(&LineStats) -> u64);

/// The line counters.
const LINE_COUNTERS: &[LineCounter] = &[
    ("line_units", "Units the photocell saw", |s| s.units),
    ("line_codes_sent", "Codes handed to the marker", |s| s.sent),
    ("line_printed", "Prints the marker confirmed", |s| s.printed),
    ("line_verified", "Units verified by the camera", |s| {
        s.verified
    }),
    (
        "line_diverted",
        "Rejected units the gate confirmed diverting",
        |s| s.diverted,
    ),
    (
        "line_gate_faults",
        "Rejects the gate did not confirm",
        |s| s.gate_faults,
    ),
    (
        "line_underruns",
        "Print-gos that found the marker buffer empty",
        |s| s.underruns,
    ),
    ("line_stops", "Times an alarm stopped the line", |s| {
        s.line_stops
    }),
    ("line_marker_faults", "Faults the marker reported", |s| {
        s.marker_faults
    }),
    (
        "line_store_errors",
        "Store changes refused or failed (must stay 0)",
        |s| s.store_errors,
    ),
];

/// The states a marker is in (`connected`, …; a fault's reason is left out of the label so
/// the series stay few).
const MARKER_STATES: [&str; 4] = ["connecting", "connected", "faulted", "disconnected"];

/// The outbox states that need watching: waiting to go, and refused for good.
const OUTBOX_STATES: [DeliveryState; 2] = [DeliveryState::Pending, DeliveryState::Failed];

const BATCH_STATES: [BatchState; 4] = [
    BatchState::Created,
    BatchState::Running,
    BatchState::Paused,
    BatchState::Closed,
];

/// What `/metrics` reads from the store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreFigures {
    /// Deliveries by target and state (every target, with 0 where it has none).
    pub outbox: BTreeMap<(String, &'static str), u64>,
    /// Batches by state (every state).
    pub batches: BTreeMap<&'static str, u64>,
}

impl StoreFigures {
    /// Counts the store's deliveries waiting or failed, by target, and its batches by state.
    pub async fn read(store: &Store) -> Result<StoreFigures, AppError> {
        let mut figures = StoreFigures::default();
        let targets = uploads::list_targets(store).await?;
        let deliveries = uploads::status(store).await?;
        for target in targets
            .iter()
            .map(|t| &t.name)
            .chain(deliveries.iter().map(|d| &d.target))
        {
            for state in OUTBOX_STATES {
                figures
                    .outbox
                    .entry((target.clone(), state.as_str()))
                    .or_insert(0);
            }
        }
        for delivery in deliveries
            .iter()
            .filter(|d| OUTBOX_STATES.contains(&d.state))
        {
            *figures
                .outbox
                .entry((delivery.target.clone(), delivery.state.as_str()))
                .or_insert(0) += 1;
        }
        for state in BATCH_STATES {
            figures.batches.insert(state.as_str(), 0);
        }
        for batch in batches::list(store).await? {
            *figures.batches.entry(batch.state.as_str()).or_insert(0) += 1;
        }
        Ok(figures)
    }
}

/// The exposition of `lines` and `store`.
pub fn render(lines: &[LiveView], store: &StoreFigures) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::with_prefix("tracemark");
    for (name, help, value) in LINE_COUNTERS {
        let family = counters(&mut registry, name, help);
        for view in lines {
            family.get_or_create(&line(view)).inc_by(value(&view.line));
        }
    }
    let rejected = counters(
        &mut registry,
        "line_rejected",
        "Units decided for rejection, by reason",
    );
    let stopped = gauges(
        &mut registry,
        "line_stopped",
        "1 while the belt is held by an alarm",
    );
    let batch = gauges(&mut registry, "line_batch", "The batch the line produces");
    let latency = Seconds::default();
    registry.register(
        "line_decision_latency_seconds",
        "From a camera result to its decision, percentiles of the run (at its end)",
        latency.clone(),
    );
    let samples = gauges(
        &mut registry,
        "line_decision_latency_samples",
        "Decisions the latency percentiles are of (0 while the line runs)",
    );
    let device = gauges(
        &mut registry,
        "device_state",
        "1 for the state a line's device is in, 0 for the others",
    );
    for view in lines {
        let stats = &view.line;
        for (reason, count) in &stats.rejected {
            let mut labels = line(view);
            labels.push(("reason", reason.clone()));
            rejected.get_or_create(&labels).inc_by(*count);
        }
        stopped
            .get_or_create(&line(view))
            .set(i64::from(view.stopped));
        batch.get_or_create(&line(view)).set(view.batch);
        let figures = &stats.decision_latency;
        for (quantile, micros) in [
            ("0.5", figures.p50_us),
            ("0.99", figures.p99_us),
            ("1", figures.max_us),
        ] {
            let mut labels = line(view);
            labels.push(("quantile", quantile.to_owned()));
            latency.get_or_create(&labels).set(f64::from(micros) / 1e6);
        }
        samples
            .get_or_create(&line(view))
            .set(i64::try_from(figures.samples).unwrap_or(i64::MAX));
        let marker = stats.marker.split(':').next().unwrap_or_default().trim();
        for state in MARKER_STATES {
            let mut labels = line(view);
            labels.push(("device", "marker".to_owned()));
            labels.push(("state", state.to_owned()));
            device
                .get_or_create(&labels)
                .set(i64::from(marker == state));
        }
    }
    let outbox = gauges(
        &mut registry,
        "upload_outbox",
        "Deliveries waiting (pending) or refused for good (failed), by target",
    );
    for ((target, state), count) in &store.outbox {
        outbox
            .get_or_create(&vec![
                ("target", target.clone()),
                ("state", (*state).to_owned()),
            ])
            .set(i64::try_from(*count).unwrap_or(i64::MAX));
    }
    let batches = gauges(&mut registry, "batches", "Batches in the store, by state");
    for (state, count) in &store.batches {
        batches
            .get_or_create(&vec![("state", (*state).to_owned())])
            .set(i64::try_from(*count).unwrap_or(i64::MAX));
    }
    let mut text = String::new();
    prometheus_text::encode(&mut text, &registry)?;
    Ok(text)
}

fn line(view: &LiveView) -> Labels {
    vec![("line", view.line_id.clone())]
}

fn counters(registry: &mut Registry, name: &str, help: &str) -> Counters {
    let family = Counters::default();
    registry.register(name, help, family.clone());
    family
}

fn gauges(registry: &mut Registry, name: &str, help: &str) -> Gauges {
    let family = Gauges::default();
    registry.register(name, help, family.clone());
    family
}

/// The server's figures for Prometheus: its live lines, the upload outbox and the batches.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "metrics",
    responses(
        (status = 200, description = "The Prometheus text exposition format 0.0.4",
         content_type = "text/plain; version=0.0.4", body = String),
        (status = 401, description = "No or a bad bearer token", body = Problem),
    )
)]
pub async fn metrics(State(state): State<ApiState>) -> Result<Response, ApiError> {
    let figures = StoreFigures::read(&state.store).await?;
    let text = render(&state.lines.views(), &figures)
        .map_err(|e| AppError::internal("metrics", e.to_string()))?;
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(prometheus_text::CONTENT_TYPE),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> LiveView {
        let mut view = LiveView::new("line-1", 7, false, 100);
        let mut stats = LineStats {
            units: 10,
            printed: 9,
            verified: 8,
            underruns: 1,
            line_stops: 1,
            marker: "faulted: ink out".into(),
            ..LineStats::default()
        };
        stats.rejected.insert("no_read".into(), 1);
        stats.decision_latency.samples = 9;
        stats.decision_latency.p99_us = 1500;
        assert!(view.observe_runtime(&stats));
        assert!(!view.observe_runtime(&stats), "no change, no news");
        view
    }

    #[test]
    fn a_line_and_the_store_map_to_prometheus_series() {
        let view = view();
        assert_eq!(view.units_done, 10, "run: the photocell's units");
        assert!(view.stopped, "run: held after an alarm");
        let mut store = StoreFigures::default();
        store.outbox.insert(("erp".into(), "pending"), 2);
        store.batches.insert("running", 1);
        let text = render(&[view], &store).expect("render");
        let lines: Vec<&str> = text.lines().collect();
        for expected in [
            "# TYPE tracemark_line_units_total counter",
            "tracemark_line_units_total{line=\"line-1\"} 10",
            "tracemark_line_verified_total{line=\"line-1\"} 8",
            "tracemark_line_rejected_total{line=\"line-1\",reason=\"no_read\"} 1",
            "tracemark_line_underruns_total{line=\"line-1\"} 1",
            "tracemark_line_stops_total{line=\"line-1\"} 1",
            "tracemark_line_stopped{line=\"line-1\"} 1",
            "tracemark_line_batch{line=\"line-1\"} 7",
            "tracemark_line_decision_latency_seconds{line=\"line-1\",quantile=\"0.99\"} 0.0015",
            "tracemark_line_decision_latency_samples{line=\"line-1\"} 9",
            "tracemark_device_state{line=\"line-1\",device=\"marker\",state=\"faulted\"} 1",
            "tracemark_device_state{line=\"line-1\",device=\"marker\",state=\"connected\"} 0",
            "tracemark_upload_outbox{target=\"erp\",state=\"pending\"} 2",
            "tracemark_batches{state=\"running\"} 1",
        ] {
            assert!(lines.contains(&expected), "{expected:?} not in\n{text}");
        }
        assert!(!text.contains("# EOF"), "0.0.4, not OpenMetrics");
    }
}
