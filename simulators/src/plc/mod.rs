//! A line PLC programmed with the tracemark line I/O map, served over Modbus TCP: the encoder,
//! the product-detect photocell with its ring of latched encoder counts, the reject gate with its
//! confirm input and its reject queue, the stack light, the line stop and the comm watchdog. See
//! `docs/protocols/line-io.md` and `tracemark_drivers::lineio` for the client.
//!
//! - Unit id: the simulator answers its own unit id only. A request to another unit gets no
//!   answer at all, as an RTU slave on a shared line or a TCP/RTU gateway with no such slave
//!   behind it that is set not to send exception 0Bh; the client then reports a timeout.
//! - Addresses outside the map: exception 02 Illegal Data Address; a quantity outside the
//!   function's limits, or an FC 16 byte count that is not twice the quantity: exception 03;
//!   function codes other than 01, 02, 03, 04, 05, 06, 16: exception 01 (Modbus Application
//!   Protocol V1.1b3 §6, §7). A write that takes part of a reject queue slot, or a `seq` in the
//!   wrong slot: exception 03.
//! - The diverter is on while the gate coil ("force divert") is on, the watchdog is expired, or
//!   a pending or diverted reject's window `[fire_at - half, fire_at + half)` holds the encoder.
//!   Gate confirm (DI 0) = the diverter is on and not jammed. It follows at once (no travel
//!   time), so a reject's outcome is decided in its window: diverted, or a gate fault at its
//!   end. The confirm timeout (HR 2) is stored and read back only.
//! - The encoder moves in steps ([`PlcSim::set_encoder`]); every change is one PLC scan. A
//!   window reached or passed over by one step switched the diverter (and counts as a gate fire).
//! - Watchdog (HR 0, ms, 0 = off): measured with tokio time from the last request served; while
//!   expired the diverter diverts (fail safe) and the red lamp is lit, whatever the coils say.
//!   The next request served ends it.

mod queue;
mod relocate;
mod serve;
mod state;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tracemark_drivers::lineio::RejectStatus;

use queue::Counts;
use state::{AMBER, COILS, GATE, GREEN, LINE_STOP, RED, State};

/// A fault the simulated PLC can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PlcFault {
    /// The diverter sticks: the gate coil switches, the confirm input never comes, and queued
    /// rejects end as gate faults.
    GateJam,
    /// Requests are read and neither answered nor seen by the PLC program (a hung comm module):
    /// the watchdog keeps running.
    Stall,
    /// Current connections are dropped at once, and new ones closed while the fault is in force.
    Disconnect,
}

impl PlcFault {
    /// Every fault, for help texts.
    pub const ALL: [PlcFault; 3] = [PlcFault::GateJam, PlcFault::Stall, PlcFault::Disconnect];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            PlcFault::GateJam => "gate-jam",
            PlcFault::Stall => "stall",
            PlcFault::Disconnect => "disconnect",
        }
    }

    /// Parses a command-line name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|fault| fault.name() == name)
    }
}

impl std::fmt::Display for PlcFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The reject queue in a [`PlcSnapshot`]: totals since the PLC started, and the entries in it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RejectsSnapshot {
    /// New entries written (a re-sent `seq` is not new).
    queued: u64,
    /// Entries in the queue now still pending.
    pending: u64,
    diverted: u64,
    faulted: u64,
    late: u64,
    /// The queue's entries, slot order: `seq`, status.
    entries: Vec<(u32, RejectStatus)>,
}

/// A snapshot of the simulated PLC, for waiting on and asserting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlcSnapshot {
    encoder: u64,
    detections: u64,
    cases_packed: u64,
    coils: [bool; COILS],
    gate_diverting: bool,
    gate_confirm: bool,
    gate_fires: u64,
    gate_half_window: u16,
    gate_confirm_timeout_ms: u16,
    rejects: RejectsSnapshot,
    watchdog_ms: u16,
    watchdog_tripped: bool,
    watchdog_trips: u64,
    requests: u64,
    connections: u64,
    line_running: bool,
    faults: Vec<PlcFault>,
}

impl PlcSnapshot {
    /// The encoder count (the register holds it modulo 2^32).
    pub fn encoder(&self) -> u64 {
        self.encoder
    }

    /// Photocell detections so far (the register holds the count modulo 2^32).
    pub fn detections(&self) -> u64 {
        self.detections
    }

    /// Cases the case packer closed (the register holds the count modulo 2^32).
    pub fn cases_packed(&self) -> u64 {
        self.cases_packed
    }

    /// Coil 0 (force divert) as the host last wrote it.
    pub fn gate_coil(&self) -> bool {
        self.coils[GATE]
    }

    /// The diverter diverts: gate coil on, the watchdog tripped, or a queued reject's window.
    pub fn gate_diverting(&self) -> bool {
        self.gate_diverting
    }

    /// Discrete input 0: the diverter reached its divert position.
    pub fn gate_confirm(&self) -> bool {
        self.gate_confirm
    }

    /// Times the diverter started diverting (coil, watchdog or a queued reject; a reject window
    /// passed over between two encoder updates counts too).
    pub fn gate_fires(&self) -> u64 {
        self.gate_fires
    }

    /// HR 1: half the gate window, encoder counts.
    pub fn gate_half_window(&self) -> u16 {
        self.gate_half_window
    }

    /// HR 2: the gate confirm timeout, ms.
    pub fn gate_confirm_timeout_ms(&self) -> u16 {
        self.gate_confirm_timeout_ms
    }

    /// Rejects queued since start: new entries written (a re-sent `seq` does not count).
    pub fn rejects_queued(&self) -> u64 {
        self.rejects.queued
    }

    /// Entries in the queue now that are still pending.
    pub fn rejects_pending(&self) -> u64 {
        self.rejects.pending
    }

    /// Queued rejects diverted since start.
    pub fn rejects_diverted(&self) -> u64 {
        self.rejects.diverted
    }

    /// Queued rejects that ended as gate faults since start.
    pub fn rejects_faulted(&self) -> u64 {
        self.rejects.faulted
    }

    /// Queued rejects written too late since start.
    pub fn rejects_late(&self) -> u64 {
        self.rejects.late
    }

    /// The status of reject `seq`, while its slot still holds it.
    pub fn reject_status(&self, seq: u32) -> Option<RejectStatus> {
        self.rejects
            .entries
            .iter()
            .find(|(entry, _)| *entry == seq)
            .map(|(_, status)| *status)
    }

    /// The watchdog timeout in force, ms (0 = off).
    pub fn watchdog_ms(&self) -> u16 {
        self.watchdog_ms
    }

    /// The watchdog is expired now.
    pub fn watchdog_tripped(&self) -> bool {
        self.watchdog_tripped
    }

    /// Times the watchdog expired.
    pub fn watchdog_trips(&self) -> u64 {
        self.watchdog_trips
    }

    /// Requests answered (normal or exception responses).
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// TCP connections accepted.
    pub fn connections(&self) -> u64 {
        self.connections
    }

    /// Coil 1: the host asks for a line stop.
    pub fn line_stop(&self) -> bool {
        self.coils[LINE_STOP]
    }

    /// Discrete input 1: the line runs (not stopped, no line stop request).
    pub fn line_running(&self) -> bool {
        self.line_running
    }

    /// The lamps lit, red, amber, green: the coils, with red forced on by the watchdog.
    pub fn stack_light(&self) -> [bool; 3] {
        [
            self.coils[RED] || self.watchdog_tripped,
            self.coils[AMBER],
            self.coils[GREEN],
        ]
    }

    /// Faults in force.
    pub fn faults(&self) -> &[PlcFault] {
        &self.faults
    }
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    /// Bumped on every change, so waiters need no sleeps.
    version: watch::Sender<u64>,
    /// Bumped to drop every current connection.
    disconnects: watch::Sender<u64>,
}

/// The simulated line PLC; clones share one PLC.
#[derive(Debug, Clone)]
pub struct PlcSim {
    inner: Arc<Inner>,
}

impl PlcSim {
    /// A PLC answering `unit_id`, line running, everything else zero/off (the reject queue
    /// empty, gate half window 0 until the host sets it), watchdog off.
    pub fn new(unit_id: u8) -> Self {
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State::new(unit_id)),
                version: watch::channel(0).0,
                disconnects: watch::channel(0).0,
            }),
        }
    }

    /// A PLC serving the line I/O map `map` (`[plcs.<name>.map]` of a line config): requests at
    /// its addresses are answered as the default map's (`relocate.rs`).
    pub fn with_map(unit_id: u8, map: tracemark_drivers::lineio::LineIoMap) -> Self {
        let sim = Self::new(unit_id);
        sim.state().relocation = relocate::Relocation::of(map);
        sim
    }

    /// The state. A panic while holding the lock cannot leave it half-updated in a way that
    /// matters to a simulator; keep serving.
    fn state(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the state, runs a scan (watchdog, queue, gate), and wakes the waiters.
    fn update<T>(&self, change: impl FnOnce(&mut State) -> T) -> T {
        let result = {
            let mut state = self.state();
            let result = change(&mut state);
            state.settle(Instant::now());
            result
        };
        self.inner.version.send_modify(|version| *version += 1);
        result
    }

    /// Sets the encoder count (the line twin's conveyor drives it); the register holds it
    /// modulo 2^32. One scan: a queued reject's window reached or passed over on the way
    /// switched the diverter.
    pub fn set_encoder(&self, count: u64) {
        self.update(|state| state.encoder = count);
    }

    /// The line is running or stopped (discrete input 1, also off while the line stop coil is on).
    pub fn set_line_running(&self, running: bool) {
        self.update(|state| state.running = running);
    }

    /// The photocell saw a unit: latches the encoder into the ring at slot `count % 16`, then
    /// counts it.
    pub fn detect(&self) {
        self.update(State::detect);
    }

    /// The case packer closed a case: its count (IR 84–85) goes up by one.
    pub fn case_packed(&self) {
        self.update(|state| state.cases_packed += 1);
    }

    /// What the diverter does now: the gate coil is on, the watchdog expired (fail safe), or a
    /// queued reject's window holds the encoder.
    pub fn gate_diverting(&self) -> bool {
        self.snapshot().gate_diverting
    }

    /// What the diverter did when the encoder was at `encoder`: the gate coil or the watchdog
    /// had it on then (the last change at or before it), or a queued reject's window held that
    /// count (late entries excluded; a window counts from the encoder at which its entry was
    /// written). A twin whose tick comes late, or whose encoder jumped over a window, still sees
    /// the gate as the unit met it — not as it is after the controller has already switched it
    /// for the next unit.
    pub fn diverting_at(&self, encoder: u64) -> bool {
        let mut state = self.state();
        state.settle(Instant::now());
        state.diverting_at(encoder)
    }

    /// Injects a fault; [`PlcFault::Disconnect`] drops the current connections now.
    pub fn inject(&self, fault: PlcFault) {
        self.update(|state| state.faults.insert(fault));
        if fault == PlcFault::Disconnect {
            self.inner.disconnects.send_modify(|epoch| *epoch += 1);
        }
    }

    /// Clears a fault.
    pub fn clear(&self, fault: PlcFault) {
        self.update(|state| state.faults.remove(&fault));
    }

    /// A snapshot, with the watchdog brought up to now.
    pub fn snapshot(&self) -> PlcSnapshot {
        let (snapshot, changed) = {
            let mut state = self.state();
            let observed = |state: &State| {
                (
                    state.watchdog_trips,
                    state.gate_fires,
                    state.watchdog_tripped,
                    state.diverting,
                    state.queue.counts,
                )
            };
            let before = observed(&state);
            state.settle(Instant::now());
            let changed = before != observed(&state);
            let Counts {
                queued,
                diverted,
                faulted,
                late,
            } = state.queue.counts;
            let snapshot = PlcSnapshot {
                encoder: state.encoder,
                detections: state.detections,
                cases_packed: state.cases_packed,
                coils: state.coils,
                gate_diverting: state.diverting,
                gate_confirm: state.gate_confirm(),
                gate_fires: state.gate_fires,
                gate_half_window: state.queue.half_window,
                gate_confirm_timeout_ms: state.queue.confirm_timeout_ms,
                rejects: RejectsSnapshot {
                    queued,
                    pending: state.queue.pending(),
                    diverted,
                    faulted,
                    late,
                    entries: state
                        .queue
                        .entries()
                        .into_iter()
                        .map(|(seq, status)| (seq, RejectStatus::from_code(status as u16)))
                        .collect(),
                },
                watchdog_ms: state.watchdog_ms,
                watchdog_tripped: state.watchdog_tripped,
                watchdog_trips: state.watchdog_trips,
                requests: state.requests,
                connections: state.connections,
                line_running: state.line_running(),
                faults: state.faults.iter().copied().collect(),
            };
            (snapshot, changed)
        };
        if changed {
            self.inner.version.send_modify(|version| *version += 1);
        }
        snapshot
    }

    /// Waits until `ready` holds for a snapshot, and returns that snapshot. Wakes on every
    /// change and when the watchdog expires.
    pub async fn wait_until(&self, ready: impl Fn(&PlcSnapshot) -> bool) -> PlcSnapshot {
        let mut version = self.inner.version.subscribe();
        loop {
            let current = self.snapshot();
            if ready(&current) {
                return current;
            }
            let deadline = {
                let state = self.state();
                state
                    .watchdog_deadline()
                    .filter(|_| !state.watchdog_tripped)
            };
            let expiry = async {
                match deadline {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                changed = version.changed() => if changed.is_err() { return current },
                // The next snapshot settles the watchdog.
                () = expiry => {}
            }
        }
    }
}

/// Gives the PLC a conveyor: every `60 s / units_per_minute` the encoder advances by
/// `pitch_counts` and the photocell sees a unit, while the line runs. The `--rate` timer.
pub async fn run_conveyor(sim: &PlcSim, units_per_minute: u32, pitch_counts: u64) {
    let period = Duration::from_secs(60) / units_per_minute.max(1);
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticker.tick().await;
        let moved = sim.update(|state| {
            if state.line_running() {
                state.encoder = state.encoder.wrapping_add(pitch_counts);
            }
            state.line_running()
        });
        if moved {
            sim.detect();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_modbus::{ExceptionCode, Request, Response, SlaveRequest};

    fn ask(
        sim: &PlcSim,
        unit: u8,
        request: Request<'static>,
    ) -> Result<Option<Response>, ExceptionCode> {
        sim.handle(SlaveRequest {
            slave: unit,
            request,
        })
    }

    #[test]
    fn input_registers_hold_low_32_bits_high_word_first() {
        let sim = PlcSim::new(1);
        sim.set_encoder(0x1_2345_6789);
        sim.detect();
        let reply = ask(&sim, 1, Request::ReadInputRegisters(0, 6)).expect("answered");
        assert_eq!(
            reply,
            Some(Response::ReadInputRegisters(vec![
                0x2345, 0x6789, // encoder modulo 2^32
                0, 1, // one detection
                0x2345, 0x6789, // slot 0: latched encoder
            ]))
        );
    }

    #[test]
    fn out_of_map_and_bad_quantity_are_exceptions() {
        let sim = PlcSim::new(1);
        assert_eq!(
            ask(&sim, 1, Request::ReadInputRegisters(30, 57)),
            Err(ExceptionCode::IllegalDataAddress)
        );
        assert_eq!(
            ask(&sim, 1, Request::ReadInputRegisters(0, 126)),
            Err(ExceptionCode::IllegalDataValue)
        );
        assert_eq!(
            ask(&sim, 1, Request::WriteSingleCoil(5, true)),
            Err(ExceptionCode::IllegalDataAddress)
        );
        assert_eq!(
            ask(&sim, 1, Request::WriteSingleRegister(3, 0)),
            Err(ExceptionCode::IllegalDataAddress),
            "HR 3–15 hold nothing"
        );
        assert_eq!(
            ask(&sim, 1, Request::ReadHoldingRegisters(70, 11)),
            Err(ExceptionCode::IllegalDataAddress)
        );
        assert_eq!(
            ask(&sim, 1, Request::ReadInputRegisters(80, 7)),
            Err(ExceptionCode::IllegalDataAddress)
        );
        assert_eq!(
            ask(&sim, 1, Request::ReportServerId),
            Err(ExceptionCode::IllegalFunction)
        );
    }

    #[test]
    fn other_units_and_stall_get_no_answer_and_are_not_served() {
        let sim = PlcSim::new(1);
        assert_eq!(ask(&sim, 2, Request::ReadCoils(0, 1)), Ok(None));
        sim.inject(PlcFault::Stall);
        assert_eq!(ask(&sim, 1, Request::ReadCoils(0, 1)), Ok(None));
        assert_eq!(sim.snapshot().requests(), 0);
        sim.clear(PlcFault::Stall);
        assert!(ask(&sim, 1, Request::ReadCoils(0, 1)).is_ok_and(|r| r.is_some()));
        assert_eq!(sim.snapshot().requests(), 1);
    }

    #[test]
    fn gate_confirm_follows_the_coil_unless_jammed() {
        let sim = PlcSim::new(1);
        let confirm = |sim: &PlcSim| ask(sim, 1, Request::ReadDiscreteInputs(0, 2));
        assert_eq!(
            confirm(&sim),
            Ok(Some(Response::ReadDiscreteInputs(vec![false, true])))
        );
        ask(&sim, 1, Request::WriteSingleCoil(0, true)).expect("written");
        assert!(sim.gate_diverting());
        assert_eq!(
            confirm(&sim),
            Ok(Some(Response::ReadDiscreteInputs(vec![true, true])))
        );
        sim.inject(PlcFault::GateJam);
        assert_eq!(
            confirm(&sim),
            Ok(Some(Response::ReadDiscreteInputs(vec![false, true])))
        );
        // The line stop coil stops the line.
        ask(&sim, 1, Request::WriteSingleCoil(1, true)).expect("written");
        assert_eq!(
            confirm(&sim),
            Ok(Some(Response::ReadDiscreteInputs(vec![false, false])))
        );
        assert_eq!(sim.snapshot().gate_fires(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn watchdog_diverts_and_lights_red_until_the_next_request() {
        let sim = PlcSim::new(1);
        ask(&sim, 1, Request::WriteSingleRegister(0, 100)).expect("written");
        tokio::time::advance(Duration::from_millis(99)).await;
        assert!(!sim.gate_diverting());
        tokio::time::advance(Duration::from_millis(1)).await;
        let tripped = sim.snapshot();
        assert!(tripped.watchdog_tripped() && tripped.gate_diverting() && tripped.gate_confirm());
        assert_eq!(tripped.stack_light(), [true, false, false]);
        assert_eq!((tripped.watchdog_trips(), tripped.gate_fires()), (1, 1));
        ask(&sim, 1, Request::ReadCoils(0, 1)).expect("answered");
        assert!(!sim.gate_diverting());
    }

    #[tokio::test(start_paused = true)]
    async fn wait_until_wakes_when_the_watchdog_expires() {
        let sim = PlcSim::new(1);
        ask(&sim, 1, Request::WriteSingleRegister(0, 250)).expect("written");
        let start = Instant::now();
        let tripped = sim.wait_until(PlcSnapshot::watchdog_tripped).await;
        assert!(tripped.gate_diverting());
        assert_eq!(start.elapsed(), Duration::from_millis(250));
    }

    #[test]
    fn the_diverter_is_asked_as_it_was_at_an_encoder_count() {
        let sim = PlcSim::new(1);
        sim.set_encoder(100);
        ask(&sim, 1, Request::WriteSingleCoil(0, true)).expect("written");
        sim.set_encoder(200);
        ask(&sim, 1, Request::WriteSingleCoil(0, false)).expect("written");
        sim.set_encoder(300);
        let seen: Vec<bool> = [50, 100, 150, 199, 200, 250]
            .into_iter()
            .map(|at| sim.diverting_at(at))
            .collect();
        assert_eq!(seen, [false, true, true, true, false, false]);
    }

    /// The FC 16 write of one queue slot, as the client sends it.
    fn queue(seq: u32, fire_at: u32) -> Request<'static> {
        let address = 16 + 4 * (seq % 16) as u16;
        let words = vec![
            (seq >> 16) as u16,
            seq as u16,
            (fire_at >> 16) as u16,
            fire_at as u16,
        ];
        Request::WriteMultipleRegisters(address, words.into())
    }

    /// Slot `slot`'s outcome registers: seq high, seq low, status.
    fn outcome(sim: &PlcSim, slot: u16) -> Vec<u16> {
        match ask(sim, 1, Request::ReadInputRegisters(36 + 3 * slot, 3)) {
            Ok(Some(Response::ReadInputRegisters(words))) => words,
            other => panic!("outcome read: {other:?}"),
        }
    }

    #[test]
    fn queue_writes_echo_read_back_and_report_outcomes_at_36_plus_3k() {
        let sim = PlcSim::new(1);
        assert_eq!(
            ask(
                &sim,
                1,
                Request::WriteMultipleRegisters(1, vec![10, 5].into())
            ),
            Ok(Some(Response::WriteMultipleRegisters(1, 2)))
        );
        assert_eq!(
            ask(&sim, 1, queue(0x0001_0012, 0x0002_0000)),
            Ok(Some(Response::WriteMultipleRegisters(16 + 4 * 2, 4)))
        );
        assert_eq!(
            ask(&sim, 1, Request::ReadHoldingRegisters(0, 3)),
            Ok(Some(Response::ReadHoldingRegisters(vec![0, 10, 5])))
        );
        assert_eq!(
            ask(&sim, 1, Request::ReadHoldingRegisters(24, 4)),
            Ok(Some(Response::ReadHoldingRegisters(vec![1, 0x12, 2, 0])))
        );
        assert_eq!(outcome(&sim, 2), [1, 0x12, 0], "pending");
        sim.set_encoder(0x2_0000 - 10);
        assert_eq!(outcome(&sim, 2), [1, 0x12, 1], "diverted");
        let snapshot = sim.snapshot();
        assert_eq!(snapshot.rejects_diverted(), 1);
        assert_eq!(
            snapshot.reject_status(0x0001_0012),
            Some(RejectStatus::Diverted)
        );
        assert!(snapshot.gate_diverting() && snapshot.gate_confirm());
        sim.set_encoder(0x2_0000 + 10);
        assert!(!sim.gate_diverting());
        assert_eq!(sim.snapshot().gate_fires(), 1);
        // The whole input block is 86 registers, one read.
        assert!(matches!(
            ask(&sim, 1, Request::ReadInputRegisters(0, 86)),
            Ok(Some(Response::ReadInputRegisters(words))) if words.len() == 86
        ));
        // The case packer's count at 84–85, high word first.
        for _ in 0..3 {
            sim.case_packed();
        }
        assert_eq!(sim.snapshot().cases_packed(), 3);
        assert!(matches!(
            ask(&sim, 1, Request::ReadInputRegisters(84, 2)),
            Ok(Some(Response::ReadInputRegisters(words))) if words == [0, 3]
        ));
    }

    #[test]
    fn queue_writes_take_whole_slots_with_the_right_seq() {
        let sim = PlcSim::new(1);
        let refused = |request| ask(&sim, 1, request);
        // Half a slot, a slot and a half, a single register of a slot.
        assert_eq!(
            refused(Request::WriteMultipleRegisters(16, vec![0, 16].into())),
            Err(ExceptionCode::IllegalDataValue)
        );
        assert_eq!(
            refused(Request::WriteMultipleRegisters(18, vec![0; 4].into())),
            Err(ExceptionCode::IllegalDataValue)
        );
        assert_eq!(
            refused(Request::WriteSingleRegister(17, 16)),
            Err(ExceptionCode::IllegalDataValue)
        );
        // Seq 17 belongs in slot 1, not slot 0.
        assert_eq!(
            refused(Request::WriteMultipleRegisters(
                16,
                vec![0, 17, 0, 9].into()
            )),
            Err(ExceptionCode::IllegalDataValue)
        );
        // §6.12 quantity limits: 1 to 123.
        assert_eq!(
            refused(Request::WriteMultipleRegisters(0, vec![].into())),
            Err(ExceptionCode::IllegalDataValue)
        );
        assert_eq!(
            refused(Request::WriteMultipleRegisters(0, vec![0; 124].into())),
            Err(ExceptionCode::IllegalDataValue)
        );
        assert_eq!(
            refused(Request::WriteMultipleRegisters(78, vec![0; 4].into())),
            Err(ExceptionCode::IllegalDataAddress)
        );
        assert_eq!(sim.snapshot().rejects_queued(), 0, "nothing was taken");
        // Two whole slots in one write are fine; seq 0 empties a slot.
        let two = [0, 16, 0, 100, 0, 1, 0, 200];
        assert_eq!(
            refused(Request::WriteMultipleRegisters(16, two.to_vec().into())),
            Ok(Some(Response::WriteMultipleRegisters(16, 8)))
        );
        assert_eq!(sim.snapshot().rejects_queued(), 2);
        ask(
            &sim,
            1,
            Request::WriteMultipleRegisters(16, vec![0; 4].into()),
        )
        .expect("empties");
        assert_eq!(sim.snapshot().reject_status(16), None);
        assert_eq!(outcome(&sim, 0), [0, 0, 0]);
    }

    #[test]
    fn a_late_entry_never_switches_the_diverter() {
        let sim = PlcSim::new(1);
        ask(&sim, 1, Request::WriteSingleRegister(1, 10)).expect("half window");
        sim.set_encoder(1_005);
        ask(&sim, 1, queue(5, 1_000)).expect("queued");
        let snapshot = sim.snapshot();
        assert_eq!(snapshot.reject_status(5), Some(RejectStatus::Late));
        assert!(!snapshot.gate_diverting(), "it would divert the next unit");
        assert_eq!((snapshot.rejects_late(), snapshot.gate_fires()), (1, 0));
        assert!(!sim.diverting_at(1_000));
        assert_eq!(outcome(&sim, 5), [0, 5, 3]);
    }

    #[test]
    fn jammed_the_entry_faults_at_its_windows_end() {
        let sim = PlcSim::new(1);
        ask(&sim, 1, Request::WriteSingleRegister(1, 10)).expect("half window");
        ask(&sim, 1, queue(1, 1_000)).expect("queued");
        sim.inject(PlcFault::GateJam);
        sim.set_encoder(995);
        let snapshot = sim.snapshot();
        assert!(snapshot.gate_diverting() && !snapshot.gate_confirm());
        assert_eq!(snapshot.reject_status(1), Some(RejectStatus::Pending));
        sim.set_encoder(1_010);
        assert_eq!(sim.snapshot().reject_status(1), Some(RejectStatus::Fault));
        assert_eq!(outcome(&sim, 1), [0, 1, 2]);
    }
}
