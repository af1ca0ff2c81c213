//! Case-camera decision benchmark (figures go to docs/performance.md, issue 14 "Performance"):
//! a 24-code case read, from its payload's bytes received to the accept/reject decision, target
//! p99 ≤ 2 ms.
//!
//! `cargo bench -p tracemark --bench case_camera`. What the packing task does on its hot path:
//! parse the payload (`aggregation::case_read`), turn each read into its stored code text, and
//! decide (`aggregation::case_decision`) against the batch's set of verified, unpacked codes
//! held in memory — here 100,000 of them, a long batch. One case in 10 is refused (a unit of
//! another batch, which on the line is then looked up in the store: that rare path is not
//! measured here). Percentiles like the verify benchmark's (a harness of our own: criterion
//! reports means, the target is a p99). TRACEMARK_BENCH_CASES changes the number of cases
//! (default 20,000).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use tracemark::aggregation::case_decision::{CaseDecision, Known, codes_of, decide};
use tracemark::aggregation::case_read::parse_case_read;
use tracemark::verify::FieldMap;

const PER_CASE: u32 = 24;
const BATCH: u64 = 100_000;

fn payload(seq: u64) -> Vec<u8> {
    let reads: Vec<String> = (0..u64::from(PER_CASE))
        .map(|k| {
            let serial = (seq * u64::from(PER_CASE) + k) % BATCH;
            // One case in 10 holds a unit of another batch (serials beyond the batch's).
            let serial = if seq.is_multiple_of(10) && k == 5 {
                BATCH + seq
            } else {
                serial
            };
            format!(r#"{{"data":"]d2010950600013435221{serial:012}","grade":"B"}}"#)
        })
        .collect();
    format!(
        r#"{{"reader":"casecam","seq":{seq},"ts":"2026-12-05T08:00:00.123Z","reads":[{}]}}"#,
        reads.join(",")
    )
    .into_bytes()
}

fn main() {
    let total: u64 = std::env::var("TRACEMARK_BENCH_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let verified: HashSet<String> = (0..BATCH)
        .map(|serial| format!("(01)09506000134352(21){serial:012}"))
        .collect();
    let map = FieldMap::default();
    // Payloads are prepared up front: the measurement starts when the bytes have arrived.
    let payloads: Vec<Vec<u8>> = (0..total).map(payload).collect();
    let mut latencies = Vec::with_capacity(payloads.len());
    let (mut accepted, mut refused) = (0u64, 0u64);
    let started = Instant::now();
    for (i, bytes) in payloads.iter().enumerate() {
        let received = Instant::now();
        let read = match parse_case_read(bytes, &map, "casecam") {
            Ok(read) => read,
            Err(e) => panic!("payload {i}: {e}"),
        };
        let codes = codes_of(&read);
        let decision = decide(&read, &codes, PER_CASE, |code| {
            if verified.contains(code) {
                Known::Verified
            } else {
                Known::Foreign
            }
        });
        latencies.push(received.elapsed());
        match decision {
            CaseDecision::Accept { .. } => accepted += 1,
            CaseDecision::Reject { .. } => refused += 1,
            CaseDecision::Hold { .. } => panic!("case {i} held"),
        }
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "case camera: {total} case reads of {PER_CASE} codes in {:.3} s = {:.0} cases/s; \
         {accepted} accepted, {refused} refused",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
    );
    println!(
        "latency payload received → decision: p50 {:?}  p99 {:?}  p99.9 {:?}  max {:?}",
        pct(0.50),
        pct(0.99),
        pct(0.999),
        latencies[latencies.len() - 1]
    );
    let p99 = pct(0.99);
    if p99 > Duration::from_millis(2) {
        println!("TARGET MISSED: p99 {p99:?} > 2 ms");
    }
}
