//! A line PLC programmed with the tracemark line I/O map, served over Modbus TCP: the encoder,
//! the product-detect photocell with its ring of latched encoder counts, the reject gate with its
//! confirm input, the stack light, the line stop and the comm watchdog. See
//! `docs/protocols/line-io.md` and `tracemark_drivers::lineio` for the client.
//!
//! - Unit id: the simulator answers its own unit id only. A request to another unit gets no
//!   answer at all, as an RTU slave on a shared line or a TCP/RTU gateway with no such slave
//!   behind it that is set not to send exception 0Bh; the client then reports a timeout.
//! - Addresses outside the map: exception 02 Illegal Data Address; a quantity outside the
//!   function's limits: exception 03; function codes other than 01, 02, 03, 04, 05, 06:
//!   exception 01 (Modbus Application Protocol V1.1b3 §6, §7).
//! - Gate confirm (DI 0) = the diverter is in its divert position = gate coil on or watchdog
//!   tripped, and not jammed. It follows at once (no travel time).
//! - Watchdog (HR 0, ms, 0 = off): measured with tokio time from the last request served; while
//!   expired the diverter diverts (fail safe) and the red lamp is lit, whatever the coils say.
//!   The next request served ends it.

use std::collections::{BTreeSet, VecDeque};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_modbus::server::Service;
use tokio_modbus::{ExceptionCode, Request, Response, SlaveRequest};
use tracing::{debug, info};

/// Diverter changes remembered for [`PlcSim::diverting_at`] (a twin tick is never that late).
const DIVERTER_MOVES: usize = 256;

/// Entries in the ring of latched encoder counts.
const RING_LEN: usize = 16;
/// Input registers: encoder (0–1), detections count (2–3), ring (4–35).
const INPUT_REGISTERS: u16 = 4 + 2 * RING_LEN as u16;
/// Discrete inputs: gate confirm (0), line running (1).
const DISCRETE_INPUTS: u16 = 2;
/// Coils: gate (0), line stop (1), red (2), amber (3), green (4).
const COILS: u16 = 5;
const GATE: usize = 0;
const LINE_STOP: usize = 1;
const RED: usize = 2;
const AMBER: usize = 3;
const GREEN: usize = 4;
/// Holding registers: watchdog timeout in ms (0).
const HOLDING_REGISTERS: u16 = 1;

/// A fault the simulated PLC can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PlcFault {
    /// The diverter sticks: the gate coil switches, the confirm input never comes.
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

/// A snapshot of the simulated PLC, for waiting on and asserting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlcSnapshot {
    encoder: u64,
    detections: u64,
    coils: [bool; COILS as usize],
    gate_diverting: bool,
    gate_confirm: bool,
    gate_fires: u64,
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

    /// Coil 0 as the host last wrote it.
    pub fn gate_coil(&self) -> bool {
        self.coils[GATE]
    }

    /// The diverter diverts: gate coil on, or the watchdog tripped.
    pub fn gate_diverting(&self) -> bool {
        self.gate_diverting
    }

    /// Discrete input 0: the diverter reached its divert position.
    pub fn gate_confirm(&self) -> bool {
        self.gate_confirm
    }

    /// Times the diverter started diverting (coil or watchdog).
    pub fn gate_fires(&self) -> u64 {
        self.gate_fires
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
struct State {
    unit_id: u8,
    encoder: u64,
    detections: u64,
    ring: [u32; RING_LEN],
    coils: [bool; COILS as usize],
    watchdog_ms: u16,
    last_request: Instant,
    watchdog_tripped: bool,
    watchdog_trips: u64,
    diverting: bool,
    /// The diverter's recent changes, with the encoder count at each: the twin asks what the
    /// diverter did when a unit reached it, not what it does when the twin gets round to it.
    moves: VecDeque<(u64, bool)>,
    gate_fires: u64,
    requests: u64,
    connections: u64,
    running: bool,
    faults: BTreeSet<PlcFault>,
}

impl State {
    fn watchdog_deadline(&self) -> Option<Instant> {
        (self.watchdog_ms > 0)
            .then(|| self.last_request + Duration::from_millis(u64::from(self.watchdog_ms)))
    }

    /// Brings the watchdog and the diverter up to `now`, counting trips and gate fires.
    fn settle(&mut self, now: Instant) {
        let expired = self
            .watchdog_deadline()
            .is_some_and(|deadline| now >= deadline);
        if expired && !self.watchdog_tripped {
            self.watchdog_trips += 1;
        }
        self.watchdog_tripped = expired;
        let diverting = self.coils[GATE] || expired;
        if diverting && !self.diverting {
            self.gate_fires += 1;
        }
        if diverting != self.diverting {
            if self.moves.len() == DIVERTER_MOVES {
                self.moves.pop_front();
            }
            self.moves.push_back((self.encoder, diverting));
        }
        self.diverting = diverting;
    }

    fn gate_confirm(&self) -> bool {
        self.diverting && !self.faults.contains(&PlcFault::GateJam)
    }

    fn line_running(&self) -> bool {
        self.running && !self.coils[LINE_STOP]
    }

    fn input_registers(&self) -> [u16; INPUT_REGISTERS as usize] {
        let mut words = [0; INPUT_REGISTERS as usize];
        // The registers hold the low 32 bits, high word first.
        let pairs = [self.encoder as u32, self.detections as u32]
            .into_iter()
            .chain(self.ring);
        for (pair, value) in words.chunks_exact_mut(2).zip(pairs) {
            pair[0] = (value >> 16) as u16;
            pair[1] = value as u16;
        }
        words
    }

    /// Answers one request addressed to this unit (Modbus Application Protocol V1.1b3 §6).
    fn answer(&mut self, request: Request<'_>) -> Result<Response, ExceptionCode> {
        match request {
            // §6.1 Read Coils: 1 to 2000 coils.
            Request::ReadCoils(address, quantity) => {
                let range = span(address, quantity, 2_000, COILS)?;
                Ok(Response::ReadCoils(self.coils[range].to_vec()))
            }
            // §6.2 Read Discrete Inputs: 1 to 2000 inputs.
            Request::ReadDiscreteInputs(address, quantity) => {
                let range = span(address, quantity, 2_000, DISCRETE_INPUTS)?;
                let inputs = [self.gate_confirm(), self.line_running()];
                Ok(Response::ReadDiscreteInputs(inputs[range].to_vec()))
            }
            // §6.3 Read Holding Registers: 1 to 125 registers.
            Request::ReadHoldingRegisters(address, quantity) => {
                let range = span(address, quantity, 125, HOLDING_REGISTERS)?;
                Ok(Response::ReadHoldingRegisters(
                    [self.watchdog_ms][range].to_vec(),
                ))
            }
            // §6.4 Read Input Registers: 1 to 125 registers.
            Request::ReadInputRegisters(address, quantity) => {
                let range = span(address, quantity, 125, INPUT_REGISTERS)?;
                Ok(Response::ReadInputRegisters(
                    self.input_registers()[range].to_vec(),
                ))
            }
            // §6.5 Write Single Coil: the response echoes the request.
            Request::WriteSingleCoil(address, on) => {
                let range = span(address, 1, 1, COILS)?;
                self.coils[range.start] = on;
                Ok(Response::WriteSingleCoil(address, on))
            }
            // §6.6 Write Single Register: the response echoes the request.
            Request::WriteSingleRegister(address, value) => {
                span(address, 1, 1, HOLDING_REGISTERS)?;
                self.watchdog_ms = value;
                Ok(Response::WriteSingleRegister(address, value))
            }
            _ => Err(ExceptionCode::IllegalFunction),
        }
    }
}

/// Checks a request's quantity (exception 03 outside `1..=max`) and address range (exception 02
/// past `size`), as §6 orders the checks; returns the range of table entries.
fn span(
    address: u16,
    quantity: u16,
    max: u16,
    size: u16,
) -> Result<std::ops::Range<usize>, ExceptionCode> {
    if quantity == 0 || quantity > max {
        return Err(ExceptionCode::IllegalDataValue);
    }
    let end = u32::from(address) + u32::from(quantity);
    if end > u32::from(size) {
        return Err(ExceptionCode::IllegalDataAddress);
    }
    Ok(usize::from(address)..end as usize)
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
    /// A PLC answering `unit_id`, line running, everything else zero/off, watchdog off.
    pub fn new(unit_id: u8) -> Self {
        let state = State {
            unit_id,
            encoder: 0,
            detections: 0,
            ring: [0; RING_LEN],
            coils: [false; COILS as usize],
            watchdog_ms: 0,
            last_request: Instant::now(),
            watchdog_tripped: false,
            watchdog_trips: 0,
            diverting: false,
            moves: VecDeque::new(),
            gate_fires: 0,
            requests: 0,
            connections: 0,
            running: true,
            faults: BTreeSet::new(),
        };
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(state),
                version: watch::channel(0).0,
                disconnects: watch::channel(0).0,
            }),
        }
    }

    /// The state. A panic while holding the lock cannot leave it half-updated in a way that
    /// matters to a simulator; keep serving.
    fn state(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the state, settles the watchdog and gate, and wakes the waiters.
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
    /// modulo 2^32.
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
        self.update(|state| {
            let slot = (state.detections % RING_LEN as u64) as usize;
            state.ring[slot] = state.encoder as u32;
            state.detections += 1;
        });
    }

    /// What the diverter does now: the gate coil is on, or the watchdog expired (fail safe).
    pub fn gate_diverting(&self) -> bool {
        self.snapshot().gate_diverting
    }

    /// What the diverter did when the encoder was at `encoder` (the last change at or before
    /// it). A twin whose tick comes late still sees the gate as the unit met it — not as it is
    /// after the controller has already switched it for the next unit.
    pub fn diverting_at(&self, encoder: u64) -> bool {
        let mut state = self.state();
        state.settle(Instant::now());
        match state.moves.iter().rev().find(|(at, _)| *at <= encoder) {
            Some((_, diverting)) => *diverting,
            // Before every change remembered: the opposite of the first one.
            None => state
                .moves
                .front()
                .map_or(state.diverting, |(_, first)| !first),
        }
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
            let before = (
                state.watchdog_trips,
                state.gate_fires,
                state.watchdog_tripped,
            );
            state.settle(Instant::now());
            let changed = before
                != (
                    state.watchdog_trips,
                    state.gate_fires,
                    state.watchdog_tripped,
                );
            let snapshot = PlcSnapshot {
                encoder: state.encoder,
                detections: state.detections,
                coils: state.coils,
                gate_diverting: state.diverting,
                gate_confirm: state.gate_confirm(),
                gate_fires: state.gate_fires,
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

    /// Serves Modbus TCP on `listener`, any number of connections at once, until an accept
    /// fails.
    pub async fn serve_tcp(&self, listener: TcpListener) -> std::io::Result<()> {
        let server = tokio_modbus::server::tcp::Server::new(listener);
        let on_connected = |stream: TcpStream, peer: SocketAddr| {
            let sim = self.clone();
            async move { Ok(sim.accept(stream, peer)) }
        };
        let on_process_error = |error: std::io::Error| debug!(%error, "plc sim: connection ended");
        server.serve(&on_connected, on_process_error).await
    }

    fn accept(&self, stream: TcpStream, peer: SocketAddr) -> Option<(PlcService, DroppableStream)> {
        let refused = self.update(|state| {
            state.connections += 1;
            state.faults.contains(&PlcFault::Disconnect)
        });
        if refused {
            info!(%peer, "plc sim: connection closed (disconnect fault)");
            return None;
        }
        info!(%peer, "plc sim: host connected");
        let mut disconnects = self.inner.disconnects.subscribe();
        let dropped = Box::pin(async move {
            // An error means the simulator is gone: drop the connection too.
            let _ = disconnects.changed().await;
        });
        Some((
            PlcService { sim: self.clone() },
            DroppableStream { stream, dropped },
        ))
    }

    /// One request from the server: `None` = no answer.
    fn handle(&self, request: SlaveRequest<'static>) -> Result<Option<Response>, ExceptionCode> {
        self.update(|state| {
            if state.faults.contains(&PlcFault::Stall) {
                debug!(?request, "plc sim: stalled, no answer");
                return Ok(None);
            }
            if request.slave != state.unit_id {
                debug!(unit = request.slave, "plc sim: not my unit id, no answer");
                return Ok(None);
            }
            let now = Instant::now();
            // The request arrived: the watchdog restarts (settled by `update`).
            state.last_request = now;
            state.requests += 1;
            state.answer(request.request).map(Some)
        })
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

#[derive(Debug)]
struct PlcService {
    sim: PlcSim,
}

impl Service for PlcService {
    type Request = SlaveRequest<'static>;
    type Response = Option<Response>;
    type Exception = ExceptionCode;
    type Future = std::future::Ready<Result<Option<Response>, ExceptionCode>>;

    fn call(&self, request: Self::Request) -> Self::Future {
        std::future::ready(self.sim.handle(request))
    }
}

/// A TCP stream that ends (EOF on read, broken pipe on write) once `dropped` completes: how
/// [`PlcFault::Disconnect`] reaches connections the tokio-modbus server owns.
struct DroppableStream {
    stream: TcpStream,
    dropped: Pin<Box<dyn Future<Output = ()> + Send>>,
}

impl std::fmt::Debug for DroppableStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DroppableStream")
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

impl DroppableStream {
    fn is_dropped(&mut self, cx: &mut Context<'_>) -> bool {
        self.dropped.as_mut().poll(cx).is_ready()
    }
}

impl AsyncRead for DroppableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.is_dropped(cx) {
            // End of stream: the server closes the connection.
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for DroppableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.is_dropped(cx) {
            return Poll::Ready(Err(std::io::ErrorKind::BrokenPipe.into()));
        }
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            ask(&sim, 1, Request::ReadInputRegisters(30, 7)),
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
            ask(&sim, 1, Request::WriteSingleRegister(1, 0)),
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
}
