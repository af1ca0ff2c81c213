//! The line runtime (`tracemark run`, and the controller half of `demo` and `simulate`): one task
//! per device and one core that owns the tracker, composed as docs/architecture.md draws it.
//!
//! - the feeder issues codes for the batch from durable serial blocks (`reserved`);
//! - the marker task (drivers) keeps the device FIFO between its watermarks and reports what it
//!   sent, printed and voided;
//! - the line I/O task polls the PLC for the encoder and the photocell and carries out rejects on
//!   the gate;
//! - the MQTT subscription delivers camera results;
//! - the core turns all of it into tracker calls and code state changes, which the store writer
//!   commits in groups, in order: its decisions are a state machine without I/O
//!   (`machine.rs`), its task (`core.rs`) only moves events in and carries actions out.
//!
//! A stop drains the line: printing stops (the device buffer is cleared and its codes voided),
//! the units already on the belt run out past the gate and are decided, then the outputs are set
//! safe and every code still `reserved` or `sent` is voided.

mod control;
mod core;
mod devices;
mod events;
mod feeder;
mod gate;
mod images;
mod machine;
mod publish;
mod recover;
mod reject_queue;

use std::time::Duration;

use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tracemark_drivers::marker::{
    MarkerConfig, MarkerError, MarkerEvent, MarkerHandle, MarkerState, create_marker,
};
use tracemark_drivers::modbus_marker::InvalidMap;
use tracemark_drivers::transport::Transport as DeviceTransport;
use tracing::Instrument;

use crate::aggregation::label::LabelStation;
use crate::aggregation::{PackingReport, StoreGate, manual, plan_for, start_station};
use crate::config::{Line, PackingMode, Transport};
use crate::mqtt_endpoint::EndpointError;
use crate::verify::{self, mqtt::Link};
use tracemark_store::writer::{LINE_LINGER, create_writer_with_journal};
use tracemark_store::{BatchState, Store, StoreError};

pub use control::{
    CommandAnswer, ControlError, ControlInbox, LineCommand, LineControl, LineMode, line_control,
};
pub use devices::{ascii_config, marker_device, zpl_config};
pub use recover::Recovered;

/// What the runtime needs.
#[derive(Debug, Clone)]
pub struct LineSetup {
    /// The validated line config.
    pub line: Line,
    /// The store.
    pub store: Store,
    /// The batch to produce (created, running or paused; it is set running).
    pub batch: i64,
    /// Runtime options.
    pub options: LineOptions,
}

/// Runtime options with their defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct LineOptions {
    /// How often the PLC is polled at most: the line polls every quarter of a unit's time at
    /// its nominal speed, between this and [`SLOWEST_IO_POLL`] ([`io_poll_for`]). Default 2 ms.
    pub io_poll: Duration,
    /// How often the marker is polled at most: the line polls it within half the time its
    /// buffer takes to drain from the low watermark, between this and [`SLOWEST_MARKER_POLL`]
    /// ([`marker_poll_for`]). Default 10 ms.
    pub marker_poll: Duration,
    /// Restart the line this long after an alarm stopped it (the demo's stand-in for an
    /// operator); `None`: stay stopped until the run ends. Default `None`.
    pub acknowledge_alarms_after: Option<Duration>,
    /// How long to wait for each device and the broker at start. Default 10 s.
    pub connect_timeout: Duration,
    /// Where the cameras' images of rejected units are stored (docs/verification.md "Reject
    /// images"); `None`: `reject_images` next to an SQLite store's file, else in the working
    /// directory ([`verify::images::default_dir`]). Default `None`.
    pub reject_images: Option<std::path::PathBuf>,
    /// The edge journal's file (docs/plant.md "The edge journal"); `None`:
    /// `journal-LINE.db` next to an SQLite store's file, else in the working directory
    /// ([`tracemark_store::journal::default_path`]). Default `None`.
    pub journal: Option<std::path::PathBuf>,
}

impl Default for LineOptions {
    fn default() -> Self {
        Self {
            io_poll: Duration::from_millis(2),
            marker_poll: Duration::from_millis(10),
            acknowledge_alarms_after: None,
            connect_timeout: Duration::from_secs(10),
            reject_images: None,
            journal: None,
        }
    }
}

/// Live counters of the line, published on a watch channel and returned at the end.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LineStats {
    /// Units the photocell saw.
    pub units: u64,
    /// Codes handed to the marker.
    pub sent: u64,
    /// Prints the marker confirmed.
    pub printed: u64,
    /// Units verified.
    pub verified: u64,
    /// Units decided for rejection, by reason (`no_read`, …).
    pub rejected: std::collections::BTreeMap<String, u64>,
    /// Rejected units the gate confirmed diverting.
    pub diverted: u64,
    /// Rejects the gate did not confirm.
    pub gate_faults: u64,
    /// Codes voided (never printed).
    pub voided: u64,
    /// Print-gos that found the marker buffer empty.
    pub underruns: u64,
    /// Units that went by the marker while it could not print (faulted, stopped, unreachable),
    /// learnt when it was ready again.
    pub passed_unprinted: u64,
    /// Print confirmations that arrived after the camera had already rejected their unit.
    pub late_confirmations: u64,
    /// Reader messages refused (malformed, unknown reader, …).
    pub malformed_results: u64,
    /// Reader results ignored (redelivered, matched nothing, second reads).
    pub ignored_results: u64,
    /// Times the line was stopped by an alarm.
    pub line_stops: u64,
    /// Times the marker reported a fault (each also an alarm). On a healthy marker this stays
    /// 0: the whole-line tests hold the drivers to it.
    pub marker_faults: u64,
    /// Store changes refused or failed (must stay 0).
    pub store_errors: u64,
    /// Photocell detections lost between two PLC polls.
    pub missed_detections: u64,
    /// Commands (rejects, line stop, light) the line I/O task could not be handed because it
    /// had ended; each is an alarm.
    pub undelivered_io: u64,
    /// The last encoder count.
    pub encoder: u64,
    /// The marker's state, in words.
    pub marker: String,
    /// The last alarm, in words.
    pub alarm: Option<String>,
    /// An alarm stopped the line and waits to be acknowledged (or, in the demo, for its
    /// stand-in operator).
    pub alarm_active: bool,
    /// The operator holds the belt: the reason they gave (`LineCommand::Pause`).
    pub paused: Option<String>,
    /// From a camera result received to its decision made (and a reject's gate command issued),
    /// at the end of the run.
    pub decision_latency: Latency,
    /// The central store, in words, while it cannot be reached or the edge journal is being
    /// forwarded (e.g. "central store unreachable, spooling, 120 records in the journal, 59,880
    /// codes in hand"); `None` while it answers and nothing waits.
    pub central_store: Option<String>,
}

/// Percentiles of a latency, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Latency {
    /// Samples.
    pub samples: u64,
    /// Median.
    pub p50_us: u32,
    /// 99th percentile.
    pub p99_us: u32,
    /// Largest.
    pub max_us: u32,
}

impl Latency {
    /// The percentiles of `samples` (sorted in place).
    pub fn of(samples: &mut [u32]) -> Latency {
        samples.sort_unstable();
        let at = |q: f64| -> u32 {
            if samples.is_empty() {
                return 0;
            }
            let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
            samples[i.min(samples.len() - 1)]
        };
        Latency {
            samples: samples.len() as u64,
            p50_us: at(0.50),
            p99_us: at(0.99),
            max_us: samples.last().copied().unwrap_or(0),
        }
    }
}

impl LineStats {
    /// Units rejected, all reasons.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }
}

/// How a run ended.
#[derive(Debug, Clone, Serialize)]
pub struct LineReport {
    /// What a restart found and settled before the run.
    pub recovered: Recovered,
    /// The counters at the end.
    pub stats: LineStats,
    /// What the packing station did (`[packing]`), once it has caught up with the line.
    pub packing: Option<PackingReport>,
    /// Codes still `reserved` or `sent` at the end, voided.
    pub voided_at_stop: u64,
    /// What the dispatch station shipped (`[dispatch]`).
    pub dispatch: Option<crate::dispatch::DispatchStats>,
}

/// Why the line could not run.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    /// The batch is closed: it takes no more codes.
    #[error("line config: batch {0} is closed")]
    BatchClosed(i64),
    /// The line lacks a part the runtime needs.
    #[error("line config: {0}")]
    Incomplete(&'static str),
    /// `[packing]` cannot run for this batch (no pack size, no GS1 company prefix).
    #[error("packing: {0}")]
    Packing(String),
    /// The broker settings cannot be used (a TLS file, say).
    #[error("line config: {0}")]
    Broker(#[from] EndpointError),
    /// The marker's driver refuses its settings.
    #[error("line config: marker {marker}: {source}")]
    MarkerSettings {
        /// The marker.
        marker: String,
        /// What the driver refused.
        #[source]
        source: InvalidMap,
    },
    /// The line I/O thread could not be started.
    #[error("cannot start the line I/O thread: {0}")]
    IoThread(#[source] std::io::Error),
    /// A device or the broker did not come up.
    #[error("{device}: {reason}")]
    NotReady {
        /// The device and where it is (`PLC line_io at tcp 10.0.0.5:502`).
        device: String,
        /// Why.
        reason: NotReady,
    },
    /// The marker refused to start printing.
    #[error("marker {marker}: cannot start: {source}")]
    MarkerStart {
        /// The marker.
        marker: String,
        /// The driver's answer.
        #[source]
        source: MarkerError,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a device was not ready.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotReady {
    /// It did not answer within the connect timeout.
    #[error("not ready within {} s", .0.as_secs_f64())]
    Timeout(Duration),
    /// The task that connects to it ended first.
    #[error("{0}")]
    Ended(&'static str),
}

/// Runs the line until `stop` turns true, then drains it (see the module docs).
pub async fn run_line(
    setup: LineSetup,
    stop: watch::Receiver<bool>,
    stats: watch::Sender<LineStats>,
) -> Result<LineReport, LineError> {
    run_line_controlled(setup, stop, stats, ControlInbox::unused()).await
}

/// [`run_line`], taking an operator's commands from `control` too (pause, resume, stop with
/// a reason, acknowledge an alarm: [`LineCommand`]).
pub async fn run_line_controlled(
    setup: LineSetup,
    stop: watch::Receiver<bool>,
    stats: watch::Sender<LineStats>,
    control: ControlInbox,
) -> Result<LineReport, LineError> {
    // What the line and its devices log carries the line's id: one process runs many lines,
    // and an alarm or a driver's warning must say on which. At the error level, so a filter
    // that lets only warnings through (the default) keeps it: a filtered-out span shows no
    // fields.
    let span = tracing::error_span!("line", line = %setup.line.id);
    run_line_in_span(setup, stop, stats, control)
        .instrument(span)
        .await
}

async fn run_line_in_span(
    setup: LineSetup,
    stop: watch::Receiver<bool>,
    stats: watch::Sender<LineStats>,
    control: ControlInbox,
) -> Result<LineReport, LineError> {
    let LineSetup {
        line,
        store,
        batch,
        options,
    } = setup;
    let batch = store.batch(batch).await?;
    if batch.state == BatchState::Closed {
        return Err(LineError::BatchClosed(batch.id));
    }
    if batch.state != BatchState::Running {
        store.set_batch_state(batch.id, BatchState::Running).await?;
    }
    let product = store.product(&batch.product_id).await?;
    // The edge journal first: what an earlier run left in it (an outage it ended in, a crash)
    // reaches the store before anything is settled or recorded on top of it.
    let journal_path = options
        .journal
        .clone()
        .unwrap_or_else(|| tracemark_store::journal::default_path(store.url(), &line.id));
    let journal = tracemark_store::journal::Journal::open(&journal_path).await?;
    let (writer, writer_task) =
        create_writer_with_journal(store.clone(), core::MAX_GROUP, LINE_LINGER, journal).await?;
    let left = writer.status().borrow().spooled;
    if left > 0 {
        tracing::info!(
            records = left,
            journal = %journal_path.display(),
            "forwarding what the edge journal kept from the last run"
        );
        writer
            .status()
            .wait_for(|s| s.spooled == 0)
            .await
            .map_err(|_| StoreError::WriterStopped)?;
    }
    let recovered = recover::settle(&store, batch.id).await?;

    // Packing is checked before any device is started: a line that cannot pack does not run.
    let packing_plan = match &line.packing {
        Some(packing) => {
            let plan = plan_for(packing, &product).map_err(LineError::Packing)?;
            if store.sscc_coding().await?.is_none() {
                return Err(LineError::Packing(
                    "the producer has no GS1 company prefix for SSCCs: tracemark producer set \
                     --gs1-company-prefix DIGITS"
                        .to_owned(),
                ));
            }
            Some(plan)
        }
        None => None,
    };
    // The label station (`[packing.label]`): its scanner subscribed before the line starts.
    let mut labels = match packing_plan {
        Some(_) => LabelStation::for_line(store.clone(), &line, options.connect_timeout)
            .await
            .map_err(|e| LineError::Packing(e.to_string()))?,
        None => None,
    };
    // `manual`: a hand-scanner station beside the line, which does not feed it; its port is
    // opened before any device starts, so a scanner that cannot be had stops nothing.
    let manual = line.packing.as_ref().and_then(|p| p.manual.as_ref());
    let manual_task = match (manual, packing_plan) {
        (Some(manual), Some(plan)) => {
            let actor = store.actor().on_device(&format!("packing@{}", line.id));
            let shared = labels.take().map(LabelStation::shared);
            let (task, scanners) =
                manual::spawn_manual(&store, &actor, batch.id, plan, manual, shared, stop.clone())
                    .await
                    .map_err(|e| LineError::Packing(format!("the station's scanner: {e}")))?;
            tracing::info!(?scanners, "manual packing station");
            Some(task)
        }
        _ => None,
    };
    // `[dispatch]`: the dispatch scanner station beside the line (shipping is tied to no
    // batch); its port too is opened before any device starts.
    let dispatch_task = match &line.dispatch {
        Some(dispatch) => {
            let actor = store.actor().on_device(&format!("dispatch@{}", line.id));
            let (task, at) =
                crate::dispatch::spawn_dispatch(&store, &actor, dispatch, stop.clone())
                    .await
                    .map_err(|e| LineError::Packing(format!("the dispatch scanner: {e}")))?;
            tracing::info!(%at, "dispatch station");
            Some(task)
        }
        None => None,
    };

    let min_grade = product.min_grade;
    let tracker_config = verify::tracker_config_for(&line, min_grade).ok_or(
        LineError::Incomplete("the line needs a marker, a reader and a gate"),
    )?;
    let subscription = verify::subscription_for(&line)
        .ok_or(LineError::Incomplete("the line needs an [mqtt] broker"))?;
    let gate = line
        .gate
        .clone()
        .ok_or(LineError::Incomplete("no [gate]"))?;
    let plc = &gate.plc;
    let marker = line
        .markers
        .first()
        .ok_or(LineError::Incomplete("no marker"))?;

    // Line I/O first: the photocell baseline must be taken before the first unit can pass.
    let pitch_counts = (f64::from(line.min_pitch_mm) * line.counts_per_mm).round() as u64;
    let (cases_tx, cases_rx) = watch::channel(None);
    let forward_from = gate::ForwardFrom::default();
    let case_packer_count = packing_plan
        .is_some_and(|plan| plan.case_packer_count)
        .then_some(cases_rx);
    let io_settings = gate::IoSettings {
        transport: device_transport(&plc.transport),
        unit_id: plc.unit_id,
        // The map and the window as compiled (and checked) with the config.
        map: plc.line_io.clone(),
        half_window: gate.half_window_counts,
        confirm_timeout: gate.confirm_timeout,
        poll_every: io_poll_for(&line, options.io_poll),
        watchdog: plc.watchdog,
        reply_timeout: Duration::from_millis(500),
        cases_packed: case_packer_count
            .is_some()
            .then(|| std::sync::Arc::new(cases_tx)),
        forward_from: forward_from.clone(),
    };
    let (io_tx, io_commands) = mpsc::channel(1024);
    let (io_events_tx, mut io_events) = mpsc::channel(1024);
    let io_task =
        gate::spawn_io(io_settings, io_commands, io_events_tx).map_err(LineError::IoThread)?;
    let plc_where = plc.transport.describe();
    wait_ready(options.connect_timeout, async {
        loop {
            match io_events.recv().await {
                Some(gate::IoEvent::Ready) => return Ok(()),
                Some(gate::IoEvent::LinkLost(error)) => {
                    tracing::warn!(%error, "waiting for the PLC");
                }
                Some(_) => {}
                None => return Err(NotReady::Ended("the line I/O task ended")),
            }
        }
    })
    .await
    .map_err(|reason| LineError::NotReady {
        device: format!("PLC {} at {plc_where}", plc.name),
        reason,
    })?;

    let broker = subscription.endpoint.describe();
    // Reject images: a task of their own, outside the decision path (verify::images).
    let (image_notes, image_task) = images_task(&line, &store, &subscription, &options).await?;
    let (results, mut link) = verify::mqtt::spawn_subscription(subscription.clone())?;
    let publisher = tokio::spawn(
        publish::publish_state(subscription.endpoint, line.id.clone(), stats.subscribe())
            .in_current_span(),
    );
    wait_ready(options.connect_timeout, async {
        link.wait_for(|l| *l == Link::Subscribed)
            .await
            .map(|_| ())
            .map_err(|_| NotReady::Ended("the subscription ended"))
    })
    .await
    .map_err(|reason| LineError::NotReady {
        device: format!("MQTT broker {broker}"),
        reason,
    })?;
    // The packing station before the marker starts: a case camera's subscription must be
    // ready before the first case can be read.
    // `manual`: the station runs on its own (above); the line feeds no packing task.
    let by_hand = line.packing.as_ref().map(|p| p.mode) == Some(PackingMode::Manual);
    let (packing_tx, packing_task) = match packing_plan {
        Some(plan) if !by_hand => {
            let (tx, task) = start_station(
                store.clone(),
                batch.id,
                plan,
                &line,
                case_packer_count,
                labels,
                StoreGate::of_writer(writer.status()),
                options.connect_timeout,
            )
            .await
            .map_err(LineError::Packing)?;
            (Some(tx), Some(task))
        }
        _ => (None, None),
    };

    let marker_config = MarkerConfig {
        low_watermark: marker.low_watermark as usize,
        high_watermark: marker.high_watermark as usize,
        poll_interval_ms: marker_poll_for(&line, marker.low_watermark, options.marker_poll)
            .as_millis() as u64,
        ..MarkerConfig::default()
    };
    // Codes issued ahead of the marker: enough to ride out a slow commit at 100 units/s
    // without an underrun, few enough that a stop voids only a handful.
    let (code_tx, code_rx) = mpsc::channel(FEED_AHEAD);
    let (marker_events_tx, marker_events) = mpsc::channel::<MarkerEvent>(4096);
    let device = devices::marker_device(marker).map_err(|source| LineError::MarkerSettings {
        marker: marker.name.clone(),
        source,
    })?;
    let handle = spawn_marker(device, marker_config, code_rx, marker_events_tx);
    let marker_where = marker.transport.describe();
    let mut state = handle.state();
    wait_ready(options.connect_timeout, async {
        state
            .wait_for(|s| *s == MarkerState::Connected)
            .await
            .map(|_| ())
            .map_err(|_| NotReady::Ended("the marker task ended"))
    })
    .await
    .map_err(|reason| LineError::NotReady {
        device: format!("marker {} at {marker_where}", marker.name),
        reason,
    })?;

    let book = feeder::CodeBook::default();
    // What the feeder holds in reserved blocks, and whether the store answers it.
    let (hand_tx, hand) = watch::channel(feeder::Hand::default());
    let plan = feeder::FeedPlan {
        issuer: store.serial_issuer(&product.id).await?,
        batch: batch.id,
        chunk: 16,
        in_hand: line.codes_in_hand(),
    };
    let feeder = tokio::spawn(
        feeder::feed(
            store.clone(),
            plan,
            writer.clone(),
            book.clone(),
            code_tx,
            hand_tx,
        )
        .in_current_span(),
    );
    handle
        .start()
        .await
        .map_err(|source| LineError::MarkerStart {
            marker: marker.name.clone(),
            source,
        })?;
    // The core lets the line run (line stop off, green) as it starts.
    let core = core::Core::new(
        (writer, writer_task),
        hand,
        tracker_config,
        book,
        io_tx,
        handle,
        stats,
        options.acknowledge_alarms_after,
        late_lead(&line, pitch_counts),
        packing_tx,
    )
    .with_images(image_notes)
    .with_forward_from(forward_from);
    let (stats, store_errors) = core
        .run(stop, io_events, marker_events, results, feeder, control)
        .await;
    let _ = io_task.await;
    let _ = publisher.await;
    // The core's notes have ended: the task stores the images still on their way, then ends.
    match image_task.await {
        Ok(counted) => tracing::info!(?counted, "reject images"),
        Err(e) => tracing::error!(error = %e, "the reject-image task failed"),
    }
    // The core's acknowledgements have ended, and with them the packing task's input: it closes
    // the open case and pallet short and ends.
    let packing = match packing_task {
        Some(task) => Some(
            task.await
                .map_err(|e| LineError::Packing(format!("the packing task failed: {e}")))?,
        ),
        None => match manual_task {
            Some(task) => Some(
                task.finish()
                    .await
                    .map_err(|e| LineError::Packing(format!("the station failed: {e}")))?
                    .packing_report(),
            ),
            None => None,
        },
    };
    let dispatch = match dispatch_task {
        Some(task) => Some(
            task.await
                .map_err(|e| LineError::Packing(format!("the dispatch station failed: {e}")))?,
        ),
        None => None,
    };
    let voided_at_stop = recover::void_unprinted(&store, batch.id).await?;
    let mut stats = stats;
    stats.store_errors += store_errors + packing.as_ref().map_or(0, |p| p.failed);
    stats.voided += voided_at_stop;
    Ok(LineReport {
        recovered,
        stats,
        packing,
        voided_at_stop,
        dispatch,
    })
}

/// Starts the reject-image task and waits (within the connect timeout) for its subscription,
/// so the first rejects' images are not missed; a broker slow to acknowledge it only costs
/// images, never the run.
async fn images_task(
    line: &Line,
    store: &Store,
    subscription: &verify::mqtt::Subscription,
    options: &LineOptions,
) -> Result<
    (
        images::ImageNotes,
        tokio::task::JoinHandle<verify::images::ImageStats>,
    ),
    LineError,
> {
    let settings = verify::images::ImageSettings {
        endpoint: subscription.endpoint.clone(),
        line: line.id.clone(),
        readers: line.readers.iter().map(|r| r.name.clone()).collect(),
        dir: options
            .reject_images
            .clone()
            .unwrap_or_else(|| verify::images::default_dir(store.url())),
        bounds: verify::images::Bounds::default(),
    };
    let (notes_tx, notes) = mpsc::channel(images::NOTES);
    let (task, mut ready) = verify::images::spawn_images(settings, store.clone(), notes)?;
    let subscribed = tokio::time::timeout(options.connect_timeout, ready.wait_for(|r| *r)).await;
    if !matches!(subscribed, Ok(Ok(_))) {
        tracing::warn!("the reject-image subscription is not acknowledged yet; going on");
    }
    Ok((images::ImageNotes::new(notes_tx), task))
}

/// How long before the gate a unit without a camera result is decided `late`: half a pitch
/// (where the gate window opens) plus [`GATE_MARGIN`] of belt travel at the nominal speed, so a
/// decision made just before that point still reaches the coil through one PLC poll and a busy
/// scheduler in time.
fn late_lead(line: &Line, pitch_counts: u64) -> u64 {
    let counts_per_second =
        f64::from(line.speed_upm) / 60.0 * f64::from(line.min_pitch_mm) * line.counts_per_mm;
    pitch_counts / 2 + (counts_per_second * GATE_MARGIN.as_secs_f64()).round() as u64
}

/// Codes issued and queued for the marker beyond its own buffer.
const FEED_AHEAD: usize = 32;

/// The longest interval between two polls of the PLC: half the gate's margin, so a late
/// decision made at the first poll past its point still leaves the other half for the reject
/// to reach the PLC.
pub const SLOWEST_IO_POLL: Duration = GATE_MARGIN.checked_div(2).expect("a nonzero divisor");

/// How often the line polls its PLC: a quarter of a unit's time at the nominal speed, at least
/// every `fastest` and at most every [`SLOWEST_IO_POLL`] — 2.5 ms at 6,000 units/min, 12.5 ms
/// at 1,200 and below. The PLC latches each detection's encoder count and fires the gate from
/// its reject queue, so the interval sets only how soon the core hears of a unit, never where
/// it is: the camera is several pitches past the photocell, and a late decision is made
/// [`GATE_MARGIN`] plus half a pitch before the gate, at most one poll after its point. Each
/// poll wakes a thread and costs a round trip whatever the speed: issue 20's profile found
/// the 2 ms poll the controller's largest fixed cost on a slow line.
pub fn io_poll_for(line: &Line, fastest: Duration) -> Duration {
    let unit_time = Duration::from_secs(60) / line.speed_upm.max(1);
    (unit_time / 4).clamp(fastest, SLOWEST_IO_POLL.max(fastest))
}

/// The longest interval between two polls of the marker: a fault or a print is heard of
/// within it.
pub const SLOWEST_MARKER_POLL: Duration = Duration::from_millis(50);

/// How often the line polls its marker: half the time the marker takes to print down from the
/// low watermark to its last code at the nominal speed, at least every `fastest` and at most
/// every [`SLOWEST_MARKER_POLL`] — 50 ms for the demo's Linx (low watermark 4) at 1,200
/// units/min, 15 ms at 6,000. A refill starts at most a poll and a round trip after the buffer
/// reaches the low watermark (docs/drivers.md "Sizing"), so half the drain time leaves the
/// other half for the round trip; a low watermark of 1 leaves no time, and the line polls as
/// fast as allowed. Each poll is a round trip to the marker whatever the speed (issue 20).
pub fn marker_poll_for(line: &Line, low_watermark: u32, fastest: Duration) -> Duration {
    let drain = Duration::from_secs(60) * low_watermark.saturating_sub(1) / line.speed_upm.max(1);
    (drain / 2).clamp(fastest, SLOWEST_MARKER_POLL.max(fastest))
}

/// Time a reject decision is given to reach the gate coil (see [`late_lead`]).
const GATE_MARGIN: Duration = Duration::from_millis(25);

fn spawn_marker<D: tracemark_drivers::marker::MarkerDevice>(
    device: D,
    config: MarkerConfig,
    codes: mpsc::Receiver<tracemark_drivers::marker::Code>,
    events: mpsc::Sender<MarkerEvent>,
) -> MarkerHandle {
    let (handle, task) = create_marker(device, config, codes, events);
    tokio::spawn(task.run().in_current_span());
    handle
}

/// The drivers' transport for a config transport.
pub fn device_transport(transport: &Transport) -> DeviceTransport {
    transport.to_device()
}

async fn wait_ready(
    timeout: Duration,
    ready: impl std::future::Future<Output = Result<(), NotReady>>,
) -> Result<(), NotReady> {
    match tokio::time::timeout(timeout, ready).await {
        Ok(result) => result,
        Err(_) => Err(NotReady::Timeout(timeout)),
    }
}

#[cfg(test)]
mod tests {
    use super::Latency;

    #[test]
    fn latency_percentiles_come_from_the_sorted_samples() {
        let mut samples: Vec<u32> = (1..=100).rev().collect();
        let latency = Latency::of(&mut samples);
        assert_eq!(
            (
                latency.samples,
                latency.p50_us,
                latency.p99_us,
                latency.max_us
            ),
            (100, 51, 99, 100)
        );
        assert_eq!(Latency::of(&mut []), Latency::default());
    }
}

#[cfg(test)]
mod poll_tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::{io_poll_for, marker_poll_for};

    fn demo_line() -> crate::config::Line {
        let demo =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../line-configs/demo.toml");
        crate::config::load_with_env(&demo, BTreeMap::new()).expect("demo.toml")
    }

    #[test]
    fn the_plc_is_polled_every_quarter_of_a_unit_between_2_and_12_5_ms() {
        let mut line = demo_line();
        let fastest = Duration::from_millis(2);
        let at = |line: &mut crate::config::Line, speed: u32| {
            line.speed_upm = speed;
            io_poll_for(line, fastest)
        };
        assert_eq!(at(&mut line, 6_000), Duration::from_micros(2_500));
        assert_eq!(at(&mut line, 1_400), Duration::from_nanos(10_714_285));
        assert_eq!(at(&mut line, 30_000), fastest, "never faster than asked");
        assert_eq!(
            at(&mut line, 1_200),
            Duration::from_micros(12_500),
            "never slower"
        );
        assert_eq!(
            io_poll_for(&line, Duration::from_millis(20)),
            Duration::from_millis(20),
            "an option slower than the slowest wins"
        );
    }

    #[test]
    fn the_marker_is_polled_within_half_its_drain_time_between_10_and_50_ms() {
        let mut line = demo_line();
        let fastest = Duration::from_millis(10);
        let mut at = |speed: u32, low: u32| {
            line.speed_upm = speed;
            marker_poll_for(&line, low, fastest)
        };
        // Three codes' time at 6,000 units/min is 30 ms: half of it.
        assert_eq!(at(6_000, 4), Duration::from_millis(15));
        assert_eq!(at(1_200, 4), Duration::from_millis(50), "never slower");
        assert_eq!(at(6_000, 2), fastest, "never faster than asked");
        assert_eq!(at(100, 1), fastest, "a low watermark of 1 leaves no time");
    }
}
