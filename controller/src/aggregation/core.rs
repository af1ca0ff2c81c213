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
use tracing::Instrument;

use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracemark_store::{Package, PackageLevel, PackageState, Store, StoreError};

use super::label::{LabelReport, LabelStation};
use super::machine::{PackAction, PackEvent, PackMachine, Plan};
use super::store_gate::{self, StoreGate};

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
    /// Loose units an earlier, interrupted run of the batch left (its open case), packed
    /// first (counted in `packed` too).
    pub resumed_units: u64,
    /// Closed cartons an earlier run left off a pallet, put on the first pallet of this run.
    pub resumed_cartons: u64,
    /// Store operations that failed (each logged): must be 0.
    pub failed: u64,
    /// Cases sent to rework (`case_camera` mode; docs/aggregation.md).
    pub cases_reworked: u64,
    /// Case reads refused as malformed (`case_camera` mode).
    pub malformed_case_reads: u64,
    /// Case reads of a case already packed, taken again (a redelivery after a restart): not
    /// reworked (`case_camera` mode).
    pub case_reads_repeated: u64,
    /// The label station's work, with `[packing.label]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<LabelReport>,
    /// Milliseconds packing waited for the line's records to reach the central store (an
    /// outage, then its journal forwarded: `store_gate.rs`).
    #[serde(skip_serializing_if = "is_zero")]
    pub waited_for_store_ms: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The case packer's count as the line I/O reads it (IR 84–85, wrapping); `None` before the
/// first poll.
pub type CasePackerCount = watch::Receiver<Option<u32>>;

/// Spawns the packing task for `batch`; send it the verified codes in gate order and drop the
/// sender at the end of the run. With `plan.case_packer_count`, `cases` is the case packer's
/// count; with `labels`, each package is labelled and verified before it closes. Its store
/// work waits at `gate` while the line's records are not in the store. Its handle returns
/// what it did.
pub fn spawn_packing(
    store: Store,
    batch: i64,
    plan: Plan,
    cases: Option<CasePackerCount>,
    labels: Option<LabelStation>,
    gate: StoreGate,
) -> (mpsc::Sender<String>, JoinHandle<PackingReport>) {
    let (tx, rx) = mpsc::channel(CHANNEL);
    let task = Packer {
        store,
        batch,
        plan,
        cartons: HashMap::new(),
        pallets: HashMap::new(),
        spare_carton: None,
        spare_pallet: None,
        report: PackingReport::default(),
        labels,
        gate,
    };
    (tx, tokio::spawn(task.run(rx, cases).in_current_span()))
}

/// The task's state: the SSCCs of the cases and pallets the machine numbered.
struct Packer {
    store: Store,
    batch: i64,
    plan: Plan,
    cartons: HashMap<u64, String>,
    pallets: HashMap<u64, String>,
    /// The empty open carton and pallet an interrupted run left: the next ones to open.
    spare_carton: Option<String>,
    spare_pallet: Option<String>,
    report: PackingReport,
    labels: Option<LabelStation>,
    gate: StoreGate,
}

impl Packer {
    async fn run(
        mut self,
        mut codes: mpsc::Receiver<String>,
        mut cases: Option<CasePackerCount>,
    ) -> PackingReport {
        let mut machine = PackMachine::new(self.plan);
        let mut actions = Vec::new();
        let mut received = Vec::with_capacity(256);
        match self.resume(&mut machine, &mut actions).await {
            Ok(loose) => received = loose,
            Err(e) => {
                // Nothing is lost: the earlier run's units stay loose, for rework.
                self.report.failed += 1;
                tracing::error!(error = %e, batch = self.batch, "packing could not resume");
            }
        }
        // The count read at the first poll is the baseline: cases closed before this run.
        let mut counted: Option<u32> = None;
        loop {
            let mut closes = 0;
            let ended = if !received.is_empty() {
                false
            } else if let Some(count) = cases.as_mut() {
                tokio::select! {
                    n = codes.recv_many(&mut received, 256) => n == 0,
                    changed = count.changed() => {
                        match changed {
                            Ok(()) => closes = new_closes(&mut counted, *count.borrow_and_update()),
                            // The line I/O has ended: the units still come, the count not.
                            Err(_) => cases = None,
                        }
                        false
                    }
                }
            } else {
                codes.recv_many(&mut received, 256).await == 0
            };
            for code in received.drain(..) {
                machine.handle(PackEvent::UnitVerified { code }, &mut actions);
            }
            for _ in 0..closes {
                machine.handle(PackEvent::CasePacked, &mut actions);
            }
            if closes > 0 && machine.case_packer_ahead() {
                tracing::warn!(
                    batch = self.batch,
                    "the case packer closed a whole case more than the records hold: \
                     a unit lost between the gate and the case packer?"
                );
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
                self.report.waited_for_store_ms = millis(self.gate.waited());
                return self.report;
            }
        }
    }

    /// Picks up what an earlier run of the batch left when it was killed
    /// (docs/aggregation.md "After kill -9"): its empty open carton and pallet are the next to
    /// open, the closed cartons it left off a pallet go onto the open pallet, and its loose
    /// units — returned, in the order they were verified — are the units in the open case.
    /// A unit is packed only once the store holds it `verified`, so those are exactly the
    /// units that passed the gate after the last case the records hold.
    async fn resume(
        &mut self,
        machine: &mut PackMachine,
        actions: &mut Vec<PackAction>,
    ) -> Result<Vec<String>, StoreError> {
        let mut packages = self.store.packages_of_batch(self.batch).await?;
        // A run killed between packing a case (or pallet) and closing it left it full and
        // open: finish that step first; its content is final.
        for package in &mut packages {
            if package.children_count > 0 && never_closed(package.state) {
                *package = self.close(package).await?;
            }
        }
        let open_empty = |level: PackageLevel| {
            packages
                .iter()
                .filter(|p| p.level == level && p.children_count == 0 && never_closed(p.state))
                .map(|p| p.sscc.clone())
                .min()
        };
        self.spare_carton = open_empty(PackageLevel::Carton);
        if self.plan.cases_per_pallet > 0 {
            self.spare_pallet = open_empty(PackageLevel::Pallet);
            // In SSCC order: the order they were allocated, so the order they were closed.
            let closed: Vec<String> = packages
                .iter()
                .filter(|p| {
                    p.level == PackageLevel::Carton
                        && p.state == PackageState::Closed
                        && p.parent.is_none()
                })
                .map(|p| p.sscc.clone())
                .collect();
            let cases = machine.resume_closed_cases(closed.len(), actions);
            self.report.resumed_cartons = closed.len() as u64;
            self.cartons.extend(cases.into_iter().zip(closed));
        }
        let loose = self.store.loose_units(self.batch).await?;
        self.report.resumed_units = loose.len() as u64;
        if !loose.is_empty() || self.report.resumed_cartons > 0 {
            tracing::info!(
                batch = self.batch,
                units = loose.len(),
                cartons = self.report.resumed_cartons,
                "packing resumes what an earlier run left"
            );
        }
        Ok(loose)
    }

    async fn act(&mut self, action: PackAction) -> Result<(), StoreError> {
        match action {
            PackAction::OpenCase { case } => {
                // An empty carton an interrupted run left is this case's (no SSCC wasted);
                // otherwise the carton is made with its units once the case is full.
                if let Some(sscc) = self.spare_carton.take() {
                    self.cartons.insert(case, sscc);
                }
            }
            PackAction::PackCase { case, codes } | PackAction::CloseShort { case, codes } => {
                let carton = match self.cartons.remove(&case) {
                    Some(sscc) => {
                        store_gate::pack_units(&mut self.gate, &self.store, &sscc, &codes).await?
                    }
                    // Made and packed in one transaction (`Store::pack_new_carton`): one commit
                    // fewer a case, and no empty carton left if the run dies between the two.
                    None => {
                        let capacity = i64::from(self.plan.units_per_case);
                        let (store, batch) = (&self.store, self.batch);
                        store_gate::pack_new_carton(&mut self.gate, store, batch, capacity, &codes)
                            .await?
                    }
                };
                let closed = self.close(&carton).await?;
                self.report.packed += codes.len() as u64;
                self.report.cartons += 1;
                self.report.partial_cartons += u64::from(closed.short);
                // Without pallets a closed carton is not needed again.
                if self.plan.cases_per_pallet > 0 {
                    self.cartons.insert(case, carton.sscc);
                }
            }
            PackAction::OpenPallet { pallet } => {
                let sscc = match self.spare_pallet.take() {
                    Some(sscc) => sscc,
                    None => {
                        let capacity = i64::from(self.plan.cases_per_pallet);
                        self.create(PackageLevel::Pallet, capacity).await?
                    }
                };
                self.pallets.insert(pallet, sscc);
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
                    let pallet =
                        store_gate::pack_cartons(&mut self.gate, &self.store, &sscc, &cartons)
                            .await?;
                    self.close(&pallet).await?;
                } else {
                    let voided = PackageState::Voided;
                    store_gate::set_state(&mut self.gate, &self.store, &sscc, voided).await?;
                }
                self.report.pallets += 1;
            }
        }
        Ok(())
    }
}

impl Packer {
    /// Closes the filled package `package` (as its last store step answered it), through the
    /// gate. With a label station its label is printed and read back first, and the close is
    /// recorded with the label's `verified` (docs/aggregation.md "Labels"); a package whose
    /// label never reads back stays open.
    async fn close(&mut self, package: &Package) -> Result<Package, StoreError> {
        match self.labels.as_mut() {
            Some(station) => {
                store_gate::label_and_close(&mut self.gate, &self.store, station, package).await
            }
            None => store_gate::close(&mut self.gate, &self.store, &package.sscc).await,
        }
    }

    /// Allocates the SSCC of a new package of the batch, through the gate.
    async fn create(&mut self, level: PackageLevel, capacity: i64) -> Result<String, StoreError> {
        store_gate::create(&mut self.gate, &self.store, self.batch, level, capacity)
            .await
            .map(|package| package.sscc)
    }
}

/// Milliseconds, saturating.
pub(super) fn millis(waited: std::time::Duration) -> u64 {
    u64::try_from(waited.as_millis()).unwrap_or(u64::MAX)
}

/// A package never closed yet: the station's own, still being filled. (A `reopened` one is in
/// an operator's rework and is left alone.)
fn never_closed(state: PackageState) -> bool {
    matches!(
        state,
        PackageState::Allocated | PackageState::Labelled | PackageState::Verified
    )
}

/// How many cases the case packer closed since the count was last read as `counted`, which
/// becomes `now`. The first reading is the baseline (0), and so is a count that went back (a
/// PLC restart starts it at 0 again).
fn new_closes(counted: &mut Option<u32>, now: Option<u32>) -> u32 {
    let Some(now) = now else { return 0 };
    let closes = match counted {
        Some(before) => now.wrapping_sub(*before),
        None => 0,
    };
    *counted = Some(now);
    if closes > u32::MAX / 2 { 0 } else { closes }
}

#[cfg(test)]
mod tests {
    use super::new_closes;

    #[test]
    fn the_case_packer_count_counts_from_its_first_reading_across_the_wrap() {
        let mut counted = None;
        assert_eq!(new_closes(&mut counted, None), 0);
        assert_eq!(new_closes(&mut counted, Some(57)), 0, "the baseline");
        assert_eq!(new_closes(&mut counted, Some(59)), 2);
        assert_eq!(new_closes(&mut counted, Some(3)), 0, "a PLC restart");
        assert_eq!(new_closes(&mut counted, Some(4)), 1);
        counted = Some(u32::MAX);
        assert_eq!(new_closes(&mut counted, Some(1)), 2, "across 2^32");
    }
}
