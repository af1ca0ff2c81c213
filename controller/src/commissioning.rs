//! Virtual commissioning: a line config run against the line twin (`tracemark demo`,
//! `tracemark simulate`). Every device of the config is replaced by a simulator of the same
//! protocol — the marker over a pseudo-terminal (serial) or TCP, the PLC over Modbus TCP, the
//! camera over MQTT — with the config's geometry; the controller is the real line runtime. At
//! the end the controller's records are compared with the twin's ground truth, unit by unit.

mod case_camera;
mod compare;
mod demo_product;
pub mod dispatch;
mod labels;
mod manual;
mod packing;

use std::sync::Arc;
use std::time::Duration;

use indicatif::ProgressBar;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::watch;
pub use tracemark_sim::packing::case_station::PackingFaults;
use tracemark_sim::packing::case_station::{CaseStation, CaseStationConfig};
use tracemark_sim::plc::PlcSim;
use tracemark_sim::twin::{MqttPublisher, Twin, TwinConfig, TwinProgress};
use tracemark_sim::vision::{DamageRates, VisionSim};
use tracemark_sim::{Fault, MarkerSim};

pub use demo_product::{DEMO_GTIN, demo_gtin, demo_product};

use crate::aggregation::plan_for;
use crate::broker::EmbeddedBroker;
use crate::config::{Line, Mqtt, Transport};
use crate::line::{
    ControlInbox, LineCommand, LineOptions, LineSetup, LineStats, line_control, run_line_controlled,
};
use tracemark_drivers::transport::{DataBits, Parity, StopBits};
use tracemark_store::reconcile::Reconciliation;
use tracemark_store::{Store, StoreError};

/// Why a virtual commissioning run could not be made (a run that ran reports its findings in
/// [`Report`] instead).
#[derive(Debug, thiserror::Error)]
pub enum CommissioningError {
    /// The line lacks a device the twin needs.
    #[error("the line has no {0}: virtual commissioning needs a marker, a reader and a [gate]")]
    Missing(&'static str),
    /// A simulator, the twin's runtime or the broker could not be set up.
    #[error("{what}: {source}")]
    Setup {
        /// What was being set up.
        what: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The embedded MQTT broker did not start.
    #[error(transparent)]
    Broker(#[from] crate::broker::BrokerError),
    /// The twin's camera found no broker.
    #[error("the twin camera cannot reach the MQTT broker")]
    CameraUnreachable,
    /// A task of the run ended by panicking or being cancelled.
    #[error("a task of the run failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The line runtime refused to start or failed.
    #[error(transparent)]
    Line(#[from] crate::line::LineError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The demo's dispatch station refused a scan (`dispatch.rs`), with its answer.
    #[error("the dispatch station: {0}")]
    Dispatch(String),
}

fn setup(what: &'static str) -> impl FnOnce(std::io::Error) -> CommissioningError {
    move |source| CommissioningError::Setup { what, source }
}

/// A live line as the page, the API (`/api/v1/lines`) and `/metrics` show it: the run, the
/// units done, the controller's counters and, once the run has ended, its report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LiveView {
    /// The line id.
    pub line_id: String,
    /// The batch being produced.
    pub batch: i64,
    /// The batch is a simulation's (`simulate`, `demo`), not production.
    pub simulated: bool,
    /// Units the run is for.
    pub units_target: u64,
    /// Units past the gate so far.
    pub units_done: u64,
    /// The belt is held by the controller (an alarm).
    pub stopped: bool,
    /// The controller's counters (`LineStats`: units, sent, printed, verified, rejected by
    /// reason, diverted, underruns, line_stops, marker_faults, marker, alarm, …).
    #[schema(value_type = Object)]
    pub line: LineStats,
    /// The end-of-run report (reconciliation and comparison), once there is one.
    #[schema(value_type = Option<Object>)]
    pub report: Option<serde_json::Value>,
}

impl LiveView {
    /// The view of `line_id` about to produce `batch`, nothing counted yet.
    pub fn new(line_id: &str, batch: i64, simulated: bool, units_target: u64) -> LiveView {
        LiveView {
            line_id: line_id.to_owned(),
            batch,
            simulated,
            units_target,
            ..LiveView::default()
        }
    }

    /// Takes in the runtime's counters, with the units done and whether the belt is held as
    /// the caller knows them (the twin's ground truth in a simulation, the runtime's own
    /// counters on a real line). The one place a view is made from [`LineStats`]; returns
    /// whether anything changed, so watchers are woken only for news
    /// (`watch::Sender::send_if_modified`).
    pub fn observe(&mut self, stats: &LineStats, units_done: u64, stopped: bool) -> bool {
        let changed =
            self.line != *stats || self.units_done != units_done || self.stopped != stopped;
        if changed {
            self.line.clone_from(stats);
            self.units_done = units_done;
            self.stopped = stopped;
        }
        changed
    }

    /// [`LiveView::observe`] for a line without a twin (`tracemark run`): the units the
    /// photocell saw are the units done, and the belt is held once an alarm stopped it —
    /// `run` does not acknowledge alarms by itself (`LineOptions::acknowledge_alarms_after`
    /// is `None`), so a stopped line stays stopped until the run ends.
    pub fn observe_runtime(&mut self, stats: &LineStats) -> bool {
        self.observe(stats, stats.units, stats.line_stops > 0)
    }
}

/// How often the camera damages prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultProfile {
    /// Every print clean.
    None,
    /// About 3 % of units damaged, as on a line that runs well.
    Default,
    /// About 15 % damaged: a line in trouble.
    Heavy,
}

impl FaultProfile {
    fn rates(self) -> DamageRates {
        match self {
            FaultProfile::None => DamageRates::NONE,
            FaultProfile::Default => DamageRates::DEFAULT,
            FaultProfile::Heavy => DamageRates::HEAVY,
        }
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Units through the photocell.
    pub units: u64,
    /// Line speed (units per minute); `None`: the config's.
    pub speed_upm: Option<u32>,
    /// Camera damage.
    pub faults: FaultProfile,
    /// Marker faults injected as unit N passes the photocell (`Disconnect` clears itself; the
    /// others are cleared 50 units later).
    pub marker_faults: Vec<(u64, Fault)>,
    /// Seed of the twin's draws.
    pub seed: u64,
    /// Packing faults at a `case_camera` station (`--packing-faults`).
    pub packing_faults: PackingFaults,
    /// An external broker (`host`, `port`) instead of the embedded one; the line id gets a
    /// unique suffix so runs sharing the broker do not hear each other.
    pub broker: Option<(String, u16)>,
    /// Where to publish the live view while the line runs (`--http`).
    pub live: Option<watch::Sender<LiveView>>,
    /// The edge journal's file (`--journal`); `None`: [`simulation_journal`].
    pub journal: Option<std::path::PathBuf>,
    /// The runtime the controller's line runs on (e.g. [`crate::runtime::line`], as `tracemark
    /// run` uses); `None`: the caller's, which `demo` and `simulate` pass for now (issue 20).
    pub line_runtime: Option<tokio::runtime::Handle>,
}

/// The reconciliation of a run and its comparison with ground truth.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The line id the run used (with a unique suffix on an external broker).
    pub line_id: String,
    /// Physical units.
    pub units: u64,
    /// Codes issued for the batch.
    pub allocated: i64,
    /// Codes printed (as the controller recorded).
    pub printed: i64,
    /// Codes verified.
    pub verified: i64,
    /// Codes rejected.
    pub rejected: i64,
    /// Codes voided.
    pub voided: i64,
    /// Bad units that passed the gate (ground truth).
    pub escapes: u64,
    /// Good units diverted (ground truth).
    pub false_rejects: u64,
    /// Units carrying a code another unit already carried (ground truth).
    pub duplicates: u64,
    /// Codes printed on a unit whose record says otherwise, plus codes not settled at the end.
    pub unaccounted: u64,
    /// `allocated = voided + printed` and `printed = verified + rejected`, nothing in flight.
    pub balanced: bool,
    /// Units per minute while the belt moved.
    pub units_per_min: f64,
    /// Units diverted by the gate (ground truth).
    pub diverted: u64,
    /// Units that went by the marker with nothing printed.
    pub unprinted: u64,
    /// Where records and ground truth disagree (the first 20).
    pub disagreements: Vec<String>,
    /// The escapes, unit by unit (the first 20).
    pub escaped: Vec<String>,
    /// Units packed into cartons (the batch's).
    pub packed: i64,
    /// Verified units neither packed nor sampled (the batch's).
    pub loose: i64,
    /// Cartons the run closed (`[packing]`), partial ones included.
    pub cartons: u64,
    /// Cartons closed short at the end of the run.
    pub partial_cartons: u64,
    /// Pallets the run closed.
    pub pallets: u64,
    /// Cases the case camera's station sent to rework (`case_camera` mode).
    pub cases_reworked: u64,
    /// The label station's work (`[packing.label]`): labels printed, verified, rejected and
    /// reprinted, waits for the operator, packages left open.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<crate::aggregation::label::LabelReport>,
    /// A record linking a unit to a carton it is not physically in, or a physical unit in a
    /// case whose carton's record does not hold it (the n-th physical case is the n-th carton
    /// of the run). Must be 0; each is also in `disagreements` (the first 20).
    pub aggregation_disagreements: u64,
    /// The batch's reconciliation.
    pub reconciliation: Reconciliation,
    /// The runtime's counters.
    pub line: LineStats,
    /// What a restart settled before this run.
    pub recovered: crate::line::Recovered,
    /// Marker faults the twin injected (`--marker-fault`): without any, a marker fault in
    /// `line.marker_faults` is a driver's mistake.
    pub marker_faults_injected: u64,
}

impl Report {
    /// Whether the controller's records agree with ground truth and nothing escaped.
    pub fn ok(&self) -> bool {
        self.disagreements.is_empty()
            && self.aggregation_disagreements == 0
            && self.escapes == 0
            && self.duplicates == 0
            && self.unaccounted == 0
            && self.balanced
    }
}

/// Runs `line` against the twin for `batch` and reports.
pub async fn run(
    line: Line,
    store: Store,
    batch: i64,
    options: Options,
    bar: ProgressBar,
) -> Result<Report, CommissioningError> {
    run_controlled(line, store, batch, options, bar, ControlInbox::unused()).await
}

/// [`run`], the line taking an operator's commands from `control` (`demo --http`: pause,
/// resume, stop, acknowledge from the HMI). A paused line holds the twin's belt too.
pub async fn run_controlled(
    mut line: Line,
    store: Store,
    batch: i64,
    options: Options,
    bar: ProgressBar,
    control: ControlInbox,
) -> Result<Report, CommissioningError> {
    let broker = match &options.broker {
        Some((host, port)) => {
            line.id = format!("{}-{}", line.id, unique_suffix());
            (host.clone(), *port)
        }
        None => {
            let broker = tokio::task::spawn_blocking(EmbeddedBroker::start).await??;
            ("127.0.0.1".to_owned(), broker.addr().port())
        }
    };
    line.mqtt = Some(Mqtt {
        host: broker.0.clone(),
        port: broker.1,
        tls: false,
        client_id: format!("tracemark-{}", line.id),
        username: None,
        password_env: None,
        ca_file: None,
        client_auth: None,
        keep_alive: Duration::from_secs(30),
    });
    if let Some(speed) = options.speed_upm {
        line.speed_upm = speed;
    }
    let marker = line
        .markers
        .first()
        .cloned()
        .ok_or(CommissioningError::Missing("marker"))?;
    // A simulator of the marker's own protocol, with the marker's options (the one choice
    // `tracemark-sim line` makes too).
    let sim = tracemark_sim::bench::line::marker_sim(&marker);
    run_with(sim, line, store, batch, options, broker, bar, control).await
}

#[allow(clippy::too_many_arguments)]
async fn run_with<M: MarkerSim>(
    marker_sim: M,
    mut line: Line,
    store: Store,
    batch: i64,
    options: Options,
    broker: (String, u16),
    bar: ProgressBar,
    control: ControlInbox,
) -> Result<Report, CommissioningError> {
    let reader = line
        .readers
        .first()
        .cloned()
        .ok_or(CommissioningError::Missing("reader"))?;
    let product = store.product(&store.batch(batch).await?.product_id).await?;

    // The PLC: Modbus TCP on a free port, serving the gate PLC's map.
    let gate_map = line
        .gate
        .as_ref()
        .map(|gate| gate.plc.line_io.clone())
        .unwrap_or_default();
    let plc_sim = PlcSim::with_map(1, gate_map);
    let plc_addr = serve_plc_on_own_thread(&plc_sim).map_err(setup("the PLC simulator"))?;
    let gate = line
        .gate
        .as_mut()
        .ok_or(CommissioningError::Missing("[gate]"))?;
    // The twin's PLC stands in for the line's: its address and unit id; it serves the gate PLC's
    // line I/O map as configured (`[plcs.<name>.map]`, relocated or not).
    for plc in line.plcs.iter_mut().chain([&mut gate.plc]) {
        plc.transport = Transport::Tcp {
            host: plc_addr.ip().to_string(),
            port: plc_addr.port(),
        };
        plc.unit_id = 1;
    }
    let gate = gate.clone();
    // The twin's side — its conveyor, the marker simulator, the camera's MQTT client — runs on
    // a runtime and thread of its own (`twin`): the twin's 1 ms conveyor tick does not queue
    // behind the controller's tasks, nor they behind it, and the controller's CPU time can be
    // told from the twin's by thread.
    let twin_runtime =
        crate::runtime::OwnRuntime::start("twin", 1).map_err(setup("the twin's runtime"))?;
    // The marker: a pseudo-terminal for a serial marker, TCP otherwise.
    let marker = line
        .markers
        .first_mut()
        .ok_or(CommissioningError::Missing("marker"))?;
    let (sim, transport) = (marker_sim.clone(), marker.transport.clone());
    marker.transport = twin_runtime
        .spawn(async move { serve_marker(&sim, &transport).await })
        .await??;

    // With `[packing]`, the run's cartons are compared with the twin's physical cases.
    let packing = match &line.packing {
        Some(packing) => Some((
            plan_for(packing, &product)
                .map_err(|e| CommissioningError::Line(crate::line::LineError::Packing(e)))?,
            packing::earlier_packing(&store, batch).await?,
        )),
        None => None,
    };
    // `manual`: the line runs no station; a simulated packer packs the cases after it.
    let by_hand = match line.packing.as_mut() {
        Some(p) if p.mode == crate::config::PackingMode::Manual => {
            p.manual = None;
            packing.as_ref().map(|(plan, _)| *plan)
        }
        _ => None,
    };
    // With `[packing.label]`: the label printer and scanner (commissioning/labels.rs).
    let label_rates = options.packing_faults.label_rates();
    let label_sim =
        labels::start(&mut line, &twin_runtime, &broker, label_rates, options.seed).await?;
    let label_before = packing.as_ref().map(|(_, before)| before.clone());
    let (stop_tx, stop_rx) = watch::channel(false);
    let (stats_tx, stats_rx) = watch::channel(LineStats::default());
    let setup = LineSetup {
        line: line.clone(),
        store: store.clone(),
        batch,
        options: LineOptions {
            acknowledge_alarms_after: Some(Duration::from_millis(300)),
            reject_images: Some(simulation_images_dir(store.url())),
            journal: Some(
                options
                    .journal
                    .clone()
                    .unwrap_or_else(|| simulation_journal(store.url(), &line.id)),
            ),
            ..LineOptions::default()
        },
    };
    // An operator's stop also stops the twin's infeed, before the line hears of it — as the
    // operator of a real line stops the infeed with the line — so the units on the belt are
    // exactly those the line's drain runs out past the gate.
    let (twin_stop_tx, twin_stop_rx) = watch::channel(false);
    let twin_stop_tx = Arc::new(twin_stop_tx);
    let (progress_tx, progress_rx) = watch::channel(TwinProgress::default());
    let control = relay_stops(control, twin_stop_tx.clone(), progress_rx.clone());
    let controller = run_line_controlled(setup, stop_rx, stats_tx, control);
    let controller = match &options.line_runtime {
        Some(runtime) => runtime.spawn(controller),
        None => tokio::spawn(controller),
    };

    let (camera_broker, line_id) = (broker.clone(), line.id.clone());
    let publisher = twin_runtime
        .spawn(async move { camera_client(&camera_broker, &line_id).await })
        .await??;
    // What makes a print good: the product's minimum grade, or a stricter reader's.
    let min_grade = line
        .readers
        .iter()
        .filter_map(|r| r.min_grade)
        .chain([product.min_grade])
        .max()
        .unwrap_or(product.min_grade);
    let twin_config = TwinConfig {
        units: options.units,
        speed_upm: line.speed_upm,
        counts_per_mm: line.counts_per_mm,
        pitch_mm: line.min_pitch_mm,
        gap_rate: 0.05,
        jitter_mm: line.min_pitch_mm / 10,
        marker_mm: line.markers.first().map(|m| m.position_mm).unwrap_or(0),
        camera_mm: reader.position_mm,
        later_cameras: line
            .readers
            .iter()
            .skip(1)
            .map(|r| (r.name.clone(), r.position_mm))
            .collect(),
        gate_mm: gate.position_mm,
        // The twin's vision simulator grades by letter.
        min_grade: min_grade.as_str().chars().next().unwrap_or('C'),
        seed: options.seed,
        faults: options.marker_faults.clone(),
        case_packer: packing
            .as_ref()
            .filter(|(plan, _)| plan.case_packer_count)
            .map(|(plan, _)| plan.units_per_case),
    };
    let camera = VisionSim::new(&reader.name, options.faults.rates(), options.seed ^ 0x5eed)
        // The camera's image output for bad reads: the controller stores them per reject.
        .with_images(true);
    let mut twin = Twin::new(twin_config, marker_sim, plc_sim, camera);
    // A `case_camera` station: the twin fills physical cases and its case camera publishes
    // each through the same MQTT client as the line camera.
    if let (Some(camera), Some((plan, _))) = (
        line.packing.as_ref().and_then(|p| p.case_camera.as_ref()),
        &packing,
    ) {
        let config = CaseStationConfig {
            reader: camera.reader.clone(),
            units_per_case: plan.units_per_case as usize,
            faults: options.packing_faults,
        };
        twin = twin.with_case_station(CaseStation::new(config, publisher.clone()));
    }
    let twin_task = twin_runtime.spawn(twin.run(publisher, progress_tx, twin_stop_rx));

    bar.set_length(options.units);
    let show = tokio::spawn(show_progress(
        bar.clone(),
        progress_rx,
        stats_rx,
        options.live.clone(),
    ));
    // The twin ends when every unit is past the gate; a controller that fails first ends it.
    let mut controller = controller;
    let mut twin_task = twin_task;
    let (truth, report) = tokio::select! {
        truth = &mut twin_task => {
            let _ = stop_tx.send(true);
            (truth?, controller.await?)
        }
        report = &mut controller => {
            let _ = twin_stop_tx.send(true);
            (twin_task.await?, report?)
        }
    };
    show.abort();
    bar.finish_and_clear();
    let report = report?;
    let mut hand_labels = None;
    if let Some(plan) = by_hand {
        let labels = labels::station(&store, &line, label_sim.is_some()).await?;
        hand_labels = manual::pack_by_hand(&store, batch, &truth, plan, labels).await?;
    }
    let mut report = compare::compare(&store, batch, &truth, report, line.id, packing).await?;
    if let (Some(sim), Some(before)) = (&label_sim, &label_before) {
        let found = labels::disagreements(&store, batch, &before.finished, sim).await?;
        report.aggregation_disagreements += found.len() as u64;
        report.disagreements.extend(found);
        report.disagreements.truncate(20);
    }
    if hand_labels.is_some() {
        report.labels = hand_labels;
    }
    report.marker_faults_injected = options.marker_faults.len() as u64;
    Ok(report)
}

/// Where a simulation keeps its rejects' images: beside an SQLite store's file, as a line does
/// (`verify::images::default_dir`); with PostgreSQL, a line would use its working directory,
/// but a simulation is no plant's line and must not leave files where it was started (a
/// source tree, say): the system's temporary directory.
/// A simulation's edge journal when none is named: next to an SQLite store's file, else in the
/// system's temporary directory (a simulation on a plant's PostgreSQL leaves nothing in the
/// working directory).
fn simulation_journal(store_url: &str, line_id: &str) -> std::path::PathBuf {
    if store_url.starts_with("sqlite:") {
        tracemark_store::journal::default_path(store_url, line_id)
    } else {
        std::env::temp_dir()
            .join("tracemark-journals")
            .join(format!("journal-{line_id}.db"))
    }
}

fn simulation_images_dir(store_url: &str) -> std::path::PathBuf {
    if store_url.starts_with("sqlite:") {
        crate::verify::images::default_dir(store_url)
    } else {
        std::env::temp_dir().join("tracemark-reject-images")
    }
}

/// Passes an operator's commands from `control` on to the line's inbox it returns, stopping
/// the twin's infeed (`twin_stop`) before a stop reaches the line.
fn relay_stops(
    mut control: ControlInbox,
    twin_stop: Arc<watch::Sender<bool>>,
    mut twin: watch::Receiver<TwinProgress>,
) -> ControlInbox {
    let (line, inbox) = line_control();
    tokio::spawn(async move {
        while let Some((command, answer)) = control.next().await {
            if matches!(command, LineCommand::Stop { .. }) {
                twin_stop.send_replace(true);
                // One tick of the twin's conveyor after the flag: no unit enters from then on.
                twin.borrow_and_update();
                let _ = twin.changed().await;
            }
            answer.send(line.send(command).await);
        }
    });
    inbox
}

/// Serves the PLC simulator over Modbus TCP from a thread and runtime of its own, as a real PLC
/// is its own machine: on the shared runtime its answers waited behind the twin and the
/// camera, and the line I/O's polls with them (35 ms stalls in the 10-minute bench).
fn serve_plc_on_own_thread(sim: &PlcSim) -> std::io::Result<std::net::SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let server = sim.clone();
    std::thread::Builder::new()
        .name("twin-plc".to_owned())
        .spawn(move || {
            runtime.block_on(async move {
                match TcpListener::from_std(listener) {
                    Ok(listener) => {
                        let _ = server.serve_tcp(listener).await;
                    }
                    Err(e) => tracing::error!(error = %e, "the PLC simulator cannot listen"),
                }
            });
        })?;
    Ok(addr)
}

/// Serves `sim` where a controller configured with `transport` would find it; returns the
/// transport to configure instead.
async fn serve_marker<M: MarkerSim>(
    sim: &M,
    transport: &Transport,
) -> Result<Transport, CommissioningError> {
    let pty = setup("the marker's pseudo-terminal");
    match transport {
        Transport::Serial { baud, .. } => {
            let (master, slave) =
                tokio_serial::SerialStream::pair().map_err(|e| pty(std::io::Error::other(e)))?;
            let path = tokio_serial::SerialPort::name(&slave).ok_or_else(|| {
                setup("the marker's pseudo-terminal")(std::io::Error::other("it has no path"))
            })?;
            let server = sim.clone();
            tokio::spawn(async move {
                // The slave end stays open here, so the driver's reconnections find the pty.
                let _slave = slave;
                let mut master = master;
                while server.serve_serial(&mut master).await.is_ok() {}
            });
            Ok(Transport::Serial {
                path,
                baud: *baud,
                parity: Parity::None,
                data_bits: DataBits::Eight,
                stop_bits: StopBits::One,
            })
        }
        Transport::Tcp { .. } => {
            let listener = TcpListener::bind("127.0.0.1:0")
                .await
                .map_err(setup("the marker simulator"))?;
            let addr = listener
                .local_addr()
                .map_err(setup("the marker simulator"))?;
            let server = sim.clone();
            tokio::spawn(async move { server.serve_tcp(listener).await });
            Ok(Transport::Tcp {
                host: addr.ip().to_string(),
                port: addr.port(),
            })
        }
    }
}

/// The camera's MQTT client, connected (its ConnAck received) before the line starts.
async fn camera_client(
    broker: &(String, u16),
    line: &str,
) -> Result<MqttPublisher, CommissioningError> {
    let client = twin_mqtt_client(broker, &format!("twin-cameras-{line}"), 1024, "twin camera")
        .await
        .map_err(|_| CommissioningError::CameraUnreachable)?;
    Ok(MqttPublisher::new(client, line))
}

/// An MQTT client of a twin device (`what`, for the log), connected — its ConnAck received,
/// within 10 s — before the line starts; its event loop runs on and reconnects.
pub(super) async fn twin_mqtt_client(
    broker: &(String, u16),
    client_id: &str,
    capacity: usize,
    what: &'static str,
) -> std::io::Result<rumqttc::AsyncClient> {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet};
    let mut options = MqttOptions::new(client_id, broker.0.clone(), broker.1);
    options.set_keep_alive(Duration::from_secs(30));
    // A persistent session, as the cameras it stands for keep: rumqttc drops what it could
    // not deliver (in flight, or queued while the broker was away) when the broker answers a
    // reconnection with a new session (`session_present` false), so a clean session lost the
    // results and case reads published during a broker restart (`recovery.rs`,
    // `broker_restart_in_the_middle_of_a_batch`, once in session 24's CI).
    options.set_clean_session(false);
    // rumqttc's default limit (10 KiB) would break the connection on a camera's reject image.
    options.set_max_packet_size(
        crate::mqtt_endpoint::MAX_PACKET,
        crate::mqtt_endpoint::MAX_PACKET,
    );
    let (client, mut events) = AsyncClient::new(options, capacity);
    let (ready_tx, ready) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut ready_tx = Some(ready_tx);
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    if let Some(tx) = ready_tx.take() {
                        let _ = tx.send(());
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "{what}: MQTT connection lost");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(10), ready)
        .await
        .map_err(|_| std::io::Error::other(format!("the {what} cannot reach the broker")))?
        .map_err(|_| std::io::Error::other(format!("the {what}'s client ended")))?;
    Ok(client)
}

async fn show_progress(
    bar: ProgressBar,
    mut twin: watch::Receiver<TwinProgress>,
    line: watch::Receiver<LineStats>,
    live: Option<watch::Sender<LiveView>>,
) {
    let mut ticker = tokio::time::interval(Duration::from_millis(200));
    loop {
        ticker.tick().await;
        let progress = *twin.borrow_and_update();
        let stats = line.borrow().clone();
        if let Some(live) = &live {
            live.send_if_modified(|view| view.observe(&stats, progress.done, progress.stopped));
        }
        bar.set_position(progress.done);
        let mut state = if progress.stopped {
            format!("STOPPED: {}", stats.alarm.clone().unwrap_or_default())
        } else {
            format!("marker {}", stats.marker)
        };
        if let Some(central) = &stats.central_store {
            state = format!("{state}  {central}");
        }
        bar.set_message(format!(
            "verified {}  rejected {}  diverted {}  underruns {}  {state}",
            stats.verified,
            stats.rejected_total(),
            progress.diverted,
            stats.underruns
        ));
    }
}

fn unique_suffix() -> String {
    let mut bytes = [0u8; 4];
    if getrandom::fill(&mut bytes).is_err() {
        return std::process::id().to_string();
    }
    hex::encode(bytes)
}
