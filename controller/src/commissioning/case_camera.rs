//! `case_camera` packing (docs/aggregation.md "Case camera mode") compared with the twin's
//! physical cases (`tracemark_sim::packing::case_station`).
//!
//! Cartons are not matched to cases by their order here: a refused case allocates no carton,
//! and the twin cannot know which cases the controller refused. Each carton the run closed is
//! matched instead with the physical case that holds its first recorded unit, and compared
//! unit by unit: a unit the record puts in the carton that is not physically in that case, and
//! a physical unit of that case the record does not hold (a foreign one, one with no readable
//! code), are each an aggregation disagreement. A physical case no carton matches went to
//! rework: its units are loose in the records and physically in the rework bin — no
//! disagreement, but the number of such cases must be the controller's `cases_reworked`
//! (otherwise a case was neither packed nor sent to rework: a disagreement too). The cartons
//! that closed reach the palletiser in the order of their cases (`packing::compare_pallets`).

use std::collections::{HashMap, HashSet};

use tracemark_sim::packing::case_station::PackingTruth;
use tracemark_store::{PackageLevel, Store, StoreError};

use super::packing::{PackingFindings, closed, compare_pallets};
use crate::verify::gs1_code_of;

/// Compares the run's cartons (those not in `before`) with the physical cases; `findings`
/// already holds the batch's counts. `cases_reworked`: what the controller reported.
pub(super) async fn compare_cases(
    store: &Store,
    batch: i64,
    truth: &PackingTruth,
    before: &HashSet<String>,
    cases_reworked: u64,
    per_pallet: u32,
    findings: &mut PackingFindings,
) -> Result<(), StoreError> {
    let packages: Vec<_> = store
        .packages_of_batch(batch)
        .await?
        .into_iter()
        .filter(|p| !before.contains(&p.sscc))
        .collect();
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

    // Which physical case each code is in; the codes of each case (`None`: no readable code).
    let mut case_of: HashMap<String, usize> = HashMap::new();
    let physical: Vec<Vec<Option<String>>> = truth
        .cases
        .iter()
        .map(|case| {
            case.units
                .iter()
                .map(|u| u.printed.as_deref().and_then(gs1_code_of))
                .collect()
        })
        .collect();
    for (n, codes) in physical.iter().enumerate() {
        for code in codes.iter().flatten() {
            case_of.insert(code.clone(), n);
        }
    }
    let mut problem = |what: String| {
        findings.disagreements += 1;
        if findings.details.len() < 20 {
            findings.details.push(what);
        }
    };
    let mut matched: HashSet<usize> = HashSet::new();
    // The cartons that closed, with their physical case: the palletiser's order.
    let mut stacked: Vec<(usize, String)> = Vec::new();
    for carton in &cartons {
        let recorded: Vec<String> = store.package_contents(&carton.sscc).await?.units;
        let Some(n) = recorded.iter().find_map(|code| case_of.get(code).copied()) else {
            for code in &recorded {
                problem(format!(
                    "carton {}: {code} recorded in it, in no physical case",
                    carton.sscc
                ));
            }
            continue;
        };
        if !matched.insert(n) {
            problem(format!(
                "carton {}: physical case {} already matched another carton",
                carton.sscc,
                n + 1
            ));
        } else if closed(carton.state) {
            stacked.push((n, carton.sscc.clone()));
        }
        let case = &physical[n];
        let inside: HashSet<&str> = case.iter().flatten().map(String::as_str).collect();
        for code in &recorded {
            if !inside.contains(code.as_str()) {
                problem(format!(
                    "carton {}: {code} recorded in it, not physically in case {}",
                    carton.sscc,
                    n + 1
                ));
            }
        }
        let held: HashSet<&str> = recorded.iter().map(String::as_str).collect();
        for (k, code) in case.iter().enumerate() {
            match code {
                Some(code) if held.contains(code.as_str()) => {}
                Some(code) => problem(format!(
                    "case {}: {code} is in it, not in the record of {}",
                    n + 1,
                    carton.sscc
                )),
                None => problem(format!(
                    "case {}: unit {} has no code, in carton {}",
                    n + 1,
                    k + 1,
                    carton.sscc
                )),
            }
        }
    }
    let to_rework = (truth.cases.len() - matched.len()) as u64;
    if to_rework != cases_reworked {
        problem(format!(
            "{to_rework} physical cases were not packed, the controller sent {cases_reworked} to \
             rework"
        ));
    }
    stacked.sort();
    let stacked: Vec<String> = stacked.into_iter().map(|(_, sscc)| sscc).collect();
    let pallets: Vec<_> = packages
        .iter()
        .filter(|p| p.level == PackageLevel::Pallet)
        .collect();
    compare_pallets(store, &stacked, &pallets, per_pallet, findings).await
}
