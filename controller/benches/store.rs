//! Store benchmarks (one measured run each; the figures go to docs/performance.md):
//! - allocate and persist 1,000,000 codes (target ≤ 5 s SQLite, ≤ 10 s PostgreSQL);
//! - state transitions through the group-commit writer (target ≥ 50,000 codes/s).
//!
//! `cargo bench -p tracemark --bench store` — PostgreSQL too when TRACEMARK_TEST_PG_URL is set.
//! TRACEMARK_BENCH_CODES changes the number of codes, TRACEMARK_BENCH_GROUP the writer's group size.

use std::time::Instant;

use sqlx::Connection;
use tracemark_store::writer::{DEFAULT_MAX_GROUP, create_writer};
use tracemark_store::{Actor, CodeState, MAX_ALLOCATION, Product, Store, Transition};

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
        min_grade: tracemark_store::Grade::C,
    }
}

async fn run(label: &str, url: &str, total: u64) -> Result<(), Box<dyn std::error::Error>> {
    let actor = Actor {
        user: "bench".into(),
        device: "bench".into(),
    };
    let store = Store::open(url, actor).await?;
    store.add_product(&product()).await?;

    let started = Instant::now();
    let mut codes = Vec::with_capacity(total as usize);
    let mut left = total;
    while left > 0 {
        let n = left.min(MAX_ALLOCATION);
        codes.extend(store.allocate("bench", n, None).await?.codes);
        left -= n;
    }
    let elapsed = started.elapsed();
    println!(
        "{label}: allocate+persist {total} codes: {:.2} s ({:.0} codes/s)",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );

    let group: usize = std::env::var("TRACEMARK_BENCH_GROUP")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_MAX_GROUP);
    let (writer, task) = create_writer(store.clone(), group);
    let started = Instant::now();
    let mut waiting = tokio::task::JoinSet::new();
    for code in codes {
        let writer = writer.clone();
        waiting.spawn(async move {
            writer
                .transition(Transition {
                    code,
                    to: CodeState::Sent,
                    reason: None,
                    read: None,
                })
                .await
        });
    }
    let mut done = 0u64;
    while let Some(result) = waiting.join_next().await {
        result??;
        done += 1;
    }
    let elapsed = started.elapsed();
    drop(writer);
    task.await?;
    println!(
        "{label}: transitions reserved→sent via group commit (groups ≤ {group}): {done} in {:.2} s ({:.0} codes/s)",
        elapsed.as_secs_f64(),
        done as f64 / elapsed.as_secs_f64()
    );
    let started = Instant::now();
    let report = store.verify_audit().await?;
    println!(
        "{label}: audit verify of {} events: {:.2} s, ok = {}",
        report.events,
        started.elapsed().as_secs_f64(),
        report.first_bad.is_none()
    );
    store.close().await;
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo bench` passes --bench; `cargo test --benches` would too: only run when benchmarking.
    if !std::env::args().any(|a| a == "--bench") {
        return Ok(());
    }
    let total: u64 = std::env::var("TRACEMARK_BENCH_CODES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    run("sqlite", &url, total).await?;
    if let Ok(base) = std::env::var("TRACEMARK_TEST_PG_URL") {
        let schema = format!("tm_bench_{}", std::process::id());
        let mut conn = sqlx::PgConnection::connect(&base).await?;
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut conn)
            .await?;
        let sep = if base.contains('?') { '&' } else { '?' };
        let result = run(
            "postgres",
            &format!("{base}{sep}options[search_path]={schema}"),
            total,
        )
        .await;
        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&mut conn)
            .await?;
        result?;
    } else {
        println!("postgres: skipped: TRACEMARK_TEST_PG_URL not set");
    }
    Ok(())
}
