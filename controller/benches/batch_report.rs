//! The batch report of a large batch (issue 17): "a report for a 1,000,000-unit batch in
//! ≤ 5 s".
//!
//! ```sh
//! cargo bench -p tracemark --bench batch_report                  # SQLite, 1,000,000 units
//! cargo bench -p tracemark --bench batch_report -- --pg          # PostgreSQL too ($TRACEMARK_TEST_PG_URL)
//! cargo bench -p tracemark --bench batch_report -- --units 200000 --runs 3
//! ```
//!
//! The store holds one batch of `--units` codes (allocations of 100,000, the fastest bulk
//! path). 1 % of them go the store's own way (sent, printed, rejected with the camera's read,
//! for one of four reasons, a tenth of those destroyed); the others are set verified with a
//! read (grades A, B, C in turn) by SQL, each read dated by one of `units / 500` audit events
//! of their own (a line's group commits of 500 units), so the report's time series join that
//! many events, as on a line. The batch is paused, resumed and closed. Then the report
//! (`app::report::batch`: one pass over the batch's codes for the reconciliation and the time
//! series, the Pareto, the grades, the timeline, deliveries and the verification of the whole
//! audit chain) is made `--runs` times
//! and the HTML drawn; each part is also timed alone.

use std::time::Instant;

use sqlx::Connection;
use tracemark::app::report;
use tracemark::app::users::Language;
use tracemark_store::{
    Actor, BatchState, CodeRead, CodeState, Grade, MAX_ALLOCATION, NewBatch, Product, RejectReason,
    Store, Transition,
};

struct Args {
    units: u64,
    runs: u32,
    pg: bool,
    sqlite: bool,
}

fn parse_args() -> Args {
    let mut args = Args {
        units: 1_000_000,
        runs: 3,
        pg: false,
        sqlite: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_default();
        match arg.as_str() {
            "--units" => args.units = value().parse().unwrap_or(args.units).max(1_000),
            "--runs" => args.runs = value().parse().unwrap_or(args.runs).max(1),
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
        device: "batch-report".into(),
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

type BoxError = Box<dyn std::error::Error>;

/// Applies `changes`, every one of which must be allowed.
async fn apply(store: &Store, changes: Vec<Transition>) -> Result<(), BoxError> {
    for result in store.transition(&changes).await? {
        result?;
    }
    Ok(())
}

/// Units per audit event of the verified units: a line's group commit.
const GROUP: u64 = 500;

/// Runs `sql` on a connection of its own (the store's pool is not public).
async fn execute(url: &str, sql: &str) -> Result<u64, BoxError> {
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await?;
        let done = sqlx::query(sql).execute(&mut conn).await?;
        Ok(done.rows_affected())
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await?;
        let done = sqlx::query(sql).execute(&mut conn).await?;
        Ok(done.rows_affected())
    }
}

/// Fills the store (see the module's header); the batch's number.
async fn fill(store: &Store, url: &str, units: u64) -> Result<i64, BoxError> {
    let started = Instant::now();
    store.add_product(&product()).await?;
    let batch = store
        .create_batch(&NewBatch {
            product_id: "bench".into(),
            lot: "BIG".into(),
            quantity: units as i64,
            production_date: "2026-12-05".into(),
            expiry_date: None,
            line: Some("line-1".into()),
            simulated: false,
        })
        .await?;
    store.set_batch_state(batch.id, BatchState::Running).await?;
    let mut left = units;
    let mut codes = Vec::new();
    while left > 0 {
        let size = left.min(MAX_ALLOCATION);
        let allocated = store.allocate("bench", size, Some(batch.id)).await?.codes;
        codes.extend(allocated.into_iter().step_by(100));
        left -= size;
    }
    let reasons = [
        RejectReason::LowGrade,
        RejectReason::NoRead,
        RejectReason::Mismatch,
        RejectReason::Late,
    ];
    for to in [CodeState::Sent, CodeState::Printed] {
        apply(
            store,
            codes
                .iter()
                .map(|c| Transition::to(c.as_str(), to))
                .collect(),
        )
        .await?;
    }
    let rejects: Vec<Transition> = codes
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let reason = reasons[(i * 7 / 10) % 4 * (i % 3).min(1)];
            Transition {
                code: c.clone(),
                to: CodeState::Rejected,
                reason: Some(reason),
                read: Some(CodeRead {
                    grade: (reason != RejectReason::NoRead).then_some(Grade::D),
                    data: Some(format!("]d2{c}")),
                }),
            }
        })
        .collect();
    apply(store, rejects).await?;
    apply(
        store,
        codes
            .iter()
            .step_by(10)
            .map(|c| Transition::to(c.as_str(), CodeState::Destroyed))
            .collect(),
    )
    .await?;
    store.set_batch_state(batch.id, BatchState::Paused).await?;
    // The group commits' events: what the verified units' reads are dated by.
    let (first_seq, _) = store.audit_head().await?;
    let groups = units.div_ceil(GROUP);
    for g in 0..groups {
        store
            .record_line_command("bench-groups", batch.id, "resumed", Some(&format!("g{g}")))
            .await?;
    }
    let verified = execute(
        url,
        &format!(
            "INSERT INTO code_reads (product_id, counter, grade, data, event) \
             SELECT product_id, counter, \
               CASE counter % 3 WHEN 0 THEN 'A' WHEN 1 THEN 'B' ELSE 'C' END, NULL, \
               {} + counter / {GROUP} \
             FROM codes WHERE batch_id = {} AND state = 'reserved'",
            first_seq + 1,
            batch.id
        ),
    )
    .await?;
    execute(
        url,
        &format!(
            "UPDATE codes SET state = 'verified' WHERE batch_id = {} AND state = 'reserved'",
            batch.id
        ),
    )
    .await?;
    store.set_batch_state(batch.id, BatchState::Running).await?;
    store
        .record_line_command("line-1", batch.id, "stopped", Some("bench"))
        .await?;
    store.set_batch_state(batch.id, BatchState::Closed).await?;
    if let Some(file) = url.strip_prefix("sqlite://") {
        // Fold the fill's write-ahead log into the database, as SQLite's checkpoints do for a
        // store at rest.
        execute(
            &format!("sqlite://{file}"),
            "PRAGMA wal_checkpoint(TRUNCATE)",
        )
        .await?;
    } else {
        execute(url, "ANALYZE").await?;
    }
    println!(
        "  filled in {:.1} s: {units} codes, {verified} verified by SQL in {groups} events of {GROUP}, {} rejected through the store",
        started.elapsed().as_secs_f64(),
        codes.len()
    );
    Ok(batch.id)
}

async fn run(label: &str, url: &str, args: &Args) -> Result<(), BoxError> {
    println!("{label}:");
    let store = Store::open(url, actor()).await?;
    let batch = fill(&store, url, args.units).await?;
    let mut times = Vec::new();
    for run in 0..args.runs {
        let started = Instant::now();
        let made = report::batch(&store, batch).await?;
        let html = tracemark::http::hmi::report::html(&made, Language::En)?;
        let took = started.elapsed().as_secs_f64();
        times.push(took);
        let units: i64 = made.throughput.iter().map(|b| b.units).sum();
        println!(
            "  run {}: {took:.2} s (report and HTML of {} bytes): {} units in {} buckets, {} rejected, {} reads, {} events verified",
            run + 1,
            html.len(),
            units,
            made.throughput.len(),
            made.summary.reconciliation.rejected,
            made.reads,
            made.audit.events
        );
    }
    times.sort_by(f64::total_cmp);
    println!(
        "  report of a {}-unit batch: best {:.2} s, median {:.2} s, worst {:.2} s",
        args.units,
        times[0],
        times[times.len() / 2],
        times[times.len() - 1]
    );
    // Each part alone.
    let part = |name: &str, started: Instant| {
        println!("    {name:<42} {:.2} s", started.elapsed().as_secs_f64());
    };
    let t = Instant::now();
    tracemark::app::batches::report(&store, batch).await?;
    part("reconciliation (batch report --json)", t);
    let t = Instant::now();
    store.batch_tally(batch, report::BUCKETS).await?;
    part("report's one pass (counts, links, time series)", t);
    let t = Instant::now();
    store.batch_reject_reasons(batch).await?;
    part("rejects by reason", t);
    let t = Instant::now();
    store.batch_timeline(batch, Some("line-1")).await?;
    part("timeline (events of the batch and line)", t);
    let t = Instant::now();
    store.verify_audit().await?;
    part("audit chain verification (whole chain)", t);
    store.close().await;
    Ok(())
}

fn main() -> Result<(), BoxError> {
    // `cargo test --benches` passes no `--bench`: only run when benchmarking.
    if !std::env::args().any(|a| a == "--bench") {
        return Ok(());
    }
    let args = parse_args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        if args.sqlite {
            let dir = tempfile::tempdir()?;
            let url = format!("sqlite://{}", dir.path().join("report.db").display());
            run("sqlite", &url, &args).await?;
        }
        if args.pg {
            let Ok(base) = std::env::var("TRACEMARK_TEST_PG_URL") else {
                println!("postgres: skipped: TRACEMARK_TEST_PG_URL not set");
                return Ok(());
            };
            let schema = format!("tm_report_{}", std::process::id());
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
