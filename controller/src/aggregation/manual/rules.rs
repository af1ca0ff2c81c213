//! Hand packing at a scanner station (`[packing] mode = "manual"`, docs/aggregation.md "Manual
//! mode"): opening a package at the station, checking each scan before it is accepted, and
//! closing the package with what was scanned.
//!
//! The link rules are the store's (`tracemark_store::package`, `store/src/sql/links.rs`): a scan
//! is checked by a dry run of the very pack the close will make ([`Store::check_pack`]), so the
//! station answers "bad" for exactly what the close would refuse, with the same reason.

use std::collections::HashSet;

use tracemark_store::package::LinkProblem;
use tracemark_store::{Actor, Package, PackageLevel, PackageState, Store, StoreError};

use crate::aggregation::label::SharedLabelStation;

/// Package `sscc` as the open package of a station packing `level` for batch `batch`:
/// `Ok(Err(reason))` when it cannot be (unknown, another level or batch, not open).
pub(super) async fn open_at_station(
    store: &Store,
    batch: i64,
    level: PackageLevel,
    sscc: &str,
) -> Result<Result<Package, String>, StoreError> {
    let package = match store.package(sscc).await {
        Ok(package) => package,
        Err(StoreError::NotFound { .. }) => return Ok(Err("unknown package".into())),
        Err(other) => return Err(other),
    };
    let refusal = if package.level != level {
        Some(format!("a {}: this station fills {level}s", package.level))
    } else if package.batch_id != batch {
        Some(
            LinkProblem::OtherBatch {
                of: Some(package.batch_id),
                want: batch,
            }
            .to_string(),
        )
    } else if !package.state.is_open() {
        Some(format!(
            "{} {} (reopen it first: tracemark pack reopen {sscc})",
            package.level, package.state
        ))
    } else {
        None
    };
    Ok(refusal.map_or(Ok(package), Err))
}

/// Whether `item` (a unit's code at a carton station, a carton's SSCC at a pallet station) may
/// join the scans `scanned` of open package `sscc`, by a dry run of packing them all:
/// `Ok(None)` if so, `Ok(Some(reason))` the store's refusal of `item`. A refusal of an earlier
/// scan only (packed elsewhere since) does not refuse `item`: the close will name it.
pub(super) async fn check_scan(
    store: &Store,
    sscc: &str,
    level: PackageLevel,
    scanned: &[String],
    item: &str,
) -> Result<Option<String>, StoreError> {
    let mut all = scanned.to_vec();
    all.push(item.to_owned());
    let checked = match level {
        PackageLevel::Carton => store.check_pack(sscc, &all).await,
        PackageLevel::Pallet => store.check_pack_cartons(sscc, &all).await,
    };
    match checked {
        Ok(()) => Ok(None),
        Err(StoreError::PackRefused { refusals, .. }) => Ok(refusals
            .into_iter()
            .find(|r| r.item == item)
            .map(|r| match r.problem {
                LinkProblem::ListedTwice => format!("already scanned into {sscc}"),
                other => other.to_string(),
            })),
        Err(other) => Err(other),
    }
}

/// Closes the package at a station: packs `children` (units into a carton, closed cartons onto
/// a pallet) in one transaction, all or none; with `labels`, prints its label and has it read
/// back (docs/aggregation.md "Labels"); then closes it (short when under capacity). With no
/// children the package is closed with what it already holds.
///
/// A close whose label failed leaves the package open with its children packed: the operator
/// scans `CLOSE` again when the printer is back, and the children already in it are not
/// packed twice.
pub(super) async fn close_package(
    store: &Store,
    actor: &Actor,
    sscc: &str,
    level: PackageLevel,
    children: &[String],
    labels: Option<&SharedLabelStation>,
) -> Result<Package, StoreError> {
    let store = store.with_actor(actor.clone());
    let held: HashSet<String> = if children.is_empty() {
        HashSet::new()
    } else {
        let contents = store.package_contents(sscc).await?;
        contents
            .units
            .into_iter()
            .chain(contents.cartons.into_iter().map(|c| c.package.sscc))
            .collect()
    };
    let to_pack: Vec<String> = children
        .iter()
        .filter(|child| !held.contains(*child))
        .cloned()
        .collect();
    if !to_pack.is_empty() {
        match level {
            PackageLevel::Carton => store.pack(sscc, &to_pack).await?,
            PackageLevel::Pallet => store.pack_cartons(sscc, &to_pack).await?,
        };
    }
    if let Some(station) = labels {
        station.lock().await.label_before_close(sscc).await?;
    }
    // The close rule of `tracemark pack close` (a stale label), then the close.
    if let Some(reason) = store.package(sscc).await?.close_refusal() {
        return Err(StoreError::invalid("label", reason));
    }
    store.set_package_state(sscc, PackageState::Closed).await
}

/// A new package of `level` for batch `batch`, to be filled at a station; its capacity is
/// `capacity` or the product's pack size of that level.
pub(super) async fn new_at_station(
    store: &Store,
    actor: &Actor,
    batch: i64,
    level: PackageLevel,
    capacity: Option<i64>,
) -> Result<Package, StoreError> {
    store
        .with_actor(actor.clone())
        .create_package(batch, level, capacity)
        .await
}
