//! Forwarding an edge journal (issue 18): the journal a 6,000 units/min line writes in a
//! 10-minute central outage, forwarded to the store once it answers. Target ≤ 30 s.
//!
//! `cargo bench -p tracemark --bench journal_forward` — PostgreSQL too when
//! TRACEMARK_TEST_PG_URL is set. TRACEMARK_BENCH_MINUTES and TRACEMARK_BENCH_UPM change the
//! outage and the speed.
//!
//! The journal is built as the line's writer spools it: the feeder's issues, 16 codes an
//! entry, and for each unit an entry with its `sent`, `printed` and its decision (`verified`
//! with the camera's read; one in 33 `rejected` as a no-read) — one entry a unit is more
//! entries than a real line makes, whose writer gathers what is queued into one entry.

use std::time::Instant;

use sqlx::Connection;
use tracemark_store::journal::{Entry, IssueRange, Journal};
use tracemark_store::writer::FORWARD_RECORDS;
use tracemark_store::{
    Actor, CodeRead, CodeState, Grade, NewBatch, Product, RejectReason, Store, Transition,
};

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

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn run(label: &str, url: &str, units: u64) -> Result<(), Box<dyn std::error::Error>> {
    let actor = Actor {
        user: "bench".into(),
        device: "bench".into(),
    };
    let store = Store::open(url, actor).await?;
    store.add_product(&product()).await?;
    let batch = store
        .create_batch(&NewBatch {
            product_id: "bench".into(),
            lot: "L1".into(),
            quantity: i64::try_from(units)?,
            production_date: "2026-12-06".into(),
            expiry_date: None,
            line: Some("line-1".into()),
            simulated: true,
        })
        .await?
        .id;
    let issuer = store.serial_issuer("bench").await?;
    let dir = tempfile::tempdir()?;
    let journal = Journal::open(&dir.path().join("journal.db")).await?;

    // The journal of the outage, built as the writer spools it.
    let started = Instant::now();
    let mut left = units;
    let mut unit = 0u64;
    while left > 0 {
        let block = store.reserve_block("bench", 10_000.min(left)).await?;
        let mut at = block.first_counter;
        while at < block.end_counter {
            let end = (at + 16).min(block.end_counter);
            let mut entries = vec![(
                journal.next_seq(),
                Entry::Issues(vec![IssueRange {
                    product_id: "bench".into(),
                    block_id: block.id,
                    first_counter: at,
                    end_counter: end,
                    batch: Some(batch),
                }]),
            )];
            let (_, codes) = issuer.codes(at, end)?;
            for code in codes {
                unit += 1;
                let decision = if unit.is_multiple_of(33) {
                    Transition {
                        code: code.clone(),
                        to: CodeState::Rejected,
                        reason: Some(RejectReason::NoRead),
                        read: Some(CodeRead::default()),
                    }
                } else {
                    Transition {
                        code: code.clone(),
                        to: CodeState::Verified,
                        reason: None,
                        read: Some(CodeRead {
                            grade: Some(Grade::B),
                            data: Some(code.clone()),
                        }),
                    }
                };
                let changes = vec![
                    Transition::to(code.as_str(), CodeState::Sent),
                    Transition::to(code.as_str(), CodeState::Printed),
                    decision,
                ];
                entries.push((journal.next_seq(), Entry::Changes(changes)));
            }
            journal.append(&entries).await?;
            at = end;
        }
        left -= u64::try_from(block.end_counter - block.first_counter)?;
    }
    let size = journal.size().await?;
    println!(
        "{label}: journal of {units} units: {} entries, {} records, built in {:.1} s",
        size.entries,
        size.records,
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let mut steps = 0u64;
    let mut refused = 0usize;
    loop {
        let forwarded = store.forward_journal(&journal, FORWARD_RECORDS).await?;
        if forwarded.entries == 0 {
            break;
        }
        steps += 1;
        refused += forwarded.refused.len();
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{label}: forwarded {} records in {steps} steps: {elapsed:.2} s ({:.0} records/s), {refused} refused",
        size.records,
        size.records as f64 / elapsed
    );
    let counts = store.issued_counts("bench").await?;
    let report = store.verify_audit().await?;
    println!(
        "{label}: store after: {} codes issued, audit chain ok = {} ({} events)",
        counts.codes,
        report.first_bad.is_none(),
        report.events
    );
    journal.close().await;
    store.close().await;
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo bench` passes --bench; `cargo test --benches` would too: only run when benchmarking.
    if !std::env::args().any(|a| a == "--bench") {
        return Ok(());
    }
    let units = env_or("TRACEMARK_BENCH_MINUTES", 10) * env_or("TRACEMARK_BENCH_UPM", 6_000);
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    run("sqlite", &url, units).await?;
    if let Ok(base) = std::env::var("TRACEMARK_TEST_PG_URL") {
        let schema = format!("tm_journal_bench_{}", std::process::id());
        let mut conn = sqlx::PgConnection::connect(&base).await?;
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut conn)
            .await?;
        let sep = if base.contains('?') { '&' } else { '?' };
        let result = run(
            "postgres",
            &format!("{base}{sep}options[search_path]={schema}"),
            units,
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
