//! `manual` packing (issue 14 item 2, docs/aggregation.md "Manual mode"): a hand-scanner
//! station. The operator scans a carton's label (or `NEW`), the units, then `CLOSE`; every scan
//! is answered at once on the scanner's link (`OK …` / `BAD … <reason>`), and `CLOSE` packs the
//! scans in one store transaction. A palletiser scanner does the same one level up.
//!
//! - `scan.rs`: what a scan is (command, package label, unit code, nothing known);
//! - `station.rs`: the station's decisions, without I/O;
//! - `task.rs`: the task around it: the scanner link, the store, the replies.
//!
//! The line does not feed it: it runs beside the line in `tracemark run`, or alone
//! (`tracemark pack station`), off-line.

mod rules;
mod scan;
pub(crate) mod station;
pub(crate) mod task;

#[cfg(test)]
mod station_tests;

pub use station::StationStats;
pub use task::{ScannerSource, StationSetup, run_station};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracemark_drivers::scanner::ParseOptions;
use tracemark_store::{Actor, PackageLevel, Store};

use super::label::{LabelReport, LabelStation, SharedLabelStation};
use super::{PackingReport, Plan};
use crate::config::{Line, ManualStation, Scanner};

/// What a manual station did: its carton scanner and, if it has one, its palletiser.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ManualReport {
    /// Units into cartons.
    pub cartons: StationStats,
    /// Cartons onto pallets.
    pub pallets: Option<StationStats>,
    /// The label station's work, with `[packing.label]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<LabelReport>,
}

impl ManualReport {
    /// The counts every packing mode reports.
    pub fn packing_report(&self) -> PackingReport {
        PackingReport {
            packed: self.cartons.packed,
            cartons: self.cartons.closed,
            partial_cartons: self.cartons.short,
            pallets: self.pallets.as_ref().map_or(0, |p| p.closed),
            labels: self.labels.clone(),
            ..PackingReport::default()
        }
    }
}

/// The setup of one scanner of the station.
pub fn setup_for(
    store: &Store,
    actor: &Actor,
    batch: i64,
    level: PackageLevel,
    capacity: Option<i64>,
    scanner: &Scanner,
    labels: Option<SharedLabelStation>,
) -> StationSetup {
    StationSetup {
        store: store.clone(),
        actor: actor.clone(),
        batch,
        level,
        capacity,
        labels,
        commands: scanner.commands.clone(),
        options: ParseOptions {
            require_identifier: scanner.require_identifier,
        },
    }
}

/// Opens the station's scanners (binding their ports when they listen) and runs a station per
/// scanner until `stop` turns true. Cartons hold `plan.units_per_case`; pallets
/// `plan.cases_per_pallet`, or the product's pallet pack size when that is 0. Returns the task
/// and where each scanner is (`carton: listening on 0.0.0.0:7001`). With `labels`, both print
/// each package's label before it closes, one at a time.
pub async fn spawn_manual(
    store: &Store,
    actor: &Actor,
    batch: i64,
    plan: Plan,
    manual: &ManualStation,
    labels: Option<SharedLabelStation>,
    stop: watch::Receiver<bool>,
) -> std::io::Result<(ManualTask, Vec<String>)> {
    let cartons = setup_for(
        store,
        actor,
        batch,
        PackageLevel::Carton,
        Some(i64::from(plan.units_per_case)),
        &manual.scanner,
        labels.clone(),
    );
    let carton_source = ScannerSource::for_scanner(&manual.scanner).await?;
    let pallets = match &manual.palletiser {
        Some(scanner) => {
            let capacity = (plan.cases_per_pallet > 0).then_some(i64::from(plan.cases_per_pallet));
            let setup = setup_for(
                store,
                actor,
                batch,
                PackageLevel::Pallet,
                capacity,
                scanner,
                labels.clone(),
            );
            Some((setup, ScannerSource::for_scanner(scanner).await?))
        }
        None => None,
    };
    let mut scanners = vec![format!("carton: {}", carton_source.describe())];
    if let Some((_, source)) = &pallets {
        scanners.push(format!("pallet: {}", source.describe()));
    }
    let task = tokio::spawn(async move {
        let pallet_task =
            pallets.map(|(setup, source)| tokio::spawn(run_station(setup, source, stop.clone())));
        let cartons = run_station(cartons, carton_source, stop).await;
        let pallets = match pallet_task {
            Some(task) => task.await.ok(),
            None => None,
        };
        let labels = match labels {
            Some(station) => Some(station.lock().await.report().clone()),
            None => None,
        };
        ManualReport {
            cartons,
            pallets,
            labels,
        }
    });
    Ok((ManualTask(Some(task)), scanners))
}

/// The running station; dropped before [`ManualTask::finish`] (a run that failed to start), it
/// stops the station, so its ports are not held.
#[derive(Debug)]
pub struct ManualTask(Option<JoinHandle<ManualReport>>);

impl ManualTask {
    /// Waits for the station to end (after its `stop` turned true); its report.
    pub async fn finish(mut self) -> Result<ManualReport, tokio::task::JoinError> {
        match self.0.take() {
            Some(task) => task.await,
            None => Ok(ManualReport::default()),
        }
    }
}

impl Drop for ManualTask {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

/// Why a station cannot run.
#[derive(Debug, thiserror::Error)]
pub enum StationError {
    /// The config or the batch does not allow it.
    #[error("packing: {0}")]
    Setup(String),
    /// A scanner's port or device could not be opened.
    #[error("packing: the station's scanner: {0}")]
    Scanner(#[from] std::io::Error),
    /// The label printer's scanner could not be subscribed.
    #[error("packing: the label station: {0}")]
    Labels(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] tracemark_store::StoreError),
}

/// The station of `line`'s `[packing]` for batch `batch`, alone (no line: hand packing
/// off-line, `tracemark pack station`): checks it can pack (a `manual` config, a case size,
/// SSCCs) and spawns it, with the line's label station when it has `[packing.label]`.
pub async fn spawn_alone(
    store: &Store,
    actor: &Actor,
    batch: i64,
    line: &Line,
    stop: watch::Receiver<bool>,
) -> Result<(ManualTask, Vec<String>), StationError> {
    let Some(packing) = &line.packing else {
        return Err(StationError::Setup("the line has no [packing]".into()));
    };
    let Some(manual) = &packing.manual else {
        return Err(StationError::Setup(format!(
            "the line's [packing] mode is `{}`, not `manual`: it has no hand scanner",
            serde_json::to_value(packing.mode)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        )));
    };
    let batch_record = store.batch(batch).await?;
    if batch_record.state == tracemark_store::BatchState::Closed {
        return Err(StationError::Setup(format!("batch {batch} is closed")));
    }
    let product = store.product(&batch_record.product_id).await?;
    let plan = super::plan_for(packing, &product).map_err(StationError::Setup)?;
    if store.sscc_coding().await?.is_none() {
        return Err(StationError::Setup(
            "the producer has no GS1 company prefix for SSCCs: tracemark producer set \
             --gs1-company-prefix DIGITS"
                .into(),
        ));
    }
    let labels = LabelStation::for_line(store.clone(), line, super::label::SCANNER_READY)
        .await
        .map_err(|e| StationError::Labels(e.to_string()))?
        .map(LabelStation::shared);
    Ok(spawn_manual(store, actor, batch, plan, manual, labels, stop).await?)
}
