//! The core of the line runtime: one task owns the tracker and turns device events, photocell
//! detections and camera results into decisions, gate commands and code state changes.
//!
//! State changes go to the store writer in the order they happen (`sent` before `printed` before
//! `verified`); the core does not wait for each commit — a second task awaits the answers in
//! order and counts any refusal, which must never happen.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracemark_drivers::lineio::StackLight;
use tracemark_drivers::marker::{CodeId, MarkerEvent, MarkerHandle, MarkerState};

use super::LineStats;
use super::feeder::CodeBook;
use super::gate::{IoCommand, IoEvent};
use crate::verify::mqtt::Received;
use crate::verify::{Outcome, Printed, RejectReason, Tracker, TrackerConfig, Verdict, gs1_code_of};
use tracemark_store::writer::{Committed, WriterHandle, create_writer};
use tracemark_store::{CodeRead, CodeState, Store, StoreError, Transition};

/// Changes per group commit.
const MAX_GROUP: usize = 10_000;

/// Decision latencies kept for the percentiles (a 10-minute run at 100 units/s is 60,000).
const MAX_SAMPLES: usize = 1 << 20;

/// The core's state.
pub(super) struct Core {
    tracker: Tracker,
    book: CodeBook,
    io: mpsc::Sender<IoCommand>,
    marker: MarkerHandle,
    stats: LineStats,
    stats_tx: watch::Sender<LineStats>,
    writer: WriterHandle,
    writer_task: JoinHandle<()>,
    acks: mpsc::UnboundedSender<Committed>,
    acks_task: JoinHandle<u64>,
    /// Result-to-decision latencies, µs.
    decision_us: Vec<u32>,
    /// Codes recorded `sent`, not yet `printed`.
    awaiting_print: HashSet<String>,
    /// Codes recorded `printed` from a camera read before the marker confirmed them.
    printed_early: HashSet<String>,
    /// Rejected units waiting for the gate: their code and reason.
    pending: HashMap<u64, PendingReject>,
    /// The core restarted a faulted marker: the `Connected` that start reports is its own,
    /// already handled with the belt still stopped.
    own_start_reported: bool,
    acknowledge_after: Option<Duration>,
    restart_at: Option<Instant>,
    /// Late decisions are made this many counts before a unit reaches the gate, so the gate
    /// can still divert it.
    lead: u64,
    /// Encoder counts from the photocell to the gate.
    gate_counts: u64,
    stopping: bool,
    /// After a stop, the encoder count by which every unit printed before it is past the gate.
    drain_until: Option<u64>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("stats", &self.stats)
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl Core {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        store: Store,
        config: TrackerConfig,
        book: CodeBook,
        io: mpsc::Sender<IoCommand>,
        marker: MarkerHandle,
        stats_tx: watch::Sender<LineStats>,
        acknowledge_after: Option<Duration>,
        lead: u64,
    ) -> Self {
        let gate_counts = config.gate_counts;
        let (writer, writer_task) = create_writer(store, MAX_GROUP);
        let (acks, acks_rx) = mpsc::unbounded_channel();
        Self {
            tracker: Tracker::new(config),
            book,
            io,
            marker,
            stats: LineStats::default(),
            stats_tx,
            writer,
            writer_task,
            acks,
            acks_task: tokio::spawn(await_commits(acks_rx)),
            decision_us: Vec::new(),
            awaiting_print: HashSet::new(),
            printed_early: HashSet::new(),
            pending: HashMap::new(),
            own_start_reported: false,
            acknowledge_after,
            restart_at: None,
            lead,
            gate_counts,
            stopping: false,
            drain_until: None,
        }
    }

    /// Runs until a requested stop has drained the line; returns the counters and the number
    /// of store changes that failed.
    pub(super) async fn run(
        mut self,
        mut stop: watch::Receiver<bool>,
        mut io: mpsc::Receiver<IoEvent>,
        mut marker: mpsc::Receiver<MarkerEvent>,
        mut results: mpsc::Receiver<Received>,
        mut feeder: JoinHandle<Result<(), StoreError>>,
    ) -> (LineStats, u64) {
        let mut marker_open = true;
        let mut feeding = true;
        loop {
            if self.stopping && self.drained() {
                break;
            }
            let restart_at = self.restart_at;
            tokio::select! {
                biased;
                changed = stop.changed(), if !self.stopping => {
                    if changed.is_err() || *stop.borrow() {
                        self.begin_stop(&feeder).await;
                    }
                }
                event = io.recv() => match event {
                    Some(event) => self.io_event(event).await,
                    None => {
                        self.alarm("the line I/O task ended".to_owned()).await;
                        break;
                    }
                },
                event = marker.recv(), if marker_open => match event {
                    Some(event) => self.marker_event(event).await,
                    None => marker_open = false,
                },
                received = results.recv() => match received {
                    Some(received) => self.received(received).await,
                    None => {
                        self.alarm("the MQTT subscription ended".to_owned()).await;
                        break;
                    }
                },
                ended = &mut feeder, if feeding => {
                    feeding = false;
                    // The feeder ends only when the marker stops taking codes, or on an error.
                    match ended {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => self.alarm(format!("allocation stopped: {e}")).await,
                        Err(e) if e.is_cancelled() => {}
                        Err(e) => self.alarm(format!("allocation task failed: {e}")).await,
                    }
                }
                () = sleep_until(restart_at), if restart_at.is_some() => {
                    self.restart().await;
                }
            }
            self.stats_tx.send_replace(self.stats.clone());
        }
        // Ends the marker task: it clears the device and reports what it voided.
        if let Err(e) = self.marker.shutdown().await {
            tracing::debug!(error = %e, "marker already ended");
        }
        while let Some(event) = marker.recv().await {
            self.marker_event(event).await;
        }
        feeder.abort();
        let _ = self.io.send(IoCommand::LineStop(true)).await;
        let _ = self.io.send(IoCommand::Light(StackLight::Amber)).await;
        self.stats.decision_latency = super::Latency::of(&mut self.decision_us);
        let Core {
            stats,
            stats_tx,
            writer,
            writer_task,
            acks,
            acks_task,
            ..
        } = self;
        drop(writer);
        drop(acks);
        let _ = writer_task.await;
        let failed = acks_task.await.unwrap_or(1);
        stats_tx.send_replace(stats.clone());
        (stats, failed)
    }

    /// Every reject is settled by the gate, and the belt is empty or has moved every unit that
    /// was on it at the stop past the gate (units entering after a stop carry no print).
    fn drained(&self) -> bool {
        let belt_clear = self.tracker.units_in_flight() == 0
            || self
                .drain_until
                .is_some_and(|until| self.stats.encoder >= until);
        belt_clear && self.pending.is_empty()
    }

    async fn begin_stop(&mut self, feeder: &JoinHandle<Result<(), StoreError>>) {
        self.stopping = true;
        self.drain_until = Some(self.stats.encoder + self.gate_counts + self.lead);
        feeder.abort();
        // Nothing more is printed; units on the belt run out past the gate and are decided.
        if let Err(e) = self.marker.stop().await {
            tracing::warn!(error = %e, "cannot stop the marker");
        }
        self.restart_at = None;
        let _ = self.io.send(IoCommand::LineStop(false)).await;
    }

    async fn io_event(&mut self, event: IoEvent) {
        match event {
            IoEvent::Ready => {}
            IoEvent::Poll {
                encoder,
                detections,
                missed,
            } => {
                for at in detections {
                    self.tracker.unit_detected(at);
                    self.stats.units += 1;
                }
                if missed > 0 {
                    self.stats.missed_detections += missed;
                    self.alarm(format!("{missed} photocell detections lost"))
                        .await;
                }
                self.stats.encoder = encoder;
                for verdict in self.tracker.advance(encoder + self.lead) {
                    self.verdict(verdict).await;
                }
            }
            IoEvent::Diverted(unit) => {
                if let Some(reject) = self.pending.remove(&unit) {
                    self.stats.diverted += 1;
                    if let Some(code) = reject.code {
                        self.record(code, CodeState::Rejected, Some(reject.reason), reject.read)
                            .await;
                    }
                }
            }
            IoEvent::GateFault(unit) => {
                if let Some(reject) = self.pending.remove(&unit) {
                    self.stats.gate_faults += 1;
                    self.tracker.gate_fault();
                    if let Some(code) = reject.code {
                        let reason = Some(RejectReason::GateFault);
                        self.record(code, CodeState::Rejected, reason, reject.read)
                            .await;
                    }
                    self.alarm(format!("the reject gate did not confirm unit {unit}"))
                        .await;
                }
            }
            IoEvent::LinkLost(error) => {
                tracing::warn!(%error, "line I/O link lost");
                self.stats.alarm = Some(format!("line I/O: {error}"));
            }
        }
    }

    async fn marker_event(&mut self, event: MarkerEvent) {
        match event {
            MarkerEvent::State(state) => {
                self.stats.marker = describe(&state);
                match state {
                    MarkerState::Faulted(reason) => {
                        self.stats.marker_faults += 1;
                        self.alarm(format!("marker faulted: {reason}")).await;
                    }
                    // The driver reports this after settling the device's counter and before
                    // it prints again: units that went by without a confirmed print carry none.
                    // Not for the core's own restart: handled then, with the belt stopped;
                    // the belt has moved since, and units printed since are not confirmed yet.
                    MarkerState::Connected if std::mem::take(&mut self.own_start_reported) => {}
                    MarkerState::Connected => self.marker_ready(),
                    MarkerState::Connecting | MarkerState::Disconnected => {}
                }
            }
            MarkerEvent::Sent { code } => {
                if let Some(text) = self.book.get(code) {
                    self.tracker.code_issued(&text);
                    self.stats.sent += 1;
                    self.awaiting_print.insert(text.clone());
                    self.record(text, CodeState::Sent, None, None).await;
                }
            }
            MarkerEvent::Printed { code } => {
                if let Some(text) = self.book.remove(code) {
                    let printed = self.tracker.printed(&text);
                    self.mark_printed(&text, false).await;
                    match printed {
                        Ok(Printed::OnRejectedUnit { unit, reason }) => {
                            self.late_print_on_reject(unit, reason, text).await;
                        }
                        Ok(Printed::OnUnit(_) | Printed::AlreadyRead) => {}
                        Err(e) => self.alarm(e.to_string()).await,
                    }
                }
            }
            MarkerEvent::Voided { codes, reason } => {
                tracing::info!(count = codes.len(), ?reason, "codes voided");
                self.void(&codes).await;
            }
            MarkerEvent::Unconfirmed { codes } => {
                tracing::warn!(
                    count = codes.len(),
                    "codes sent but not confirmed: they stay sent until settled"
                );
            }
            MarkerEvent::EmptyPrintGo => {
                self.stats.underruns += 1;
                if self.tracker.print_missed().is_none() {
                    tracing::warn!("an empty print-go with no unit waiting for a print");
                }
            }
            MarkerEvent::PrintWithoutCode { count } => {
                self.alarm(format!("the marker printed {count} time(s) without a code"))
                    .await;
            }
            MarkerEvent::BufferFull { .. } | MarkerEvent::Refused(_) => {}
        }
    }

    /// A print confirmed after its unit was rejected (by the camera, or as `late`): the code
    /// goes with the unit — recorded when the gate settles it or, if the unit is already past
    /// the gate (a confirmation held up longer than the belt), now. A reject whose gate did not
    /// confirm is recorded with the camera's reason then, not `gate_fault`: the line stopped
    /// for it already.
    async fn late_print_on_reject(&mut self, unit: u64, reason: RejectReason, code: String) {
        self.stats.late_confirmations += 1;
        if let Some(reject) = self.pending.get_mut(&unit) {
            reject.code = Some(code);
            return;
        }
        self.record(code, CodeState::Rejected, Some(reason), None)
            .await;
    }

    /// Units that passed the marker while it could not print are marked as carrying nothing.
    fn marker_ready(&mut self) {
        let marked = self.tracker.marker_ready(self.stats.encoder);
        if marked > 0 {
            tracing::info!(units = marked, "units went by the marker without a print");
            self.stats.passed_unprinted += marked;
        }
    }

    /// Records `printed` once per code: from the marker's confirmation or, when a camera read
    /// came first, from that read (remembered, so the confirmation or a void that follows for
    /// the same code changes nothing).
    async fn mark_printed(&mut self, code: &str, by_camera: bool) {
        if self.awaiting_print.remove(code) {
            self.stats.printed += 1;
            if by_camera {
                self.printed_early.insert(code.to_owned());
            }
            self.record(code.to_owned(), CodeState::Printed, None, None)
                .await;
        } else if !by_camera {
            self.printed_early.remove(code);
        }
    }

    async fn void(&mut self, codes: &[CodeId]) {
        for id in codes {
            if let Some(text) = self.book.remove(*id) {
                if self.printed_early.remove(&text) {
                    // A camera read proved it printed: the read wins over the driver.
                    continue;
                }
                self.awaiting_print.remove(&text);
                self.stats.voided += 1;
                self.record(text, CodeState::Voided, None, None).await;
            }
        }
    }

    async fn received(&mut self, received: Received) {
        match received {
            Received::Result(result) => {
                let received = std::time::Instant::now();
                if let Some(verdict) = self.tracker.result(&result, gs1_code_of) {
                    self.verdict(verdict).await;
                    // Result received → decision recorded and, for a reject, the gate command
                    // handed to the line I/O task.
                    if self.decision_us.len() < MAX_SAMPLES {
                        let micros = received.elapsed().as_micros();
                        self.decision_us
                            .push(u32::try_from(micros).unwrap_or(u32::MAX));
                    }
                } else {
                    // The tracker counts why: redelivered, matching nothing, a second read.
                    let counted = self.tracker.stats();
                    self.stats.ignored_results =
                        counted.redelivered + counted.unmatched + counted.extra_reads;
                }
            }
            Received::Malformed { topic, error } => {
                tracing::warn!(%topic, %error, "reader message refused");
                self.stats.malformed_results += 1;
            }
        }
    }

    async fn verdict(&mut self, verdict: Verdict) {
        if let Some(code) = &verdict.code {
            self.mark_printed(code, true).await;
        }
        // What the decision was made on; a `late` unit had no read.
        let read = (verdict.outcome != Outcome::Rejected(RejectReason::Late)).then(|| CodeRead {
            grade: verdict.grade,
            data: verdict.data.clone(),
        });
        match verdict.outcome {
            Outcome::Verified => {
                self.stats.verified += 1;
                if let Some(code) = verdict.code {
                    self.record(code, CodeState::Verified, None, read).await;
                }
            }
            Outcome::Rejected(reason) => {
                *self
                    .stats
                    .rejected
                    .entry(reason.as_str().to_owned())
                    .or_default() += 1;
                let reject = PendingReject {
                    code: verdict.code,
                    reason,
                    read,
                };
                self.pending.insert(verdict.unit, reject);
                let command = IoCommand::Reject {
                    unit: verdict.unit,
                    fire_at: verdict.fire_at,
                };
                if self.io.send(command).await.is_err() {
                    tracing::error!("the line I/O task has ended: the reject cannot be fired");
                }
            }
        }
        if verdict.stop_line {
            self.alarm("too many rejects in a row".to_owned()).await;
        }
    }

    /// Stops the line with an alarm; with auto-acknowledge, restarts it later.
    async fn alarm(&mut self, what: String) {
        tracing::warn!(alarm = %what, "line alarm");
        self.stats.alarm = Some(what);
        if self.stopping {
            return;
        }
        self.stats.line_stops += 1;
        let _ = self.io.send(IoCommand::LineStop(true)).await;
        let _ = self.io.send(IoCommand::Light(StackLight::Red)).await;
        self.restart_at = self.acknowledge_after.map(|after| Instant::now() + after);
    }

    async fn restart(&mut self) {
        self.restart_at = None;
        if self.stopping {
            return;
        }
        tracing::info!("alarm acknowledged: the line restarts");
        // Starting clears a latched marker fault (the operator's restart). A marker that still
        // refuses leaves units unprinted: they read as `no_read` and are diverted, and the
        // alarm they raise tries the marker again — the acknowledging stand-in never holds the
        // belt for good, so a fault that clears (ink refilled) lets printing resume.
        let state = self.marker.state().borrow().clone();
        if matches!(state, MarkerState::Connected | MarkerState::Faulted(_)) {
            let was_printing = self
                .marker
                .status()
                .await
                .is_ok_and(|status| status.printing());
            match self.marker.start().await {
                // The belt is stopped: every unit past the marker went by while it could not
                // print (a cleared fault reports `Connected` but does not print until now).
                Ok(()) if !was_printing => {
                    self.marker_ready();
                    // Starting a faulted marker reports `Connected`; that report is this one.
                    self.own_start_reported = matches!(state, MarkerState::Faulted(_));
                }
                Ok(()) => {}
                Err(e) => tracing::warn!(error = %e, "the marker does not restart yet"),
            }
        }
        let _ = self.io.send(IoCommand::LineStop(false)).await;
        let _ = self.io.send(IoCommand::Light(StackLight::Green)).await;
    }

    async fn record(
        &mut self,
        code: String,
        to: CodeState,
        reason: Option<RejectReason>,
        read: Option<CodeRead>,
    ) {
        let change = Transition {
            code,
            to,
            reason,
            read,
        };
        match self.writer.submit(change).await {
            Ok(committed) => {
                let _ = self.acks.send(committed);
            }
            Err(e) => {
                self.stats.store_errors += 1;
                tracing::error!(error = %e, "cannot record a code state change");
            }
        }
    }
}

/// A reject waiting for the gate to settle it.
#[derive(Debug)]
struct PendingReject {
    /// The code on the unit, if the marker confirmed one (possibly after the decision).
    code: Option<String>,
    reason: RejectReason,
    /// The read it was rejected on (`None` for `late`: there was none).
    read: Option<CodeRead>,
}

/// Awaits commits in order; returns how many failed.
async fn await_commits(mut acks: mpsc::UnboundedReceiver<Committed>) -> u64 {
    let mut failed = 0;
    while let Some(committed) = acks.recv().await {
        if let Err(e) = committed.await {
            failed += 1;
            tracing::error!(error = %e, "a code state change was refused");
        }
    }
    failed
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn describe(state: &MarkerState) -> String {
    match state {
        MarkerState::Connecting => "connecting".to_owned(),
        MarkerState::Connected => "connected".to_owned(),
        MarkerState::Faulted(reason) => format!("faulted: {reason}"),
        MarkerState::Disconnected => "disconnected".to_owned(),
    }
}
