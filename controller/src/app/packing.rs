//! Packing (SPEC §3a, issue 14): cartons and pallets with their SSCCs, and the rework an
//! operator or QA does on them — add, remove, replace, unpack, close, reopen.
//!
//! One function per user job; the station modes (case camera, inferred, manual) and the label
//! printer of later steps call the same functions. The rules are the store's
//! (`tracemark_store::package`): every link is all or nothing, and a refusal names every
//! offending code with its reason (`AppError::Conflict`, field `pack`, exit status 2).

use serde::Serialize;
use tracemark_store::reconcile::PackageReconciliation;
use tracemark_store::{
    Actor, Package, PackageContents, PackageLevel, PackageState, Store, StoreError,
};

use super::AppError;

/// A batch's packages and their reconciliation.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PackageList {
    /// The batch.
    pub batch: i64,
    /// Its pallets, then its cartons, each in SSCC order.
    pub packages: Vec<Package>,
    /// Whether they balance (issue 14 item 5).
    pub reconciliation: PackageReconciliation,
}

/// Whether `text` is written as an SSCC (18 digits): a carton given where codes may be.
fn is_sscc(text: &str) -> bool {
    text.len() == 18 && text.bytes().all(|b| b.is_ascii_digit())
}

/// Allocates an SSCC for a new carton or pallet of batch `batch`; its capacity is `capacity`
/// or the product's pack size of that level.
pub async fn new_package(
    store: &Store,
    actor: &Actor,
    batch: i64,
    level: PackageLevel,
    capacity: Option<i64>,
) -> Result<Package, AppError> {
    store
        .with_actor(actor.clone())
        .create_package(batch, level, capacity)
        .await
        .map_err(AppError::from)
}

/// Puts units (codes) into carton `sscc`, or closed cartons (SSCCs) onto pallet `sscc`; all or
/// none.
pub async fn add(
    store: &Store,
    actor: &Actor,
    sscc: &str,
    items: &[String],
) -> Result<Package, AppError> {
    let store = store.with_actor(actor.clone());
    let package = store.package(sscc).await?;
    let packed = match package.level {
        PackageLevel::Carton => store.pack(sscc, items).await?,
        PackageLevel::Pallet => store.pack_cartons(sscc, items).await?,
    };
    Ok(packed)
}

/// Takes units (codes) out of their cartons, or cartons (SSCCs) off their pallets; each
/// package must be open (reopen it first). All or none. Returns each item with the package it
/// left.
pub async fn remove(
    store: &Store,
    actor: &Actor,
    items: &[String],
) -> Result<Vec<(String, String)>, AppError> {
    let store = store.with_actor(actor.clone());
    let cartons = items.iter().filter(|i| is_sscc(i)).count();
    if cartons == 0 {
        Ok(store.unpack_codes(items).await?)
    } else if cartons == items.len() {
        Ok(store.unpack_cartons(items).await?)
    } else {
        Err(AppError::input(
            "items",
            "give unit codes or carton SSCCs, not both",
        ))
    }
}

/// [`remove`], for items that must all be in package `sscc` (a unit in carton `sscc`, a carton
/// on pallet `sscc`): an item elsewhere is refused, naming it, and nothing changes.
pub async fn remove_from(
    store: &Store,
    actor: &Actor,
    sscc: &str,
    items: &[String],
) -> Result<Vec<(String, String)>, AppError> {
    check_in(store, sscc, items).await?;
    remove(store, actor, items).await
}

/// [`replace`], for a unit `old` that must be in carton `sscc`.
pub async fn replace_in(
    store: &Store,
    actor: &Actor,
    sscc: &str,
    old: &str,
    new: &str,
) -> Result<Package, AppError> {
    check_in(store, sscc, &[old.to_owned()]).await?;
    replace(store, actor, old, new).await
}

/// Refuses, naming them, the items (unit codes or carton SSCCs) that are not in package `sscc`.
async fn check_in(store: &Store, sscc: &str, items: &[String]) -> Result<(), AppError> {
    store.package(sscc).await?;
    let mut elsewhere = Vec::new();
    for item in items {
        let holder = if is_sscc(item) {
            store.package(item).await?.parent
        } else {
            store.code(item).await?.package
        };
        if holder.as_deref() != Some(sscc) {
            elsewhere.push(format!(
                "{item} is in {}",
                holder.as_deref().unwrap_or("no package")
            ));
        }
    }
    if elsewhere.is_empty() {
        Ok(())
    } else {
        Err(AppError::Conflict {
            field: "pack",
            reason: format!("{sscc}: {}", elsewhere.join("; ")),
        })
    }
}

/// Replaces packed unit `old` by verified unit `new` in `old`'s open carton, in one
/// transaction. Returns the carton.
pub async fn replace(
    store: &Store,
    actor: &Actor,
    old: &str,
    new: &str,
) -> Result<Package, AppError> {
    store
        .with_actor(actor.clone())
        .replace_code(old, new)
        .await
        .map_err(AppError::from)
}

/// Takes every child out of the open package `sscc`; returns how many.
pub async fn unpack(store: &Store, actor: &Actor, sscc: &str) -> Result<usize, AppError> {
    store
        .with_actor(actor.clone())
        .unpack_package(sscc)
        .await
        .map_err(AppError::from)
}

/// Closes package `sscc`; under its capacity it is closed short (flagged in the reports).
///
/// A package whose label was verified and whose count changed since (rework added or removed
/// children) needs a new label first: closing it is refused, naming `pack label` (the rule of
/// docs/aggregation.md "Labels", here for every edge).
pub async fn close(store: &Store, actor: &Actor, sscc: &str) -> Result<Package, AppError> {
    if let Some(reason) = store.package(sscc).await?.close_refusal() {
        return Err(AppError::Conflict {
            field: "label",
            reason,
        });
    }
    set_state(store, actor, sscc, PackageState::Closed).await
}

/// Prints the label of the open package `sscc` on `line`'s label printer and has its scanner
/// read it back (`[packing.label]`; the line's station, as the packing modes use it): after
/// rework changed its count, or to label a package by hand. Reprints as the station does;
/// `verified` on success, with the new count.
pub async fn label(
    store: &Store,
    actor: &Actor,
    sscc: &str,
    line: &crate::config::Line,
) -> Result<crate::aggregation::label::LabelOutcome, AppError> {
    use crate::aggregation::label::{LabelError, LabelStation};
    let store = store.with_actor(actor.clone());
    let package = store.package(sscc).await?;
    if !package.state.is_open() {
        return Err(AppError::Conflict {
            field: "state",
            reason: format!(
                "{} {sscc} is {}: reopen it first (tracemark pack reopen {sscc})",
                package.level, package.state
            ),
        });
    }
    let mut station = LabelStation::for_line(
        store.clone(),
        line,
        crate::aggregation::label::SCANNER_READY,
    )
    .await
    .map_err(|e| AppError::input("config", e))?
    .ok_or_else(|| {
        AppError::input(
            "config",
            format!("line {} has no [packing.label]: no label printer", line.id),
        )
    })?;
    station.label_and_verify(sscc).await.map_err(|e| match e {
        LabelError::Store(e) => e.into(),
        other => AppError::Conflict {
            field: "label",
            reason: other.to_string(),
        },
    })
}

/// Reopens the closed package `sscc` for rework.
pub async fn reopen(store: &Store, actor: &Actor, sscc: &str) -> Result<Package, AppError> {
    set_state(store, actor, sscc, PackageState::Reopened).await
}

/// Voids the empty, unused package `sscc` (its SSCC is never issued again).
pub async fn void(store: &Store, actor: &Actor, sscc: &str) -> Result<Package, AppError> {
    set_state(store, actor, sscc, PackageState::Voided).await
}

async fn set_state(
    store: &Store,
    actor: &Actor,
    sscc: &str,
    to: PackageState,
) -> Result<Package, AppError> {
    store
        .with_actor(actor.clone())
        .set_package_state(sscc, to)
        .await
        .map_err(|err| match err {
            StoreError::Invalid {
                field: "state",
                reason,
            } => AppError::Conflict {
                field: "state",
                reason,
            },
            other => other.into(),
        })
}

/// Closes every open package of batch `batch` before the batch closes (`batches::set_state`):
/// cartons first, so they can still go onto an open pallet's record, then pallets; a package
/// with children is closed (short when under capacity), an empty one voided. Returns how many
/// packages it closed or voided.
pub async fn close_open_packages(
    store: &Store,
    actor: &Actor,
    batch: i64,
) -> Result<u64, AppError> {
    let mut open: Vec<Package> = store
        .packages_of_batch(batch)
        .await?
        .into_iter()
        .filter(|p| p.state.is_open())
        .collect();
    // Cartons before pallets.
    open.sort_by_key(|p| p.level == PackageLevel::Pallet);
    let mut closed = 0;
    for package in open {
        let to = if package.children_count > 0 {
            PackageState::Closed
        } else {
            PackageState::Voided
        };
        set_state(store, actor, &package.sscc, to).await?;
        closed += 1;
    }
    Ok(closed)
}

/// GS1's example company prefix, that of the demo product's GTIN (0950600…).
const SIMULATION_GS1_PREFIX: &str = "9506000";

/// A simulation's store (`demo`, `simulate`) with a packing line needs SSCCs: when the producer
/// has no GS1 company prefix, this sets GS1's example one (`9506000`) and, when there is no
/// producer at all, a demo producer. Never call it on a production store. Returns whether it
/// set anything.
pub async fn ensure_simulation_sscc_coding(store: &Store, actor: &Actor) -> Result<bool, AppError> {
    if store.sscc_coding().await?.is_some() {
        return Ok(false);
    }
    let store = store.with_actor(actor.clone());
    if store.producer().await?.is_none() {
        store
            .set_producer(&tracemark_store::Producer {
                name: "Demo producer (simulation)".into(),
                uscc: "91350100M000100Y43".into(),
                address: "Simulated line".into(),
                contact: "demo@example.com".into(),
                business_licence: "simulation".into(),
            })
            .await?;
    }
    store
        .set_sscc_coding(&tracemark_store::SsccCoding {
            company_prefix: SIMULATION_GS1_PREFIX.into(),
            extension_digit: 0,
        })
        .await?;
    Ok(true)
}

/// Package `sscc` and what is in it: a pallet's cartons with their units, a carton's units.
pub async fn show(store: &Store, sscc: &str) -> Result<PackageContents, AppError> {
    Ok(store.package_contents(sscc).await?)
}

/// The packages of batch `batch` and their reconciliation.
pub async fn list(store: &Store, batch: i64) -> Result<PackageList, AppError> {
    Ok(PackageList {
        batch,
        packages: store.packages_of_batch(batch).await?,
        reconciliation: store.package_reconciliation(batch).await?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracemark_store::{LinkProblem, Refusal};

    #[test]
    fn a_refusal_is_a_conflict_naming_each_code() {
        let err = AppError::from(StoreError::PackRefused {
            package: Some("095060000000000011".into()),
            refusals: vec![Refusal {
                item: "(01)09506000134352(21)1".into(),
                problem: LinkProblem::Unknown,
            }],
        });
        assert_eq!(err.exit_status(), 2);
        assert_eq!(
            err.to_string(),
            "pack: 095060000000000011: (01)09506000134352(21)1: unknown code"
        );
        assert!(is_sscc("095060000000000011"));
        assert!(!is_sscc("(01)09506000134352(21)1"));
    }
}
