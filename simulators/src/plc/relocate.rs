//! A line I/O map moved from the default addresses (`[plcs.<name>.map]`,
//! docs/protocols/line-io.md "Register map"): requests at the configured addresses are answered
//! from the default tables of [`State`], so the simulated PLC serves any map a config gives.
//!
//! The PLC's memory has no holes a real program would refuse: a read of an address the map does
//! not use returns zero, as a PLC's unused memory does; a write to one is refused with exception
//! 02 (Modbus Application Protocol V1.1b3 §7), so a misaddressed controller is noticed.

use tokio_modbus::{ExceptionCode, Request, Response};
use tracemark_drivers::lineio::{INPUT_BLOCK_LEN, LineIoMap, REJECT_QUEUE_LEN};

use super::state::{AMBER, GATE, GREEN, LINE_STOP, RED, State};

/// Where the default tables start their reject queue (docs/protocols/line-io.md).
const DEFAULT_QUEUE_AT: u16 = 16;

/// The configured map, answered through the default one.
#[derive(Debug, Clone)]
pub(super) struct Relocation {
    map: LineIoMap,
}

impl Relocation {
    /// `None` for the default map: it needs no translation.
    pub(super) fn of(map: LineIoMap) -> Option<Relocation> {
        (map != LineIoMap::default()).then_some(Relocation { map })
    }

    /// The default index of the coil at `address`.
    fn coil(&self, address: u16) -> Option<u16> {
        let m = &self.map;
        [
            (m.gate_coil, GATE),
            (m.line_stop_coil, LINE_STOP),
            (m.stack_light_red_coil, RED),
            (m.stack_light_amber_coil, AMBER),
            (m.stack_light_green_coil, GREEN),
        ]
        .into_iter()
        .find(|(at, _)| *at == address)
        .and_then(|(_, index)| u16::try_from(index).ok())
    }

    /// The default index of the discrete input at `address`: gate confirm 0, line running 1.
    fn discrete_input(&self, address: u16) -> Option<u16> {
        if address == self.map.gate_confirm_input {
            Some(0)
        } else if address == self.map.line_running_input {
            Some(1)
        } else {
            None
        }
    }

    /// The default address of the input register at `address` (the block moves whole).
    fn input_register(&self, address: u16) -> Option<u16> {
        let offset = address.checked_sub(self.map.input_registers)?;
        (offset < INPUT_BLOCK_LEN).then_some(offset)
    }

    /// The default address of the holding register at `address`.
    fn holding_register(&self, address: u16) -> Option<u16> {
        let m = &self.map;
        if address == m.watchdog_register {
            return Some(0);
        }
        if address == m.gate_half_window_register {
            return Some(1);
        }
        if address == m.gate_confirm_timeout_register {
            return Some(2);
        }
        let offset = address.checked_sub(m.reject_queue_registers)?;
        (offset < REJECT_QUEUE_LEN).then_some(DEFAULT_QUEUE_AT + offset)
    }

    /// Answers `request`, addressed in the configured map, from `state`'s default tables.
    pub(super) fn answer(
        &self,
        state: &mut State,
        request: Request<'_>,
    ) -> Result<Response, ExceptionCode> {
        match request {
            Request::ReadCoils(address, quantity) => {
                let all = read_bits(state, Request::ReadCoils(0, 5))?;
                let bits = gather(address, quantity, 2_000, |a| {
                    self.coil(a).is_some_and(|i| all[usize::from(i)])
                })?;
                Ok(Response::ReadCoils(bits))
            }
            Request::ReadDiscreteInputs(address, quantity) => {
                let all = read_bits(state, Request::ReadDiscreteInputs(0, 2))?;
                let bits = gather(address, quantity, 2_000, |a| {
                    self.discrete_input(a).is_some_and(|i| all[usize::from(i)])
                })?;
                Ok(Response::ReadDiscreteInputs(bits))
            }
            Request::ReadInputRegisters(address, quantity) => {
                let all = read_words(state, Request::ReadInputRegisters(0, INPUT_BLOCK_LEN))?;
                let words = gather(address, quantity, 125, |a| {
                    self.input_register(a).map_or(0, |i| all[usize::from(i)])
                })?;
                Ok(Response::ReadInputRegisters(words))
            }
            Request::ReadHoldingRegisters(address, quantity) => {
                let len = DEFAULT_QUEUE_AT + REJECT_QUEUE_LEN;
                let all = read_words(state, Request::ReadHoldingRegisters(0, len))?;
                // The default tables refuse reads of 3–15; here those addresses hold nothing.
                let words = gather(address, quantity, 125, |a| {
                    self.holding_register(a).map_or(0, |i| all[usize::from(i)])
                })?;
                Ok(Response::ReadHoldingRegisters(words))
            }
            Request::WriteSingleCoil(address, on) => {
                let index = self
                    .coil(address)
                    .ok_or(ExceptionCode::IllegalDataAddress)?;
                state.answer(Request::WriteSingleCoil(index, on))?;
                Ok(Response::WriteSingleCoil(address, on))
            }
            Request::WriteSingleRegister(address, value) => {
                let at = self
                    .holding_register(address)
                    .ok_or(ExceptionCode::IllegalDataAddress)?;
                state.answer(Request::WriteSingleRegister(at, value))?;
                Ok(Response::WriteSingleRegister(address, value))
            }
            Request::WriteMultipleRegisters(address, values) => {
                let quantity = u16::try_from(values.len()).unwrap_or(u16::MAX);
                if quantity == 0 || quantity > 123 {
                    return Err(ExceptionCode::IllegalDataValue);
                }
                let targets = (0..quantity)
                    .map(|i| {
                        address
                            .checked_add(i)
                            .and_then(|a| self.holding_register(a))
                    })
                    .collect::<Option<Vec<u16>>>()
                    .ok_or(ExceptionCode::IllegalDataAddress)?;
                // Consecutive here and in the default tables (a run of reject queue slots, or
                // registers the map keeps side by side): one write, checked whole by the
                // default tables. Otherwise single registers, never part of a queue slot.
                let consecutive = targets.windows(2).all(|w| w[1] == w[0] + 1);
                if consecutive {
                    state.answer(Request::WriteMultipleRegisters(targets[0], values))?;
                } else if targets.iter().all(|&t| t < DEFAULT_QUEUE_AT) {
                    for (&at, &value) in targets.iter().zip(values.iter()) {
                        state.answer(Request::WriteSingleRegister(at, value))?;
                    }
                } else {
                    return Err(ExceptionCode::IllegalDataAddress);
                }
                Ok(Response::WriteMultipleRegisters(address, quantity))
            }
            _ => Err(ExceptionCode::IllegalFunction),
        }
    }
}

/// The values at `address..address + quantity`, each from `value_at`, after §6's quantity
/// check (exception 03 outside `1..=max`) and a range that stays inside 0–65535 (exception 02).
fn gather<T>(
    address: u16,
    quantity: u16,
    max: u16,
    value_at: impl Fn(u16) -> T,
) -> Result<Vec<T>, ExceptionCode> {
    if quantity == 0 || quantity > max {
        return Err(ExceptionCode::IllegalDataValue);
    }
    if u32::from(address) + u32::from(quantity) > 0x1_0000 {
        return Err(ExceptionCode::IllegalDataAddress);
    }
    Ok((address..=address + (quantity - 1)).map(value_at).collect())
}

fn read_bits(state: &mut State, request: Request<'_>) -> Result<Vec<bool>, ExceptionCode> {
    match state.answer(request)? {
        Response::ReadCoils(bits) | Response::ReadDiscreteInputs(bits) => Ok(bits),
        _ => Err(ExceptionCode::ServerDeviceFailure),
    }
}

fn read_words(state: &mut State, request: Request<'_>) -> Result<Vec<u16>, ExceptionCode> {
    match state.answer(request)? {
        Response::ReadInputRegisters(words) | Response::ReadHoldingRegisters(words) => Ok(words),
        _ => Err(ExceptionCode::ServerDeviceFailure),
    }
}
