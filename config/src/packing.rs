//! `[packing]` compiled: the packing station's mode and its counts (SPEC §3a, issue 14).

use std::collections::BTreeMap;

use serde::Serialize;

use super::compile::Errors;
use super::label::PackingLabel;
use super::raw::PackingSection;
use super::scanner::{Scanner, check_scanner};
use super::suggest;

/// The modes issue 14 names.
const MODES: [&str; 3] = ["inferred", "case_camera", "manual"];

/// Fields of tracemark's own case-read payload (docs/aggregation.md "Case camera mode") that a
/// case camera's `field_map` may rename: `data` and `grade` are paths inside each read.
pub const CASE_READ_FIELDS: [&str; 7] = ["reader", "seq", "ts", "reads", "data", "grade", "short"];

/// How units are assigned to cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PackingMode {
    /// The units that pass the gate, in order, fill the open case; diverted units never count.
    Inferred,
    /// A case camera images each filled case and lists every code it sees; the case is packed
    /// only when that set is exactly the case's verified, unpacked units of the batch.
    CaseCamera,
    /// A hand-scanner station: scan the package's label, its children, then CLOSE.
    Manual,
}

/// The case camera of `case_camera` mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseCamera {
    /// Its name: case reads arrive on `tracemark/<line>/vision/<reader>/result`.
    pub reader: String,
    /// tracemark field → the camera's dotted path (`data`, `grade`: inside each read).
    pub field_map: BTreeMap<String, String>,
}

/// The packing station, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Packing {
    /// How units are assigned to cases.
    pub mode: PackingMode,
    /// Units per case; `None`: the product's first pack size, at run time.
    pub units_per_case: Option<u32>,
    /// Cases per pallet; 0: no pallets.
    pub cases_per_pallet: u32,
    /// The line PLC's case packer count (IR 84–85) says when a case is full (`inferred`).
    pub case_packer_count: bool,
    /// The case camera (`case_camera` mode only).
    pub case_camera: Option<CaseCamera>,
    /// `manual`: the station's scanners.
    pub manual: Option<ManualStation>,
    /// The label printer and scanner (`[packing.label]`); none: packages close unlabelled.
    pub label: Option<PackingLabel>,
}

/// The hand scanners of a `manual` station.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManualStation {
    /// Units into cartons.
    pub scanner: Scanner,
    /// Cartons onto pallets, if the station has a palletiser.
    pub palletiser: Option<Scanner>,
}

/// Checks `[packing]`. `readers` are the line's `[readers.*]` names: the case camera must not
/// be one of them (its topic would carry two kinds of result).
pub(super) fn check_packing(
    raw: &PackingSection,
    readers: &[String],
    errors: &mut Errors,
) -> Option<Packing> {
    let mut ok = true;
    let mode = match raw.mode.as_str() {
        "inferred" => Some(PackingMode::Inferred),
        "case_camera" => Some(PackingMode::CaseCamera),
        "manual" => Some(PackingMode::Manual),
        other => {
            errors.push(
                "packing.mode",
                format!("unknown mode `{other}`{}", suggest::hint(other, &MODES)),
            );
            None
        }
    };
    if raw.units_per_case == Some(0) {
        errors.push(
            "packing.units_per_case",
            "must be at least 1 (leave it out to use the product's pack size)",
        );
        ok = false;
    }
    let case_camera = match mode {
        Some(PackingMode::CaseCamera) => check_case_camera(raw, readers, errors),
        _ => {
            if raw.reader.is_some() {
                errors.push(
                    "packing.reader",
                    "only `case_camera` mode has a case camera (mode = \"case_camera\")",
                );
                ok = false;
            }
            if !raw.field_map.is_empty() {
                errors.push(
                    "packing.field_map",
                    "only `case_camera` mode has a case camera (mode = \"case_camera\")",
                );
                ok = false;
            }
            None
        }
    };
    let manual = check_manual(raw, mode, errors, &mut ok);
    let mode = mode?;
    if raw.case_packer_count && mode != PackingMode::Inferred {
        errors.push(
            "packing.case_packer_count",
            "only the `inferred` mode counts cases by the case packer",
        );
        ok = false;
    }
    if mode == PackingMode::CaseCamera && case_camera.is_none() {
        return None;
    }
    ok.then_some(Packing {
        mode,
        units_per_case: raw.units_per_case,
        cases_per_pallet: raw.cases_per_pallet,
        case_packer_count: raw.case_packer_count,
        case_camera,
        manual,
        label: None,
    })
}

/// The case camera of `case_camera` mode: named, not a print-verifying reader, a known
/// field map.
fn check_case_camera(
    raw: &PackingSection,
    readers: &[String],
    errors: &mut Errors,
) -> Option<CaseCamera> {
    let mut ok = true;
    for field in raw.field_map.keys() {
        if !CASE_READ_FIELDS.contains(&field.as_str()) {
            errors.push(
                format!("packing.field_map.{field}"),
                format!("not a case-read field ({})", CASE_READ_FIELDS.join(", ")),
            );
            ok = false;
        }
    }
    let reader = match raw.reader.as_deref() {
        None => {
            errors.push(
                "packing.reader",
                "missing: `case_camera` needs the case camera's name (its results arrive on \
                 tracemark/<line>/vision/<reader>/result)",
            );
            return None;
        }
        Some(name) if !valid_name(name) => {
            errors.push(
                "packing.reader",
                format!("`{name}` is not a name of 1–64 letters, digits, `-` or `_`"),
            );
            return None;
        }
        Some(name) if readers.iter().any(|r| r == name) => {
            errors.push(
                "packing.reader",
                format!(
                    "`{name}` is a [readers.{name}], which verifies prints before the gate; the \
                     case camera is a reader of its own after it"
                ),
            );
            return None;
        }
        Some(name) => name.to_owned(),
    };
    ok.then(|| CaseCamera {
        reader,
        field_map: raw.field_map.clone(),
    })
}

/// An MQTT topic level of our own: no wildcards, no separators.
fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The scanners of `manual` mode: required there, refused elsewhere.
fn check_manual(
    raw: &PackingSection,
    mode: Option<PackingMode>,
    errors: &mut Errors,
    ok: &mut bool,
) -> Option<ManualStation> {
    if mode != Some(PackingMode::Manual) {
        for (key, given) in [
            ("scanner", raw.scanner.is_some()),
            ("palletiser", raw.palletiser.is_some()),
        ] {
            if given && mode.is_some() {
                errors.push(
                    format!("packing.{key}"),
                    "only a `manual` station has hand scanners",
                );
                *ok = false;
            }
        }
        return None;
    }
    let Some(scanner) = &raw.scanner else {
        errors.push(
            "packing.scanner",
            "missing: mode `manual` needs [packing.scanner] with its transport",
        );
        *ok = false;
        return None;
    };
    let scanner = check_scanner("packing.scanner", scanner, errors);
    let palletiser = raw
        .palletiser
        .as_ref()
        .map(|p| check_scanner("packing.palletiser", p, errors));
    match (scanner, palletiser) {
        (Some(scanner), None) => Some(ManualStation {
            scanner,
            palletiser: None,
        }),
        (Some(scanner), Some(Some(palletiser))) => Some(ManualStation {
            scanner,
            palletiser: Some(palletiser),
        }),
        _ => {
            *ok = false;
            None
        }
    }
}
