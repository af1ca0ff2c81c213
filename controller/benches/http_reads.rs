//! API reads under load (issue 16): "API reads (batch list, rejects page) p99 ≤ 20 ms at 200
//! requests/s with 1,000,000 codes stored."
//!
//! ```sh
//! cargo bench -p tracemark --bench http_reads                      # SQLite, 1,000,000 codes, 30 s
//! cargo bench -p tracemark --bench http_reads -- --pg              # PostgreSQL too ($TRACEMARK_TEST_PG_URL)
//! cargo bench -p tracemark --bench http_reads -- --codes 1000000 --batch-size 100000 \
//!     --old-batches 990 --rate 200 --seconds 30
//! ```
//!
//! The store holds `--codes` codes in batches of `--batch-size` (each one allocation, the
//! fastest bulk path), 1 % of each batch's codes rejected (sent, printed, then rejected as a
//! low grade with the camera's read) and a tenth of those destroyed by QA; and `--old-batches`
//! batches without codes, standing for the plant's earlier batches in the batch list. The
//! codes not rejected stay `reserved`: both reads select by batch, so what the others' state
//! is does not change the work.
//!
//! The server is [`HttpServer`] on a runtime of two threads (`server`); the load is an open
//! loop on a thread of its own (`load`): request *i* is due at *start + i / rate*, sent then
//! whatever happened to the ones before, and its latency is counted from when it was due, so
//! a slow answer delays nothing and hides nothing (no coordinated omission). The requests
//! alternate `GET /api/v1/batches` (the first page) and `GET /api/v1/batches/{id}/rejects`
//! (the first page, the batches with codes in turn), each with a bearer token; the first
//! second is a warm-up and is not counted. It prints p50, p99 and max per operation, with the
//! load average before and after.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Latencies, ThreadCpu, cpu_time, load_average};
use sqlx::Connection;
use tracemark::app::users::{self, Role};
use tracemark::http::server::{HttpServer, ServeOptions};
use tracemark_store::{
    Actor, BatchState, CodeRead, CodeState, Grade, MAX_ALLOCATION, NewBatch, Product, RejectReason,
    Store, Transition,
};

struct Args {
    codes: u64,
    batch_size: u64,
    old_batches: u64,
    rate: u32,
    seconds: u64,
    pg: bool,
    sqlite: bool,
}

fn parse_args() -> Args {
    let mut args = Args {
        codes: 1_000_000,
        batch_size: MAX_ALLOCATION,
        old_batches: 990,
        rate: 200,
        seconds: 30,
        pg: false,
        sqlite: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_default();
        match arg.as_str() {
            "--codes" => args.codes = value().parse().unwrap_or(args.codes),
            "--batch-size" => {
                args.batch_size = value()
                    .parse::<u64>()
                    .unwrap_or(args.batch_size)
                    .clamp(100, MAX_ALLOCATION);
            }
            "--old-batches" => args.old_batches = value().parse().unwrap_or(args.old_batches),
            "--rate" => args.rate = value().parse().unwrap_or(args.rate).max(1),
            "--seconds" => args.seconds = value().parse().unwrap_or(args.seconds).max(1),
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
        device: "http-reads".into(),
    }
}

fn product() -> Product {
    Product {
        id: "bench".into(),
        scheme: tracemark_store::Scheme::Gs1,
        key: "09506000134352".into(),
        name: "Bench".into(),
        category: "bench".into(),
        model: "b".into(),
        mandatory_standard: "GB 0".into(),
        licence_no: None,
        ccc_cert_no: None,
        warranty_months: None,
        retention_years: 3,
        serial_alphabet: tracemark_store::SerialAlphabet::Digits,
        serial_length: 12,
        pack_sizes: Vec::new(),
        min_grade: Grade::C,
    }
}

fn new_batch(lot: String, quantity: u64) -> NewBatch {
    NewBatch {
        product_id: "bench".into(),
        lot,
        quantity: quantity as i64,
        production_date: "2026-12-05".into(),
        expiry_date: None,
        line: Some("line-1".into()),
        simulated: false,
    }
}

/// Applies `changes`, every one of which must be allowed.
async fn apply(store: &Store, changes: Vec<Transition>) -> Result<(), Box<dyn std::error::Error>> {
    for result in store.transition(&changes).await? {
        result?;
    }
    Ok(())
}

/// Fills the store (see the module's header); the batches with codes, and a reader's token.
async fn fill(
    store: &Store,
    args: &Args,
) -> Result<(Vec<i64>, String), Box<dyn std::error::Error>> {
    store.add_product(&product()).await?;
    let started = Instant::now();
    for n in 0..args.old_batches {
        store
            .create_batch(&new_batch(format!("OLD-{n}"), 1_000))
            .await?;
    }
    let mut batches = Vec::new();
    let mut left = args.codes;
    while left > 0 {
        let size = left.min(args.batch_size);
        let batch = store
            .create_batch(&new_batch(format!("B-{}", batches.len()), size))
            .await?;
        store.set_batch_state(batch.id, BatchState::Running).await?;
        let codes = store.allocate("bench", size, Some(batch.id)).await?.codes;
        let rejects: Vec<String> = codes.into_iter().step_by(100).collect();
        for to in [CodeState::Sent, CodeState::Printed] {
            apply(
                store,
                rejects
                    .iter()
                    .map(|c| Transition::to(c.as_str(), to))
                    .collect(),
            )
            .await?;
        }
        apply(
            store,
            rejects
                .iter()
                .map(|c| Transition {
                    code: c.clone(),
                    to: CodeState::Rejected,
                    reason: Some(RejectReason::LowGrade),
                    read: Some(CodeRead {
                        grade: Some(Grade::D),
                        data: Some(format!("]d2{c}")),
                    }),
                })
                .collect(),
        )
        .await?;
        apply(
            store,
            rejects
                .iter()
                .step_by(10)
                .map(|c| Transition::to(c.as_str(), CodeState::Destroyed))
                .collect(),
        )
        .await?;
        batches.push(batch.id);
        left -= size;
    }
    users::add_user(store, &actor(), "reader", Role::Qa, "correct horse battery").await?;
    let token = users::create_token(store, &actor(), "reader", None)
        .await?
        .token;
    println!(
        "  filled in {:.1} s: {} codes in {} batches of ≤ {} (1 % rejected, a tenth of those destroyed), {} old batches without codes",
        started.elapsed().as_secs_f64(),
        args.codes,
        batches.len(),
        args.batch_size,
        args.old_batches
    );
    Ok((batches, token))
}

/// The two operations measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Batches,
    Rejects,
}

/// One request's outcome: its operation, latency from when it was due, and status (0: no
/// answer).
type Sample = (Op, Duration, u16);

/// The open loop: `rate` requests a second for `seconds` (plus one of warm-up), on a thread
/// and runtime of their own.
fn drive(base: String, token: String, batches: Vec<i64>, rate: u32, seconds: u64) -> Vec<Sample> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("the load's runtime");
    runtime.block_on(async move {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("an HTTP client");
        let token = Arc::new(token);
        let period = Duration::from_secs(1) / rate;
        let total = u64::from(rate) * (seconds + 1);
        let start = tokio::time::Instant::now() + Duration::from_millis(50);
        let mut requests = tokio::task::JoinSet::new();
        for i in 0..total {
            let due = start + period * i as u32;
            tokio::time::sleep_until(due).await;
            let (op, url) = if i % 2 == 0 {
                (Op::Batches, format!("{base}/api/v1/batches"))
            } else {
                let batch = batches[(i as usize / 2) % batches.len()];
                (
                    Op::Rejects,
                    format!("{base}/api/v1/batches/{batch}/rejects"),
                )
            };
            let client = client.clone();
            let token = token.clone();
            let warm_up = i < u64::from(rate);
            requests.spawn(async move {
                let status = match client.get(&url).bearer_auth(token.as_str()).send().await {
                    // The whole answer read: the time a client waits for the page.
                    Ok(response) => {
                        let status = response.status().as_u16();
                        match response.bytes().await {
                            Ok(_) => status,
                            Err(_) => 0,
                        }
                    }
                    Err(_) => 0,
                };
                (warm_up, (op, due.elapsed(), status))
            });
        }
        let mut samples = Vec::new();
        while let Some(done) = requests.join_next().await {
            if let Ok((false, sample)) = done {
                samples.push(sample);
            }
        }
        samples
    })
}

async fn run(label: &str, url: &str, args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    println!("{label}:");
    let store = Store::open(url, actor()).await?;
    let (batches, token) = fill(&store, args).await?;
    if let Some(file) = url.strip_prefix("sqlite://") {
        // Fold the fill's write-ahead log into the database, as SQLite's checkpoints do for a
        // store at rest: a read otherwise looks through a log of a million codes' pages.
        if std::env::var_os("TRACEMARK_BENCH_NO_CHECKPOINT").is_none() {
            let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{file}")).await?;
            let started = Instant::now();
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&mut conn)
                .await?;
            println!(
                "  WAL checkpoint after the fill: {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    if url.starts_with("postgres") {
        // Statistics for the planner, as autovacuum's analyze gives a store at rest: right
        // after a bulk fill PostgreSQL knows nothing of the million rows and plans scans.
        if std::env::var_os("TRACEMARK_BENCH_NO_ANALYZE").is_none() {
            let mut conn = sqlx::PgConnection::connect(url).await?;
            let started = Instant::now();
            sqlx::query("ANALYZE").execute(&mut conn).await?;
            println!(
                "  ANALYZE after the fill: {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    let server = HttpServer::start(
        store.clone(),
        ServeOptions {
            addr: "127.0.0.1:0".parse()?,
            tls: None,
        },
    )
    .await?;
    let (base, rate, seconds) = (server.url(), args.rate, args.seconds);
    let load_before = load_average();
    let mut before = ThreadCpu::default();
    before.sample();
    let cpu_before = cpu_time();
    let started = Instant::now();
    let load = std::thread::Builder::new()
        .name("load".into())
        .spawn(move || drive(base, token, batches, rate, seconds))?;
    let samples = tokio::task::spawn_blocking(move || load.join())
        .await?
        .map_err(|_| "the load's thread panicked")?;
    let wall = started.elapsed();
    let cpu = cpu_time().saturating_sub(cpu_before);
    let mut after = ThreadCpu::default();
    after.sample();
    let load_after = load_average();
    println!(
        "  {rate} requests/s for {seconds} s (after 1 s of warm-up), load average {load_before} → {load_after}"
    );
    println!("  | operation | requests | not 200 | p50 | p99 | max |");
    println!("  |---|---|---|---|---|---|");
    for (op, name) in [
        (Op::Batches, "GET /api/v1/batches"),
        (Op::Rejects, "GET /api/v1/batches/{id}/rejects"),
    ] {
        let of_op: Vec<&Sample> = samples.iter().filter(|s| s.0 == op).collect();
        let failed = of_op.iter().filter(|s| s.2 != 200).count();
        let mut latencies = Latencies(
            of_op
                .iter()
                .map(|s| u64::try_from(s.1.as_micros()).unwrap_or(u64::MAX))
                .collect(),
        );
        println!(
            "  | {name} | {} | {failed} | {} |",
            of_op.len(),
            latencies.summary()
        );
    }
    let threads = after.since(&before);
    println!(
        "  process CPU {:.1} s over {:.1} s ({:.0} % of one core):",
        cpu.as_secs_f64(),
        wall.as_secs_f64(),
        cpu.as_secs_f64() * 100.0 / wall.as_secs_f64()
    );
    for (side, time) in threads.by_side(&[
        ("server (runtime, sqlx)", &["server", "sqlx"][..]),
        ("load (reqwest)", &["load"]),
        ("the rest", &[]),
    ]) {
        println!(
            "    {side:<24} {:>6.1} s  {:>5.0} % of one core",
            time.as_secs_f64(),
            time.as_secs_f64() * 100.0 / wall.as_secs_f64()
        );
    }
    drop(server);
    store.close().await;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo test --benches` passes no `--bench`: only run when benchmarking.
    if !std::env::args().any(|a| a == "--bench") {
        return Ok(());
    }
    let args = parse_args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("server")
        .enable_all()
        .build()?;
    runtime.block_on(async {
        if args.sqlite {
            let dir = tempfile::tempdir()?;
            let url = format!("sqlite://{}", dir.path().join("reads.db").display());
            run("sqlite", &url, &args).await?;
        }
        if args.pg {
            let Ok(base) = std::env::var("TRACEMARK_TEST_PG_URL") else {
                println!("postgres: skipped: TRACEMARK_TEST_PG_URL not set");
                return Ok(());
            };
            let schema = format!("tm_reads_{}", std::process::id());
            let mut conn = sqlx::PgConnection::connect(&base).await?;
            sqlx::query(&format!("CREATE SCHEMA {schema}"))
                .execute(&mut conn)
                .await?;
            let sep = if base.contains('?') { '&' } else { '?' };
            let result = run(
                "postgres",
                &format!("{base}{sep}options[search_path]={schema}"),
                &args,
            )
            .await;
            sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&mut conn)
                .await?;
            result?;
        }
        Ok(())
    })
}
