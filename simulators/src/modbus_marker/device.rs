//! The simulated Modbus register marker's state and how it answers each request. Pure, no I/O.
//!
//! It serves exactly the registers its [`ModbusMarkerMap`] names; anything else is exception
//! 02 Illegal Data Address, a quantity out of range exception 03, another function code
//! exception 01 (Modbus Application Protocol V1.1b3 §6, §7).

use std::collections::{BTreeSet, VecDeque};

use tokio_modbus::{ExceptionCode, Request, Response};
use tracemark_drivers::modbus_marker::codec::{StatusFlags, counter_to_words, decode_code};
use tracemark_drivers::modbus_marker::map::{
    LoadSignal, MAX_READ_REGISTERS, MAX_WRITE_REGISTERS, ModbusMarkerMap, RegisterTable,
};

use crate::marker::{Fault, Print, TriggerOutcome};

#[derive(Debug)]
pub(crate) struct Device {
    map: ModbusMarkerMap,
    unit_id: u8,
    depth: usize,
    code_field: Vec<u16>,
    buffer: VecDeque<String>,
    printing: bool,
    counter: u64,
    print_gos: u64,
    last_data: Option<String>,
    /// The empty print-go bit: set by a print-go on an empty buffer, reset by a load or a clear.
    empty_print_go: bool,
    last_command: u16,
    faults: BTreeSet<Fault>,
    prints: Vec<Print>,
    commands: u64,
}

impl Device {
    pub(crate) fn new(map: ModbusMarkerMap, unit_id: u8, depth: usize) -> Self {
        Self {
            code_field: vec![0; usize::from(map.code_registers)],
            map,
            unit_id,
            depth: depth.max(1),
            buffer: VecDeque::new(),
            printing: false,
            counter: 0,
            print_gos: 0,
            last_data: None,
            empty_print_go: false,
            last_command: 0,
            faults: BTreeSet::new(),
            prints: Vec::new(),
            commands: 0,
        }
    }

    pub(crate) fn has(&self, fault: Fault) -> bool {
        self.faults.contains(&fault)
    }

    pub(crate) fn inject(&mut self, fault: Fault) {
        self.faults.insert(fault);
        if fault == Fault::InkOut {
            // Ink out stops printing.
            self.printing = false;
        }
    }

    pub(crate) fn clear(&mut self, fault: Fault) {
        self.faults.remove(&fault);
    }

    pub(crate) fn faults(&self) -> Vec<Fault> {
        self.faults.iter().copied().collect()
    }

    pub(crate) fn silent(&self) -> bool {
        self.has(Fault::Stall) || self.has(Fault::HeadOpen)
    }

    pub(crate) fn buffered(&self) -> Vec<String> {
        self.buffer.iter().cloned().collect()
    }

    pub(crate) fn prints(&self) -> &[Print] {
        &self.prints
    }

    pub(crate) fn printing(&self) -> bool {
        self.printing
    }

    pub(crate) fn counter(&self) -> u64 {
        self.counter
    }

    pub(crate) fn print_gos(&self) -> u64 {
        self.print_gos
    }

    pub(crate) fn commands(&self) -> u64 {
        self.commands
    }

    fn full(&self) -> bool {
        self.has(Fault::BufferFull) || self.buffer.len() >= self.depth
    }

    fn status_word(&self) -> u16 {
        StatusFlags {
            fault: false,
            consumable_out: self.has(Fault::InkOut),
            buffer_full: self.full(),
            empty_print_go: self.empty_print_go,
        }
        .encode(&self.map)
    }

    fn code_index(&self, address: u16) -> Option<usize> {
        let offset = usize::from(address.checked_sub(self.map.code_register)?);
        (offset < self.code_field.len()).then_some(offset)
    }

    /// One register as the map lays it out; `None` where the map has none.
    fn register(&self, table: RegisterTable, address: u16) -> Option<u16> {
        let status = &self.map.status;
        if table == status.table && address == status.register {
            return Some(self.status_word());
        }
        if table == status.table && Some(address) == status.buffer_count_register {
            return Some(u16::try_from(self.buffer.len()).unwrap_or(u16::MAX));
        }
        let counter = &self.map.counter;
        if table == counter.table
            && let Some(offset) = address.checked_sub(counter.register)
            && offset < counter.registers()
        {
            return Some(counter_to_words(counter, self.counter)[usize::from(offset)]);
        }
        if table != RegisterTable::Holding {
            return None;
        }
        if address == self.map.command_register {
            return Some(self.last_command);
        }
        if let LoadSignal::Register { address: load, .. } = self.map.load
            && address == load
        {
            return Some(0);
        }
        self.code_index(address).map(|i| self.code_field[i])
    }

    fn read(
        &self,
        table: RegisterTable,
        address: u16,
        quantity: u16,
    ) -> Result<Vec<u16>, ExceptionCode> {
        // §6.3, §6.4: quantity 1 to 125 (exception 03), then the addresses (exception 02).
        if quantity == 0 || quantity > MAX_READ_REGISTERS {
            return Err(ExceptionCode::IllegalDataValue);
        }
        (0..quantity)
            .map(|i| {
                address
                    .checked_add(i)
                    .and_then(|a| self.register(table, a))
                    .ok_or(ExceptionCode::IllegalDataAddress)
            })
            .collect()
    }

    /// Answers one request: `None` = no answer (another unit id, stall, head open).
    pub(crate) fn handle(
        &mut self,
        unit: u8,
        request: Option<Request<'_>>,
    ) -> Option<Result<Response, ExceptionCode>> {
        self.commands += 1;
        // A device that is not addressed stays silent (MBSL §2.2); so does a silent device.
        if unit != self.unit_id || self.silent() {
            return None;
        }
        let Some(request) = request else {
            return Some(Err(ExceptionCode::IllegalFunction));
        };
        Some(self.answer(request))
    }

    fn answer(&mut self, request: Request<'_>) -> Result<Response, ExceptionCode> {
        match request {
            Request::ReadInputRegisters(address, quantity) => self
                .read(RegisterTable::Input, address, quantity)
                .map(Response::ReadInputRegisters),
            Request::ReadHoldingRegisters(address, quantity) => self
                .read(RegisterTable::Holding, address, quantity)
                .map(Response::ReadHoldingRegisters),
            // §6.6: the normal response echoes the request.
            Request::WriteSingleRegister(address, value) => {
                self.write_register(address, value)?;
                Ok(Response::WriteSingleRegister(address, value))
            }
            // §6.12: the response carries the address and the quantity.
            Request::WriteMultipleRegisters(address, words) => {
                let quantity = u16::try_from(words.len()).unwrap_or(u16::MAX);
                if quantity == 0 || quantity > MAX_WRITE_REGISTERS {
                    return Err(ExceptionCode::IllegalDataValue);
                }
                let first = self.code_index(address);
                let last = address
                    .checked_add(quantity - 1)
                    .and_then(|a| self.code_index(a));
                let (Some(first), Some(_)) = (first, last) else {
                    return Err(ExceptionCode::IllegalDataAddress);
                };
                self.refuse_code_write()?;
                self.code_field[first..first + words.len()].copy_from_slice(&words);
                Ok(Response::WriteMultipleRegisters(address, quantity))
            }
            // §6.5: the normal response echoes the request.
            Request::WriteSingleCoil(address, on) => match self.map.load {
                LoadSignal::Coil { address: load } if load == address => {
                    if on {
                        self.load()?;
                    }
                    Ok(Response::WriteSingleCoil(address, on))
                }
                _ => Err(ExceptionCode::IllegalDataAddress),
            },
            _ => Err(ExceptionCode::IllegalFunction),
        }
    }

    /// The nak fault: writes of a code are refused, busy (§7 exception 06).
    fn refuse_code_write(&self) -> Result<(), ExceptionCode> {
        if self.has(Fault::Nak) {
            return Err(ExceptionCode::ServerDeviceBusy);
        }
        Ok(())
    }

    fn write_register(&mut self, address: u16, value: u16) -> Result<(), ExceptionCode> {
        if address == self.map.command_register {
            return self.command(value);
        }
        if let LoadSignal::Register {
            address: load,
            value: loads,
        } = self.map.load
            && address == load
        {
            if value != loads {
                return Err(ExceptionCode::IllegalDataValue);
            }
            return self.load();
        }
        let Some(index) = self.code_index(address) else {
            return Err(ExceptionCode::IllegalDataAddress);
        };
        self.refuse_code_write()?;
        self.code_field[index] = value;
        Ok(())
    }

    fn command(&mut self, value: u16) -> Result<(), ExceptionCode> {
        if value == self.map.start_value {
            // Ink out: the device cannot print and says so (§7 exception 04).
            if self.has(Fault::InkOut) {
                return Err(ExceptionCode::ServerDeviceFailure);
            }
            self.printing = true;
        } else if value == self.map.stop_value {
            self.printing = false;
        } else if value == self.map.clear_value {
            self.buffer.clear();
            self.empty_print_go = false;
        } else {
            return Err(ExceptionCode::IllegalDataValue);
        }
        self.last_command = value;
        Ok(())
    }

    /// Queues the code field. A full buffer refuses the load, busy (exception 06), with the
    /// buffer-full bit set.
    fn load(&mut self) -> Result<(), ExceptionCode> {
        self.refuse_code_write()?;
        if self.full() {
            return Err(ExceptionCode::ServerDeviceBusy);
        }
        let text = decode_code(&self.map, &self.code_field)
            .map_err(|_| ExceptionCode::ServerDeviceFailure)?;
        self.buffer.push_back(text);
        self.empty_print_go = false;
        Ok(())
    }

    /// A print-go.
    pub(crate) fn trigger(&mut self) -> TriggerOutcome {
        if !self.printing || self.has(Fault::InkOut) || self.has(Fault::HeadOpen) {
            return TriggerOutcome::Ignored;
        }
        self.print_gos += 1;
        if let Some(data) = self.buffer.pop_front() {
            self.counter += 1;
            self.last_data = Some(data.clone());
            let print = Print::new(data.into_bytes(), false);
            self.prints.push(print.clone());
            return TriggerOutcome::Printed(print);
        }
        match (&self.last_data, self.has(Fault::ReprintOnEmpty)) {
            (Some(old), true) => {
                self.counter += 1;
                let print = Print::new(old.clone().into_bytes(), true);
                self.prints.push(print.clone());
                TriggerOutcome::Reprinted(print)
            }
            _ => {
                self.empty_print_go = true;
                TriggerOutcome::Empty
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tracemark_drivers::modbus_marker::codec::encode_code;

    use super::*;

    fn ready(depth: usize) -> Device {
        let mut device = Device::new(ModbusMarkerMap::default(), 1, depth);
        assert_eq!(
            device.handle(1, Some(Request::WriteSingleRegister(0, 1))),
            Some(Ok(Response::WriteSingleRegister(0, 1)))
        );
        device
    }

    fn load(device: &mut Device, text: &str) -> Option<Result<Response, ExceptionCode>> {
        let words = encode_code(&ModbusMarkerMap::default(), text).unwrap();
        let written = device.handle(1, Some(Request::WriteMultipleRegisters(16, words.into())));
        assert_eq!(written, Some(Ok(Response::WriteMultipleRegisters(16, 32))));
        device.handle(1, Some(Request::WriteSingleRegister(1, 1)))
    }

    #[test]
    fn loaded_codes_print_in_order_and_count() {
        let mut device = ready(2);
        assert!(load(&mut device, "A").unwrap().is_ok());
        assert!(load(&mut device, "B").unwrap().is_ok());
        assert_eq!(
            load(&mut device, "C"),
            Some(Err(ExceptionCode::ServerDeviceBusy))
        );
        assert_eq!(
            device.handle(1, Some(Request::ReadInputRegisters(0, 4))),
            Some(Ok(Response::ReadInputRegisters(vec![0b0100, 0, 0, 2])))
        );
        assert!(matches!(device.trigger(), TriggerOutcome::Printed(p) if p.text() == "A"));
        assert_eq!(
            device.handle(1, Some(Request::ReadInputRegisters(0, 4))),
            Some(Ok(Response::ReadInputRegisters(vec![0, 0, 1, 1])))
        );
    }

    #[test]
    fn empty_print_go_sets_its_bit_until_the_next_load() {
        let mut device = ready(2);
        assert_eq!(device.trigger(), TriggerOutcome::Empty);
        assert_eq!(device.status_word(), 0b1000);
        load(&mut device, "A");
        assert_eq!(device.status_word(), 0);
    }

    #[test]
    fn ink_out_refuses_start_and_shows_its_bit() {
        let mut device = ready(2);
        device.inject(Fault::InkOut);
        assert!(!device.printing());
        assert_eq!(
            device.handle(1, Some(Request::WriteSingleRegister(0, 1))),
            Some(Err(ExceptionCode::ServerDeviceFailure))
        );
        assert_eq!(device.status_word(), 0b0010);
    }

    #[test]
    fn outside_the_map_other_units_and_silence() {
        let mut device = ready(2);
        assert_eq!(
            device.handle(1, Some(Request::ReadInputRegisters(4, 1))),
            Some(Err(ExceptionCode::IllegalDataAddress))
        );
        assert_eq!(
            device.handle(1, Some(Request::ReadHoldingRegisters(0, 126))),
            Some(Err(ExceptionCode::IllegalDataValue))
        );
        assert_eq!(
            device.handle(1, Some(Request::WriteSingleRegister(0, 9))),
            Some(Err(ExceptionCode::IllegalDataValue))
        );
        assert_eq!(
            device.handle(2, Some(Request::ReadInputRegisters(0, 1))),
            None
        );
        device.inject(Fault::Stall);
        assert_eq!(
            device.handle(1, Some(Request::ReadInputRegisters(0, 1))),
            None
        );
    }

    #[test]
    fn nak_refuses_code_writes_busy() {
        let mut device = ready(2);
        device.inject(Fault::Nak);
        assert_eq!(
            device.handle(
                1,
                Some(Request::WriteMultipleRegisters(16, vec![0x4100].into()))
            ),
            Some(Err(ExceptionCode::ServerDeviceBusy))
        );
        assert_eq!(
            device.handle(1, Some(Request::WriteSingleRegister(0, 3))),
            Some(Ok(Response::WriteSingleRegister(0, 3))),
            "commands still work"
        );
    }
}
