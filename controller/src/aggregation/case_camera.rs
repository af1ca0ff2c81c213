//! The packing task of `case_camera` mode (docs/aggregation.md "Case camera mode"): the case
//! camera publishes one read per filled case; each is decided in memory
//! (`case_decision.rs`) and carried out through the store — an accepted case gets its
//! carton's SSCC, is packed in one transaction, labelled (with `[packing.label]`) and closed;
//! a refused one
//! is recorded (`package.case_rejected`) and counted. Accepted cases fill pallets in the order
//! they were accepted, `cases_per_pallet` to a pallet, as in inferred mode.
//!
//! **What the task knows.** It keeps the batch's verified, unpacked codes in a set: loaded
//! from the store at start (units verified by an earlier run), then fed by the line core
//! exactly as inferred mode is — each verified code once its `verified` has committed
//! (`line/core.rs`). A case whose every code is in the set is decided without a store round
//! trip (the hot path: one hash look-up per code).
//!
//! **The race with the forwarded stream.** A case read can arrive before the `verified` of one
//! of its units was forwarded: the case camera is fast, the store writer commits in groups and
//! the acknowledgement task forwards behind it. So a code the set does not hold is not called
//! unknown at once: it is looked up in the store. Verified there (committed, not yet
//! forwarded): packable, and remembered as packed so that its forwarded copy is dropped when it
//! arrives. Still `sent` or `printed` (its decision not committed): the case is held, and
//! decided again when more verified codes arrive or [`HOLD_RETRY`] later, for at most
//! [`HOLD_MAX`]; a code still undecided then is not packable (`rejected`). Everything else the
//! store says is final: another batch or no such code (`foreign`), packed (`already packed`),
//! rejected, destroyed, sampled, voided (`rejected`). Cases are decided in the order they were
//! read: a held case holds those behind it, so pallets keep the order of the line.
//!
//! **The end.** When the line's verified stream ends, the case camera may still have the
//! last cases in flight: the task keeps taking case reads until none has come for
//! [`END_QUIET`], then closes the open pallet short.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;
use tracing::Instrument;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracemark_store::case_rework::CaseRework;
use tracemark_store::{CodeState, Package, PackageLevel, Store, StoreError};

use super::case_decision::{CaseDecision, CaseReason, Known, codes_of, decide};
use super::case_mqtt::CaseReceived;
use super::case_read::CaseRead;
use super::core::{CHANNEL, PackingReport};
use super::label::LabelStation;
use super::machine::Plan;
use super::store_gate::{self, StoreGate};

/// How often a held case is decided again when no verified code arrives meanwhile.
pub const HOLD_RETRY: Duration = Duration::from_millis(50);

/// How long a case is held for its units' decisions: many times a group commit (a few ms) and
/// the reader-to-gate time of a unit, so only a unit that will never be verified outlasts it.
pub const HOLD_MAX: Duration = Duration::from_secs(3);

/// Case reads remembered to drop redeliveries: a broker redelivers within a reconnection, a
/// few cases at most.
const RECENT: usize = 64;

/// After the line's end, the last case reads are awaited until none has come for this long.
pub const END_QUIET: Duration = Duration::from_millis(1500);

/// Spawns the case-camera packing task for `batch`: send it the verified codes as inferred
/// mode does (and drop the sender at the end of the run); case reads come on `cases`. Its
/// handle returns what it did.
/// With `labels`, each carton and pallet is labelled and its label read back before it closes.
/// Its store work waits at `gate` while the line's records are not in the store (an outage:
/// the cases are decided meanwhile, in order, and packed once it is over).
pub fn spawn_case_camera(
    store: Store,
    batch: i64,
    plan: Plan,
    cases: mpsc::Receiver<CaseReceived>,
    labels: Option<LabelStation>,
    gate: StoreGate,
) -> (mpsc::Sender<String>, JoinHandle<PackingReport>) {
    let (tx, rx) = mpsc::channel(CHANNEL);
    let station = Station {
        store,
        batch,
        plan,
        // In a mutex only so that the station is `Sync` (a printer's stream is not) while
        // `decide` borrows it across the store's awaits; only `&mut self` uses it.
        labels: labels.map(tokio::sync::Mutex::new),
        book: Book::default(),
        pallet: None,
        recent: VecDeque::with_capacity(RECENT),
        report: PackingReport::default(),
        gate,
    };
    (tx, tokio::spawn(station.run(rx, cases).in_current_span()))
}

/// The batch's packable codes, as the task knows them.
#[derive(Debug, Default)]
pub(crate) struct Book {
    /// Verified, of this batch, in no package.
    verified: HashSet<String>,
    /// Packed by this run (their forwarded copies are dropped).
    packed: HashSet<String>,
}

impl Book {
    /// A verified code arrives (from the store at start, or forwarded by the line core).
    pub(crate) fn verified(&mut self, code: String) {
        if !self.packed.contains(&code) {
            self.verified.insert(code);
        }
    }

    /// What the book alone knows of `code`: `None` when the store must be asked.
    pub(crate) fn know(&self, code: &str) -> Option<Known> {
        if self.verified.contains(code) {
            Some(Known::Verified)
        } else if self.packed.contains(code) {
            Some(Known::Packed)
        } else {
            None
        }
    }

    /// `codes` went into a carton.
    pub(crate) fn packed(&mut self, codes: &[String]) {
        for code in codes {
            self.verified.remove(code);
            self.packed.insert(code.clone());
        }
    }
}

/// The open pallet: its SSCC and the cartons on it so far.
#[derive(Debug)]
struct OpenPallet {
    sscc: String,
    cartons: Vec<String>,
}

/// The task's state.
struct Station {
    store: Store,
    batch: i64,
    plan: Plan,
    labels: Option<tokio::sync::Mutex<LabelStation>>,
    book: Book,
    pallet: Option<OpenPallet>,
    /// The last case reads taken: a redelivered read (QoS 1: the same message again) is not
    /// decided twice. Not by `seq` alone: a camera that restarts numbers its cases from 1 again.
    recent: VecDeque<CaseRead>,
    report: PackingReport,
    gate: StoreGate,
}

/// The case at the head of the queue, held since when.
struct Held {
    since: Instant,
}

impl Station {
    async fn run(
        mut self,
        mut codes: mpsc::Receiver<String>,
        mut cases: mpsc::Receiver<CaseReceived>,
    ) -> PackingReport {
        // Through the gate: the units an earlier run journaled reach the store first.
        let (store, batch) = (&self.store, self.batch);
        let loaded = store_gate::retried(&mut self.gate, "load the verified units", |_| {
            store.codes_of_batch(batch, CodeState::Verified, i64::MAX)
        })
        .await;
        match loaded {
            Ok(records) => {
                for record in records.into_iter().filter(|r| r.package.is_none()) {
                    self.book.verified(record.code);
                }
            }
            Err(e) => {
                self.report.failed += 1;
                tracing::error!(error = %e, batch = self.batch, "cannot load the verified units");
            }
        }
        let mut queue: VecDeque<CaseRead> = VecDeque::new();
        let mut held: Option<Held> = None;
        let mut received = Vec::with_capacity(256);
        let (mut line_open, mut camera_open) = (true, true);
        let mut quiet_since = Instant::now();
        loop {
            let retry_at = held.as_ref().map(|_| Instant::now() + HOLD_RETRY);
            let quiet_at = quiet_since + END_QUIET;
            tokio::select! {
                n = codes.recv_many(&mut received, 256), if line_open => {
                    if n == 0 {
                        line_open = false;
                        quiet_since = Instant::now();
                    }
                    for code in received.drain(..) {
                        self.book.verified(code);
                    }
                }
                case = cases.recv(), if camera_open => match case {
                    Some(CaseReceived::Case(read)) => {
                        quiet_since = Instant::now();
                        if !self.recent.contains(&read) {
                            if self.recent.len() >= RECENT {
                                self.recent.pop_front();
                            }
                            self.recent.push_back(read.clone());
                            queue.push_back(read);
                        }
                    }
                    Some(CaseReceived::Malformed(error)) => {
                        self.report.malformed_case_reads += 1;
                        tracing::warn!(%error, "case read refused");
                    }
                    None => camera_open = false,
                },
                _ = sleep_until(retry_at) => {}
                _ = tokio::time::sleep_until(quiet_at), if !line_open && queue.is_empty() => {
                    break;
                }
            }
            // Decide what can be decided, in order.
            while let Some(read) = queue.front() {
                let since = held.as_ref().map_or_else(Instant::now, |h| h.since);
                let give_up = since.elapsed() >= HOLD_MAX;
                match self.decide(read, give_up).await {
                    Ok(CaseDecision::Hold { pending }) => {
                        tracing::debug!(?pending, seq = read.seq, "case held for its units");
                        held = Some(Held { since });
                        break;
                    }
                    Ok(decision) => {
                        held = None;
                        if let Some(read) = queue.pop_front() {
                            self.carry_out(&read, decision).await;
                        }
                    }
                    Err(e) => {
                        // The store could not answer: the case is not decided, it goes to
                        // rework without a record; counted as a failure (must be 0).
                        held = None;
                        queue.pop_front();
                        self.report.failed += 1;
                        self.report.cases_reworked += 1;
                        tracing::error!(error = %e, batch = self.batch, "case not decided");
                    }
                }
            }
            if !line_open && !camera_open && queue.is_empty() {
                break;
            }
        }
        if let Err(e) = self.close_pallet().await {
            self.report.failed += 1;
            tracing::error!(error = %e, batch = self.batch, "the last pallet did not close");
        }
        self.report.labels = self.labels.as_mut().map(|s| s.get_mut().report().clone());
        self.report.waited_for_store_ms = super::core::millis(self.gate.waited());
        self.report
    }

    /// Decides on `read`: from the book alone when it knows every code, else asking the store
    /// about the others (see the module docs). `give_up`: a code still undecided is final.
    async fn decide(&self, read: &CaseRead, give_up: bool) -> Result<CaseDecision, StoreError> {
        let codes = codes_of(read);
        let mut asked: HashMap<&str, Known> = HashMap::new();
        for code in codes.iter().flatten() {
            if self.book.know(code).is_none() && !asked.contains_key(code.as_str()) {
                let known = self.ask_store(code).await?;
                asked.insert(code.as_str(), known);
            }
        }
        let book = &self.book;
        let decision = decide(read, &codes, self.plan.units_per_case, |code| {
            match book.know(code).or_else(|| asked.get(code).copied()) {
                Some(Known::Pending) if give_up => Known::Rejected,
                Some(known) => known,
                None => Known::Foreign,
            }
        });
        Ok(decision)
    }

    /// What the store says of a code the book does not hold.
    async fn ask_store(&self, code: &str) -> Result<Known, StoreError> {
        let record = match self.store.code(code).await {
            Ok(record) => record,
            Err(StoreError::NotFound { .. }) => return Ok(Known::Foreign),
            // The store is away (an outage): the code's decision may be in the edge journal
            // only. Undecided for now: the case is held, and decided again (issue 18).
            Err(e) if e.is_unreachable() => return Ok(Known::Pending),
            Err(e) => return Err(e),
        };
        Ok(match record.state {
            _ if record.batch_id != Some(self.batch) => Known::Foreign,
            _ if record.package.is_some() => Known::Packed,
            CodeState::Packed | CodeState::Shipped => Known::Packed,
            CodeState::Verified => Known::Verified,
            CodeState::Reserved | CodeState::Sent | CodeState::Printed => Known::Pending,
            CodeState::Rejected
            | CodeState::Voided
            | CodeState::Destroyed
            | CodeState::Released
            | CodeState::Sampled => Known::Rejected,
        })
    }

    /// Packs an accepted case or records a refused one.
    async fn carry_out(&mut self, read: &CaseRead, decision: CaseDecision) {
        match decision {
            CaseDecision::Accept { codes } => {
                if let Err(e) = self.pack_case(&codes).await {
                    self.report.failed += 1;
                    tracing::error!(error = %e, batch = self.batch, seq = read.seq, "case not packed");
                }
            }
            CaseDecision::Reject { problems } => {
                if problems
                    .iter()
                    .all(|p| p.reason == CaseReason::AlreadyPacked)
                {
                    let codes: Vec<String> = codes_of(read).into_iter().flatten().collect();
                    match self.packed_before(&codes).await {
                        Ok(Some(carton)) => {
                            self.report.case_reads_repeated += 1;
                            tracing::info!(
                                seq = read.seq,
                                %carton,
                                "case read again: its carton was packed before"
                            );
                            return;
                        }
                        Ok(None) => {}
                        Err(e) => {
                            tracing::warn!(error = %e, seq = read.seq, "case read: store failed");
                        }
                    }
                }
                self.report.cases_reworked += 1;
                let rework = CaseRework {
                    batch_id: self.batch,
                    reader: read.reader.clone(),
                    seq: read.seq,
                    reasons: problems.iter().map(ToString::to_string).collect(),
                    codes: codes_of(read).into_iter().flatten().collect(),
                };
                tracing::info!(seq = read.seq, reasons = ?rework.reasons, "case to rework");
                let store = &self.store;
                let recorded =
                    store_gate::retried(&mut self.gate, "record a case to rework", |_| {
                        store.record_case_rework(&rework)
                    })
                    .await;
                if let Err(e) = recorded {
                    self.report.failed += 1;
                    tracing::error!(error = %e, batch = self.batch, "case rework not recorded");
                }
            }
            // Held cases are not carried out (the caller keeps them queued).
            CaseDecision::Hold { .. } => {}
        }
    }

    /// The carton that holds exactly `codes`, when there is one: a case read whose every unit
    /// is already in one carton, and only they, is the same case read again — the broker
    /// redelivers the reads a killed run had not acknowledged (QoS 1, a persistent session),
    /// after `recent` forgot them. Its carton is the record; the case is not sent to rework.
    async fn packed_before(&self, codes: &[String]) -> Result<Option<String>, StoreError> {
        store_gate::carton_holding(&self.store, codes).await
    }

    /// An accepted case: a new carton with its units, in one transaction; closed (with its
    /// label read back, in one more); then onto the open pallet.
    async fn pack_case(&mut self, codes: &[String]) -> Result<(), StoreError> {
        let capacity = i64::from(self.plan.units_per_case);
        let (store, batch) = (&self.store, self.batch);
        let carton =
            store_gate::pack_new_carton(&mut self.gate, store, batch, capacity, codes).await?;
        self.book.packed(codes);
        let closed = self.close_package(&carton).await?;
        self.report.packed += codes.len() as u64;
        self.report.cartons += 1;
        self.report.partial_cartons += u64::from(closed.short);
        self.onto_pallet(carton.sscc).await
    }

    async fn onto_pallet(&mut self, carton: String) -> Result<(), StoreError> {
        if self.plan.cases_per_pallet == 0 {
            return Ok(());
        }
        if self.pallet.is_none() {
            let capacity = i64::from(self.plan.cases_per_pallet);
            let package = self.create(PackageLevel::Pallet, capacity).await?;
            self.pallet = Some(OpenPallet {
                sscc: package.sscc,
                cartons: Vec::new(),
            });
        }
        let full = match &mut self.pallet {
            Some(pallet) => {
                pallet.cartons.push(carton);
                pallet.cartons.len() >= self.plan.cases_per_pallet as usize
            }
            None => false,
        };
        if full {
            self.close_pallet().await?;
        }
        Ok(())
    }

    /// Closes a filled carton or pallet: the one step a package takes from open to closed at
    /// this station. With a label station its label is printed and read back first
    /// (docs/aggregation.md "Labels"); a package whose label never reads back stays open (the
    /// error says why; the operator takes over with `tracemark pack label`).
    async fn close_package(&mut self, package: &Package) -> Result<Package, StoreError> {
        match self.labels.as_mut() {
            Some(station) => {
                let station = station.get_mut();
                store_gate::label_and_close(&mut self.gate, &self.store, station, package).await
            }
            None => store_gate::close(&mut self.gate, &self.store, &package.sscc).await,
        }
    }

    /// Allocates the SSCC of a new package of the batch, through the gate.
    async fn create(&mut self, level: PackageLevel, capacity: i64) -> Result<Package, StoreError> {
        store_gate::create(&mut self.gate, &self.store, self.batch, level, capacity).await
    }

    /// Puts the open pallet's cartons on it and closes it (short when not full).
    async fn close_pallet(&mut self) -> Result<(), StoreError> {
        let Some(pallet) = self.pallet.take() else {
            return Ok(());
        };
        let pallet =
            store_gate::pack_cartons(&mut self.gate, &self.store, &pallet.sscc, &pallet.cartons)
                .await?;
        self.close_package(&pallet).await?;
        self.report.pallets += 1;
        Ok(())
    }
}

/// Sleeps until `at`, or forever when there is no `at`.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
