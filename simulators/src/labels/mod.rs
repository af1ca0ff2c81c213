//! The packing station's label printer and label scanner (issue 14 items 3 and 6): a ZPL
//! printer that prints each label as it arrives ([`ZplSim`], tear-off mode, byte for byte) and a
//! fixed scanner that reads each printed label and publishes the read like a unit camera
//! (`tracemark/<line>/vision/<scanner>/result`, SPEC §5).
//!
//! **Reading a label.** The scanner knows the template body (the same file the controller
//! stores): [`bc::barcode_fields`] says which `^FN` fields are `^BC` symbols. For each printed
//! label it reads those fields' data as the printer does ([`bc::symbol_characters`]), draws the
//! bars ([`bc::modules`]) and decodes the picture with rxing; the read it publishes is the
//! symbol whose data is an SSCC (`00…`), with its symbology identifier (`]C1`), or a no-read.
//!
//! **Faults** ([`LabelFaultRates`], drawn per label from a seed): a misprint, either
//! unreadable (a band of the bars not printed: the decode fails) or the wrong barcode (the label
//! carries the previous label's data, as a printer that repeats its last format); the printer
//! out of ribbon after a label (its `~HS` says ribbon out and it prints nothing until the
//! ribbon is replaced, [`LabelFaultRates::ribbon_replace_ms`] later).
//!
//! **Ground truth** ([`LabelSim::applied`]): every label printed, in order, with the SSCC it
//! was sent for and what its barcode physically reads.

mod scanner;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

pub use scanner::{AppliedLabel, Misprint, read_label};

use crate::marker::{Fault, MarkerSim};
use crate::zpl::ZplSim;
use tokio::sync::mpsc;

/// Labels the simulated label printer holds: a label station waits for each label.
const DEPTH: usize = 8;

/// How often the label faults happen, per label printed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LabelFaultRates {
    /// A label printed unreadable. Default 0.
    pub unreadable: f64,
    /// A label printed with the previous label's barcode. Default 0.
    pub wrong_barcode: f64,
    /// The ribbon runs out after a label. Default 0.
    pub ribbon_out: f64,
    /// How long the operator takes to replace the ribbon. Default 2,000 ms.
    pub ribbon_replace_ms: u64,
}

impl Default for LabelFaultRates {
    fn default() -> Self {
        Self::NONE
    }
}

impl LabelFaultRates {
    /// No faults.
    pub const NONE: LabelFaultRates = LabelFaultRates {
        unreadable: 0.0,
        wrong_barcode: 0.0,
        ribbon_out: 0.0,
        ribbon_replace_ms: 2_000,
    };
    /// The `default` packing-faults profile: about one bad label in fifty, the ribbon out once
    /// in two hundred labels.
    pub const DEFAULT: LabelFaultRates = LabelFaultRates {
        unreadable: 0.01,
        wrong_barcode: 0.01,
        ribbon_out: 0.005,
        ribbon_replace_ms: 500,
    };
    /// The `heavy` profile.
    pub const HEAVY: LabelFaultRates = LabelFaultRates {
        unreadable: 0.05,
        wrong_barcode: 0.05,
        ribbon_out: 0.03,
        ribbon_replace_ms: 300,
    };
}

/// The label printer and the scanner that reads what it prints; clones share them.
#[derive(Debug, Clone)]
pub struct LabelSim {
    printer: ZplSim,
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug)]
struct Inner {
    /// The `^BC` fields of the template: `^FN` number → `^BC` parameters.
    symbols: BTreeMap<u16, String>,
    rates: LabelFaultRates,
    rng: u64,
    /// Faults of the next labels, taken before any draw: (misprint, ribbon out after it).
    scripted: VecDeque<(Option<Misprint>, bool)>,
    applied: Vec<AppliedLabel>,
}

impl LabelSim {
    /// A label printer for labels of `template_body` (the `^DF` body the controller stores),
    /// with `rates` of faults drawn from `seed`.
    pub fn new(template_body: &str, rates: LabelFaultRates, seed: u64) -> Self {
        let symbols = tracemark_drivers::zpl::bc::barcode_fields(template_body)
            .into_iter()
            .collect();
        Self {
            printer: ZplSim::with_code_field(DEPTH, tracemark_drivers::zpl::logistic::SSCC_SYMBOL),
            inner: Arc::new(Mutex::new(Inner {
                symbols,
                rates,
                rng: seed | 1,
                scripted: VecDeque::new(),
                applied: Vec::new(),
            })),
        }
    }

    /// The ZPL printer: serve it with [`MarkerSim::serve_tcp`] or [`MarkerSim::serve`]; inject
    /// faults (`ink-out` is the ribbon).
    pub fn printer(&self) -> &ZplSim {
        &self.printer
    }

    /// Every label printed so far, in order: the ground truth.
    pub fn applied(&self) -> Vec<AppliedLabel> {
        self.lock().applied.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The scanner: reads each label as it prints and sends one result payload per label (the
    /// unit camera's JSON, reader `scanner`) on `results`, until `results` closes. Ribbon
    /// faults are injected and cleared here too.
    pub async fn run_scanner(self, scanner: String, results: mpsc::UnboundedSender<Vec<u8>>) {
        let mut seen = 0usize;
        let mut previous: Option<BTreeMap<u16, String>> = None;
        loop {
            let snapshot = self
                .printer
                .wait_until(|s| s.prints > seen || results.is_closed())
                .await;
            if results.is_closed() {
                return;
            }
            let printed = self.printer.printed_fields();
            for fields in printed.iter().take(snapshot.prints).skip(seen) {
                let (misprint, ribbon_out) = self.draw();
                let carried = match (misprint, &previous) {
                    (Some(Misprint::WrongBarcode), Some(previous)) => previous.clone(),
                    _ => fields.clone(),
                };
                let label = {
                    let inner = self.lock();
                    read_label(&inner.symbols, fields, &carried, misprint)
                };
                let payload = scanner::payload(&scanner, seen as u64 + 1, label.read.as_deref());
                self.lock().applied.push(label);
                previous = Some(fields.clone());
                seen += 1;
                if results.send(payload).is_err() {
                    return;
                }
                if ribbon_out {
                    self.ribbon_out();
                }
            }
        }
    }

    /// The ribbon runs out now; the operator replaces it after the configured time.
    fn ribbon_out(&self) {
        let replace = self.lock().rates.ribbon_replace_ms;
        self.printer.inject(Fault::InkOut);
        let printer = self.printer.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(replace)).await;
            printer.clear(Fault::InkOut);
        });
    }

    /// Scripts the next label: its misprint, and whether the ribbon runs out after it. Scripted
    /// labels come before drawn ones, in order.
    pub fn script(&self, misprint: Option<Misprint>, ribbon_out: bool) {
        self.lock().scripted.push_back((misprint, ribbon_out));
    }

    /// The faults of the next label: its misprint, and whether the ribbon runs out after it.
    fn draw(&self) -> (Option<Misprint>, bool) {
        let mut inner = self.lock();
        if let Some(scripted) = inner.scripted.pop_front() {
            return scripted;
        }
        let rates = inner.rates;
        let mut next = || {
            // xorshift64*: reproducible per seed, no dependency.
            inner.rng ^= inner.rng >> 12;
            inner.rng ^= inner.rng << 25;
            inner.rng ^= inner.rng >> 27;
            (inner.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
        };
        let misprint = next();
        let misprint = if misprint < rates.unreadable {
            Some(Misprint::Unreadable)
        } else if misprint < rates.unreadable + rates.wrong_barcode {
            Some(Misprint::WrongBarcode)
        } else {
            None
        };
        (misprint, next() < rates.ribbon_out)
    }
}
