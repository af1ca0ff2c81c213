//! The case-camera packing station of the twin (issue 14 items 2 and 6): the units that pass
//! the gate undiverted, in gate order, fill physical cases of `units_per_case`; a full case
//! passes under the case camera, which renders every unit's code as printed
//! (`tracemark_codes::symbol`, the same rendering as the line camera, `vision.rs`), decodes it
//! with rxing, and publishes one message per case over MQTT:
//!
//! ```json
//! {"reader":"casecam","seq":7,"reads":[{"data":"]d2…","grade":"A"},{"data":null}]}
//! ```
//!
//! At the end the last case, partly filled, is closed short (`"short":true`).
//!
//! **Faults** ([`PackingFaults`]): a unit missing from a case (it falls off into the rework
//! bin), a foreign unit (a code this line never issued) in place of one, an unreadable code in
//! the case image, a rejected unit taken from the reject bin and put back in place of one, one
//! unit too many. Each is recorded on its case in the ground truth ([`PhysicalCase`]), which
//! says which physical unit is in which physical case: the controller must send every such case
//! to rework and close no carton whose record differs from its physical case.
//!
//! The camera work (render, decode, publish: a few ms a unit) runs on a thread of its own so
//! the twin's 1 ms conveyor tick never waits for it.

use std::collections::HashSet;
use std::sync::mpsc as std_mpsc;

use tokio::sync::oneshot;

use crate::labels::LabelFaultRates;
use crate::twin::{ResultPublisher, UnitTruth};
use crate::vision::{Damage, DamageRates, VisionSim};

/// How often the packing station goes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum PackingFaults {
    /// Every case filled right.
    #[default]
    None,
    /// One case in 8 has a fault, the kinds in turn.
    Default,
    /// One case in 3 has a fault, the kinds in turn.
    Heavy,
}

impl PackingFaults {
    /// Every how many cases one goes wrong (`None`: never).
    fn every(self) -> Option<u64> {
        match self {
            PackingFaults::None => None,
            PackingFaults::Default => Some(8),
            PackingFaults::Heavy => Some(3),
        }
    }

    /// The label printer's faults of the same profile (a label misprint, the wrong barcode,
    /// the ribbon out): `--packing-faults` covers the whole packing station.
    pub fn label_rates(self) -> LabelFaultRates {
        match self {
            PackingFaults::None => LabelFaultRates::NONE,
            PackingFaults::Default => LabelFaultRates::DEFAULT,
            PackingFaults::Heavy => LabelFaultRates::HEAVY,
        }
    }
}

/// A packing fault on one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackingFault {
    /// A unit fell off before the case closed (it is in the rework bin).
    MissingUnit,
    /// A unit with a code this line never issued took one unit's place.
    ForeignUnit,
    /// One unit's code is unreadable in the case image.
    UnreadableCode,
    /// A unit from the reject bin was put back in place of one.
    RejectedPutBack,
    /// One unit too many.
    TooMany,
}

/// The kinds in the order a profile injects them.
const KINDS: [PackingFault; 5] = [
    PackingFault::MissingUnit,
    PackingFault::ForeignUnit,
    PackingFault::UnreadableCode,
    PackingFault::RejectedPutBack,
    PackingFault::TooMany,
];

/// One unit in a physical case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseUnit {
    /// The twin's unit number; `None` for a foreign unit (not from this line).
    pub unit: Option<u64>,
    /// The data printed on it (`None`: nothing printed).
    pub printed: Option<String>,
    /// The gate diverted it (a rejected unit put back).
    pub diverted: bool,
}

/// A physical case, as it left the case camera.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhysicalCase {
    /// Its number, from 1: also the case camera's `seq` for it.
    pub number: u64,
    /// The units physically in it.
    pub units: Vec<CaseUnit>,
    /// The fault injected on it, if any.
    pub fault: Option<PackingFault>,
    /// Closed short at the end.
    pub short: bool,
}

/// Ground truth of the packing station.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackingTruth {
    /// Every case, in the order it was closed.
    pub cases: Vec<PhysicalCase>,
    /// Units that fell off (a missing-unit fault): in the rework bin, in no case.
    pub fallen: Vec<u64>,
}

/// The station's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseStationConfig {
    /// The case camera's name.
    pub reader: String,
    /// Units per case, at least 1.
    pub units_per_case: usize,
    /// The fault profile.
    pub faults: PackingFaults,
}

/// The station as the twin drives it: [`CaseStation::passed`] for each unit at the gate, in
/// order, then [`CaseStation::finish`].
#[derive(Debug)]
pub struct CaseStation {
    config: CaseStationConfig,
    /// The case being filled.
    filling: Vec<CaseUnit>,
    /// Its fault, drawn as it opened.
    fault: Option<PackingFault>,
    /// Diverted units with a fresh, parseable print: the reject bin, for `RejectedPutBack`.
    reject_bin: Vec<CaseUnit>,
    /// Data printed on units so far: a reprint is never taken from the bin (its code may be
    /// another unit's).
    printed: HashSet<String>,
    truth: PackingTruth,
    faults_injected: u64,
    camera: std_mpsc::Sender<PhysicalCase>,
    camera_done: oneshot::Receiver<()>,
}

impl CaseStation {
    /// A station whose case camera publishes through `publisher`.
    pub fn new(config: CaseStationConfig, publisher: impl ResultPublisher) -> Self {
        let (camera, camera_done) = camera_thread(config.reader.clone(), publisher);
        CaseStation {
            config: CaseStationConfig {
                units_per_case: config.units_per_case.max(1),
                ..config
            },
            filling: Vec::new(),
            fault: None,
            reject_bin: Vec::new(),
            printed: HashSet::new(),
            truth: PackingTruth::default(),
            faults_injected: 0,
            camera,
            camera_done,
        }
    }

    /// A unit passed the gate (diverted or not), in gate order.
    pub fn passed(&mut self, unit: &UnitTruth) {
        let fresh = unit
            .printed
            .as_ref()
            .is_some_and(|p| self.printed.insert(p.clone()));
        let case_unit = CaseUnit {
            unit: Some(unit.unit),
            printed: unit.printed.clone(),
            diverted: unit.diverted,
        };
        if unit.diverted {
            let parses = unit
                .printed
                .as_deref()
                .is_some_and(|p| tracemark_codes::gs1::parse(p).is_ok());
            if fresh && !unit.reprint && parses {
                self.reject_bin.push(case_unit);
            }
            return;
        }
        if self.filling.is_empty() {
            self.open_case();
        }
        let per_case = self.config.units_per_case;
        match self.fault {
            // The unit that would have completed the case falls off; the case closes short of it.
            Some(PackingFault::MissingUnit) if self.filling.len() + 1 == per_case => {
                self.truth.fallen.push(unit.unit);
                self.close(false);
                return;
            }
            _ => self.filling.push(case_unit),
        }
        let full = match self.fault {
            Some(PackingFault::TooMany) => per_case + 1,
            _ => per_case,
        };
        if self.filling.len() >= full {
            self.close(false);
        }
    }

    /// The end of the run: the last case is closed short; waits for the camera to have
    /// published every case, then returns the ground truth.
    pub async fn finish(mut self) -> PackingTruth {
        if !self.filling.is_empty() {
            // A fault drawn for a case the run never filled is not injected.
            if matches!(
                self.fault,
                Some(PackingFault::MissingUnit | PackingFault::TooMany)
            ) {
                self.fault = None;
            }
            self.close(true);
        }
        let CaseStation {
            camera,
            camera_done,
            truth,
            ..
        } = self;
        drop(camera);
        let _ = camera_done.await;
        truth
    }

    /// Opens a case and draws its fault; a foreign or put-back unit goes in first.
    fn open_case(&mut self) {
        let number = self.truth.cases.len() as u64 + 1;
        self.fault = self
            .config
            .faults
            .every()
            .filter(|every| number % every == every / 2)
            .map(|_| {
                let kind = KINDS[(self.faults_injected % KINDS.len() as u64) as usize];
                self.faults_injected += 1;
                kind
            });
        match self.fault {
            Some(PackingFault::ForeignUnit) => self.filling.push(CaseUnit {
                unit: None,
                // A GS1 code of the same GTIN with a serial this store never issues (its
                // serials are never `FOREIGN…`).
                printed: Some(format!("(01)09506000134352(21)FOREIGN{number}")),
                diverted: false,
            }),
            Some(PackingFault::RejectedPutBack) => match self.reject_bin.pop() {
                Some(unit) => self.filling.push(unit),
                // Nothing in the reject bin yet: a foreign unit instead.
                None => {
                    self.fault = Some(PackingFault::ForeignUnit);
                    self.filling.push(CaseUnit {
                        unit: None,
                        printed: Some(format!("(01)09506000134352(21)FOREIGN{number}")),
                        diverted: false,
                    });
                }
            },
            _ => {}
        }
    }

    fn close(&mut self, short: bool) {
        let case = PhysicalCase {
            number: self.truth.cases.len() as u64 + 1,
            units: std::mem::take(&mut self.filling),
            fault: self.fault.take(),
            short,
        };
        // The camera thread ends only when the station drops its sender.
        let _ = self.camera.send(case.clone());
        self.truth.cases.push(case);
    }
}

/// The case camera's thread: renders, decodes and publishes each case handed to it; says when
/// it has published the last.
fn camera_thread(
    reader: String,
    mut publisher: impl ResultPublisher,
) -> (std_mpsc::Sender<PhysicalCase>, oneshot::Receiver<()>) {
    let (cases_tx, cases) = std_mpsc::channel::<PhysicalCase>();
    let (done_tx, done) = oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("twin-case-camera".to_owned())
        .spawn(move || {
            let mut camera = VisionSim::new(&reader, DamageRates::NONE, 1);
            while let Ok(case) = cases.recv() {
                let payload = case_payload(&reader, &case, &mut camera);
                publisher.publish(&reader, payload);
            }
            let _ = done_tx.send(());
        });
    if let Err(e) = spawned {
        // Without its thread the case camera reads nothing: no case is packed.
        tracing::error!(error = %e, "the twin case camera thread did not start");
    }
    (cases_tx, done)
}

/// The case read of `case`: one entry per unit with a print; the unreadable fault's unit (the
/// last) and any print that does not render read as `null`.
pub fn case_payload(reader: &str, case: &PhysicalCase, camera: &mut VisionSim) -> Vec<u8> {
    let unreadable = (case.fault == Some(PackingFault::UnreadableCode))
        .then(|| case.units.len().saturating_sub(1));
    let reads: Vec<String> = case
        .units
        .iter()
        .enumerate()
        .filter_map(|(n, unit)| {
            let printed = unit.printed.as_deref()?;
            let damage = if Some(n) == unreadable {
                Damage::Blank
            } else {
                Damage::None
            };
            let result = camera.inspect_with(printed, damage).ok();
            Some(match result.and_then(|r| r.data.zip(r.grade)) {
                Some((data, grade)) => {
                    format!(r#"{{"data":{},"grade":"{grade}"}}"#, json_string(&data))
                }
                None => r#"{"data":null}"#.to_owned(),
            })
        })
        .collect();
    format!(
        r#"{{"reader":{},"seq":{},"reads":[{}]{}}}"#,
        json_string(reader),
        case.number,
        reads.join(","),
        if case.short { r#","short":true"# } else { "" }
    )
    .into_bytes()
}

/// `text` as a JSON string (scanner data carries GS1's FNC1 as the control character GS).
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Collects what the case camera publishes.
    #[derive(Clone, Default)]
    struct Collect(Arc<Mutex<Vec<Vec<u8>>>>);

    impl ResultPublisher for Collect {
        fn publish(&mut self, _reader: &str, payload: Vec<u8>) {
            if let Ok(mut all) = self.0.lock() {
                all.push(payload);
            }
        }
    }

    fn unit(n: u64, diverted: bool) -> UnitTruth {
        UnitTruth {
            unit: n,
            entry: n * 100,
            printed: Some(format!("(01)09506000134352(21)S{n}")),
            reprint: false,
            damage: None,
            read: None,
            grade: None,
            good: !diverted,
            diverted,
        }
    }

    async fn run(
        faults: PackingFaults,
        units: &[UnitTruth],
    ) -> (PackingTruth, Vec<serde_json::Value>) {
        let collect = Collect::default();
        let mut station = CaseStation::new(
            CaseStationConfig {
                reader: "casecam".into(),
                units_per_case: 3,
                faults,
            },
            collect.clone(),
        );
        for u in units {
            station.passed(u);
        }
        let truth = station.finish().await;
        let published = collect
            .0
            .lock()
            .expect("lock")
            .iter()
            .map(|p| serde_json::from_slice(p).expect("JSON"))
            .collect();
        (truth, published)
    }

    fn numbers(case: &PhysicalCase) -> Vec<Option<u64>> {
        case.units.iter().map(|u| u.unit).collect()
    }

    #[tokio::test]
    async fn undiverted_units_fill_cases_in_gate_order_and_the_camera_reads_them() {
        let units: Vec<UnitTruth> = (1..=8).map(|n| unit(n, n == 2)).collect();
        let (truth, published) = run(PackingFaults::None, &units).await;
        let cases: Vec<_> = truth.cases.iter().map(numbers).collect();
        assert_eq!(
            cases,
            [
                vec![Some(1), Some(3), Some(4)],
                vec![Some(5), Some(6), Some(7)],
                vec![Some(8)]
            ]
        );
        assert!(truth.cases[2].short);
        assert_eq!(published.len(), 3);
        assert_eq!(published[0]["seq"], 1);
        assert_eq!(published[0]["reads"][0]["data"], "]d2010950600013435221S1");
        assert_eq!(published[2]["short"], true);
    }

    #[tokio::test]
    async fn heavy_faults_are_each_injected_and_recorded() {
        let units: Vec<UnitTruth> = (1..=60).map(|n| unit(n, n % 7 == 0)).collect();
        let (truth, published) = run(PackingFaults::Heavy, &units).await;
        let faults: Vec<_> = truth.cases.iter().filter_map(|c| c.fault).collect();
        for kind in KINDS {
            assert!(faults.contains(&kind), "{kind:?} not injected: {faults:?}");
        }
        for (case, payload) in truth.cases.iter().zip(&published) {
            let reads = payload["reads"].as_array().expect("reads");
            match case.fault {
                Some(PackingFault::MissingUnit) => assert_eq!(reads.len(), 2),
                Some(PackingFault::TooMany) => assert_eq!(reads.len(), 4),
                Some(PackingFault::UnreadableCode) => {
                    assert_eq!(reads.iter().filter(|r| r["data"].is_null()).count(), 1);
                }
                Some(PackingFault::ForeignUnit) => assert_eq!(case.units[0].unit, None),
                Some(PackingFault::RejectedPutBack) => assert!(case.units[0].diverted),
                None if !case.short => assert_eq!(reads.len(), 3),
                None => {}
            }
        }
        let missing = faults
            .iter()
            .filter(|f| **f == PackingFault::MissingUnit)
            .count();
        assert_eq!(truth.fallen.len(), missing);
    }
}
