//! Serial generation throughput: the fixed-width FF1 against the `fpe` crate.
//!
//! `cargo bench -p tracemark-codes --bench serials -- --warm-up-time 1 --measurement-time 3`

use aes_fpe_ref::Aes256 as RefAes256;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use fpe::ff1::{FF1, FlexibleNumeralString};
use std::hint::black_box;
use tracemark_codes::serial::{Alphabet, SerialGenerator};

const KEY: [u8; 32] = [
    0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c,
    0xef, 0x43, 0x59, 0xd8, 0xd5, 0x80, 0xaa, 0x4f, 0x7f, 0x03, 0x6d, 0x6f, 0x04, 0xfc, 0x6a, 0x94,
];
const GTIN: &[u8] = b"09506000134352";
const CASES: [(Alphabet, usize); 2] = [(Alphabet::Digits, 12), (Alphabet::Safe, 10)];

fn fast_ff1(c: &mut Criterion) {
    let mut group = c.benchmark_group("serials");
    group.throughput(Throughput::Elements(1));
    for (alphabet, length) in CASES {
        let generator = SerialGenerator::new(&KEY, GTIN, alphabet, length).expect("valid config");
        let mut out = String::with_capacity(length);
        let mut counter = 0u64;
        group.bench_function(
            BenchmarkId::new("fast_ff1", format!("{alphabet}{length}")),
            |b| {
                b.iter(|| {
                    out.clear();
                    generator
                        .write_serial(black_box(counter), &mut out)
                        .expect("in range");
                    counter += 1;
                    black_box(&out);
                })
            },
        );
    }
    group.finish();
}

/// The same serials through `fpe`: counter → numerals → FF1 → characters.
fn fpe_reference(c: &mut Criterion) {
    let mut group = c.benchmark_group("serials");
    group.throughput(Throughput::Elements(1));
    for (alphabet, length) in CASES {
        let radix = alphabet.radix();
        let ff1 = FF1::<RefAes256>::new(&KEY, radix).expect("valid radix");
        let chars = alphabet.chars().as_bytes();
        let mut counter = 0u64;
        group.bench_function(
            BenchmarkId::new("fpe_reference", format!("{alphabet}{length}")),
            |b| {
                b.iter(|| {
                    let mut numerals = vec![0u16; length];
                    let mut x = black_box(counter);
                    for slot in numerals.iter_mut().rev() {
                        *slot = (x % u64::from(radix)) as u16;
                        x /= u64::from(radix);
                    }
                    let ct = ff1
                        .encrypt(GTIN, &FlexibleNumeralString::from(numerals))
                        .expect("valid numerals");
                    let serial: String = Vec::<u16>::from(ct)
                        .into_iter()
                        .map(|n| char::from(chars[usize::from(n)]))
                        .collect();
                    counter += 1;
                    black_box(serial)
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, fast_ff1, fpe_reference);
criterion_main!(benches);
