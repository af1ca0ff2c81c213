//! The public code lookup under load (issue 17): "≥ 10,000 lookups/s on this 2-core machine
//! with 1,000,000 codes stored, p99 ≤ 10 ms, measured with wrk".
//!
//! ```sh
//! scripts/install-wrk.sh                                          # Debian's wrk
//! cargo bench -p tracemark --bench lookup                         # SQLite, 1,000,000 codes, 20 s
//! cargo bench -p tracemark --bench lookup -- --pg                 # PostgreSQL too ($TRACEMARK_TEST_PG_URL)
//! cargo bench -p tracemark --bench lookup -- --codes 1000000 --sample 20000 --seconds 20 \
//!     --connections 32 --wrk-threads 1 [--accept json] [--keep DIR]
//! ```
//!
//! The store holds `--codes` codes in batches of 100,000 (each one allocation, the fastest
//! bulk path); `--sample` of them, spread evenly over all batches, are printed and verified
//! (the others stay `reserved`, which does not change a lookup's work: one row by primary key).
//! The server is [`HttpServer`] on a runtime of two worker threads with the rate limit lifted
//! and scan counting on (the real work: every lookup counted, counts written each second).
//! wrk runs as a child process for `--seconds` over `--connections` keep-alive connections,
//! its Lua script cycling through the sample's Digital Link paths (each wrk thread from its
//! own start), and reports throughput and latency percentiles; a run with any answer but 200
//! fails. With `--keep DIR` the filled SQLite store is kept in DIR and reused by the next run.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use common::load_average;
use tracemark::app::lookup::LookupSettings;
use tracemark::http::server::{HttpServer, LiveOptions, ServeOptions};
use tracemark_store::{
    Actor, BatchState, CodeState, Grade, MAX_ALLOCATION, NewBatch, Product, Store, Transition,
};

struct Args {
    codes: u64,
    sample: u64,
    seconds: u64,
    connections: u32,
    wrk_threads: u32,
    json: bool,
    keep: Option<PathBuf>,
    pg: bool,
    sqlite: bool,
}

fn parse_args() -> Args {
    let mut args = Args {
        codes: 1_000_000,
        sample: 20_000,
        seconds: 20,
        connections: 32,
        wrk_threads: 1,
        json: false,
        keep: None,
        pg: false,
        sqlite: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_default();
        match arg.as_str() {
            "--codes" => args.codes = value().parse().unwrap_or(args.codes),
            "--sample" => args.sample = value().parse().unwrap_or(args.sample).max(1),
            "--seconds" => args.seconds = value().parse().unwrap_or(args.seconds).max(1),
            "--connections" => {
                args.connections = value().parse().unwrap_or(args.connections).max(1);
            }
            "--wrk-threads" => {
                args.wrk_threads = value().parse().unwrap_or(args.wrk_threads).max(1);
            }
            "--accept" => args.json = value() == "json",
            "--keep" => args.keep = Some(PathBuf::from(value())),
            "--pg" => args.pg = true,
            "--pg-only" => (args.pg, args.sqlite) = (true, false),
            _ => {} // `--bench` from cargo
        }
    }
    args
}

fn actor() -> Actor {
    Actor {
        user: "bench".into(),
        device: "lookup".into(),
    }
}

const GTIN: &str = "09506000134352";

fn product() -> Product {
    Product {
        id: "bench".into(),
        scheme: tracemark_store::Scheme::Gs1,
        key: GTIN.into(),
        name: "电线电缆 BV 2.5".into(),
        category: "wire and cable".into(),
        model: "BV 2.5".into(),
        mandatory_standard: "GB/T 5023.3-2008".into(),
        licence_no: Some("XK06-001-00001".into()),
        ccc_cert_no: None,
        warranty_months: Some(24),
        retention_years: 3,
        serial_alphabet: tracemark_store::SerialAlphabet::Digits,
        serial_length: 12,
        pack_sizes: Vec::new(),
        min_grade: Grade::C,
    }
}

/// Fills the store (see the module's header); the sample's Digital Link paths.
async fn fill(store: &Store, args: &Args) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let started = Instant::now();
    if store.products().await?.is_empty() {
        store
            .set_producer(&tracemark_store::Producer {
                name: "某某电缆有限公司".into(),
                uscc: "91350100M000100Y43".into(),
                address: "福建省福州市".into(),
                contact: "0591-00000000".into(),
                business_licence: "91350100M000100Y43".into(),
            })
            .await?;
        store.add_product(&product()).await?;
    }
    let batches = args.codes.div_ceil(MAX_ALLOCATION);
    let per_batch = args.sample.div_ceil(batches).max(1);
    let mut sample = Vec::new();
    let existing = store.batches().await?;
    for n in 0..batches {
        let lot = format!("B-{n}");
        if let Some(batch) = existing.iter().find(|b| b.lot == lot) {
            // A kept store: the sample is the batch's verified codes.
            let codes = store
                .codes_of_batch(batch.id, CodeState::Verified, per_batch as i64)
                .await?;
            sample.extend(codes.into_iter().map(|c| c.code));
            continue;
        }
        let size = (args.codes - n * MAX_ALLOCATION).min(MAX_ALLOCATION);
        let batch = store
            .create_batch(&NewBatch {
                product_id: "bench".into(),
                lot,
                quantity: size as i64,
                production_date: "2026-12-01".into(),
                expiry_date: None,
                line: Some("line-1".into()),
                simulated: false,
            })
            .await?;
        store.set_batch_state(batch.id, BatchState::Running).await?;
        let codes = store.allocate("bench", size, Some(batch.id)).await?.codes;
        let step = (size / per_batch).max(1) as usize;
        let chosen: Vec<String> = codes
            .into_iter()
            .step_by(step)
            .take(per_batch as usize)
            .collect();
        for to in [CodeState::Sent, CodeState::Printed, CodeState::Verified] {
            let changes: Vec<Transition> = chosen
                .iter()
                .map(|c| Transition::to(c.as_str(), to))
                .collect();
            for result in store.transition(&changes).await? {
                result?;
            }
        }
        sample.extend(chosen);
    }
    println!(
        "  store ready in {:.1} s: {} codes in {batches} batches, {} verified codes in the sample",
        started.elapsed().as_secs_f64(),
        args.codes,
        sample.len()
    );
    Ok(sample
        .iter()
        .filter_map(|code| code.split("(21)").nth(1))
        .map(|serial| format!("/01/{GTIN}/21/{serial}"))
        .collect())
}

/// The wrk script: cycle through `paths`, each thread from a random start; print one line of
/// results wrk's own output does not have in this form.
fn script(paths: &[String], json: bool) -> String {
    let mut lua = String::from("local paths = {\n");
    for path in paths {
        lua.push_str(&format!("  \"{path}\",\n"));
    }
    let accept = if json {
        "application/json"
    } else {
        "text/html"
    };
    lua.push_str(&format!(
        r#"}}
local i = 0
local headers = {{ ["Accept"] = "{accept}", ["Accept-Language"] = "zh-CN" }}
init = function(args)
  math.randomseed(os.time() + tonumber(tostring({{}}):sub(8), 16))
  i = math.random(#paths)
end
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i], headers)
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_us=%d non2xx=%d socket_errors=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"#
    ));
    lua
}

fn field(line: &str, name: &str) -> u64 {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn run(label: &str, url: &str, args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    println!("{label}:");
    let store = Store::open(url, actor()).await?;
    let paths = fill(&store, args).await?;
    if let Some(file) = url.strip_prefix("sqlite://") {
        // Fold the fill's write-ahead log into the database, as a store at rest is.
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{file}")).await?;
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut conn)
            .await?;
    }
    let server = HttpServer::start_live(
        store.clone(),
        ServeOptions {
            addr: "127.0.0.1:0".parse()?,
            tls: None,
        },
        LiveOptions {
            lookup: LookupSettings {
                rate_per_second: 0,
                ..LookupSettings::default()
            },
            ..LiveOptions::default()
        },
    )
    .await?;
    let dir = tempfile::tempdir()?;
    let script_file = dir.path().join("lookup.lua");
    std::fs::write(&script_file, script(&paths, args.json))?;
    let base = server.url();
    // Warm-up: the product, producer and the sample's pages once through.
    let _ = Command::new("wrk")
        .args(["-t1", "-c4", "-d2s", "-s"])
        .arg(&script_file)
        .arg(&base)
        .output()?;
    let load_before = load_average();
    let output = tokio::task::spawn_blocking({
        let (script_file, base) = (script_file.clone(), base.clone());
        let (threads, connections, seconds) = (args.wrk_threads, args.connections, args.seconds);
        move || {
            Command::new("wrk")
                .arg(format!("-t{threads}"))
                .arg(format!("-c{connections}"))
                .arg(format!("-d{seconds}s"))
                .arg("--latency")
                .arg("-s")
                .arg(&script_file)
                .arg(&base)
                .output()
        }
    })
    .await??;
    let load_after = load_average();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let Some(line) = stdout.lines().find(|l| l.starts_with("RESULT")) else {
        return Err(format!(
            "wrk gave no result: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    };
    let requests = field(line, "requests");
    let seconds = field(line, "duration_us") as f64 / 1e6;
    let ms = |name: &str| field(line, name) as f64 / 1000.0;
    println!(
        "  wrk -t{} -c{} -d{}s, Accept {}, {} paths; load average {load_before} → {load_after}",
        args.wrk_threads,
        args.connections,
        args.seconds,
        if args.json {
            "application/json"
        } else {
            "text/html"
        },
        paths.len()
    );
    println!("  | lookups/s | p50 | p90 | p99 | max | not 200 | socket errors |");
    println!("  |---|---|---|---|---|---|---|");
    println!(
        "  | {:.0} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {} | {} |",
        requests as f64 / seconds,
        ms("p50_us"),
        ms("p90_us"),
        ms("p99_us"),
        ms("max_us"),
        field(line, "non2xx"),
        field(line, "socket_errors"),
    );
    let flushed = server.lookup.waiting_scans();
    server.shutdown().await;
    println!("  scans waiting at the end (written on shutdown): {flushed} codes");
    if field(line, "non2xx") > 0 {
        return Err("answers other than 200: see the table".into());
    }
    store.close().await;
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args();
    if Command::new("wrk").arg("--version").output().is_err() {
        return Err("wrk is not installed: run scripts/install-wrk.sh".into());
    }
    println!(
        "public lookup: {} codes stored, {} s of wrk per store (issue 17: ≥ 10,000 lookups/s, p99 ≤ 10 ms)",
        args.codes, args.seconds
    );
    if args.sqlite {
        let (_temp, dir) = match &args.keep {
            Some(dir) => {
                std::fs::create_dir_all(dir)?;
                (None, dir.clone())
            }
            None => {
                let temp = tempfile::tempdir()?;
                let path = temp.path().to_owned();
                (Some(temp), path)
            }
        };
        let url = format!("sqlite://{}", dir.join("lookup.db").display());
        run("SQLite", &url, &args).await?;
    }
    if args.pg {
        match std::env::var("TRACEMARK_TEST_PG_URL") {
            Ok(base) if !base.is_empty() => {
                let schema = format!("tm_bench_lookup_{}", std::process::id());
                let pool = sqlx::PgPool::connect(&base).await?;
                sqlx::query(&format!("CREATE SCHEMA {schema}"))
                    .execute(&pool)
                    .await?;
                let sep = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{sep}options[search_path]={schema}");
                let result = run("PostgreSQL", &url, &args).await;
                let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                    .execute(&pool)
                    .await;
                result?;
            }
            _ => println!("PostgreSQL: skipped (TRACEMARK_TEST_PG_URL not set)"),
        }
    }
    Ok(())
}
