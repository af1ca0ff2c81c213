//! Rendering benchmarks: encode a trace code and render it to PNG bytes in memory.
//!
//! `cargo bench -p tracemark-codes --bench render -- --warm-up-time 1 --measurement-time 3`
//! Target: `render/gs1_datamatrix_png_40` at most 100 µs.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tracemark_codes::symbol::{RenderOptions, Symbology, encode};

/// A 40-character GS1 element string: (01) GTIN, (17) expiry, (10) lot, GS, (21) serial.
const GS1_40: &[u8] = b"01095060001343521727123110ABC123\x1d21A1B2C";
/// An SSCC for a GS1-128 logistic label.
const SSCC: &[u8] = b"00106141411234567897";

fn bench_png(c: &mut Criterion, name: &str, symbology: Symbology, data: &'static [u8]) {
    let opts = RenderOptions::for_symbology(symbology);
    c.bench_function(name, |b| {
        b.iter(|| {
            let symbol = encode(symbology, black_box(data)).expect("encode");
            symbol.to_png(&opts).expect("png")
        })
    });
}

fn render(c: &mut Criterion) {
    assert_eq!(GS1_40.len(), 40);
    bench_png(
        c,
        "render/gs1_datamatrix_png_40",
        Symbology::Gs1DataMatrix,
        GS1_40,
    );
    bench_png(c, "render/gs1_qr_png_40", Symbology::Gs1Qr, GS1_40);
    bench_png(c, "render/gs1_128_png_sscc", Symbology::Gs1_128, SSCC);
    let opts = RenderOptions::for_symbology(Symbology::Gs1DataMatrix);
    c.bench_function("render/gs1_datamatrix_svg_40", |b| {
        b.iter(|| {
            let symbol = encode(Symbology::Gs1DataMatrix, black_box(GS1_40)).expect("encode");
            symbol.to_svg(&opts)
        })
    });
}

criterion_group!(benches, render);
criterion_main!(benches);
