//! Inferred packing (docs/aggregation.md "Inferred mode") compared with the twin's physical
//! cases: the n-th physical case of the run is the n-th carton the run opened, and every unit
//! the record puts in a carton must be physically in its case, and every physical unit in a
//! case must be in its carton's record.

use std::collections::HashSet;

use tracemark_sim::twin::GroundTruth;
use tracemark_store::reconcile::Reconciliation;
use tracemark_store::{PackageLevel, Store, StoreError};

use crate::aggregation::Plan;
use crate::verify::gs1_code_of;

/// What the run packed, and where the records disagree with the physical cases.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct PackingFindings {
    pub(super) packed: i64,
    pub(super) loose: i64,
    pub(super) cartons: u64,
    pub(super) partial_cartons: u64,
    pub(super) pallets: u64,
    /// Units linked to a carton they are not physically in, plus physical units in a case
    /// whose carton does not hold them.
    pub(super) disagreements: u64,
    /// The first of them, in words.
    pub(super) details: Vec<String>,
}

/// The SSCCs of the batch's packages before the run: the run's own are the others.
pub(super) async fn packages_before(
    store: &Store,
    batch: i64,
) -> Result<HashSet<String>, StoreError> {
    Ok(store
        .packages_of_batch(batch)
        .await?
        .into_iter()
        .map(|p| p.sscc)
        .collect())
}

/// Compares the cartons and pallets the run made (`before`: the batch's packages before it)
/// with the twin's physical cases of `plan.units_per_case`. Units whose code is in `pulled`
/// (rejected as `gate_fault`: the line stopped for the operator to take them off) reach no case.
pub(super) async fn compare_packing(
    store: &Store,
    batch: i64,
    truth: &GroundTruth,
    plan: Option<(Plan, HashSet<String>)>,
    reconciliation: &Reconciliation,
    pulled: &HashSet<String>,
) -> Result<PackingFindings, StoreError> {
    let mut findings = PackingFindings {
        packed: reconciliation.packed,
        loose: reconciliation.loose,
        ..PackingFindings::default()
    };
    let Some((plan, before)) = plan else {
        return Ok(findings);
    };
    let packages: Vec<_> = store
        .packages_of_batch(batch)
        .await?
        .into_iter()
        .filter(|p| !before.contains(&p.sscc))
        .collect();
    // In SSCC order: the order the run allocated them.
    let cartons: Vec<_> = packages
        .iter()
        .filter(|p| p.level == PackageLevel::Carton)
        .collect();
    findings.cartons = cartons.len() as u64;
    findings.partial_cartons = cartons.iter().filter(|c| c.short).count() as u64;
    findings.pallets = packages
        .iter()
        .filter(|p| p.level == PackageLevel::Pallet)
        .count() as u64;
    let cases = truth.cases(plan.units_per_case as usize, |unit| {
        unit.printed
            .as_deref()
            .and_then(gs1_code_of)
            .is_some_and(|code| pulled.contains(&code))
    });
    let problem = |findings: &mut PackingFindings, what: String| {
        findings.disagreements += 1;
        if findings.details.len() < 20 {
            findings.details.push(what);
        }
    };
    for n in 0..cases.len().max(cartons.len()) {
        let case = cases.get(n).map(Vec::as_slice).unwrap_or_default();
        let (sscc, recorded): (&str, HashSet<String>) = match cartons.get(n) {
            Some(carton) => (
                &carton.sscc,
                store
                    .package_contents(&carton.sscc)
                    .await?
                    .units
                    .into_iter()
                    .collect(),
            ),
            None => ("no carton", HashSet::new()),
        };
        let mut physical = HashSet::new();
        for unit in case {
            match unit.printed.as_deref().and_then(gs1_code_of) {
                Some(code) if recorded.contains(&code) => {
                    physical.insert(code);
                }
                Some(code) => {
                    problem(
                        &mut findings,
                        format!(
                            "case {}: unit {} ({code}) is in it, not in the record of {sscc}",
                            n + 1,
                            unit.unit
                        ),
                    );
                    physical.insert(code);
                }
                None => problem(
                    &mut findings,
                    format!(
                        "case {}: unit {} is in it with no code ({sscc})",
                        n + 1,
                        unit.unit
                    ),
                ),
            }
        }
        for code in recorded.difference(&physical) {
            problem(
                &mut findings,
                format!(
                    "carton {sscc}: {code} recorded in it, not physically in case {}",
                    n + 1
                ),
            );
        }
    }
    Ok(findings)
}
