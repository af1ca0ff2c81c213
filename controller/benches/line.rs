//! The whole line under load, in the twin (issue 6 performance):
//!
//! ```sh
//! cargo bench -p tracemark --bench line -- --lines 1 --speed 6000 --minutes 10
//! cargo bench -p tracemark --bench line -- --lines 8 --speed 1200 --minutes 2
//! cargo bench -p tracemark --bench line -- --lines 1 --speed 7100 --minutes 2 --packing none
//! ```
//!
//! `--packing` chooses the packing station: `config` (default: demo.toml's `[packing]`),
//! `inferred` (12 a case, 10 cases a pallet, by the case packer's count) or `none`.
//! `--workers N` sets the controller runtime's worker threads (default 1, as the product's line
//! runtime, `tracemark::runtime::line`; before session 24 the product ran its lines on 2).
//! `RUST_LOG=warn` (an `EnvFilter`) logs what the lines report to stderr; unset, nothing is.
//!
//! Each line is a full controller (its own SQLite store, line runtime, Linx marker over a pty,
//! PLC over Modbus TCP) and its twin, all in this one process, sharing one embedded broker. It
//! prints per line: units, units/min, marker underruns, escapes, unaccounted, p50/p99 decision
//! latency; for a line that stopped, underran or did not balance, why (rejects by reason, line
//! stops, the last alarm); and for the process: CPU time per unit.

use std::path::Path;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use tracemark::broker::EmbeddedBroker;
use tracemark::commissioning::{self, FaultProfile, Options, Report};
use tracemark_store::{Actor, BatchState, NewBatch, Store};

struct Args {
    lines: usize,
    speed: u32,
    minutes: f64,
    packing: String,
    /// The controller runtime's worker threads (the product's line runtime has 1).
    workers: usize,
}

fn parse_args() -> Args {
    let mut args = Args {
        lines: 1,
        speed: 6_000,
        minutes: 0.5,
        packing: "config".to_owned(),
        workers: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_default();
        match arg.as_str() {
            "--lines" => args.lines = value().parse().unwrap_or(1),
            "--speed" => args.speed = value().parse().unwrap_or(6_000),
            "--minutes" => args.minutes = value().parse().unwrap_or(0.5),
            "--packing" => args.packing = value(),
            "--workers" => args.workers = value().parse().unwrap_or(1),
            _ => {} // `--bench` from cargo
        }
    }
    args
}

/// CPU time (user + system) in a /proc stat file (clock ticks of 1/100 s on Linux).
fn cpu_of(stat: &str) -> Duration {
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of proc(5) (utime, stime) are 12th and 13th after the name.
    let ticks: u64 = [11usize, 12]
        .iter()
        .filter_map(|i| fields.get(*i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    Duration::from_millis(ticks * 10)
}

/// CPU time of this process so far.
fn cpu_time() -> Duration {
    cpu_of(&std::fs::read_to_string("/proc/self/stat").unwrap_or_default())
}

/// What each thread has used, by thread id: sampled while the lines run, so the threads that
/// end with their run (the twin's runtime, the camera) keep their last figure.
#[derive(Debug, Default)]
struct ThreadCpu(std::collections::BTreeMap<String, (String, Duration)>);

impl ThreadCpu {
    fn sample(&mut self) {
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
            return;
        };
        for task in tasks.flatten() {
            let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
            let id = task.file_name().to_string_lossy().into_owned();
            self.0.insert(id, (name.trim().to_owned(), cpu_of(&stat)));
        }
    }

    /// CPU time by side: the controller (its runtime `controller`, the line I/O thread, SQLite's
    /// threads), the twin (its runtime `twin`, the PLC and the camera) and the embedded broker
    /// (everything else: rumqttd names no threads of its own).
    fn by_side(&self) -> [(&'static str, Duration); 3] {
        let mut sides = [
            ("controller (runtime, line-io, sqlx)", Duration::ZERO),
            ("twin (conveyor, marker sim, PLC, camera)", Duration::ZERO),
            ("embedded broker and the rest", Duration::ZERO),
        ];
        for (name, cpu) in self.0.values() {
            let side = if name.starts_with("controller")
                || name == "line-io"
                || name.starts_with("sqlx")
            {
                0
            } else if name.starts_with("twin") {
                1
            } else {
                2
            };
            sides[side].1 += *cpu;
        }
        sides
    }
}

async fn line_store(dir: &Path, line: usize, units: u64) -> (Store, i64) {
    let url = format!("sqlite://{}", dir.join(format!("line{line}.db")).display());
    let store = Store::open(
        &url,
        Actor {
            user: "bench".into(),
            device: format!("line{line}"),
        },
    )
    .await
    .expect("open the store");
    tracemark::app::packing::ensure_simulation_sscc_coding(
        &store,
        &Actor {
            user: "bench".into(),
            device: format!("line{line}"),
        },
    )
    .await
    .expect("an SSCC prefix");
    store
        .add_product(&commissioning::demo_product(
            "demo-widget",
            tracemark_store::Grade::C,
        ))
        .await
        .expect("add the product");
    let batch = store
        .create_batch(&NewBatch {
            product_id: "demo-widget".into(),
            lot: format!("BENCH-{line}"),
            quantity: units as i64,
            production_date: "2026-11-22".into(),
            expiry_date: None,
            line: Some(format!("demo-{line}")),
            simulated: false,
        })
        .await
        .expect("create the batch");
    store
        .set_batch_state(batch.id, BatchState::Running)
        .await
        .expect("start the batch");
    (store, batch.id)
}

fn main() {
    // `RUST_LOG=warn` (or any filter) logs what the lines say to stderr; without it, nothing is
    // logged, as the figures below assume.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let args = parse_args();
    let units = ((f64::from(args.speed) * args.minutes).round() as u64).max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers)
        .thread_name("controller")
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../line-configs/demo.toml");
    let mut line = tracemark::config::load(&config).expect("demo.toml");
    line.packing = match args.packing.as_str() {
        "none" => None,
        "inferred" => Some(tracemark::config::Packing {
            mode: tracemark::config::PackingMode::Inferred,
            units_per_case: Some(12),
            cases_per_pallet: 10,
            case_packer_count: true,
            case_camera: None,
            manual: None,
            label: None,
        }),
        _ => line.packing,
    };
    let broker = EmbeddedBroker::start().expect("broker");
    println!(
        "{} line(s) at {} units/min, {} units each ({} min), packing: {}",
        args.lines,
        args.speed,
        units,
        args.minutes,
        line.packing
            .as_ref()
            .map_or("none".to_owned(), |p| format!("{:?}", p.mode))
    );
    let cpu_before = cpu_time();
    let started = Instant::now();
    let (reports, threads): (Vec<Report>, ThreadCpu) = runtime.block_on(async {
        let mut runs = Vec::new();
        for i in 0..args.lines {
            let (store, batch) = line_store(dir.path(), i, units).await;
            let mut line = line.clone();
            line.id = format!("demo-{i}");
            let options = Options {
                units,
                speed_upm: Some(args.speed),
                faults: FaultProfile::Default,
                marker_faults: Vec::new(),
                packing_faults: commissioning::PackingFaults::None,
                seed: i as u64 + 1,
                broker: Some(("127.0.0.1".to_owned(), broker.addr().port())),
                live: None,
                journal: None,
                line_runtime: None,
            };
            runs.push(tokio::spawn(commissioning::run(
                line,
                store,
                batch,
                options,
                ProgressBar::hidden(),
            )));
        }
        let mut threads = ThreadCpu::default();
        let mut reports = Vec::new();
        for mut run in runs {
            // Once a second: each sample reads two files per thread, and at 32 lines (159
            // threads) sampling every 100 ms took two thirds of a core.
            let mut every = tokio::time::interval(Duration::from_secs(1));
            let report = loop {
                tokio::select! {
                    report = &mut run => break report,
                    _ = every.tick() => threads.sample(),
                }
            };
            reports.push(report.expect("join").expect("line run"));
        }
        threads.sample();
        (reports, threads)
    });
    let wall = started.elapsed();
    let cpu = cpu_time().saturating_sub(cpu_before);
    let total: u64 = reports.iter().map(|r| r.units).sum();
    println!(
        "| line | units | units/min | underruns | escapes | unaccounted | balanced | decision p50 | p99 | max | packed | cartons | pallets | aggregation disagreements |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (i, r) in reports.iter().enumerate() {
        let l = &r.line.decision_latency;
        println!(
            "| {i} | {} | {} | {} | {} | {} | {} | {} µs | {} µs | {} µs | {} | {} | {} | {} |",
            r.units,
            r.units_per_min,
            r.line.underruns,
            r.escapes,
            r.unaccounted,
            r.balanced,
            l.p50_us,
            l.p99_us,
            l.max_us,
            r.packed,
            r.cartons,
            r.pallets,
            r.aggregation_disagreements
        );
    }
    // What went wrong on a line, when something did: the rejects by reason, the line stops
    // (alarms), units that went by the marker unprinted, late confirmations, missed detections,
    // the packing's rework and loose units, and the last alarm. A clean line is left out; a
    // stalled run shows which lines and why.
    let troubled: Vec<(usize, &Report)> = reports
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            r.line.line_stops > 0
                || r.line.underruns > 0
                || !r.balanced
                || r.cases_reworked > 0
                || r.loose > 24
        })
        .collect();
    if !troubled.is_empty() {
        println!();
        println!(
            "| line | line stops | underruns | passed unprinted | late confirmations | missed detections | store errors | cases reworked | loose | labels failed | rejected by reason | last alarm |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
        for (i, r) in troubled {
            let s = &r.line;
            let rejected: Vec<String> =
                s.rejected.iter().map(|(k, v)| format!("{k} {v}")).collect();
            println!(
                "| {i} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                s.line_stops,
                s.underruns,
                s.passed_unprinted,
                s.late_confirmations,
                s.missed_detections,
                s.store_errors,
                r.cases_reworked,
                r.loose,
                r.labels.as_ref().map_or(0, |l| l.failed),
                rejected.join(", "),
                s.alarm.as_deref().unwrap_or("-")
            );
        }
    }
    for (i, r) in reports.iter().enumerate() {
        for what in r.escaped.iter().chain(&r.disagreements) {
            println!("  line {i}: {what}");
        }
    }
    println!(
        "wall {:.1} s, process CPU {:.1} s for {total} units: {:.0} µs CPU per unit (controller, twin, camera rendering and decoding, broker, SQLite)",
        wall.as_secs_f64(),
        cpu.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / total.max(1) as f64
    );
    for (side, time) in threads.by_side() {
        println!(
            "  {side:<42} {:>8.1} s  {:>6.0} µs/unit",
            time.as_secs_f64(),
            time.as_secs_f64() * 1e6 / total.max(1) as f64
        );
    }
}
