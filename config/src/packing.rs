//! `[packing]` compiled: the packing station's mode and its counts (SPEC §3a, issue 14).

use serde::Serialize;

use super::compile::Errors;
use super::raw::PackingSection;
use super::scanner::{Scanner, check_scanner};
use super::suggest;

/// The modes issue 14 names; `case_camera` is not built yet.
const MODES: [&str; 3] = ["inferred", "case_camera", "manual"];

/// How units are assigned to cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PackingMode {
    /// The units that pass the gate, in order, fill the open case; diverted units never count.
    Inferred,
    /// A hand-scanner station: scan the package's label, its children, then CLOSE.
    Manual,
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
    /// `manual`: the station's scanners.
    pub manual: Option<ManualStation>,
}

/// The hand scanners of a `manual` station.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManualStation {
    /// Units into cartons.
    pub scanner: Scanner,
    /// Cartons onto pallets, if the station has a palletiser.
    pub palletiser: Option<Scanner>,
}

/// Checks `[packing]`.
pub(super) fn check_packing(raw: &PackingSection, errors: &mut Errors) -> Option<Packing> {
    let mut ok = true;
    let mode = match raw.mode.as_str() {
        "inferred" => Some(PackingMode::Inferred),
        "manual" => Some(PackingMode::Manual),
        "case_camera" => {
            errors.push(
                "packing.mode",
                format!(
                    "`{}` is not built yet (issue 14); `inferred` and `manual` are",
                    raw.mode
                ),
            );
            None
        }
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
    let manual = check_manual(raw, mode, errors, &mut ok);
    let mode = mode?;
    ok.then_some(Packing {
        mode,
        units_per_case: raw.units_per_case,
        cases_per_pallet: raw.cases_per_pallet,
        manual,
    })
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
