//! `tracemark demo` and `tracemark simulate`: the line runtime against the line twin, in one
//! process (see `tracemark::commissioning`). The demo runs `line-configs/demo.toml` on the
//! embedded broker and ends with the QA step a plant would do: the rejected units are destroyed
//! and the batch is closed, so its reconciliation balances exactly (SPEC §3).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::watch;
use tracemark::app::line_configs::LineConfigs;
use tracemark::app::uploads::{self, SimulatedErpReceipt};
use tracemark::app::{batches, lines, packing, products, qa};
use tracemark::commissioning::{self, FaultProfile, Options, PackingFaults, Report};
use tracemark::config;
use tracemark::http::server::{HttpServer, LiveOptions, ServeOptions};
use tracemark::http::{LiveLines, LiveView};
use tracemark::line::line_control;
use tracemark_sim::Fault;
use tracemark_store::fault::StoreFault;
use tracemark_store::{BatchState, Grade};

use super::{CliError, Context};

/// The demo line, built in so `demo` works from any directory.
const DEMO_CONFIG: &str = include_str!("../../../line-configs/demo.toml");
const DEMO_CONFIG_PATH: &str = "line-configs/demo.toml";
/// The label template the demo line names (`labels/logistic-label.zpl`, relative to it).
const DEMO_LABEL_TEMPLATE: &str = include_str!("../../../line-configs/labels/logistic-label.zpl");

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Units to produce.
    #[arg(long, default_value_t = 600)]
    units: u64,
    /// Line speed in units per minute (default: the config's).
    #[arg(long)]
    speed: Option<u32>,
    /// Camera damage: none, default (about 3 % of prints) or heavy (about 15 %).
    #[arg(long, value_enum, default_value_t = FaultProfile::Default)]
    faults: FaultProfile,
    /// Marker fault at unit N, e.g. `200:disconnect` (repeatable): nak, buffer-full,
    /// disconnect, stall, garbage, ink-out, head-open, reprint-on-empty.
    #[arg(long = "marker-fault", value_parser = parse_marker_fault)]
    marker_faults: Vec<(u64, Fault)>,
    /// Packing faults at a case_camera station: none, default (one case in 8) or heavy (one
    /// in 3): a unit missing, a foreign unit, an unreadable code, a rejected unit put back,
    /// one too many.
    #[arg(long, value_enum, default_value_t = PackingFaults::None)]
    packing_faults: PackingFaults,
    /// Line config.
    #[arg(long, default_value = DEMO_CONFIG_PATH)]
    config: PathBuf,
    /// Seed of the twin's draws (spacing, damage).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Use this MQTT broker (`mqtt://HOST:PORT`) instead of the embedded one.
    #[arg(long)]
    mqtt: Option<String>,
    /// Keep the rejected units for QA and the batch open (the demo otherwise destroys the
    /// rejects and closes the batch).
    #[arg(long)]
    keep_open: bool,
    /// Do not deliver the closed batch to the demo's embedded ERP receiver.
    #[arg(long)]
    no_upload: bool,
    /// Print one JSON object with the reconciliation as the last line of stdout.
    #[arg(long)]
    json: bool,
    /// Serve the live view on this address (e.g. `127.0.0.1:8080`, port 0 for any): a page at
    /// `/live`, the figures as JSON at `/api/line` (no login), and the API over the demo's store
    /// with the line at `/api/v1/lines` and `/metrics` (docs/api.md). It stays up after the run
    /// until Ctrl-C.
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,
    /// Write into a store that holds production batches (named by --db or TRACEMARK_DB). The
    /// simulated batch is marked as such; without this flag such a store is refused.
    #[arg(long)]
    allow_production_store: bool,
    /// Make the store unreachable AT after it is opened, for DURATION, e.g. `outage:25s:15s`
    /// (repeatable; units ms, s, m): on PostgreSQL a proxy in front of the database drops every
    /// connection and refuses new ones, on SQLite the pool refuses (docs/plant.md).
    #[arg(long = "store-fault", value_name = "outage:AT:DURATION")]
    store_faults: Vec<StoreFault>,
    /// The edge journal's file, where the line's records wait while the store cannot be
    /// reached (docs/plant.md; default: `journal-LINE.db` next to an SQLite store's file, else
    /// in the system's temporary directory).
    #[arg(long, value_name = "FILE")]
    journal: Option<PathBuf>,
}

/// `tracemark simulate`: the same run for any line config.
#[derive(Debug, Args)]
pub(crate) struct SimulateArgs {
    /// Line config to commission.
    #[arg(long)]
    config: PathBuf,
    /// Units to produce.
    #[arg(long, default_value_t = 300)]
    units: u64,
    /// Line speed in units per minute (default: the config's nominal speed).
    #[arg(long)]
    speed: Option<u32>,
    /// Camera damage.
    #[arg(long, value_enum, default_value_t = FaultProfile::Default)]
    faults: FaultProfile,
    /// Marker fault at unit N, e.g. `20:ink-out` (repeatable), as for `demo`.
    #[arg(long = "marker-fault", value_parser = parse_marker_fault)]
    marker_faults: Vec<(u64, Fault)>,
    /// Packing faults at a case_camera station: none, default (one case in 8) or heavy (one
    /// in 3): a unit missing, a foreign unit, an unreadable code, a rejected unit put back,
    /// one too many.
    #[arg(long, value_enum, default_value_t = PackingFaults::None)]
    packing_faults: PackingFaults,
    /// Use this MQTT broker (`mqtt://HOST:PORT`), e.g. the plant's, instead of the embedded one.
    #[arg(long)]
    mqtt: Option<String>,
    /// Print one JSON object with the reconciliation as the last line of stdout.
    #[arg(long)]
    json: bool,
    /// Write into a store that holds production batches (named by --db or TRACEMARK_DB). The
    /// simulated batch is marked as such; without this flag such a store is refused.
    #[arg(long)]
    allow_production_store: bool,
    /// Make the store unreachable AT after it is opened, for DURATION, e.g. `outage:25s:15s`
    /// (repeatable; units ms, s, m): on PostgreSQL a proxy in front of the database drops every
    /// connection and refuses new ones, on SQLite the pool refuses (docs/plant.md).
    #[arg(long = "store-fault", value_name = "outage:AT:DURATION")]
    store_faults: Vec<StoreFault>,
    /// The edge journal's file, where the line's records wait while the store cannot be
    /// reached (docs/plant.md; default: `journal-LINE.db` next to an SQLite store's file, else
    /// in the system's temporary directory).
    #[arg(long, value_name = "FILE")]
    journal: Option<PathBuf>,
}

fn parse_marker_fault(text: &str) -> Result<(u64, Fault), String> {
    let (unit, fault) = text
        .split_once(':')
        .ok_or_else(|| format!("{text:?}: expected UNIT:FAULT, e.g. 200:disconnect"))?;
    let unit = unit
        .parse()
        .map_err(|_| format!("{unit:?} is not a unit number"))?;
    let fault = Fault::from_name(fault).ok_or_else(|| {
        let names: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
        format!("{fault:?} is not one of {}", names.join(", "))
    })?;
    Ok((unit, fault))
}

pub(crate) fn run(args: &DemoArgs, context: &Context) -> Result<(), CliError> {
    let broker = args.mqtt.as_deref().map(parse_broker).transpose()?;
    let options = Options {
        units: args.units,
        speed_upm: args.speed,
        faults: args.faults,
        marker_faults: args.marker_faults.clone(),
        packing_faults: args.packing_faults,
        seed: args.seed,
        broker,
        live: None,
        journal: args.journal.clone(),
        line_runtime: None,
    };
    let output = Output {
        json: args.json,
        http: args.http,
        device: "demo",
        allow_production_store: args.allow_production_store,
        deliver: !args.no_upload,
    };
    let faults = &args.store_faults;
    commission(
        context,
        &args.config,
        options,
        output,
        faults,
        !args.keep_open,
    )
}

pub(crate) fn simulate(args: &SimulateArgs, context: &Context) -> Result<(), CliError> {
    let options = Options {
        units: args.units,
        speed_upm: args.speed,
        faults: args.faults,
        marker_faults: args.marker_faults.clone(),
        packing_faults: args.packing_faults,
        seed: 1,
        broker: args.mqtt.as_deref().map(parse_broker).transpose()?,
        live: None,
        journal: args.journal.clone(),
        line_runtime: None,
    };
    let output = Output {
        json: args.json,
        http: None,
        device: "simulate",
        allow_production_store: args.allow_production_store,
        deliver: false,
    };
    commission(
        context,
        &args.config,
        options,
        output,
        &args.store_faults,
        true,
    )
}

fn parse_broker(url: &str) -> Result<(String, u16), CliError> {
    let rest = url
        .strip_prefix("mqtt://")
        .ok_or_else(|| CliError::input("--mqtt", format!("{url:?} is not mqtt://HOST:PORT")))?;
    let (host, port) = rest.rsplit_once(':').unwrap_or((rest, "1883"));
    let port = port
        .trim_end_matches('/')
        .parse()
        .map_err(|_| CliError::input("--mqtt", format!("{port:?} is not a port")))?;
    Ok((host.to_owned(), port))
}

/// How a run reports.
#[derive(Debug, Clone, Copy)]
struct Output {
    /// One JSON object on the last line of stdout instead of the text report.
    json: bool,
    /// Serve the live view here.
    http: Option<SocketAddr>,
    /// The program its writes are recorded with, on the line (`lines::controller_actor`):
    /// `demo` or `simulate`.
    device: &'static str,
    /// Whether a store holding production batches may be written.
    allow_production_store: bool,
    /// Whether the closed batch goes to an embedded ERP receiver (issue 15 item 5).
    deliver: bool,
}

fn commission(
    context: &Context,
    config_path: &Path,
    mut options: Options,
    output: Output,
    store_faults: &[StoreFault],
    close: bool,
) -> Result<(), CliError> {
    let json = output.json;
    if options.units == 0 {
        return Err(CliError::input("--units", "must be at least 1"));
    }
    let (config_file, line) = load_config(config_path)?;
    let product_id = line
        .product
        .clone()
        .ok_or_else(|| CliError::input("config", "[line] names no product: the run needs one"))?;
    // The line runs on this runtime, not on one of its own as `tracemark run`'s does: with
    // it there, `recovery.rs` `broker_restart_in_the_middle_of_a_batch` lost a case read in
    // 2 of 5 runs of its file (session 24; cause not found yet, see issue 20's note).
    crate::cli::block_on_line(async {
        let (store, named) = context.open_for_simulation(store_faults).await?;
        if named {
            lines::check_simulation_store(&store, output.allow_production_store).await?;
        }
        let actor = &lines::controller_actor(context.actor(), output.device, &line.id);
        let store = store.with_actor(actor.clone());
        // The demo product's minimum grade is the default, C; a reader with a stricter
        // `min_grade` demands more (`verify::tracker_config_for`).
        let product = products::get_or_add(&store, actor, &product_id, || {
            commissioning::demo_product(&product_id, Grade::C)
        })
        .await?;
        if line.packing.is_some() {
            packing::ensure_simulation_sscc_coding(&store, actor).await?;
        }
        let batch = lines::resume_or_start_simulated_batch(
            &store,
            actor,
            &product,
            &line.id,
            options.units,
        )
        .await?;
        // With --http, operators pause, resume, stop and acknowledge from the HMI.
        let (control, inbox) = line_control();
        let live = match output.http {
            Some(addr) => {
                let (tx, rx) = watch::channel(LiveView::new(
                    &line.id,
                    batch.id,
                    batch.simulated,
                    options.units,
                ));
                let live = LiveOptions {
                    lines: LiveLines::none().with_control(&line.id, rx, control),
                    // The demo's line is its twin's, its batch simulated: its page needs no login.
                    public_page: true,
                    configs: LineConfigs::new([config_file.clone()]),
                    ..LiveOptions::default()
                };
                let server =
                    HttpServer::start_live(store.clone(), ServeOptions { addr, tls: None }, live)
                        .await
                        .map_err(|e| CliError::input("--http", e))?;
                // On stderr, so `--json` keeps stdout to the one object.
                eprintln!("http: {}/", server.url());
                eprintln!(
                    "hmi: {}/  (log in; the line page without login: {}/live)",
                    server.url(),
                    server.url()
                );
                options.live = Some(tx.clone());
                Some((server, tx))
            }
            None => None,
        };
        if !json {
            println!(
                "tracemark: line {:?} against its twin, {} units of {} ({}), simulated batch {} \
                 lot {}",
                line.id, options.units, product.id, product.key, batch.id, batch.lot
            );
            println!("  records in {}", store.url());
            for fault in tracemark_store::fault::windows(store_faults) {
                println!(
                    "  store fault: unreachable from {:?} to {:?} after the store opened",
                    fault.0, fault.1
                );
            }
            for marker in &line.markers {
                println!(
                    "  marker {} ({}) at {} mm, simulated over its own protocol",
                    marker.name, marker.kind, marker.position_mm
                );
            }
            for reader in &line.readers {
                println!(
                    "  camera {} at {} mm, results over MQTT",
                    reader.name, reader.position_mm
                );
            }
            if let Some(gate) = &line.gate {
                println!(
                    "  reject gate at {} mm on PLC {} (Modbus TCP)",
                    gate.position_mm, gate.plc.name
                );
            }
        }
        let bar = if json {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(options.units)
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:30} {pos}/{len} units  {per_sec}  eta {eta}\n{wide_msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let report =
            commissioning::run_controlled(line, store.clone(), batch.id, options, bar, inbox)
                .await?;
        let mut destroyed = 0;
        let mut closed = false;
        if close && report.ok() {
            // QA destroys the rejected units (the demo's stand-in for the reject bin's review).
            destroyed = qa::destroy_all_rejects(&store, actor, batch.id).await?;
            // The packing task closed its open carton short at the end of the run; closing the
            // batch closes what else is open (app::batches::set_state).
            batches::set_state(&store, actor, batch.id, BatchState::Closed).await?;
            closed = true;
        }
        let after = batches::report(&store, batch.id).await?.reconciliation;
        let closed_balanced = closed.then_some(after.balanced);
        let upload = if closed && after.balanced && output.deliver {
            Some(deliver_to_simulated_erp(&store, batch.id).await?)
        } else {
            None
        };
        let queued = if closed {
            uploads::status(&store)
                .await?
                .iter()
                .filter(|d| d.batch_id == batch.id)
                .count()
        } else {
            0
        };
        // The demo's dock: the packed batch leaves through the dispatch station.
        let shipped = if closed && after.balanced && output.deliver {
            commissioning::dispatch::ship_at_the_dock(&store, actor, batch.id).await?
        } else {
            None
        };
        let outcome = Outcome {
            destroyed,
            closed_balanced,
            upload: upload.as_ref(),
            queued,
            shipped: shipped.as_ref(),
        };
        print_report(&report, json, &outcome);
        if let Some((server, view)) = live {
            let summary = report_json(&report, &outcome);
            view.send_modify(|view| view.report = Some(summary));
            eprintln!("the live view stays on {}/ until Ctrl-C", server.url());
            tokio::signal::ctrl_c().await.context("wait for Ctrl-C")?;
            drop(server);
        }
        if report.ok() && (!closed || after.balanced) {
            Ok(())
        } else {
            Err(CliError::Failed(anyhow::anyhow!(
                "the controller's records disagree with what happened on the line"
            )))
        }
    })
}

/// The line of `path` (the built-in demo config, written to a temporary directory, when `path`
/// is the default and absent), with the file it was loaded from.
fn load_config(path: &Path) -> Result<(PathBuf, config::Line), CliError> {
    let (file, loaded) = if !path.exists() && path == Path::new(DEMO_CONFIG_PATH) {
        let dir = tempfile_dir()?;
        let file = dir.join("demo.toml");
        std::fs::write(&file, DEMO_CONFIG).context("write the built-in demo config")?;
        std::fs::create_dir_all(dir.join("labels")).context("create a temporary directory")?;
        std::fs::write(dir.join("labels/logistic-label.zpl"), DEMO_LABEL_TEMPLATE)
            .context("write the built-in label template")?;
        let loaded = config::load(&file);
        (file, loaded)
    } else {
        (path.to_owned(), config::load(path))
    };
    loaded
        .map(|line| (file, line))
        .map_err(|errors| CliError::Input(errors.to_string()))
}

fn tempfile_dir() -> Result<PathBuf, CliError> {
    let dir = std::env::temp_dir().join(format!("tracemark-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).context("create a temporary directory")?;
    Ok(dir)
}

/// What followed the run: QA, the close, the delivery.
struct Outcome<'a> {
    /// Rejected units QA destroyed.
    destroyed: u64,
    /// Whether the closed batch balances (none: not closed).
    closed_balanced: Option<bool>,
    /// What the demo's ERP receiver took.
    upload: Option<&'a SimulatedErpReceipt>,
    /// Deliveries the close queued for the user's own targets.
    queued: usize,
    /// What the demo's dispatch station shipped.
    shipped: Option<&'a commissioning::dispatch::DockShipment>,
}

/// Delivers the closed batch to an ERP receiver simulator started for it (issue 15 item 5).
async fn deliver_to_simulated_erp(
    store: &tracemark_store::Store,
    batch: i64,
) -> Result<SimulatedErpReceipt, CliError> {
    let spool = std::env::temp_dir().join(format!(
        "tracemark-demo-{}-upload-spool",
        std::process::id()
    ));
    let progress = super::upload::delivery_progress();
    Ok(uploads::deliver_to_simulated_erp(store, batch, &spool, progress).await?)
}

/// The report as one JSON object, with the QA step's and the delivery's outcome.
fn report_json(report: &Report, outcome: &Outcome<'_>) -> serde_json::Value {
    let mut value = serde_json::to_value(report).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.insert("qa_destroyed".into(), outcome.destroyed.into());
        object.insert(
            "closed_balanced".into(),
            outcome
                .closed_balanced
                .map_or(serde_json::Value::Null, Into::into),
        );
        object.insert(
            "upload".into(),
            serde_json::to_value(outcome.upload).unwrap_or_default(),
        );
        object.insert("upload_queued".into(), outcome.queued.into());
        object.insert(
            "dispatch".into(),
            serde_json::to_value(outcome.shipped).unwrap_or_default(),
        );
    }
    value
}

fn print_report(report: &Report, json: bool, outcome: &Outcome<'_>) {
    if json {
        println!("{}", report_json(report, outcome));
        return;
    }
    let yes = |b: bool| if b { "yes" } else { "NO" };
    let line = &report.line;
    println!();
    println!("line");
    println!(
        "  units        {:>8}  ({} units/min while running)",
        report.units, report.units_per_min
    );
    println!(
        "  underruns    {:>8}  (print-go with an empty marker buffer)",
        line.underruns
    );
    println!(
        "  line stops   {:>8}  {}",
        line.line_stops,
        line.alarm.clone().unwrap_or_default()
    );
    println!(
        "  marker faults{:>8}  ({} injected)",
        line.marker_faults, report.marker_faults_injected
    );
    println!("  rejects by reason");
    let width = line.rejected.values().max().copied().unwrap_or(1).max(1);
    for (reason, count) in &line.rejected {
        let bar = "█".repeat(((count * 30).div_ceil(width)) as usize);
        println!("    {reason:<11} {count:>6}  {bar}");
    }
    println!("reconciliation (controller's records)");
    println!("  allocated    {:>8}", report.allocated);
    println!("  printed      {:>8}", report.printed);
    println!("  verified     {:>8}", report.verified);
    println!("  rejected     {:>8}", report.rejected);
    println!(
        "  voided       {:>8}  (never printed: reserved ahead, or left in the marker buffer)",
        report.voided
    );
    println!(
        "  balanced     {:>8}  allocated = voided + printed, printed = verified + rejected",
        yes(report.balanced)
    );
    println!("ground truth (the twin)");
    println!("  diverted     {:>8}", report.diverted);
    println!(
        "  escapes      {:>8}  (bad units past the gate)",
        report.escapes
    );
    println!(
        "  false rejects{:>8}  (good units diverted)",
        report.false_rejects
    );
    println!("  duplicates   {:>8}", report.duplicates);
    println!("  unaccounted  {:>8}", report.unaccounted);
    if report.cartons > 0 || report.aggregation_disagreements > 0 {
        println!(
            "packing: {} units in {} cartons ({} short), {} pallets, {} loose; {} disagreements \
             with the physical cases",
            report.packed,
            report.cartons,
            report.partial_cartons,
            report.pallets,
            report.loose,
            report.aggregation_disagreements
        );
        if report.cases_reworked > 0 {
            println!(
                "  cases reworked {:>6}  (the case camera's reasons: audit event package.case_rejected)",
                report.cases_reworked
            );
        }
    }
    for disagreement in &report.disagreements {
        println!("  ! {disagreement}");
    }
    if let Some(balanced) = outcome.closed_balanced {
        println!(
            "batch closed: {} rejected units destroyed by QA; reconciliation balanced: {}",
            outcome.destroyed,
            yes(balanced)
        );
    }
    if let Some(receipt) = outcome.upload {
        let delivery = &receipt.delivery;
        println!(
            "upload: batch {} delivered as EPCIS 2.0 JSON-LD to the demo's ERP receiver ({}, \
             simulated, gone after this run)",
            delivery.batch_id, receipt.url
        );
        println!(
            "  accepted     {:>8}  events, {} bytes, signed (Standard Webhooks v1), {} attempt(s)",
            receipt
                .events
                .map_or_else(|| "?".to_owned(), |e| e.to_string()),
            delivery.bytes,
            delivery.attempts
        );
        println!(
            "  receipt      {}  (Idempotency-Key {}); the receiver's copy is the body sent: {}",
            receipt.receipt,
            delivery.uuid,
            yes(receipt.same_body)
        );
    }
    if outcome.queued > 0 {
        println!(
            "  queued for your {} upload target(s): `tracemark upload run --once` delivers them",
            outcome.queued
        );
    }
    if let Some(dock) = outcome.shipped {
        let shipment = &dock.shipment;
        println!(
            "dispatch: order {} shipped at the dispatch station (a simulated hand scanner over \
             TCP, {} scans)",
            dock.order, dock.scans
        );
        println!(
            "  shipment {}: {} package(s), {} units to {}; flow record kept, nothing of it public \
             until `tracemark product flow-public`",
            shipment.id, shipment.packages, shipment.quantity, shipment.buyer_name
        );
    }
}
