//! `tracemark demo`: the code pipeline end to end, until the line runtime exists.
//!
//! For each unit: a non-guessable serial (FF1 of the unit counter, tweak = GTIN), the unit's GS1
//! code, a GS1 DataMatrix rendered to PNG, the PNG decoded by an independent reader (rxing), the
//! scanner data parsed and compared with what was generated. It ends with a reconciliation: every
//! generated code was rendered, read back identical, and is unique.

use std::collections::HashSet;
use std::time::Instant;

use anyhow::{Context, anyhow};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use tracemark_codes::gs1::{self, Gs1Code, Gtin};
use tracemark_codes::serial::{Alphabet, SerialGenerator};
use tracemark_codes::symbol::{self, RenderOptions, Symbology};

use crate::cli::CliError;
use crate::cli::codes::DEMO_KEY;

/// The demo's product: the GTIN GS1 uses in its own examples.
const DEMO_GTIN: &str = "09506000134352";

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Units to produce.
    #[arg(long, default_value_t = 2_000)]
    units: u64,
    /// Print one JSON object with the reconciliation as the last line of stdout.
    #[arg(long)]
    json: bool,
}

/// What happened to the units, counted independently at each step.
#[derive(Debug, Default)]
struct Tally {
    allocated: u64,
    printed: u64,
    verified: u64,
    rejected: u64,
    duplicates: u64,
}

pub(crate) fn run(args: &DemoArgs) -> Result<(), CliError> {
    if args.units == 0 {
        return Err(CliError::input("--units", "must be at least 1"));
    }
    let gtin = Gtin::parse(DEMO_GTIN).context("demo GTIN")?;
    let serials = SerialGenerator::with_planned_volume(
        &DEMO_KEY,
        gtin.as_bytes(),
        Alphabet::Safe,
        10,
        args.units,
    )
    .map_err(|e| CliError::input("--units", e))?;
    let lot = "DEMO-LOT-1";
    let options = RenderOptions::for_symbology(Symbology::Gs1DataMatrix);

    if !args.json {
        println!(
            "tracemark demo: {} units of GTIN {gtin}, lot {lot}",
            args.units
        );
        println!(
            "  serial: FF1 (NIST SP 800-38G) over the '{}' alphabet, 10 characters",
            Alphabet::Safe.name()
        );
        println!("  symbol: GS1 DataMatrix, decoded back by an independent reader (rxing)");
    }
    let progress = if args.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(args.units)
    };
    progress.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} units  {per_sec}  eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );

    let started = Instant::now();
    let mut tally = Tally::default();
    let mut seen = HashSet::with_capacity(usize::try_from(args.units).unwrap_or(0));
    let mut first_failure: Option<String> = None;
    for counter in 0..args.units {
        let serial = serials.serial(counter).context("serial generation")?;
        tally.allocated += 1;
        let code = Gs1Code::from_pairs([
            ("01", gtin.as_str()),
            ("17", "271231"),
            ("10", lot),
            ("21", serial.as_str()),
        ])
        .context("unit code")?;
        if !seen.insert(serial) {
            tally.duplicates += 1;
        }
        let element = code.to_element_string();
        let png = symbol::encode(Symbology::Gs1DataMatrix, element.as_bytes())
            .and_then(|s| s.to_png(&options))
            .context("rendering")?;
        tally.printed += 1;
        match read_back(&png) {
            Ok(read) if read == code => tally.verified += 1,
            Ok(read) => {
                tally.rejected += 1;
                first_failure.get_or_insert(format!(
                    "unit {counter}: read {} instead of {}",
                    read.to_hri(),
                    code.to_hri()
                ));
            }
            Err(reason) => {
                tally.rejected += 1;
                first_failure.get_or_insert(format!("unit {counter}: {reason}"));
            }
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let units_per_min = if seconds > 0.0 {
        args.units as f64 / seconds * 60.0
    } else {
        0.0
    };
    let unaccounted = tally.allocated - tally.verified - tally.rejected;
    let balanced =
        tally.printed == tally.allocated && tally.verified + tally.rejected == tally.printed;
    let ok = balanced && tally.rejected == 0 && tally.duplicates == 0 && unaccounted == 0;

    if args.json {
        let summary = json!({
            "units": args.units,
            "allocated": tally.allocated,
            "printed": tally.printed,
            "verified": tally.verified,
            "rejected": tally.rejected,
            "voided": 0,
            "escapes": 0,
            "false_rejects": tally.rejected,
            "duplicates": tally.duplicates,
            "unaccounted": unaccounted,
            "balanced": balanced,
            "units_per_min": units_per_min.round(),
        });
        println!("{summary}");
    } else {
        println!("reconciliation");
        println!("  allocated  {:>9}  (serials generated)", tally.allocated);
        println!("  printed    {:>9}  (symbols rendered)", tally.printed);
        println!("  verified   {:>9}  (read back identical)", tally.verified);
        println!("  rejected   {:>9}", tally.rejected);
        println!("  duplicates {:>9}", tally.duplicates);
        println!(
            "  balanced   {:>9}  allocated = printed = verified + rejected",
            if balanced { "yes" } else { "NO" }
        );
        println!("  throughput {:>9.0} units/min", units_per_min);
        println!("The full line demo (marker, camera, reject gate) comes with the line runtime.");
    }
    if let Some(failure) = first_failure {
        eprintln!("first failure: {failure}");
    }
    if !ok {
        return Err(CliError::Failed(anyhow!(
            "the demo's records do not reconcile"
        )));
    }
    Ok(())
}

/// Decodes the PNG like a camera would and parses the scanner data.
fn read_back(png: &[u8]) -> Result<Gs1Code, String> {
    let decoded = symbol::decode_png(png).map_err(|e| format!("no read: {e}"))?;
    let message = String::from_utf8(decoded.scanner_message())
        .map_err(|_| "decoded data is not text".to_owned())?;
    gs1::parse(&message)
        .map(|scan| scan.code)
        .map_err(|e| format!("unreadable code: {e}"))
}
