//! GS1 parse + validate throughput (target: ≥ 2,000,000 element strings/s on one core).
//!
//! `cargo bench -p tracemark-codes --bench gs1`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use tracemark_codes::gs1::{self, DEFAULT_DOMAIN};

fn parse(c: &mut Criterion) {
    // What a camera sends for a typical unit code: GTIN, expiry, lot, serial.
    let scan = "]d2010950600013435217271231".to_owned() + "10LOT2026A\u{1d}21K7Q2M9X4P3";
    let hri = "(01)09506000134352(17)271231(10)LOT2026A(21)K7Q2M9X4P3";
    let link = "https://id.gs1.org/01/09506000134352/10/LOT2026A/21/K7Q2M9X4P3?17=271231";
    let mut group = c.benchmark_group("gs1");
    group.throughput(Throughput::Elements(1));
    group.bench_function("parse_scan_element_string", |b| {
        b.iter(|| gs1::parse(black_box(&scan)))
    });
    group.bench_function("parse_hri", |b| b.iter(|| gs1::parse_hri(black_box(hri))));
    group.bench_function("parse_digital_link", |b| {
        b.iter(|| gs1::parse_digital_link(black_box(link)))
    });
    let code = gs1::parse(&scan).map(|s| s.code).ok();
    group.bench_function("to_digital_link", |b| {
        b.iter(|| {
            code.as_ref()
                .map(|c| c.to_digital_link(black_box(DEFAULT_DOMAIN)))
        })
    });
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
