//! Inferred packing (docs/aggregation.md "Inferred mode") compared with the twin's physical
//! cases: the n-th physical case of the run is the n-th carton the run opened, and every unit
//! the record puts in a carton must be physically in its case, and every physical unit in a
//! case must be in its carton's record. Pallets are compared the same way one level up
//! ([`compare_pallets`], for every mode): the palletiser stacks the cartons that closed in the
//! order they reach it, `cases_per_pallet` to a pallet.

use std::collections::HashSet;

use tracemark_sim::twin::GroundTruth;
use tracemark_store::reconcile::Reconciliation;
use tracemark_store::{Package, PackageLevel, PackageState, Store, StoreError};

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

/// What earlier runs of the batch left, read before the run: the packages they finished (the
/// run's own are the others — an empty open carton or pallet an interrupted run left is taken
/// over by this run), and their loose units, which the run packs first (the open case the
/// station resumes, docs/aggregation.md "After kill -9").
#[derive(Debug, Clone, Default)]
pub(super) struct EarlierPacking {
    pub(super) finished: HashSet<String>,
    /// The units physically in the case packer when the run starts, in order.
    carried: Vec<String>,
    /// The cartons waiting for a pallet when the run starts (closed, or filled and about to
    /// close, on no pallet), in SSCC order: the first the palletiser stacks.
    pub(super) unpalletised: Vec<String>,
}

/// Reads [`EarlierPacking`] of `batch`.
pub(super) async fn earlier_packing(
    store: &Store,
    batch: i64,
) -> Result<EarlierPacking, StoreError> {
    let packages = store.packages_of_batch(batch).await?;
    let finished = packages
        .iter()
        .filter(|p| {
            p.children_count > 0
                || matches!(
                    p.state,
                    PackageState::Closed
                        | PackageState::Palletised
                        | PackageState::Shipped
                        | PackageState::Voided
                )
        })
        .map(|p| p.sscc.clone())
        .collect();
    let unpalletised = packages
        .iter()
        .filter(|p| {
            p.level == PackageLevel::Carton
                && p.parent.is_none()
                && (p.state == PackageState::Closed
                    || (p.children_count > 0
                        && matches!(
                            p.state,
                            PackageState::Allocated
                                | PackageState::Labelled
                                | PackageState::Verified
                        )))
        })
        .map(|p| p.sscc.clone())
        .collect();
    Ok(EarlierPacking {
        finished,
        carried: store.loose_units(batch).await?,
        unpalletised,
    })
}

/// Compares the cartons and pallets the run made (`earlier`: what earlier runs left) with the
/// physical cases of `plan.units_per_case`: the units carried from an earlier run, then the
/// twin's units that passed the gate. Units whose code is in `pulled`
/// (rejected as `gate_fault`: the line stopped for the operator to take them off) reach no case.
pub(super) async fn compare_packing(
    store: &Store,
    batch: i64,
    truth: &GroundTruth,
    plan: Option<(Plan, EarlierPacking)>,
    reconciliation: &Reconciliation,
    pulled: &HashSet<String>,
) -> Result<PackingFindings, StoreError> {
    let mut findings = PackingFindings {
        packed: reconciliation.packed,
        loose: reconciliation.loose,
        ..PackingFindings::default()
    };
    let Some((plan, earlier)) = plan else {
        return Ok(findings);
    };
    let packages: Vec<_> = store
        .packages_of_batch(batch)
        .await?
        .into_iter()
        .filter(|p| !earlier.finished.contains(&p.sscc))
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
    // Each physical unit as (what it is, its code): the carried ones first, then the twin's.
    // (The same units as `GroundTruth::cases`, which knows no carried ones.)
    let undiverted = truth.units.iter().filter(|unit| {
        !unit.diverted
            && !unit
                .printed
                .as_deref()
                .and_then(gs1_code_of)
                .is_some_and(|code| pulled.contains(&code))
    });
    let physical_units: Vec<(String, Option<String>)> = earlier
        .carried
        .iter()
        .map(|code| {
            (
                "a unit carried from an earlier run".to_owned(),
                Some(code.clone()),
            )
        })
        .chain(undiverted.map(|unit| {
            (
                format!("unit {}", unit.unit),
                unit.printed.as_deref().and_then(gs1_code_of),
            )
        }))
        .collect();
    let cases: Vec<&[(String, Option<String>)]> = physical_units
        .chunks(plan.units_per_case.max(1) as usize)
        .collect();
    let problem = |findings: &mut PackingFindings, what: String| {
        findings.disagreements += 1;
        if findings.details.len() < 20 {
            findings.details.push(what);
        }
    };
    for n in 0..cases.len().max(cartons.len()) {
        let case = cases.get(n).copied().unwrap_or_default();
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
        for (unit, code) in case {
            match code {
                Some(code) if recorded.contains(code) => {
                    physical.insert(code.clone());
                }
                Some(code) => {
                    problem(
                        &mut findings,
                        format!(
                            "case {}: {unit} ({code}) is in it, not in the record of {sscc}",
                            n + 1,
                        ),
                    );
                    physical.insert(code.clone());
                }
                None => problem(
                    &mut findings,
                    format!("case {}: {unit} is in it with no code ({sscc})", n + 1),
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
    // The palletiser: what earlier runs left waiting, then the run's cartons that closed, in
    // the order of their cases.
    let stacked: Vec<String> = earlier
        .unpalletised
        .iter()
        .cloned()
        .chain(
            cartons
                .iter()
                .filter(|c| closed(c.state))
                .map(|c| c.sscc.clone()),
        )
        .collect();
    let pallets: Vec<&Package> = packages
        .iter()
        .filter(|p| p.level == PackageLevel::Pallet)
        .collect();
    compare_pallets(
        store,
        &stacked,
        &pallets,
        plan.cases_per_pallet,
        &mut findings,
    )
    .await?;
    Ok(findings)
}

/// A carton that left the packing station: the palletiser takes it.
pub(super) fn closed(state: PackageState) -> bool {
    matches!(
        state,
        PackageState::Closed | PackageState::Palletised | PackageState::Shipped
    )
}

/// Compares the run's pallets (`pallets`) with the physical ones: the palletiser stacks the
/// cartons `stacked`, in that order, `per_pallet` to a pallet (the last one short). Each
/// physical pallet must be one pallet record holding exactly its cartons; a carton the record
/// puts on another pallet or on none, a pallet record holding other cartons, and a pallet
/// record no physical pallet matches are each a disagreement. Without pallets
/// (`per_pallet` 0) a pallet record is one.
pub(super) async fn compare_pallets(
    store: &Store,
    stacked: &[String],
    pallets: &[&Package],
    per_pallet: u32,
    findings: &mut PackingFindings,
) -> Result<(), StoreError> {
    let mut problem = |what: String| {
        findings.disagreements += 1;
        if findings.details.len() < 20 {
            findings.details.push(what);
        }
    };
    let mut matched: HashSet<String> = HashSet::new();
    if per_pallet > 0 {
        for (n, physical) in stacked.chunks(per_pallet as usize).enumerate() {
            let mut on = Vec::with_capacity(physical.len());
            for carton in physical {
                on.push(store.package(carton).await?.parent);
            }
            // The physical pallet's record: the one its first carton is on.
            let Some(Some(record)) = on.first().cloned() else {
                problem(format!(
                    "pallet {}: carton {} is on it, on no pallet in the records",
                    n + 1,
                    physical.first().map_or("?", String::as_str)
                ));
                continue;
            };
            if !matched.insert(record.clone()) {
                problem(format!(
                    "pallet {}: its record {record} is already another physical pallet's",
                    n + 1
                ));
            }
            for (carton, parent) in physical.iter().zip(&on) {
                if parent.as_deref() != Some(record.as_str()) {
                    problem(format!(
                        "pallet {} ({record}): carton {carton} is on it, the records put it on \
                         {}",
                        n + 1,
                        parent.as_deref().unwrap_or("no pallet")
                    ));
                }
            }
            let held = store.package(&record).await?.children_count;
            if held != physical.len() as i64 {
                problem(format!(
                    "pallet {} ({record}): {} cartons on it, the records hold {held}",
                    n + 1,
                    physical.len()
                ));
            }
        }
    }
    for pallet in pallets {
        if pallet.children_count > 0 && !matched.contains(&pallet.sscc) {
            problem(format!(
                "pallet {}: {} cartons in the records, no physical pallet",
                pallet.sscc, pallet.children_count
            ));
        }
    }
    Ok(())
}
