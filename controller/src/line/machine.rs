//! The line core's decisions, without I/O: what the line does with each thing that happens on
//! it. Events come in (a PLC poll with the encoder and the photocell's detections, a code sent,
//! printed or voided, the marker's state, a camera result, a reject's outcome at the gate, a
//! stop request, the clock) and actions go out (record a code state change, hand a reject to
//! the PLC, stop or run the line, set the stack light, raise an alarm, stop or restart the
//! marker). The task in `core.rs` only moves events in and carries actions out, in order.
//!
//! So every situation the 10-minute runs of docs/performance.md met — a unit past an empty
//! marker, a confirmation after the camera's reject or after its unit left, a late decision, a
//! gate fault, rejects in a row, a marker restart — is a unit test here with scripted events
//! (`machine_tests.rs`), not a run of the whole line in real time.
//!
//! The machine owns the [`Tracker`] (which unit carries which code, and the decision), the
//! rejects waiting for the gate, the codes between `sent` and `printed`, the counters, and the
//! stop and restart state. Time is an input (`now`), never read: a restart is due at an instant
//! the task sleeps until, then reports as [`LineEvent::Tick`].
//!
//! An action whose outcome the machine needs (the marker's state before a restart, whether it
//! started) is answered by an event; the machine emits such an action last, so the task can
//! answer it before anything else happens. A command the line I/O task can no longer take (its
//! task ended) comes back as [`LineEvent::IoUndelivered`]: counted and an alarm, never dropped.
//!
//! Actions are pushed into a buffer the task owns and reuses: at 100 units/s per line and up
//! to 32 lines per process, handling an event allocates only what the store needs (the code
//! text of a change).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use tracemark_drivers::lineio::StackLight;
use tracemark_drivers::marker::MarkerState;

use super::LineStats;
use super::control::{LineCommand, LineMode};
use super::gate::IoCommand;
use crate::verify::{
    Outcome, Placed, Printed, RejectReason, TrackError, Tracker, TrackerConfig, Verdict,
    gs1_code_of,
};
use tracemark_store::{CodeRead, CodeState, Transition};

pub(crate) use super::events::{Action, LineEvent};

/// The alarm of a line whose codes in hand ran out while the central store cannot be reached.
pub(crate) const NO_CODES_IN_HAND: &str =
    "no codes left in hand and the central store cannot be reached";

/// Where a restart after an alarm is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Restart {
    /// Waiting for the marker's state ([`Action::QueryMarker`]).
    Querying,
    /// Waiting for the marker to start ([`Action::StartMarker`]).
    Starting {
        was_printing: bool,
        was_faulted: bool,
    },
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

/// The line core's state.
#[derive(Debug)]
pub(crate) struct LineMachine {
    tracker: Tracker,
    stats: LineStats,
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
    /// When the line restarts after an alarm (with auto-acknowledge).
    restart_at: Option<Instant>,
    restart: Option<Restart>,
    /// Late decisions are made this many counts before a unit reaches the gate, so the gate
    /// can still divert it.
    lead: u64,
    /// Encoder counts from the photocell to the gate.
    gate_counts: u64,
    stopping: bool,
    /// After a stop, the encoder count by which every unit printed before it is past the gate.
    drain_until: Option<u64>,
    /// Polls after a stop that may still move `drain_until` later.
    drain_polls: u8,
    /// Where the last unit the photocell saw entered (encoder count).
    last_entry: Option<u64>,
    /// The line I/O or the camera results ended: the core cannot go on.
    ended: bool,
    /// The line I/O task takes no more commands: alarms no longer try to stop the line through
    /// it (the PLC's comm watchdog diverts everything once it is silent).
    io_lost: bool,
    /// Camera results that decided a unit.
    decisions: u64,
    /// The operator's hold on the belt, with its reason ([`LineCommand::Pause`]).
    held: Option<String>,
    /// An alarm stopped the line and no restart has let it run since.
    alarmed: bool,
    /// No code in hand and the central store away: no restart until it answers.
    starved: bool,
    /// The marker's last state was `Connected` (ready or printing).
    marker_connected: bool,
}

impl LineMachine {
    /// A line with nothing on it. `lead`: how many counts before the gate a unit without a
    /// result is decided `late`; `acknowledge_after`: the demo's stand-in for an operator.
    pub(crate) fn new(
        config: TrackerConfig,
        acknowledge_after: Option<Duration>,
        lead: u64,
    ) -> Self {
        Self {
            gate_counts: config.gate_counts,
            tracker: Tracker::new(config),
            stats: LineStats::default(),
            awaiting_print: HashSet::new(),
            printed_early: HashSet::new(),
            pending: HashMap::new(),
            own_start_reported: false,
            acknowledge_after,
            restart_at: None,
            restart: None,
            lead,
            stopping: false,
            drain_until: None,
            drain_polls: 0,
            last_entry: None,
            ended: false,
            io_lost: false,
            decisions: 0,
            held: None,
            alarmed: false,
            starved: false,
            marker_connected: false,
        }
    }

    /// The counters so far.
    pub(crate) fn stats(&self) -> &LineStats {
        &self.stats
    }

    /// The counters, at the end.
    pub(crate) fn into_stats(self) -> LineStats {
        self.stats
    }

    /// A stop was requested.
    pub(crate) fn stopping(&self) -> bool {
        self.stopping
    }

    /// The encoder count from which a poll with nothing new must still reach the machine: in
    /// steady running, where the next unit's decision is due (it leaves the register `lead`
    /// counts before the gate). Every poll otherwise: a stop's drain is measured on them, a
    /// marker that comes back marks the units that went by it unprinted by the encoder, and a
    /// code waiting ahead of its unit is placed or expired on them.
    pub(crate) fn forward_from(&self) -> u64 {
        // Every poll too while a code waits ahead of its unit: the poll that brings the
        // detection places it, and one with none expires it (`Tracker::place_ahead`).
        if self.stopping
            || self.alarmed
            || self.held.is_some()
            || !self.marker_connected
            || self.tracker.codes_ahead() > 0
        {
            return 0;
        }
        self.tracker
            .next_departure()
            .map_or(u64::MAX, |at| at.saturating_sub(self.lead))
    }

    /// When the task must report [`LineEvent::Tick`] next, if ever.
    pub(crate) fn restart_at(&self) -> Option<Instant> {
        self.restart_at
    }

    /// Camera results that decided a unit so far (the task times those).
    pub(crate) fn decisions(&self) -> u64 {
        self.decisions
    }

    /// The run is over: a requested stop has drained the line, or an input it cannot run
    /// without has ended.
    pub(crate) fn finished(&self) -> bool {
        self.ended || (self.stopping && self.drained())
    }

    /// The line starts: it runs, green.
    pub(crate) fn start(&mut self, out: &mut Vec<Action>) {
        self.io(Action::LineStop(false), out);
        self.io(Action::Light(StackLight::Green), out);
    }

    /// The run ends (the marker is shut down): the line stops, amber.
    pub(crate) fn finish(&mut self, out: &mut Vec<Action>) {
        self.io(Action::LineStop(true), out);
        self.io(Action::Light(StackLight::Amber), out);
    }

    /// Takes one event at `now`; pushes what to do onto `out`.
    pub(crate) fn handle(&mut self, now: Instant, event: LineEvent<'_>, out: &mut Vec<Action>) {
        match event {
            LineEvent::StopRequested => self.begin_stop(out),
            LineEvent::Tick => {
                if self.restart_at.is_some_and(|at| now >= at) {
                    self.restart_at = None;
                    self.begin_restart(out);
                }
            }
            LineEvent::Poll {
                encoder,
                detections,
                missed,
            } => self.poll(now, encoder, detections, missed, out),
            LineEvent::Diverted(unit) => {
                if let Some(reject) = self.pending.remove(&unit) {
                    self.stats.diverted += 1;
                    if let Some(code) = reject.code {
                        Self::record(
                            code,
                            CodeState::Rejected,
                            Some(reject.reason),
                            reject.read,
                            out,
                        );
                    }
                }
            }
            LineEvent::GateFault(unit) => {
                if let Some(reject) = self.pending.remove(&unit) {
                    self.stats.gate_faults += 1;
                    self.tracker.gate_fault();
                    if let Some(code) = reject.code {
                        let reason = Some(RejectReason::GateFault);
                        Self::record(code, CodeState::Rejected, reason, reject.read, out);
                    }
                    self.alarm(
                        now,
                        format!("the reject gate did not confirm unit {unit}"),
                        out,
                    );
                }
            }
            LineEvent::IoLinkLost(error) => {
                tracing::warn!(%error, "line I/O link lost");
                self.stats.alarm = Some(format!("line I/O: {error}"));
            }
            LineEvent::IoEnded => {
                self.ended = true;
                self.io_lost = true;
                self.alarm(now, "the line I/O task ended".to_owned(), out);
            }
            LineEvent::IoUndelivered(command) => {
                self.stats.undelivered_io += 1;
                self.io_lost = true;
                let what = match command {
                    IoCommand::Reject { unit, fire_at } => {
                        format!(
                            "the reject of unit {unit} (at {fire_at}) cannot be handed to the gate"
                        )
                    }
                    IoCommand::LineStop(true) => "the line cannot be stopped".to_owned(),
                    IoCommand::LineStop(false) => "the line cannot be let run".to_owned(),
                    IoCommand::Light(light) => format!("the stack light cannot be set {light:?}"),
                };
                self.alarm(now, format!("the line I/O task has ended: {what}"), out);
            }
            LineEvent::MarkerState(state) => self.marker_state(now, state, out),
            LineEvent::Sent(code) => {
                self.tracker.code_issued(&code);
                self.stats.sent += 1;
                self.awaiting_print.insert(code.clone());
                Self::record(code, CodeState::Sent, None, None, out);
            }
            LineEvent::Printed(code) => {
                let printed = self.tracker.printed(&code);
                self.mark_printed(&code, false, out);
                match printed {
                    Ok(Printed::OnRejectedUnit { unit, reason }) => {
                        self.late_print_on_reject(unit, reason, code, out);
                    }
                    Ok(Printed::OnUnit(_) | Printed::AlreadyRead | Printed::Ahead) => {}
                    Err(TrackError::PrintWithoutUnit(code)) => self.unplaced(now, code, out),
                    Err(e) => self.alarm(now, e.to_string(), out),
                }
            }
            LineEvent::Voided(code) => {
                // A camera read proved it printed: the read wins over the driver.
                if !self.printed_early.remove(&code) {
                    self.awaiting_print.remove(&code);
                    self.stats.voided += 1;
                    Self::record(code, CodeState::Voided, None, None, out);
                }
            }
            LineEvent::EmptyPrintGo => {
                self.stats.underruns += 1;
                if self.tracker.print_missed().is_none() {
                    tracing::warn!("an empty print-go with no unit waiting for a print");
                }
            }
            LineEvent::PrintWithoutCode(count) => {
                let what = format!("the marker printed {count} time(s) without a code");
                self.alarm(now, what, out);
            }
            LineEvent::MarkerQueried { state, printing } => {
                if self.restart != Some(Restart::Querying) {
                    return;
                }
                // Starting clears a latched marker fault (the operator's restart). A marker
                // that still refuses leaves units unprinted: they read as `no_read` and are
                // diverted, and the alarm they raise tries the marker again — the acknowledging
                // stand-in never holds the belt for good, so a fault that clears (ink refilled)
                // lets printing resume. A marker connecting again reports `Connected` itself.
                if matches!(state, MarkerState::Connected | MarkerState::Faulted(_)) {
                    self.restart = Some(Restart::Starting {
                        was_printing: printing,
                        was_faulted: matches!(state, MarkerState::Faulted(_)),
                    });
                    out.push(Action::StartMarker);
                } else {
                    self.restart = None;
                    self.restarted(out);
                }
            }
            LineEvent::MarkerStarted(result) => {
                let Some(Restart::Starting {
                    was_printing,
                    was_faulted,
                }) = self.restart
                else {
                    return;
                };
                self.restart = None;
                match result {
                    // The belt is stopped: every unit past the marker went by while it could
                    // not print (a cleared fault reports `Connected` but does not print until
                    // now).
                    Ok(()) if !was_printing => {
                        self.marker_ready();
                        // Starting a faulted marker reports `Connected`; that report is this one.
                        self.own_start_reported = was_faulted;
                    }
                    Ok(()) => {}
                    Err(error) => tracing::warn!(%error, "the marker does not restart yet"),
                }
                self.restarted(out);
            }
            LineEvent::Result(result) => {
                if let Some(verdict) = self.tracker.result(result, gs1_code_of) {
                    self.decisions += 1;
                    self.verdict(now, verdict, out);
                } else {
                    // The tracker counts why: redelivered, matching nothing, a second read.
                    let counted = self.tracker.stats();
                    self.stats.ignored_results =
                        counted.redelivered + counted.unmatched + counted.extra_reads;
                }
            }
            LineEvent::Malformed => self.stats.malformed_results += 1,
            LineEvent::ResultsEnded => {
                self.ended = true;
                self.alarm(now, "the MQTT subscription ended".to_owned(), out);
            }
            LineEvent::FeederFailed(why) => self.alarm(now, why, out),
            LineEvent::Hand { empty } => self.hand(now, empty, out),
            LineEvent::RecordFailed => self.stats.store_errors += 1,
        }
    }

    /// Every reject is settled by the gate, and the belt is empty or has moved every unit that
    /// was on it at the stop past the gate (units entering after a stop carry no print).
    fn drained(&self) -> bool {
        // The tracker lets a unit go `lead` counts before the gate (where late decisions are
        // made): the belt is clear once the last unit seen has physically reached the gate.
        let last_at_gate = self
            .last_entry
            .is_none_or(|entry| self.stats.encoder >= entry + self.gate_counts);
        let belt_clear = (self.tracker.units_in_flight() == 0 && last_at_gate)
            || self
                .drain_until
                .is_some_and(|until| self.stats.encoder >= until);
        belt_clear && self.pending.is_empty()
    }

    fn begin_stop(&mut self, out: &mut Vec<Action>) {
        if self.stopping {
            return;
        }
        self.stopping = true;
        // Draining runs the belt: an operator's hold ends with the run.
        self.held = None;
        self.stats.paused = None;
        self.drain_until = Some(self.stats.encoder + self.gate_counts + self.lead);
        // The last poll taken may be older than the stop; the next two polls move the drain's
        // end to the belt as it stood after it, so a unit that entered between the last poll
        // and the stop is run out past the gate too.
        self.drain_polls = 2;
        // Nothing more is printed; units on the belt run out past the gate and are decided.
        out.push(Action::StopFeeder);
        out.push(Action::StopMarker);
        self.restart_at = None;
        self.restart = None;
        self.io(Action::LineStop(false), out);
    }

    fn poll(
        &mut self,
        now: Instant,
        encoder: u64,
        detections: &[u64],
        missed: u64,
        out: &mut Vec<Action>,
    ) {
        for &at in detections {
            self.last_entry = Some(at);
            self.tracker.unit_detected(at);
            self.stats.units += 1;
        }
        for placed in self.tracker.place_ahead(encoder) {
            match placed {
                Placed::OnRejectedUnit { unit, reason, code } => {
                    self.late_print_on_reject(unit, reason, code, out);
                }
                Placed::Unplaced(code) => self.unplaced(now, code, out),
            }
        }
        if missed > 0 {
            self.stats.missed_detections += missed;
            self.alarm(now, format!("{missed} photocell detections lost"), out);
        }
        self.stats.encoder = encoder;
        if self.stopping && self.drain_polls > 0 {
            // The belt as it stood when the stop came is known only from a poll read after it:
            // one already read then may still have been on its way (see `begin_stop`).
            self.drain_polls -= 1;
            let until = encoder + self.gate_counts + self.lead;
            self.drain_until = self.drain_until.max(Some(until));
        }
        for verdict in self.tracker.advance(encoder + self.lead) {
            self.verdict(now, verdict, out);
        }
    }

    fn marker_state(&mut self, now: Instant, state: &MarkerState, out: &mut Vec<Action>) {
        self.marker_connected = *state == MarkerState::Connected;
        self.stats.marker = describe(state);
        match state {
            MarkerState::Faulted(reason) => {
                self.stats.marker_faults += 1;
                self.alarm(now, format!("marker faulted: {reason}"), out);
            }
            // The driver reports this after settling the device's counter and before it prints
            // again: units that went by without a confirmed print carry none. Not for the
            // core's own restart: handled then, with the belt stopped; the belt has moved
            // since, and units printed since are not confirmed yet.
            MarkerState::Connected if std::mem::take(&mut self.own_start_reported) => {}
            MarkerState::Connected => self.marker_ready(),
            MarkerState::Connecting | MarkerState::Disconnected => {}
        }
    }

    /// A print confirmed after its unit was rejected (by the camera, or as `late`): the code
    /// goes with the unit — recorded when the gate settles it or, if the unit is already past
    /// the gate (a confirmation held up longer than the belt), now. A reject whose gate did not
    /// confirm is recorded with the camera's reason then, not `gate_fault`: the line stopped
    /// for it already.
    fn late_print_on_reject(
        &mut self,
        unit: u64,
        reason: RejectReason,
        code: String,
        out: &mut Vec<Action>,
    ) {
        self.stats.late_confirmations += 1;
        if let Some(reject) = self.pending.get_mut(&unit) {
            reject.code = Some(code);
            return;
        }
        Self::record(code, CodeState::Rejected, Some(reason), None, out);
    }

    /// A confirmed code no unit took: its unit left long before, or a miscounted print-go
    /// threw the tracking off. No read verified it, and a later read of it is a `mismatch`
    /// that diverts its unit: settled, never left `printed` and unaccounted.
    fn unplaced(&mut self, now: Instant, code: String, out: &mut Vec<Action>) {
        self.stats.late_confirmations += 1;
        let alarm = TrackError::PrintWithoutUnit(code.clone()).to_string();
        Self::record(
            code,
            CodeState::Rejected,
            Some(RejectReason::Late),
            None,
            out,
        );
        self.alarm(now, alarm, out);
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
    fn mark_printed(&mut self, code: &str, by_camera: bool, out: &mut Vec<Action>) {
        if self.awaiting_print.remove(code) {
            self.stats.printed += 1;
            if by_camera {
                self.printed_early.insert(code.to_owned());
            }
            Self::record(code.to_owned(), CodeState::Printed, None, None, out);
        } else if !by_camera {
            self.printed_early.remove(code);
        }
    }

    fn verdict(&mut self, now: Instant, verdict: Verdict, out: &mut Vec<Action>) {
        if let Some(code) = &verdict.code {
            self.mark_printed(code, true, out);
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
                    Self::record(code, CodeState::Verified, None, read, out);
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
                // Handed over even when the line I/O is known lost: what cannot be delivered
                // comes back as an alarm for this very unit.
                out.push(Action::Reject {
                    unit: verdict.unit,
                    fire_at: verdict.fire_at,
                });
            }
        }
        if verdict.stop_line {
            self.alarm(now, "too many rejects in a row".to_owned(), out);
        }
    }

    /// Stops the line with an alarm; with auto-acknowledge, restarts it later.
    fn alarm(&mut self, now: Instant, what: String, out: &mut Vec<Action>) {
        out.push(Action::Alarm(what.clone()));
        self.stats.alarm = Some(what);
        if self.stopping {
            return;
        }
        self.stats.line_stops += 1;
        self.alarmed = true;
        self.stats.alarm_active = true;
        self.io(Action::LineStop(true), out);
        self.io(Action::Light(StackLight::Red), out);
        self.restart_at = self.acknowledge_after.map(|after| now + after);
    }

    /// The codes in hand ran out with the central store away (an alarm stops the line), or
    /// came again: the alarm can be acknowledged now; with auto-acknowledge the line restarts.
    fn hand(&mut self, now: Instant, empty: bool, out: &mut Vec<Action>) {
        if empty == self.starved {
            return;
        }
        self.starved = empty;
        if empty {
            self.alarm(now, NO_CODES_IN_HAND.to_owned(), out);
        } else {
            tracing::info!("the central store answers: codes are in hand again");
            if self.alarmed && self.restart.is_none() && self.acknowledge_after.is_some() {
                self.restart_at = Some(now);
            }
        }
    }

    /// The alarm is acknowledged: start the marker again if it can be, then run the line.
    fn begin_restart(&mut self, out: &mut Vec<Action>) {
        if self.stopping || self.starved {
            return;
        }
        tracing::info!("alarm acknowledged: the line restarts");
        self.restart = Some(Restart::Querying);
        out.push(Action::QueryMarker);
    }

    /// A restart after an alarm is done: the belt runs again, unless the operator holds it.
    fn restarted(&mut self, out: &mut Vec<Action>) {
        self.alarmed = false;
        self.tracker.line_restarted();
        self.stats.alarm_active = false;
        if self.held.is_some() {
            self.io(Action::Light(StackLight::Amber), out);
        } else {
            self.resume(out);
        }
    }

    fn resume(&mut self, out: &mut Vec<Action>) {
        self.io(Action::LineStop(false), out);
        self.io(Action::Light(StackLight::Green), out);
    }

    /// An operator's command ([`LineCommand`]); `Err` says why it was not carried out, and
    /// nothing changed then.
    pub(crate) fn command(
        &mut self,
        command: &LineCommand,
        out: &mut Vec<Action>,
    ) -> Result<LineMode, String> {
        if self.stopping {
            // Stopping twice is stopping; anything else has nothing left to act on.
            return match command {
                LineCommand::Stop { .. } => Ok(self.mode()),
                _ => Err("the line is stopping: the run is ending".to_owned()),
            };
        }
        match command {
            LineCommand::Pause { reason } => {
                let first = self.held.is_none();
                self.held = Some(reason.clone());
                self.stats.paused = Some(reason.clone());
                // An alarm already holds the belt, red; the hold shows once it is acknowledged.
                if first && !self.alarmed {
                    self.io(Action::LineStop(true), out);
                    self.io(Action::Light(StackLight::Amber), out);
                }
            }
            LineCommand::Resume => {
                if self.held.is_none() {
                    return Err("the line is not paused".to_owned());
                }
                if self.alarmed {
                    return Err(
                        "an alarm holds the line: acknowledge it first, then resume".to_owned()
                    );
                }
                self.held = None;
                self.stats.paused = None;
                self.resume(out);
            }
            LineCommand::Acknowledge => {
                if !self.alarmed {
                    return Err("no alarm holds the line".to_owned());
                }
                if self.starved {
                    return Err(format!(
                        "{NO_CODES_IN_HAND}: acknowledge once the store answers (the line's \
                         state shows the codes in hand)"
                    ));
                }
                // A restart already under way (the demo's stand-in, a second operator) is this
                // acknowledgement's restart too.
                if self.restart.is_none() {
                    self.restart_at = None;
                    self.begin_restart(out);
                }
            }
            LineCommand::Stop { .. } => self.begin_stop(out),
        }
        Ok(self.mode())
    }

    /// Where the line is, as the operator sees it.
    pub(crate) fn mode(&self) -> LineMode {
        LineMode {
            paused: self.held.clone(),
            alarm_active: self.alarmed,
            stopping: self.stopping,
        }
    }

    /// A line stop or light command, unless the line I/O task is known to have ended (each
    /// undelivered command is an alarm, and an alarm must not ask for another).
    fn io(&self, action: Action, out: &mut Vec<Action>) {
        if !self.io_lost {
            out.push(action);
        }
    }

    fn record(
        code: String,
        to: CodeState,
        reason: Option<RejectReason>,
        read: Option<CodeRead>,
        out: &mut Vec<Action>,
    ) {
        out.push(Action::Record(Transition {
            code,
            to,
            reason,
            read,
        }));
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

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
