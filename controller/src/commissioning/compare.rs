//! A run's records compared with the twin's ground truth: every code's state against what
//! physically happened to its unit, the batch's reconciliation, and (with `[packing]`) the
//! packages against the physical cases and pallets (`packing.rs`, `case_camera.rs`).

use std::collections::{HashMap, HashSet};

use tracemark_sim::twin::GroundTruth;
use tracemark_store::reconcile::Reconciliation;
use tracemark_store::{CODE_STATES, CodeState, RejectReason, Store};

use super::{CommissioningError, Report, case_camera, packing};
use crate::line::LineReport;
use crate::verify::gs1_code_of;

/// Compares the store's records of `batch` with ground truth.
pub(super) async fn compare(
    store: &Store,
    batch: i64,
    truth: &GroundTruth,
    line: LineReport,
    line_id: String,
    packing: Option<(crate::aggregation::Plan, packing::EarlierPacking)>,
) -> Result<Report, CommissioningError> {
    let mut states: HashMap<String, CodeState> = HashMap::new();
    let mut gate_faults: HashSet<String> = HashSet::new();
    for state in CODE_STATES {
        for record in store.codes_of_batch(batch, state, i64::MAX).await? {
            if record.reason == Some(RejectReason::GateFault) {
                gate_faults.insert(record.code.clone());
            }
            states.insert(record.code, state);
        }
    }
    let counts = store.batch_counts(batch).await?;
    let reconciliation = Reconciliation::from_counts(&counts);
    let mut disagreements = Vec::new();
    let mut unaccounted = 0u64;
    for unit in &truth.units {
        let Some(printed) = &unit.printed else {
            continue;
        };
        let Some(code) = gs1_code_of(printed) else {
            disagreements.push(format!(
                "unit {}: printed {printed:?}, not a code",
                unit.unit
            ));
            continue;
        };
        let state = states.get(&code).copied();
        let agrees = match state {
            // Packed is verified, then put into a carton (compared with the cases below).
            Some(CodeState::Verified | CodeState::Packed) => !unit.diverted,
            // A gate fault is the controller saying the unit may have gone by (and stopping
            // the line for it to be pulled): right either way.
            Some(CodeState::Rejected) => unit.diverted || gate_faults.contains(&code),
            _ => false,
        };
        if !agrees {
            if !matches!(
                state,
                Some(CodeState::Verified | CodeState::Packed | CodeState::Rejected)
            ) {
                unaccounted += 1;
            }
            disagreements.push(format!(
                "unit {}: {code} {} by the gate, recorded {}",
                unit.unit,
                if unit.diverted { "diverted" } else { "passed" },
                state.map_or("nowhere".to_owned(), |s| s.to_string())
            ));
        }
    }
    unaccounted += (reconciliation.in_flight + reconciliation.awaiting_verification) as u64;
    let balanced = reconciliation.allocated == reconciliation.voided + reconciliation.printed
        && reconciliation.printed == reconciliation.verified + reconciliation.rejected
        && reconciliation.in_flight == 0
        && reconciliation.awaiting_verification == 0;
    let minutes = truth.running.as_secs_f64() / 60.0;
    // A case-camera station's cases are compared by their contents (`case_camera.rs`); the
    // inferred station's by their order (`packing.rs`).
    let (inferred, cased) = match (&truth.packing, packing) {
        (Some(cases), Some((plan, before))) => (None, Some((cases, plan, before))),
        (_, packing) => (packing, None),
    };
    let cases_reworked = line.packing.as_ref().map_or(0, |p| p.cases_reworked);
    let mut packed =
        packing::compare_packing(store, batch, truth, inferred, &reconciliation, &gate_faults)
            .await?;
    if let Some((cases, plan, before)) = cased {
        case_camera::compare_cases(
            store,
            batch,
            cases,
            &before.finished,
            cases_reworked,
            plan.cases_per_pallet,
            &mut packed,
        )
        .await?;
    }
    disagreements.extend(packed.details);
    disagreements.truncate(20);
    let escaped: Vec<String> = truth
        .units
        .iter()
        .filter(|u| !u.good && !u.diverted)
        .take(20)
        .map(|u| {
            format!(
                "unit {} (entry {}): printed {:?}{}, damage {:?}, read {:?} grade {:?}, recorded {}",
                u.unit,
                u.entry,
                u.printed,
                if u.reprint { " (reprint)" } else { "" },
                u.damage,
                u.read,
                u.grade,
                u.printed
                    .as_deref()
                    .and_then(gs1_code_of)
                    .and_then(|code| states.get(&code))
                    .map_or("nothing".to_owned(), |s| s.to_string())
            )
        })
        .collect();
    Ok(Report {
        line_id,
        units: truth.units.len() as u64,
        allocated: reconciliation.allocated,
        printed: reconciliation.printed,
        verified: reconciliation.verified,
        rejected: reconciliation.rejected,
        voided: reconciliation.voided,
        escapes: truth.escapes(),
        false_rejects: truth.false_rejects(),
        duplicates: truth.duplicates(),
        unaccounted,
        balanced,
        units_per_min: if minutes > 0.0 {
            (truth.units.len() as f64 / minutes).round()
        } else {
            0.0
        },
        diverted: truth.diverted(),
        unprinted: truth.unprinted(),
        disagreements,
        escaped,
        packed: packed.packed,
        loose: packed.loose,
        cartons: packed.cartons,
        partial_cartons: packed.partial_cartons,
        pallets: packed.pallets,
        cases_reworked,
        labels: line.packing.as_ref().and_then(|p| p.labels.clone()),
        aggregation_disagreements: packed.disagreements,
        reconciliation,
        line: line.stats,
        recovered: line.recovered,
        marker_faults_injected: 0,
    })
}
