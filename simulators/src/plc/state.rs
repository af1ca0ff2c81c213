//! The simulated PLC's register model: the Modbus tables of the tracemark line I/O map (default
//! addresses) over the PLC's state, and one scan ([`State::settle`]).

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::time::Instant;
use tokio_modbus::{ExceptionCode, Request, Response};

use super::PlcFault;
use super::queue::{Forced, OUTCOME_REGISTERS, RejectQueue, SLOT_REGISTERS, SLOTS};
use super::relocate::Relocation;

/// Entries in the ring of latched encoder counts.
pub(super) const RING_LEN: usize = 16;
/// Input registers: encoder (0–1), detections count (2–3), ring (4–35), reject outcomes
/// (36–83, 3 per slot), cases the case packer closed (84–85).
const OUTCOMES_AT: usize = 4 + 2 * RING_LEN;
const CASES_PACKED_AT: usize = OUTCOMES_AT + OUTCOME_REGISTERS * SLOTS;
const INPUT_REGISTERS: u16 = (CASES_PACKED_AT + 2) as u16;
/// Discrete inputs: gate confirm (0), line running (1).
const DISCRETE_INPUTS: u16 = 2;
/// Coils: gate (0), line stop (1), red (2), amber (3), green (4).
pub(super) const COILS: usize = 5;
pub(super) const GATE: usize = 0;
pub(super) const LINE_STOP: usize = 1;
pub(super) const RED: usize = 2;
pub(super) const AMBER: usize = 3;
pub(super) const GREEN: usize = 4;
/// Holding registers: watchdog timeout ms (0), gate half window counts (1), gate confirm timeout
/// ms (2), nothing (3–15), reject queue (16–79, 4 per slot).
const WATCHDOG: usize = 0;
const HALF_WINDOW: usize = 1;
const CONFIRM_TIMEOUT: usize = 2;
const QUEUE_AT: usize = 16;
const HOLDING_REGISTERS: u16 = (QUEUE_AT + SLOT_REGISTERS * SLOTS) as u16;

#[derive(Debug)]
pub(super) struct State {
    pub(super) unit_id: u8,
    /// The map the PLC serves when it is not the default one.
    pub(super) relocation: Option<Relocation>,
    pub(super) encoder: u64,
    /// The encoder at the last scan: the queue judges the step from there.
    scanned_encoder: u64,
    pub(super) detections: u64,
    /// Cases the case packer closed (its count, wired to the PLC).
    pub(super) cases_packed: u64,
    ring: [u32; RING_LEN],
    pub(super) coils: [bool; COILS],
    pub(super) watchdog_ms: u16,
    pub(super) last_request: Instant,
    pub(super) watchdog_tripped: bool,
    pub(super) watchdog_trips: u64,
    /// The diverter's output: forced, or a queued reject's window.
    pub(super) diverting: bool,
    /// Coil 0 or the watchdog, with its history: the twin asks what the diverter did when a unit
    /// reached it, not what it does when the twin gets round to it.
    pub(super) forced: Forced,
    pub(super) queue: RejectQueue,
    pub(super) gate_fires: u64,
    pub(super) requests: u64,
    pub(super) connections: u64,
    pub(super) running: bool,
    pub(super) faults: BTreeSet<PlcFault>,
}

impl State {
    pub(super) fn new(unit_id: u8) -> Self {
        Self {
            unit_id,
            relocation: None,
            encoder: 0,
            scanned_encoder: 0,
            detections: 0,
            cases_packed: 0,
            ring: [0; RING_LEN],
            coils: [false; COILS],
            watchdog_ms: 0,
            last_request: Instant::now(),
            watchdog_tripped: false,
            watchdog_trips: 0,
            diverting: false,
            forced: Forced::default(),
            queue: RejectQueue::default(),
            gate_fires: 0,
            requests: 0,
            connections: 0,
            running: true,
            faults: BTreeSet::new(),
        }
    }

    pub(super) fn watchdog_deadline(&self) -> Option<Instant> {
        (self.watchdog_ms > 0)
            .then(|| self.last_request + Duration::from_millis(u64::from(self.watchdog_ms)))
    }

    fn jammed(&self) -> bool {
        self.faults.contains(&PlcFault::GateJam)
    }

    /// One PLC scan at `now`: the watchdog, the reject queue over the encoder's step since the
    /// last scan, and the diverter, counting trips and gate fires.
    pub(super) fn settle(&mut self, now: Instant) {
        let expired = self
            .watchdog_deadline()
            .is_some_and(|deadline| now >= deadline);
        if expired && !self.watchdog_tripped {
            self.watchdog_trips += 1;
        }
        self.watchdog_tripped = expired;
        let forced = self.coils[GATE] || expired;
        self.forced.set(self.encoder, forced);
        let step = self
            .queue
            .settle(self.scanned_encoder, self.encoder, self.jammed());
        self.scanned_encoder = self.encoder;
        let diverting = forced || step.active;
        if diverting && !self.diverting {
            self.gate_fires += 1;
        }
        self.gate_fires += step.crossed;
        self.diverting = diverting;
    }

    /// What the diverter did at `encoder`: forced then, or a queued reject's window held it.
    pub(super) fn diverting_at(&self, encoder: u64) -> bool {
        self.forced.at(encoder) || self.queue.diverting_at(encoder)
    }

    pub(super) fn gate_confirm(&self) -> bool {
        self.diverting && !self.jammed()
    }

    pub(super) fn line_running(&self) -> bool {
        self.running && !self.coils[LINE_STOP]
    }

    /// The photocell saw a unit: latch the encoder into slot `count % 16`, then count it.
    pub(super) fn detect(&mut self) {
        let slot = (self.detections % RING_LEN as u64) as usize;
        self.ring[slot] = self.encoder as u32;
        self.detections += 1;
    }

    fn input_registers(&self) -> [u16; INPUT_REGISTERS as usize] {
        let mut words = [0; INPUT_REGISTERS as usize];
        // The registers hold the low 32 bits, high word first.
        let pairs = [self.encoder as u32, self.detections as u32]
            .into_iter()
            .chain(self.ring);
        for (pair, value) in words[..OUTCOMES_AT].chunks_exact_mut(2).zip(pairs) {
            pair[0] = (value >> 16) as u16;
            pair[1] = value as u16;
        }
        for (slot, outcome) in words[OUTCOMES_AT..CASES_PACKED_AT]
            .chunks_exact_mut(OUTCOME_REGISTERS)
            .enumerate()
        {
            outcome.copy_from_slice(&self.queue.outcome_words(slot));
        }
        let cases = self.cases_packed as u32;
        words[CASES_PACKED_AT] = (cases >> 16) as u16;
        words[CASES_PACKED_AT + 1] = cases as u16;
        words
    }

    fn holding_registers(&self) -> [u16; HOLDING_REGISTERS as usize] {
        let mut words = [0; HOLDING_REGISTERS as usize];
        words[WATCHDOG] = self.watchdog_ms;
        words[HALF_WINDOW] = self.queue.half_window;
        words[CONFIRM_TIMEOUT] = self.queue.confirm_timeout_ms;
        for (slot, registers) in words[QUEUE_AT..]
            .chunks_exact_mut(SLOT_REGISTERS)
            .enumerate()
        {
            registers.copy_from_slice(&self.queue.slot_words(slot));
        }
        words
    }

    /// Writes `values` from holding register `first` (range already checked). Checked whole
    /// before anything is written: registers 3–15 hold nothing (exception 02); a write must take
    /// queue slots whole, each with a `seq` that belongs in it or 0 (exception 03), so the PLC
    /// never sees half an entry.
    fn write_holding(&mut self, first: usize, values: &[u16]) -> Result<(), ExceptionCode> {
        let end = first + values.len();
        if (first..end).any(|address| (CONFIRM_TIMEOUT + 1..QUEUE_AT).contains(&address)) {
            return Err(ExceptionCode::IllegalDataAddress);
        }
        let queue_from = first.max(QUEUE_AT);
        let mut slots = Vec::new();
        if queue_from < end {
            let whole = |address: usize| (address - QUEUE_AT).is_multiple_of(SLOT_REGISTERS);
            if !whole(queue_from) || !whole(end) {
                return Err(ExceptionCode::IllegalDataValue);
            }
            for (i, registers) in values[queue_from - first..]
                .chunks_exact(SLOT_REGISTERS)
                .enumerate()
            {
                let slot = (queue_from - QUEUE_AT) / SLOT_REGISTERS + i;
                let seq = u32::from(registers[0]) << 16 | u32::from(registers[1]);
                let fire_at = u32::from(registers[2]) << 16 | u32::from(registers[3]);
                if seq != 0 && seq as usize % SLOTS != slot {
                    return Err(ExceptionCode::IllegalDataValue);
                }
                slots.push((slot, (seq, fire_at)));
            }
        }
        for (address, &value) in (first..end).zip(values) {
            match address {
                WATCHDOG => self.watchdog_ms = value,
                HALF_WINDOW => self.queue.half_window = value,
                CONFIRM_TIMEOUT => self.queue.confirm_timeout_ms = value,
                _ => {}
            }
        }
        let jammed = self.jammed();
        for (slot, entry) in slots {
            self.queue
                .write(slot, entry, self.encoder, &self.forced, jammed);
        }
        Ok(())
    }

    /// Answers one request addressed to this unit at the map the PLC serves.
    pub(super) fn answer_at_map(
        &mut self,
        request: Request<'_>,
    ) -> Result<Response, ExceptionCode> {
        match self.relocation.clone() {
            Some(relocation) => relocation.answer(self, request),
            None => self.answer(request),
        }
    }

    /// Answers one request addressed to this unit at the default addresses (Modbus Application
    /// Protocol V1.1b3 §6).
    pub(super) fn answer(&mut self, request: Request<'_>) -> Result<Response, ExceptionCode> {
        match request {
            // §6.1 Read Coils: 1 to 2000 coils.
            Request::ReadCoils(address, quantity) => {
                let range = span(address, quantity, 2_000, COILS as u16)?;
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
                    self.holding_registers()[range].to_vec(),
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
                let range = span(address, 1, 1, COILS as u16)?;
                self.coils[range.start] = on;
                Ok(Response::WriteSingleCoil(address, on))
            }
            // §6.6 Write Single Register: the response echoes the request.
            Request::WriteSingleRegister(address, value) => {
                let range = span(address, 1, 1, HOLDING_REGISTERS)?;
                self.write_holding(range.start, &[value])?;
                Ok(Response::WriteSingleRegister(address, value))
            }
            // §6.12 Write Multiple Registers: 1 to 123 registers (the byte count was checked
            // against the quantity before the request got here: see `serve`); the response
            // returns the starting address and the quantity.
            Request::WriteMultipleRegisters(address, values) => {
                let quantity = u16::try_from(values.len()).unwrap_or(u16::MAX);
                let range = span(address, quantity, 123, HOLDING_REGISTERS)?;
                self.write_holding(range.start, &values)?;
                Ok(Response::WriteMultipleRegisters(address, quantity))
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
