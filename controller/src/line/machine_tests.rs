//! The line core's machine alone, with scripted events: one test per situation the 10-minute
//! runs of docs/performance.md ("The whole line") met, and the stop, restart and lost-I/O paths
//! around them. Each asserts the actions the machine asks for, in order, and its counters.

use std::time::{Duration, Instant};

use tracemark_drivers::lineio::StackLight;
use tracemark_drivers::marker::{FaultReason, MarkerState};

use super::{Action, LineEvent, LineMachine};
use crate::line::control::{LineCommand, LineMode};
use crate::line::gate::IoCommand;
use crate::verify::{Grade, ReadResult, RejectReason, TrackedReader, TrackerConfig};
use tracemark_store::{CodeRead, CodeState, Transition};

/// Photocell → marker, reader and gate, in encoder counts; one unit per pitch.
const MARKER: u64 = 100;
const READER: u64 = 300;
const GATE: u64 = 500;
const PITCH: u64 = 50;
/// Late decisions this many counts before the gate (half a pitch and a margin).
const LEAD: u64 = 40;
const REJECTS_IN_A_ROW: u32 = 3;

/// A line to script: the machine, the clock and the encoder as the events move them.
struct Line {
    machine: LineMachine,
    now: Instant,
    encoder: u64,
    seq: u64,
}

impl Line {
    fn new() -> Self {
        Self::acknowledging(None)
    }

    /// With the demo's automatic acknowledgement of alarms after `after`.
    fn acknowledging(after: Option<Duration>) -> Self {
        let config = TrackerConfig {
            marker_counts: MARKER,
            readers: vec![TrackedReader::new("cam1", READER, Grade::C)],
            gate_counts: GATE,
            window_counts: PITCH / 2,
            max_consecutive_rejects: REJECTS_IN_A_ROW,
        };
        Self {
            machine: LineMachine::new(config, after, LEAD),
            now: Instant::now(),
            encoder: 0,
            seq: 0,
        }
    }

    fn handle(&mut self, event: LineEvent<'_>) -> Vec<Action> {
        let mut out = Vec::new();
        self.machine.handle(self.now, event, &mut out);
        out
    }

    /// Units through the photocell, each at `(unit - 1) * PITCH`, in one poll.
    fn units(&mut self, units: std::ops::RangeInclusive<u64>) -> Vec<Action> {
        let entries: Vec<u64> = units.map(entry).collect();
        self.encoder = self.encoder.max(entries.last().copied().unwrap_or(0));
        let encoder = self.encoder;
        self.handle(LineEvent::Poll {
            encoder,
            detections: &entries,
            missed: 0,
        })
    }

    /// The belt runs on to `encoder`.
    fn run_to(&mut self, encoder: u64) -> Vec<Action> {
        self.encoder = encoder;
        self.handle(LineEvent::Poll {
            encoder,
            detections: &[],
            missed: 0,
        })
    }

    fn sent(&mut self, codes: std::ops::RangeInclusive<u32>) {
        for n in codes {
            let actions = self.handle(LineEvent::Sent(code(n)));
            assert_eq!(actions, [record(n, CodeState::Sent)]);
        }
    }

    fn printed(&mut self, n: u32) -> Vec<Action> {
        self.handle(LineEvent::Printed(code(n)))
    }

    /// The camera's result for `unit`, read where that unit is under it: code `n` (graded A)
    /// or nothing.
    fn read(&mut self, unit: u64, n: Option<u32>) -> Vec<Action> {
        self.seq += 1;
        let result = ReadResult {
            reader: "cam1".into(),
            seq: self.seq,
            ts: None,
            data: n.map(scan),
            grade: n.map(|_| Grade::A),
            encoder: Some(entry(unit) + READER),
        };
        self.handle(LineEvent::Result(&result))
    }

    fn later(&mut self, by: Duration) {
        self.now += by;
    }
}

/// Where unit `unit` (from 1) enters.
fn entry(unit: u64) -> u64 {
    (unit - 1) * PITCH
}

fn code(n: u32) -> String {
    format!("(01)09506000134352(21){n:06}")
}

fn scan(n: u32) -> String {
    format!("]d2010950600013435221{n:06}")
}

fn record(n: u32, to: CodeState) -> Action {
    Action::Record(Transition::to(code(n), to))
}

/// Code `n` verified on a good read of it.
fn verified(n: u32) -> Action {
    Action::Record(Transition {
        read: Some(good_read(n)),
        ..Transition::to(code(n), CodeState::Verified)
    })
}

fn rejected(n: u32, reason: RejectReason, read: Option<CodeRead>) -> Action {
    Action::Record(Transition {
        reason: Some(reason),
        read,
        ..Transition::to(code(n), CodeState::Rejected)
    })
}

fn good_read(n: u32) -> CodeRead {
    CodeRead {
        grade: Some(tracemark_store::Grade::A),
        data: Some(scan(n)),
    }
}

fn no_read() -> Option<CodeRead> {
    Some(CodeRead::default())
}

fn reject(unit: u64) -> Action {
    Action::Reject {
        unit,
        fire_at: entry(unit) + GATE,
    }
}

fn stops_with(alarm: &str) -> [Action; 3] {
    [
        Action::Alarm(alarm.to_owned()),
        Action::LineStop(true),
        Action::Light(StackLight::Red),
    ]
}

fn rejected_by_reason(line: &Line) -> Vec<(&str, u64)> {
    let stats = line.machine.stats();
    stats
        .rejected
        .iter()
        .map(|(reason, n)| (reason.as_str(), *n))
        .collect()
}

fn alarms(actions: &[Action]) -> usize {
    actions
        .iter()
        .filter(|a| matches!(a, Action::Alarm(_)))
        .count()
}

/// The first 10-minute run: one marker underrun attached every later code one unit too early,
/// every read became a `mismatch` and the line stopped 872 times. The unit that went by the
/// empty marker carries nothing; the codes after it stay on their own units.
#[test]
fn a_unit_past_an_empty_marker_carries_nothing_and_later_codes_stay_on_their_units() {
    let mut line = Line::new();
    line.sent(0..=1);
    assert!(line.units(1..=3).is_empty());
    assert_eq!(line.printed(0), [record(0, CodeState::Printed)]);
    // Unit 2's print-go found the buffer empty.
    assert!(line.handle(LineEvent::EmptyPrintGo).is_empty());
    assert_eq!(line.printed(1), [record(1, CodeState::Printed)]);

    let mut actions = line.read(1, Some(0));
    actions.extend(line.read(2, None));
    actions.extend(line.read(3, Some(1)));
    assert_eq!(actions, [verified(0), reject(2), verified(1)]);
    // Unit 2 carried no code: diverting it changes no code's state.
    assert!(line.handle(LineEvent::Diverted(2)).is_empty());

    let stats = line.machine.stats();
    assert_eq!((stats.underruns, stats.verified, stats.diverted), (1, 2, 1));
    assert_eq!(stats.line_stops, 0);
    assert_eq!(rejected_by_reason(&line), [("no_read", 1)]);
}

/// The third run: the camera decided a no-read before the marker confirmed the print, so the
/// confirmed code went to the next unit and 4 codes were left `printed`. The confirmation stays
/// on the rejected unit; its code is recorded rejected when the gate diverts it.
#[test]
fn a_confirmation_after_the_cameras_reject_stays_on_its_unit() {
    let mut line = Line::new();
    line.sent(0..=1);
    line.units(1..=2);
    assert_eq!(
        line.read(1, None),
        [reject(1)],
        "handed to the gate at once"
    );
    assert_eq!(line.printed(0), [record(0, CodeState::Printed)]);
    assert_eq!(line.printed(1), [record(1, CodeState::Printed)]);
    assert_eq!(line.read(2, Some(1)), [verified(1)], "not a mismatch");
    assert_eq!(
        line.handle(LineEvent::Diverted(1)),
        [rejected(0, RejectReason::NoRead, no_read())],
        "code 0 is not left printed"
    );
    assert_eq!(line.machine.stats().late_confirmations, 1);
}

/// Run 6: two codes stayed `printed` because their confirmation came after their unit had
/// reached the gate. It goes with the unit that left, and its code is recorded at once.
#[test]
fn a_confirmation_after_its_unit_left_goes_with_it() {
    let mut line = Line::new();
    line.sent(0..=1);
    line.units(1..=2);
    assert_eq!(line.read(1, None), [reject(1)]);
    assert!(
        line.handle(LineEvent::Diverted(1)).is_empty(),
        "no code yet"
    );
    // Unit 1 is past the gate (unit 2 is not yet due for a late decision).
    assert!(line.run_to(entry(1) + GATE).is_empty());
    assert_eq!(
        line.printed(0),
        [
            record(0, CodeState::Printed),
            rejected(0, RejectReason::NoRead, None)
        ]
    );
    // The next confirmation is unit 2's own.
    assert_eq!(line.printed(1), [record(1, CodeState::Printed)]);
    assert_eq!(line.read(2, Some(1)), [verified(1)]);
    assert_eq!(line.machine.stats().late_confirmations, 1);
}

/// Session 22's wrecked lines: codes confirmed with no unit waiting were left `printed`, and
/// the run ended with them unaccounted. A code no unit takes while the belt runs a
/// photocell-to-gate length is recorded rejected `late` (no read verified it), and the
/// tracking fault stops the line.
#[test]
fn a_confirmation_no_unit_takes_is_settled_rejected() {
    let mut line = Line::new();
    line.sent(0..=0);
    assert_eq!(line.printed(0), [record(0, CodeState::Printed)], "it waits");
    assert!(line.run_to(GATE).is_empty());
    let mut expected = vec![rejected(0, RejectReason::Late, None)];
    expected.extend(stops_with(&format!(
        "the marker confirmed {} but no unit is waiting for a print",
        code(0)
    )));
    assert_eq!(line.run_to(GATE + 1), expected);
    let stats = line.machine.stats();
    assert_eq!((stats.late_confirmations, stats.line_stops), (1, 1));
}

/// Session 23's starved 32-line runs: a print confirmed before the poll that reported its
/// unit shifted every later code onto the unit before its own. It waits for the detection.
#[test]
fn a_confirmation_before_its_units_detection_stays_on_its_unit() {
    let mut line = Line::new();
    line.handle(LineEvent::MarkerState(&MarkerState::Connected));
    line.sent(0..=1);
    line.units(1..=1);
    line.printed(0);
    assert_ne!(line.machine.forward_from(), 0, "nothing waits");
    assert_eq!(line.printed(1), [record(1, CodeState::Printed)]);
    assert_eq!(
        line.machine.forward_from(),
        0,
        "a code waits ahead: every poll, so the one without news expires it"
    );
    line.units(2..=2);
    assert!(line.run_to(entry(2) + MARKER).is_empty());
    assert_ne!(
        line.machine.forward_from(),
        0,
        "placed: no longer every poll"
    );
    let mut actions = line.read(1, Some(0));
    actions.extend(line.read(2, Some(1)));
    assert_eq!(actions, [verified(0), verified(1)]);
    assert_eq!(line.machine.stats().line_stops, 0);
}

/// The measured run: a reject decision reached the coil after its unit had gone by, in a 16 ms
/// stall. A unit without a result is decided `late` while `LEAD` counts of belt are still left
/// before the gate, and the reject is handed over in the same step (run 8: the PLC fires it).
#[test]
fn a_late_decision_leaves_the_gate_its_lead() {
    let mut line = Line::new();
    line.sent(0..=0);
    line.units(1..=1);
    line.printed(0);
    assert!(line.run_to(GATE - LEAD - 1).is_empty(), "not yet");
    let actions = line.run_to(GATE - LEAD);
    assert_eq!(actions, [reject(1)]);
    assert!(matches!(actions[0], Action::Reject { fire_at, .. } if fire_at - line.encoder == LEAD));
    assert_eq!(
        line.handle(LineEvent::Diverted(1)),
        [rejected(0, RejectReason::Late, None)],
        "a late unit had no read"
    );
    assert_eq!(rejected_by_reason(&line), [("late", 1)]);
}

/// Issue 20: the line I/O thread hands over a poll with nothing new only from the count where
/// the next decision is due (the late decision above), except while the marker is away or the
/// line stops, when every poll counts.
#[test]
fn polls_without_news_matter_only_where_the_next_decision_is_due() {
    let mut line = Line::new();
    assert_eq!(line.machine.forward_from(), 0, "no marker yet: every poll");
    line.handle(LineEvent::MarkerState(&MarkerState::Connected));
    assert_eq!(line.machine.forward_from(), u64::MAX, "an empty belt: none");
    line.sent(0..=1);
    line.units(1..=2);
    assert_eq!(
        line.machine.forward_from(),
        GATE - LEAD,
        "unit 1's late point"
    );
    line.printed(0);
    assert_eq!(line.read(1, Some(0)), [verified(0)]);
    assert_eq!(
        line.machine.forward_from(),
        GATE - LEAD,
        "a decided unit still leaves the register there"
    );
    assert!(line.run_to(GATE - LEAD).is_empty());
    assert_eq!(line.machine.forward_from(), entry(2) + GATE - LEAD);

    let faulted = MarkerState::Faulted(FaultReason::Device {
        detail: "ribbon out".into(),
    });
    line.handle(LineEvent::MarkerState(&faulted));
    assert_eq!(
        line.machine.forward_from(),
        0,
        "a faulted marker: every poll"
    );
    line.handle(LineEvent::MarkerState(&MarkerState::Connected));
    line.handle(LineEvent::StopRequested);
    assert_eq!(line.machine.forward_from(), 0, "stopping: every poll");
}

/// Runs 4 and 7: a reject whose window was late, or that the gate did not confirm, is recorded
/// `rejected(gate_fault)` with the read it was rejected on, and the line stops with an alarm.
#[test]
fn a_gate_fault_is_recorded_and_stops_the_line() {
    let mut line = Line::acknowledging(Some(Duration::from_secs(5)));
    line.sent(0..=0);
    line.units(1..=1);
    line.printed(0);
    assert_eq!(line.read(1, None), [reject(1)]);
    let mut want = vec![rejected(0, RejectReason::GateFault, no_read())];
    want.extend(stops_with("the reject gate did not confirm unit 1"));
    assert_eq!(line.handle(LineEvent::GateFault(1)), want);
    assert!(
        line.handle(LineEvent::GateFault(1)).is_empty(),
        "settled once"
    );
    let stats = line.machine.stats();
    assert_eq!((stats.gate_faults, stats.line_stops), (1, 1));
    assert_eq!(
        stats.alarm.as_deref(),
        Some("the reject gate did not confirm unit 1")
    );
    assert_eq!(
        line.machine.restart_at(),
        Some(line.now + Duration::from_secs(5))
    );
}

/// A confirmation that arrives after the gate faulted on its unit is recorded with the
/// camera's reason: the line already stopped for the fault.
#[test]
fn a_confirmation_after_a_gate_fault_keeps_the_cameras_reason() {
    let mut line = Line::new();
    line.sent(0..=0);
    line.units(1..=1);
    line.read(1, None);
    assert_eq!(
        line.handle(LineEvent::GateFault(1)),
        stops_with("the reject gate did not confirm unit 1")
    );
    assert_eq!(
        line.printed(0),
        [
            record(0, CodeState::Printed),
            rejected(0, RejectReason::NoRead, None)
        ]
    );
}

/// Rejects in a row stop the line at `max_consecutive_rejects`; a verified unit between them
/// starts the count again.
#[test]
fn rejects_in_a_row_stop_the_line() {
    let mut line = Line::new();
    line.sent(0..=0);
    line.units(1..=6);
    line.printed(0);
    assert_eq!(line.read(1, None), [reject(1)]);
    assert_eq!(line.read(2, None), [reject(2)]);

    // A verified unit (a read proving a code sent, never confirmed) starts the count again.
    line.sent(1..=1);
    assert_eq!(
        line.read(3, Some(1)),
        [record(1, CodeState::Printed), verified(1)]
    );
    assert_eq!(line.read(4, None), [reject(4)]);
    assert_eq!(line.read(5, None), [reject(5)], "two in a row only");
    assert_eq!(line.machine.stats().line_stops, 0);
    let mut want = vec![reject(6)];
    want.extend(stops_with("too many rejects in a row"));
    assert_eq!(line.read(6, None), want);
    assert_eq!(line.machine.stats().line_stops, 1);
}

/// The 32-line bench (issue 20): after a stall, units came back rejected one after another.
/// Each further reject in a row raised the alarm again (thousands of log lines) and put the
/// restart off, and once the line restarted its first reject stopped it again, so it never got
/// going. Now the alarm is raised once, the restart is due when it was, and the count starts
/// again with the restarted line.
#[test]
fn rejects_in_a_row_raise_one_alarm_and_count_again_after_the_restart() {
    let after = Duration::from_millis(300);
    let mut line = Line::acknowledging(Some(after));
    line.units(1..=7);
    line.read(1, None);
    line.read(2, None);
    assert_eq!(alarms(&line.read(3, None)), 1);
    let due = line.machine.restart_at();
    assert!(due.is_some(), "the demo's stand-in acknowledges it");

    line.later(Duration::from_millis(100));
    assert_eq!(
        line.read(4, None),
        [reject(4)],
        "the alarm already holds the line"
    );
    assert_eq!(line.machine.restart_at(), due, "the restart is not put off");
    assert_eq!(line.machine.stats().line_stops, 1);

    line.later(after);
    assert_eq!(line.handle(LineEvent::Tick), [Action::QueryMarker]);
    let printing = LineEvent::MarkerQueried {
        state: &MarkerState::Connected,
        printing: true,
    };
    assert_eq!(line.handle(printing), [Action::StartMarker]);
    assert_eq!(
        line.handle(LineEvent::MarkerStarted(Ok(()))),
        [Action::LineStop(false), Action::Light(StackLight::Green)]
    );

    assert_eq!(
        line.read(5, None),
        [reject(5)],
        "one reject since the restart"
    );
    assert_eq!(line.read(6, None), [reject(6)], "two");
    let mut want = vec![reject(7)];
    want.extend(stops_with("too many rejects in a row"));
    assert_eq!(line.read(7, None), want, "three stop it again");
    assert_eq!(line.machine.stats().line_stops, 2);
}

/// Run 5: realigning codes on a read found one unit off moved codes onto the wrong units. A
/// read of the next unit's code where this unit is stays this unit's `mismatch`, and the next
/// unit is still verified on its own read.
#[test]
fn a_read_one_unit_off_stays_a_mismatch() {
    let mut line = Line::new();
    line.sent(0..=1);
    line.units(1..=2);
    line.printed(0);
    line.printed(1);
    assert_eq!(line.read(1, Some(1)), [reject(1)]);
    assert_eq!(line.read(2, Some(1)), [verified(1)]);
    assert_eq!(
        line.handle(LineEvent::Diverted(1)),
        [rejected(0, RejectReason::Mismatch, Some(good_read(1)))]
    );
}

/// A marker restart: the marker faults, units go by it, the alarm is acknowledged and the core
/// starts the marker again. The units that went by carry nothing; the `Connected` the start
/// reports is the core's own (units printed since are not marked); printing resumes on the
/// next unit.
#[test]
fn a_marker_restart_marks_the_units_that_went_by_and_printing_resumes() {
    let after = Duration::from_secs(2);
    let mut line = Line::acknowledging(Some(after));
    line.sent(0..=1);
    line.units(1..=1);
    line.printed(0);
    let faulted = MarkerState::Faulted(FaultReason::Device {
        detail: "ink out".into(),
    });
    assert_eq!(
        line.handle(LineEvent::MarkerState(&faulted)),
        stops_with("marker faulted: device fault: ink out")
    );
    // Units 2 and 3 went by the marker before the belt stopped.
    line.units(2..=3);
    line.run_to(entry(3) + MARKER);

    line.later(after - Duration::from_millis(1));
    assert!(line.handle(LineEvent::Tick).is_empty(), "not yet");
    line.later(Duration::from_millis(1));
    assert_eq!(line.handle(LineEvent::Tick), [Action::QueryMarker]);
    let queried = LineEvent::MarkerQueried {
        state: &faulted,
        printing: false,
    };
    assert_eq!(line.handle(queried), [Action::StartMarker]);
    assert_eq!(
        line.handle(LineEvent::MarkerStarted(Ok(()))),
        [Action::LineStop(false), Action::Light(StackLight::Green)]
    );
    assert_eq!(line.machine.stats().passed_unprinted, 2);
    assert_eq!(line.machine.restart_at(), None);

    // The belt runs; unit 4 passes the marker before the start's own `Connected` arrives.
    line.units(4..=4);
    line.run_to(entry(4) + MARKER);
    let connected = MarkerState::Connected;
    assert!(line.handle(LineEvent::MarkerState(&connected)).is_empty());
    assert_eq!(
        line.machine.stats().passed_unprinted,
        2,
        "unit 4 not marked"
    );
    assert_eq!(line.printed(1), [record(1, CodeState::Printed)]);
    assert_eq!(line.read(2, None), [reject(2)]);
    assert_eq!(line.read(3, None), [reject(3)]);
    assert_eq!(line.read(4, Some(1)), [verified(1)], "code 1 is unit 4's");
    let stats = line.machine.stats();
    assert_eq!(
        (stats.marker_faults, stats.marker.as_str()),
        (1, "connected")
    );
}

/// Acknowledged while the marker is reconnecting (it reports `Connected` itself when back), or
/// a marker that refuses to start: the line runs again all the same, and a marker that
/// refuses leaves nothing marked.
#[test]
fn a_restart_runs_the_line_whatever_the_marker_answers() {
    let after = Duration::from_secs(1);
    let mut line = Line::acknowledging(Some(after));
    line.handle(LineEvent::FeederFailed(
        "allocation stopped: disk full".into(),
    ));
    line.later(after);
    assert_eq!(line.handle(LineEvent::Tick), [Action::QueryMarker]);
    let reconnecting = LineEvent::MarkerQueried {
        state: &MarkerState::Connecting,
        printing: false,
    };
    assert_eq!(
        line.handle(reconnecting),
        [Action::LineStop(false), Action::Light(StackLight::Green)]
    );

    line.units(1..=1);
    line.run_to(entry(1) + MARKER);
    line.handle(LineEvent::PrintWithoutCode(1));
    line.later(after);
    assert_eq!(line.handle(LineEvent::Tick), [Action::QueryMarker]);
    let connected = LineEvent::MarkerQueried {
        state: &MarkerState::Connected,
        printing: false,
    };
    assert_eq!(line.handle(connected), [Action::StartMarker]);
    let refused = LineEvent::MarkerStarted(Err("the marker is faulted".into()));
    assert_eq!(
        line.handle(refused),
        [Action::LineStop(false), Action::Light(StackLight::Green)]
    );
    assert_eq!(line.machine.stats().passed_unprinted, 0);
    assert_eq!(line.machine.stats().line_stops, 2);
    // An answer nobody asked for changes nothing.
    assert!(line.handle(LineEvent::MarkerStarted(Ok(()))).is_empty());
}

/// A command the line I/O task cannot take any more is counted and an alarm — and that alarm
/// does not ask the lost line I/O for a line stop again (nor does any later one), while a
/// reject still goes out, so its loss is counted too.
#[test]
fn a_command_the_line_io_cannot_take_is_an_alarm() {
    let mut line = Line::new();
    line.units(1..=1);
    assert_eq!(line.read(1, None), [reject(1)]);
    let lost = LineEvent::IoUndelivered(IoCommand::Reject {
        unit: 1,
        fire_at: GATE,
    });
    let actions = line.handle(lost);
    assert_eq!(
        actions,
        [Action::Alarm(
            "the line I/O task has ended: the reject of unit 1 (at 500) cannot be handed to the gate"
                .into()
        )]
    );
    let stats = line.machine.stats();
    assert_eq!((stats.undelivered_io, stats.line_stops), (1, 1));

    let actions = line.handle(LineEvent::PrintWithoutCode(2));
    assert_eq!(alarms(&actions), 1);
    assert!(!actions.iter().any(|a| matches!(a, Action::LineStop(_))));
    line.units(2..=2);
    assert_eq!(line.read(2, None), [reject(2)]);
    let mut end = Vec::new();
    line.machine.finish(&mut end);
    assert!(end.is_empty(), "nothing asked of a line I/O that is gone");
}

/// The line I/O task or the camera results ending ends the run with an alarm.
#[test]
fn an_input_that_ends_ends_the_run() {
    let mut io_gone = Line::new();
    assert_eq!(
        io_gone.handle(LineEvent::IoEnded),
        [Action::Alarm("the line I/O task ended".into())],
        "no line stop through a line I/O that has ended"
    );
    assert!(io_gone.machine.finished());

    let mut results_gone = Line::new();
    assert!(!results_gone.machine.finished());
    assert_eq!(
        results_gone.handle(LineEvent::ResultsEnded),
        stops_with("the MQTT subscription ended")
    );
    assert!(results_gone.machine.finished());
}

/// A stop: the feeder and the marker stop, the line runs on until every unit on the belt has
/// passed the gate and every reject is settled, then it stops, amber. An alarm while draining
/// does not stop the belt, and no restart comes after the stop.
#[test]
fn a_stop_drains_the_line_then_sets_it_safe() {
    let mut line = Line::acknowledging(Some(Duration::from_secs(1)));
    let mut start = Vec::new();
    line.machine.start(&mut start);
    assert_eq!(
        start,
        [Action::LineStop(false), Action::Light(StackLight::Green)]
    );
    line.sent(0..=1);
    line.units(1..=2);
    line.printed(0);
    line.printed(1);
    line.handle(LineEvent::PrintWithoutCode(1));
    assert!(line.machine.restart_at().is_some());

    assert_eq!(
        line.handle(LineEvent::StopRequested),
        [
            Action::StopFeeder,
            Action::StopMarker,
            Action::LineStop(false)
        ]
    );
    assert!(line.machine.stopping() && !line.machine.finished());
    assert_eq!(line.machine.restart_at(), None);
    assert!(line.handle(LineEvent::StopRequested).is_empty(), "once");
    line.later(Duration::from_secs(5));
    assert!(line.handle(LineEvent::Tick).is_empty());

    assert_eq!(line.read(1, Some(0)), [verified(0)]);
    assert_eq!(line.read(2, None), [reject(2)]);
    assert_eq!(
        line.handle(LineEvent::PrintWithoutCode(1)),
        [Action::Alarm(
            "the marker printed 1 time(s) without a code".into()
        )]
    );
    line.run_to(entry(2) + GATE);
    assert!(!line.machine.finished(), "unit 2's reject is not settled");
    assert_eq!(
        line.handle(LineEvent::Diverted(2)),
        [rejected(1, RejectReason::NoRead, no_read())]
    );
    assert!(line.machine.finished());
    let mut end = Vec::new();
    line.machine.finish(&mut end);
    assert_eq!(
        end,
        [Action::LineStop(true), Action::Light(StackLight::Amber)]
    );
    assert_eq!(line.machine.stats().line_stops, 1, "draining stops nothing");
}

/// A read that comes before the marker's confirmation proves the print: `printed` is recorded
/// from the read, and neither the confirmation nor a void that follows changes the code again.
#[test]
fn a_read_before_the_confirmation_wins_over_a_later_void() {
    let mut line = Line::new();
    line.sent(0..=1);
    line.units(1..=2);
    assert_eq!(
        line.read(1, Some(0)),
        [record(0, CodeState::Printed), verified(0)]
    );
    assert!(line.handle(LineEvent::Voided(code(0))).is_empty());
    assert_eq!(
        line.handle(LineEvent::Voided(code(1))),
        [record(1, CodeState::Voided)]
    );
    let stats = line.machine.stats();
    assert_eq!((stats.printed, stats.voided), (1, 1));
}

/// Detections lost between two polls stop the line: units are unaccounted for.
#[test]
fn lost_detections_stop_the_line() {
    let mut line = Line::new();
    let actions = line.handle(LineEvent::Poll {
        encoder: 10,
        detections: &[],
        missed: 2,
    });
    assert_eq!(actions, stops_with("2 photocell detections lost"));
    assert_eq!(line.machine.stats().missed_detections, 2);
}

impl Line {
    fn command(&mut self, command: LineCommand) -> (Result<LineMode, String>, Vec<Action>) {
        let mut out = Vec::new();
        let answer = self.machine.command(&command, &mut out);
        (answer, out)
    }
}

fn pause(reason: &str) -> LineCommand {
    LineCommand::Pause {
        reason: reason.to_owned(),
    }
}

/// An operator's pause holds the belt, amber, and keeps the units on it tracked; resume lets it
/// run, green. Resuming a line that is not paused, or acknowledging with no alarm, is refused
/// and asks for nothing.
#[test]
fn a_pause_holds_the_belt_until_resumed() {
    let mut line = Line::new();
    line.sent(0..=0);
    line.units(1..=1);
    let (answer, actions) = line.command(pause("ink change"));
    assert_eq!(
        actions,
        [Action::LineStop(true), Action::Light(StackLight::Amber)]
    );
    let mode = answer.expect("paused");
    assert_eq!(mode.paused.as_deref(), Some("ink change"));
    assert!(!mode.alarm_active && !mode.stopping);
    assert_eq!(line.machine.stats().paused.as_deref(), Some("ink change"));
    // Pausing again changes the reason only: the belt is held already.
    let (answer, actions) = line.command(pause("ink change, second cartridge"));
    assert!(actions.is_empty(), "{actions:?}");
    assert_eq!(
        answer.expect("paused").paused.as_deref(),
        Some("ink change, second cartridge")
    );
    let (refused, actions) = line.command(LineCommand::Acknowledge);
    assert_eq!(refused, Err("no alarm holds the line".to_owned()));
    assert!(actions.is_empty());

    let (answer, actions) = line.command(LineCommand::Resume);
    assert_eq!(
        actions,
        [Action::LineStop(false), Action::Light(StackLight::Green)]
    );
    assert_eq!(answer.expect("running"), LineMode::default());
    assert_eq!(line.machine.stats().paused, None);
    let (refused, actions) = line.command(LineCommand::Resume);
    assert_eq!(refused, Err("the line is not paused".to_owned()));
    assert!(actions.is_empty());
    // The unit held on the belt is still tracked: its code reads as verified.
    line.printed(0);
    assert_eq!(line.read(1, Some(0)), [verified(0)]);
}

/// An alarm without the demo's stand-in holds the line until an operator acknowledges it; a
/// resume is refused meanwhile. A line paused during the alarm restarts its marker on the
/// acknowledgement but keeps the belt held, amber, until resumed.
#[test]
fn an_alarm_waits_for_its_acknowledgement_and_a_pause_outlasts_it() {
    let mut line = Line::new();
    let actions = line.handle(LineEvent::PrintWithoutCode(2));
    assert_eq!(
        actions,
        stops_with("the marker printed 2 time(s) without a code")
    );
    assert!(line.machine.stats().alarm_active);
    assert_eq!(line.machine.restart_at(), None, "no stand-in: it waits");
    let (answer, actions) = line.command(pause("clean the print head"));
    assert!(actions.is_empty(), "the alarm holds the belt already");
    assert!(answer.expect("paused").alarm_active);
    let (refused, _) = line.command(LineCommand::Resume);
    assert_eq!(
        refused,
        Err("an alarm holds the line: acknowledge it first, then resume".to_owned())
    );

    let (answer, actions) = line.command(LineCommand::Acknowledge);
    assert_eq!(actions, [Action::QueryMarker]);
    assert!(answer.is_ok());
    // A second acknowledgement while the restart is under way asks for nothing more.
    let (again, actions) = line.command(LineCommand::Acknowledge);
    assert!(again.is_ok() && actions.is_empty(), "{actions:?}");
    let connected = LineEvent::MarkerQueried {
        state: &MarkerState::Connected,
        printing: true,
    };
    assert_eq!(line.handle(connected), [Action::StartMarker]);
    assert_eq!(
        line.handle(LineEvent::MarkerStarted(Ok(()))),
        [Action::Light(StackLight::Amber)],
        "restarted, still held"
    );
    assert!(!line.machine.stats().alarm_active);
    let (answer, actions) = line.command(LineCommand::Resume);
    assert_eq!(
        actions,
        [Action::LineStop(false), Action::Light(StackLight::Green)]
    );
    assert_eq!(answer.expect("running"), LineMode::default());
}

/// A stop with a reason drains the line as Ctrl-C does, ending a pause (the belt must run for
/// the units on it to reach the gate); after it, only another stop is taken.
#[test]
fn a_stop_ends_a_pause_and_drains() {
    let mut line = Line::new();
    line.command(pause("break")).0.expect("paused");
    let (answer, actions) = line.command(LineCommand::Stop {
        reason: "end of shift".into(),
    });
    assert_eq!(
        actions,
        [
            Action::StopFeeder,
            Action::StopMarker,
            Action::LineStop(false)
        ]
    );
    let mode = answer.expect("stopping");
    assert!(mode.stopping && mode.paused.is_none());
    assert!(line.machine.stopping());
    let (again, actions) = line.command(LineCommand::Stop {
        reason: "again".into(),
    });
    assert!(again.is_ok() && actions.is_empty());
    let (refused, actions) = line.command(pause("too late"));
    assert_eq!(
        refused,
        Err("the line is stopping: the run is ending".to_owned())
    );
    assert!(actions.is_empty());
}

/// A stop drains until the last unit seen is physically at the gate — also one that entered
/// between the last poll and the stop (reported by the next poll), and one already decided —
/// so the end of the run does not hold a unit on the belt before the gate.
#[test]
fn a_unit_reported_by_the_poll_after_a_stop_is_run_out() {
    let mut line = Line::new();
    line.sent(0..=1);
    line.units(1..=1);
    line.printed(0);
    line.handle(LineEvent::StopRequested);
    // The next poll reports unit 2, which entered before the stop reached the machine.
    line.units(2..=2);
    line.printed(1);
    assert_eq!(line.read(1, Some(0)), [verified(0)]);
    assert_eq!(line.read(2, Some(1)), [verified(1)]);
    // Both decided, unit 2 out of the tracker's register (it lets go `LEAD` before the gate),
    // but not yet at the gate: the run goes on.
    line.run_to(entry(2) + GATE - LEAD);
    assert!(!line.machine.finished(), "unit 2 is still before the gate");
    line.run_to(entry(2) + GATE);
    assert!(line.machine.finished());
}

/// The codes in hand run out while the central store is away (issue 18): the line stops with
/// an alarm that cannot be acknowledged until codes are in hand again; the demo's stand-in
/// restarts the line as soon as they are.
#[test]
fn an_empty_hand_stops_the_line_until_the_store_answers() {
    let mut line = Line::new();
    let actions = line.handle(LineEvent::Hand { empty: true });
    assert_eq!(actions, stops_with(super::NO_CODES_IN_HAND));
    assert!(
        line.handle(LineEvent::Hand { empty: true }).is_empty(),
        "one alarm"
    );
    let (refused, actions) = line.command(LineCommand::Acknowledge);
    assert!(
        refused
            .expect_err("no codes")
            .contains("acknowledge once the store answers"),
        "{actions:?}"
    );
    assert!(actions.is_empty());
    assert!(line.handle(LineEvent::Hand { empty: false }).is_empty());
    let (answer, actions) = line.command(LineCommand::Acknowledge);
    assert!(answer.is_ok());
    assert_eq!(actions, [Action::QueryMarker]);

    let mut line = Line::acknowledging(Some(Duration::from_secs(2)));
    line.handle(LineEvent::Hand { empty: true });
    line.now += Duration::from_secs(3);
    assert!(
        line.handle(LineEvent::Tick).is_empty(),
        "no restart while the hand is empty"
    );
    assert_eq!(line.machine.restart_at(), None);
    line.handle(LineEvent::Hand { empty: false });
    assert_eq!(
        line.machine.restart_at(),
        Some(line.now),
        "restarts at once"
    );
    assert_eq!(line.handle(LineEvent::Tick), [Action::QueryMarker]);
}
