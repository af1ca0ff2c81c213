//! The packing task: it receives the codes of verified units in gate order, hands each to the
//! [`PackMachine`] (`machine.rs`, where every decision is made) and carries out what it decides
//! through the store — allocate a carton's SSCC when its first unit arrives, pack the case's
//! units in one transaction when it is full and close it, close the open case short at the end;
//! pallets alike.
//!
//! **Ordering.** A unit is sent here only once its `verified` is committed: the line core's
//! acknowledgement task, which awaits the store writer's commits in order, forwards a verified
//! code after its commit (`line/core.rs`). So codes arrive in the order they were decided, and
//! every code of a case is `verified` in the store before the case is packed; the pack rule
//! (units must be verified) then never refuses a unit for being early.
//!
//! **Back-pressure.** The channel into this task is bounded ([`CHANNEL`]). The line core never
//! waits for it: it hands its commits to the acknowledgement task over an unbounded channel, and
//! only that task waits here when packing falls behind. The acknowledgements then queue in
//! memory; nothing is dropped and no unit is skipped, so cases still hold the units in gate
//! order — packing catches up after the line, and the run ends only when it has.

use std::collections::HashMap;

use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracemark_store::{PackageLevel, PackageState, Store, StoreError};

use super::label::{LabelReport, LabelStation};
use super::machine::{PackAction, PackEvent, PackMachine, Plan};

/// Verified codes waiting for the packing task (about 40 s at 100 units/s).
pub const CHANNEL: usize = 4096;

/// What the packing task did in one run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PackingReport {
    /// Units packed into cartons.
    pub packed: u64,
    /// Cartons closed full.
    pub cartons: u64,
    /// Cartons closed short at the end of the run (counted in `cartons` too).
    pub partial_cartons: u64,
    /// Pallets closed (full or short).
    pub pallets: u64,
    /// Store operations that failed (each logged): must be 0.
    pub failed: u64,
    /// The label station's work, with `[packing.label]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<LabelReport>,
}

/// Spawns the packing task for `batch`; send it the verified codes in gate order and drop the
/// sender at the end of the run. With `labels`, each package is labelled and verified before
/// it closes. Its handle returns what it did.
pub fn spawn_packing(
    store: Store,
    batch: i64,
    plan: Plan,
    labels: Option<LabelStation>,
) -> (mpsc::Sender<String>, JoinHandle<PackingReport>) {
    let (tx, rx) = mpsc::channel(CHANNEL);
    let task = Packer {
        store,
        batch,
        plan,
        cartons: HashMap::new(),
        pallets: HashMap::new(),
        report: PackingReport::default(),
        labels,
    };
    (tx, tokio::spawn(task.run(rx)))
}

/// The task's state: the SSCCs of the cases and pallets the machine numbered.
struct Packer {
    store: Store,
    batch: i64,
    plan: Plan,
    cartons: HashMap<u64, String>,
    pallets: HashMap<u64, String>,
    report: PackingReport,
    labels: Option<LabelStation>,
}

impl Packer {
    async fn run(mut self, mut codes: mpsc::Receiver<String>) -> PackingReport {
        let mut machine = PackMachine::new(self.plan);
        let mut actions = Vec::new();
        let mut received = Vec::with_capacity(256);
        loop {
            received.clear();
            let ended = codes.recv_many(&mut received, 256).await == 0;
            for code in received.drain(..) {
                machine.handle(PackEvent::UnitVerified { code }, &mut actions);
            }
            if ended {
                machine.handle(PackEvent::BatchEnding, &mut actions);
            }
            for action in actions.drain(..) {
                if let Err(e) = self.act(action).await {
                    self.report.failed += 1;
                    tracing::error!(error = %e, batch = self.batch, "packing failed");
                }
            }
            if ended {
                self.report.labels = self.labels.as_ref().map(|s| s.report().clone());
                return self.report;
            }
        }
    }

    async fn act(&mut self, action: PackAction) -> Result<(), StoreError> {
        match action {
            PackAction::OpenCase { case } => {
                let capacity = i64::from(self.plan.units_per_case);
                let carton = self
                    .store
                    .create_package(self.batch, PackageLevel::Carton, Some(capacity))
                    .await?;
                self.cartons.insert(case, carton.sscc);
            }
            PackAction::PackCase { case, codes } | PackAction::CloseShort { case, codes } => {
                // Without pallets a closed carton is not needed again.
                let sscc = if self.plan.cases_per_pallet == 0 {
                    self.cartons.remove(&case)
                } else {
                    self.cartons.get(&case).cloned()
                };
                let sscc = sscc.ok_or(StoreError::invalid(
                    "carton",
                    "its SSCC could not be allocated",
                ))?;
                self.store.pack(&sscc, &codes).await?;
                self.label(&sscc).await?;
                let closed = self
                    .store
                    .set_package_state(&sscc, PackageState::Closed)
                    .await?;
                self.report.packed += codes.len() as u64;
                self.report.cartons += 1;
                self.report.partial_cartons += u64::from(closed.short);
            }
            PackAction::OpenPallet { pallet } => {
                let capacity = i64::from(self.plan.cases_per_pallet);
                let package = self
                    .store
                    .create_package(self.batch, PackageLevel::Pallet, Some(capacity))
                    .await?;
                self.pallets.insert(pallet, package.sscc);
            }
            PackAction::PackPallet { pallet, cases }
            | PackAction::ClosePalletShort { pallet, cases } => {
                let sscc = self.pallets.remove(&pallet).ok_or(StoreError::invalid(
                    "pallet",
                    "its SSCC could not be allocated",
                ))?;
                // A case whose carton failed is left off (its failure is counted already).
                let cartons: Vec<String> = cases
                    .iter()
                    .filter_map(|case| self.cartons.remove(case))
                    .collect();
                if !cartons.is_empty() {
                    self.store.pack_cartons(&sscc, &cartons).await?;
                    self.label(&sscc).await?;
                    self.store
                        .set_package_state(&sscc, PackageState::Closed)
                        .await?;
                } else {
                    self.store
                        .set_package_state(&sscc, PackageState::Voided)
                        .await?;
                }
                self.report.pallets += 1;
            }
        }
        Ok(())
    }
}

impl Packer {
    /// With a label station: the package's label printed and read back before it closes
    /// (docs/aggregation.md "Labels"); a package whose label never reads back stays open.
    async fn label(&mut self, sscc: &str) -> Result<(), StoreError> {
        match self.labels.as_mut() {
            Some(station) => station
                .label_and_verify(sscc)
                .await
                .map(drop)
                .map_err(|e| StoreError::invalid("label", e)),
            None => Ok(()),
        }
    }
}
