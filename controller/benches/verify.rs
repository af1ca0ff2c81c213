//! Verification benchmark (figures go to docs/performance.md):
//! - matching and decision throughput, target ≥ 20,000 results/s;
//! - latency from a result's payload received to the gate command (the verdict), target p99
//!   ≤ 2 ms, with a histogram.
//!
//! `cargo bench -p tracemark --bench verify`. The line is simulated as it runs: each unit is
//! detected, printed, read and leaves at the gate, so the shift register holds what a real line
//! holds (gate distance / pitch units). 4 % of reads are no-reads or low grades (2 % each).
//! TRACEMARK_BENCH_RESULTS changes the number of results (default 200,000).

use std::time::{Duration, Instant};

use tracemark::verify::{
    FieldMap, Grade, Outcome, TrackedReader, Tracker, TrackerConfig, gs1_code_of, parse_result,
};

const PITCH: u64 = 100;
const READER: u64 = 1_500;
const GATE: u64 = 3_000;

fn payload(seq: u64, serial: u64, encoder: u64) -> Vec<u8> {
    let (data, grade) = match seq % 50 {
        0 => ("null".to_owned(), "null"),
        1 => (format!("\"]d2010950600013435221{serial:012}\""), "\"D\""),
        _ => (format!("\"]d2010950600013435221{serial:012}\""), "\"B\""),
    };
    format!(
        r#"{{"reader":"cam1","seq":{seq},"ts":"2026-11-22T08:00:00.123Z","symbology":"datamatrix","data":{data},"grade":{grade},"encoder":{encoder}}}"#
    )
    .into_bytes()
}

fn main() {
    let total: u64 = std::env::var("TRACEMARK_BENCH_RESULTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let mut tracker = Tracker::new(TrackerConfig {
        marker_counts: 500,
        readers: vec![TrackedReader::new("cam1", READER, Grade::C)],
        gate_counts: GATE,
        window_counts: PITCH / 2,
        max_consecutive_rejects: u32::MAX,
    });
    let map = FieldMap::default();
    // Payloads are prepared up front: the measurement starts when the bytes have arrived.
    let payloads: Vec<Vec<u8>> = (0..total)
        .map(|i| payload(i, i, i * PITCH + READER))
        .collect();
    let mut latencies = Vec::with_capacity(payloads.len());
    let mut verified = 0u64;
    let mut rejected = 0u64;
    let started = Instant::now();
    for (i, bytes) in payloads.iter().enumerate() {
        let i = i as u64;
        // Photocell, marker confirmation, the unit moves to the camera.
        tracker.unit_detected(i * PITCH);
        let code = format!("(01)09506000134352(21){i:012}");
        if tracker.printed(&code).is_err() {
            panic!("print {i} not tracked");
        }
        let received = Instant::now();
        let result = match parse_result(bytes, &map, "cam1") {
            Ok(result) => result,
            Err(e) => panic!("payload {i}: {e}"),
        };
        let verdict = tracker.result(&result, gs1_code_of);
        latencies.push(received.elapsed());
        match verdict.map(|v| v.outcome) {
            Some(Outcome::Verified) => verified += 1,
            Some(Outcome::Rejected(_)) => rejected += 1,
            None => panic!("result {i} decided nothing"),
        }
        let _ = tracker.advance(i * PITCH + READER);
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "verify: {total} results in {:.3} s = {:.0} results/s (matching, decision and the \
         simulated line around them); {verified} verified, {rejected} rejected; register held \
         {} units",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        tracker.units_in_flight()
    );
    println!(
        "latency result received → verdict: p50 {:?}  p99 {:?}  p99.9 {:?}  max {:?}",
        pct(0.50),
        pct(0.99),
        pct(0.999),
        latencies[latencies.len() - 1]
    );
    let bounds = [5u64, 10, 20, 50, 100, 200, 500, 1_000, 2_000];
    let mut previous = Duration::ZERO;
    println!("histogram (µs):");
    for bound in bounds.iter().map(|b| Duration::from_micros(*b)) {
        let n = latencies
            .iter()
            .filter(|l| **l >= previous && **l < bound)
            .count();
        let bar = "#".repeat((n * 60).div_ceil(latencies.len()));
        println!(
            "  {:>5}–{:<5} {n:>8}  {bar}",
            previous.as_micros(),
            bound.as_micros()
        );
        previous = bound;
    }
    let over = latencies.iter().filter(|l| **l >= previous).count();
    println!("  ≥ {:>9} {over:>8}", previous.as_micros());
}
