//! A plant on this machine (issue 18 performance): several lines, each a `tracemark simulate`
//! process of its own (controller and twin), all on one PostgreSQL database made for the run.
//!
//! ```sh
//! TRACEMARK_TEST_PG_URL=postgres://postgres@127.0.0.1:5432/test \
//!   cargo bench -p tracemark --bench plant -- --lines 4 --speed 1400 --minutes 2
//! ```
//!
//! `--speed` is nominal (the twin leaves gaps: the achieved rate is about 14 % lower, so 1,400
//! gives about 1,200 units/min); `--packing config|none` (default `config`: demo.toml's case
//! camera station); `--keep` keeps the database. Lines alternate between two products, so
//! two lines share each product's serial counter. The server is `TRACEMARK_BENCH_PG_URL`, else
//! `TRACEMARK_TEST_PG_URL`.
//!
//! It prints per line the run's summary (units, units/min, underruns, escapes, unaccounted,
//! balanced, store errors, decision latency, packing) and the process's CPU time; the CPU time
//! of the database's backends and of the whole machine; and the checks of the plant's store
//! that every test of `tests/tests/plant.rs` makes: blocks disjoint, no code text twice, codes
//! inside their blocks, each batch's codes from its own line's blocks, the audit chain
//! verifies. It exits 1 unless every line is clean and every check holds.

mod common;

#[allow(dead_code, unreachable_pub)]
#[path = "../../tests/src/plant.rs"]
mod plant;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use common::{cpu_of, load_average};
use plant::{FreshDatabase, PlantState};

struct Args {
    lines: usize,
    speed: u32,
    minutes: f64,
    packing: String,
    keep: bool,
}

fn parse_args() -> Args {
    let mut args = Args {
        lines: 4,
        speed: 1_400,
        minutes: 2.0,
        packing: "config".to_owned(),
        keep: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_default();
        match arg.as_str() {
            "--lines" => args.lines = value().parse().unwrap_or(4),
            "--speed" => args.speed = value().parse().unwrap_or(1_400),
            "--minutes" => args.minutes = value().parse().unwrap_or(2.0),
            "--packing" => args.packing = value(),
            "--keep" => args.keep = true,
            _ => {} // `--bench` from cargo
        }
    }
    args
}

/// The line config every process runs: demo.toml, or demo.toml without its packing station.
fn line_config(packing: &str, dir: &Path) -> PathBuf {
    let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../line-configs");
    let demo = configs.join("demo.toml");
    if packing != "none" {
        return demo;
    }
    let text = std::fs::read_to_string(&demo).expect("demo.toml");
    let line = text
        .split("\n# The packing station")
        .next()
        .unwrap_or(&text);
    // Its label and device files are named relative to line-configs/.
    let dir_text = format!("{}/", configs.display());
    let line = line
        .replace("= \"labels/", &format!("= \"{dir_text}labels/"))
        .replace("= \"devices/", &format!("= \"{dir_text}devices/"));
    let path = dir.join("demo-without-packing.toml");
    std::fs::write(&path, line).expect("write the config");
    path
}

/// CPU time of process `pid` so far (all its threads), zero once it is gone.
fn process_cpu(pid: u32) -> Duration {
    cpu_of(&std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default())
}

/// The machine's busy and total clock ticks since boot (`/proc/stat`, all cores).
fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    let total: u64 = fields.iter().sum();
    // idle and iowait
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

/// The server processes of the connections to `database` now.
async fn backends(base: &str, database: &str) -> Vec<u32> {
    use sqlx::Connection as _;
    let Ok(mut conn) = sqlx::PgConnection::connect(base).await else {
        return Vec::new();
    };
    let pids: Vec<i32> = sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE datname = $1")
        .bind(database)
        .fetch_all(&mut conn)
        .await
        .unwrap_or_default();
    let _ = conn.close().await;
    pids.into_iter()
        .filter_map(|p| u32::try_from(p).ok())
        .collect()
}

fn main() -> ExitCode {
    let args = parse_args();
    let Some(base) = std::env::var("TRACEMARK_BENCH_PG_URL")
        .or_else(|_| std::env::var("TRACEMARK_TEST_PG_URL"))
        .ok()
        .filter(|url| !url.is_empty())
    else {
        println!("skipped: neither TRACEMARK_BENCH_PG_URL nor TRACEMARK_TEST_PG_URL is set");
        return ExitCode::SUCCESS;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(args, base))
}

async fn run(args: Args, base: String) -> ExitCode {
    let units = ((f64::from(args.speed) * args.minutes).round() as u64).max(1);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = line_config(&args.packing, dir.path());
    let database = FreshDatabase::create(&base, "bench_plant").await;
    println!(
        "{} lines at {} units/min nominal, {units} units each ({} min), packing: {}, one \
         PostgreSQL database ({}); load average before: {}",
        args.lines,
        args.speed,
        args.minutes,
        args.packing,
        database.name,
        load_average()
    );
    let lines: Vec<(String, &str)> = (0..args.lines)
        .map(|i| {
            let product = if i % 2 == 0 {
                "demo-widget"
            } else {
                "widget-b"
            };
            (format!("plant-{i}"), product)
        })
        .collect();
    let (busy_before, total_before) = machine_ticks();
    let started = Instant::now();
    let mut children = Vec::new();
    for (line, product) in &lines {
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tracemark"))
            .arg("simulate")
            .arg("--config")
            .arg(&config)
            .args(["--units", &units.to_string()])
            .args(["--speed", &args.speed.to_string(), "--json"])
            .env("TRACEMARK_DB", &database.url)
            .env("TRACEMARK_USER", "bench")
            .env("TRACEMARK_LINE__ID", line)
            .env("TRACEMARK_LINE__PRODUCT", product)
            .stdout(Stdio::piped())
            .stderr(
                std::fs::File::create(dir.path().join(format!("{line}.stderr"))).expect("stderr"),
            )
            .kill_on_drop(true)
            .spawn()
            .expect("start tracemark simulate");
        children.push(child);
    }
    let pids: Vec<u32> = children.iter().filter_map(|c| c.id()).collect();
    // Sampled while the lines run: a process's figure is gone once it has been reaped.
    let mut line_cpu = vec![Duration::ZERO; pids.len()];
    let mut backend_cpu: BTreeMap<u32, Duration> = BTreeMap::new();
    let mut waits: Vec<_> = children
        .into_iter()
        .map(|child| tokio::spawn(child.wait_with_output()))
        .collect();
    let mut line_wall = vec![Duration::ZERO; pids.len()];
    let mut every = tokio::time::interval(Duration::from_millis(250));
    while !waits.iter().all(|w| w.is_finished()) {
        every.tick().await;
        for (i, wait) in waits.iter().enumerate() {
            if !wait.is_finished() {
                line_wall[i] = started.elapsed();
            }
        }
        for (i, pid) in pids.iter().enumerate() {
            line_cpu[i] = line_cpu[i].max(process_cpu(*pid));
        }
        for pid in backends(&base, &database.name).await {
            let cpu = process_cpu(pid);
            let seen = backend_cpu.entry(pid).or_default();
            *seen = (*seen).max(cpu);
        }
    }
    let wall = started.elapsed();
    let (busy_after, total_after) = machine_ticks();
    let mut summaries = Vec::new();
    for wait in waits.drain(..) {
        let out = wait.await.expect("join").expect("the line ends");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let summary: Value = stdout
            .lines()
            .last()
            .and_then(|line| serde_json::from_str(line).ok())
            .unwrap_or(Value::Null);
        summaries.push((out.status.success(), summary));
    }

    println!(
        "| line | product | units | units/min | underruns | rejected | line stops | escapes | unaccounted | balanced | closed balanced | store errors | decision p50 | p99 | max | packed | cartons | process CPU | wall |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut problems = Vec::new();
    for ((((line, product), (success, s)), cpu), ended) in
        lines.iter().zip(&summaries).zip(&line_cpu).zip(&line_wall)
    {
        let l = &s["line"]["decision_latency"];
        println!(
            "| {line} | {product} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} µs | {} µs | {} µs | {} | {} | {:.1} s | {:.0} s |",
            s["units"],
            s["units_per_min"],
            s["line"]["underruns"],
            s["rejected"],
            s["line"]["line_stops"],
            s["escapes"],
            s["unaccounted"],
            s["balanced"],
            s["closed_balanced"],
            s["line"]["store_errors"],
            l["p50_us"],
            l["p99_us"],
            l["max_us"],
            s["packed"],
            s["cartons"],
            cpu.as_secs_f64(),
            ended.as_secs_f64()
        );
        let clean = *success
            && s["units"] == units
            && s["escapes"] == 0
            && s["duplicates"] == 0
            && s["unaccounted"] == 0
            && s["balanced"] == true
            && s["closed_balanced"] == true
            && s["line"]["store_errors"] == 0
            && s["line"]["underruns"] == 0
            && s["disagreements"].as_array().is_some_and(Vec::is_empty);
        if !clean {
            // Its first log lines (a line that slips keeps alarming: the rest repeats them).
            let log = std::fs::read_to_string(dir.path().join(format!("{line}.stderr")))
                .unwrap_or_default();
            let first: Vec<&str> = log.lines().take(12).collect();
            problems.push(format!(
                "{line} is not clean (exit ok: {success}; {} log lines, the first):\n{}\n{}",
                log.lines().count(),
                first.join("\n"),
                serde_json::to_string(s).unwrap_or_default()
            ));
        }
    }
    let lines_cpu: Duration = line_cpu.iter().sum();
    let db_cpu: Duration = backend_cpu.values().sum();
    let total_units: u64 = summaries
        .iter()
        .filter_map(|(_, s)| s["units"].as_u64())
        .sum();
    let busy = (busy_after - busy_before) as f64 / (total_after - total_before).max(1) as f64;
    println!(
        "wall {:.1} s for {total_units} units; CPU: the {} line processes {:.1} s ({:.0} µs per \
         unit), the database's {} backends {:.1} s ({:.0} µs per unit); the machine was {:.0} % \
         busy (all users); load average after: {}",
        wall.as_secs_f64(),
        lines.len(),
        lines_cpu.as_secs_f64(),
        lines_cpu.as_secs_f64() * 1e6 / total_units.max(1) as f64,
        backend_cpu.len(),
        db_cpu.as_secs_f64(),
        db_cpu.as_secs_f64() * 1e6 / total_units.max(1) as f64,
        busy * 100.0,
        load_average()
    );

    let state = PlantState::read(&database.url).await;
    let checks = std::panic::catch_unwind(|| {
        state.assert_consistent();
        state.assert_batches_issued_by_their_own_line("simulate");
    });
    if checks.is_err() {
        problems.push("the plant's store fails its checks (above)".into());
    }
    let audit = std::process::Command::new(env!("CARGO_BIN_EXE_tracemark"))
        .args(["audit", "verify"])
        .env("TRACEMARK_DB", &database.url)
        .output()
        .expect("tracemark audit verify");
    let audit_text = String::from_utf8_lossy(&audit.stdout).trim().to_owned();
    if !audit.status.success() {
        problems.push(format!(
            "audit verify: {audit_text}{}",
            String::from_utf8_lossy(&audit.stderr)
        ));
    }
    println!(
        "store: {} codes in {} serial blocks, none overlapping: {}, no code text twice: {}, \
         each batch's codes from its own line's blocks: {}; {audit_text}",
        state.codes,
        state.blocks.len(),
        state.overlapping_blocks().is_empty(),
        state.duplicate_texts.is_empty(),
        checks.is_ok()
    );
    if !problems.is_empty() {
        // The lines' whole logs, for a look after the run.
        let logs = dir.keep();
        println!("the lines' logs: {}", logs.display());
    }
    if args.keep {
        println!("kept: {}", database.url);
    } else {
        database.drop_now().await;
    }
    if problems.is_empty() {
        println!("all clean");
        ExitCode::SUCCESS
    } else {
        for problem in &problems {
            println!("NOT CLEAN: {problem}");
        }
        ExitCode::FAILURE
    }
}
