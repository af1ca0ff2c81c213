//! `[packing]` compiled: the packing station's mode and its counts (SPEC §3a, issue 14).

use serde::Serialize;

use super::compile::Errors;
use super::label::PackingLabel;
use super::raw::PackingSection;
use super::suggest;

/// The modes issue 14 names; only the first is built.
const MODES: [&str; 3] = ["inferred", "case_camera", "manual"];

/// How units are assigned to cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PackingMode {
    /// The units that pass the gate, in order, fill the open case; diverted units never count.
    Inferred,
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
    /// The label printer and scanner (`[packing.label]`); none: packages close unlabelled.
    pub label: Option<PackingLabel>,
}

/// Checks `[packing]`.
pub(super) fn check_packing(raw: &PackingSection, errors: &mut Errors) -> Option<Packing> {
    let mut ok = true;
    let mode = match raw.mode.as_str() {
        "inferred" => Some(PackingMode::Inferred),
        "case_camera" | "manual" => {
            errors.push(
                "packing.mode",
                format!(
                    "`{}` is not built yet (issue 14); `inferred` is the mode available now",
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
    let mode = mode?;
    ok.then_some(Packing {
        mode,
        units_per_case: raw.units_per_case,
        cases_per_pallet: raw.cases_per_pallet,
        label: None,
    })
}
