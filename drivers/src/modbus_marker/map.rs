//! The register map of a Modbus register marker, as an integrator fills it from the device
//! manual. See `docs/protocols/modbus-marker.md`.
//!
//! Addresses are 0-based Modbus protocol addresses (a manual's "40001" or "%MW0" is address 0):
//! Modbus Application Protocol V1.1b3 §4.4 numbers data items from 1 in the data model and from 0
//! in the PDU.

use serde::{Deserialize, Serialize};

/// Most registers one FC 03 / FC 04 read may return (Modbus Application Protocol V1.1b3 §6.3,
/// §6.4).
pub const MAX_READ_REGISTERS: u16 = 125;
/// Most registers one FC 16 write may carry (§6.12): the code field is written in one request.
pub const MAX_WRITE_REGISTERS: u16 = 123;

/// Which register table a value is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegisterTable {
    /// Input registers, read with FC 04 (§6.4).
    Input,
    /// Holding registers, read with FC 03 (§6.3).
    Holding,
}

/// Order of two things packed into one 16-bit register (two characters) or of two registers
/// making one 32-bit value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    /// The first character in the high byte / the high word in the lower address. Modbus sends
    /// every register high byte first (§4.2), so this is the text as it reads on the wire.
    HighFirst,
    /// The first character in the low byte / the low word in the lower address (byte- or
    /// word-swapped devices).
    LowFirst,
}

/// How the code text becomes register bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TextEncoding {
    /// Printable ASCII (20h–7Eh), two characters per register.
    Ascii,
}

/// What fills the code field after the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Padding {
    /// 00h: a C-string field.
    Nul,
    /// 20h: a fixed-width text field.
    Space,
}

impl Padding {
    /// The padding byte.
    pub fn byte(self) -> u8 {
        match self {
            Padding::Nul => 0x00,
            Padding::Space => 0x20,
        }
    }
}

/// How the device is told to take the code field into its buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum LoadSignal {
    /// FC 06 Write Single Register (§6.6) of `value` to holding register `address`.
    Register {
        /// Holding register address.
        address: u16,
        /// The value that loads. Default 1.
        #[serde(default = "one")]
        value: u16,
    },
    /// FC 05 Write Single Coil (§6.5) ON (FF00h) to coil `address`.
    Coil {
        /// Coil address.
        address: u16,
    },
}

fn one() -> u16 {
    1
}

/// Where the print counter is. Every default is given where it is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CounterMap {
    /// Table. Default `input`.
    pub table: RegisterTable,
    /// First register. Default 1.
    pub register: u16,
    /// Width in bits, 16 or 32 (two registers). Default 32.
    pub width: u8,
    /// Word order of a 32-bit counter. Default `high_first`.
    pub word_order: Order,
}

impl Default for CounterMap {
    fn default() -> Self {
        Self {
            table: RegisterTable::Input,
            register: 1,
            width: 32,
            word_order: Order::HighFirst,
        }
    }
}

impl CounterMap {
    /// Registers the counter takes.
    pub fn registers(&self) -> u16 {
        if self.width == 16 { 1 } else { 2 }
    }
}

/// Where the status bits are. When this table is given in a config, a bit that is left out is
/// not used (the device has no such bit); when the whole table is left out the defaults below
/// apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StatusMap {
    /// Table of the status register and the buffer count register. Default `input`.
    #[serde(default = "input_table")]
    pub table: RegisterTable,
    /// The status register. Default 0.
    #[serde(default)]
    pub register: u16,
    /// Bit (0 = least significant) set while the device has a fault. Default map: 0.
    #[serde(default)]
    pub fault_bit: Option<u8>,
    /// Bit set while ink or another consumable is out. Default map: 1.
    #[serde(default)]
    pub consumable_out_bit: Option<u8>,
    /// Bit set while the code buffer is full. Default map: 2.
    #[serde(default)]
    pub buffer_full_bit: Option<u8>,
    /// Bit set when a print-go found the buffer empty (until the next load or clear). Default map: 3.
    #[serde(default)]
    pub empty_print_go_bit: Option<u8>,
    /// Register holding the number of codes queued. Default map: 3.
    #[serde(default)]
    pub buffer_count_register: Option<u16>,
}

fn input_table() -> RegisterTable {
    RegisterTable::Input
}

impl Default for StatusMap {
    fn default() -> Self {
        Self {
            table: RegisterTable::Input,
            register: 0,
            fault_bit: Some(0),
            consumable_out_bit: Some(1),
            buffer_full_bit: Some(2),
            empty_print_go_bit: Some(3),
            buffer_count_register: Some(3),
        }
    }
}

/// The register map of a Modbus register marker. Every key is optional; `Default` is the
/// tracemark default map, which the simulator (`tracemark-sim modbus-marker`) serves:
///
/// | table, function | address | meaning |
/// |---|---|---|
/// | holding, FC 06 | 0 | command: 1 start, 2 stop, 3 clear the buffer |
/// | holding, FC 06 | 1 | load: writing 1 queues the code field |
/// | holding, FC 16 | 16–47 | code field, 64 ASCII characters, high byte first, NUL padded |
/// | input, FC 04 | 0 | status: bit 0 fault, 1 consumable out, 2 buffer full, 3 empty print-go |
/// | input, FC 04 | 1–2 | print counter, u32, high word first |
/// | input, FC 04 | 3 | codes in the buffer |
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModbusMarkerMap {
    /// First holding register of the code field. Default 16.
    pub code_register: u16,
    /// Registers in the code field, 1 to 123 (one FC 16 write). Default 32 (64 characters).
    pub code_registers: u16,
    /// Text encoding. Default `ascii`.
    pub encoding: TextEncoding,
    /// Which byte of a register holds the first of its two characters. Default `high_first`.
    pub byte_order: Order,
    /// What fills the field after the text. Default `nul`.
    pub padding: Padding,
    /// How the code field is queued after it is written. Default `{ type = "register",
    /// address = 1, value = 1 }`.
    pub load: LoadSignal,
    /// Holding register taking the commands (FC 06). Default 0.
    pub command_register: u16,
    /// Command value: start printing. Default 1.
    pub start_value: u16,
    /// Command value: stop printing. Default 2.
    pub stop_value: u16,
    /// Command value: empty the code buffer. Default 3.
    pub clear_value: u16,
    /// Codes the device buffer holds, when the manual says; with `status.buffer_count_register`
    /// it tells the driver when a load filled the buffer. Default none.
    pub buffer_depth: Option<u16>,
    /// The print counter.
    pub counter: CounterMap,
    /// The status bits and the buffer count.
    pub status: StatusMap,
}

impl Default for ModbusMarkerMap {
    fn default() -> Self {
        Self {
            code_register: 16,
            code_registers: 32,
            encoding: TextEncoding::Ascii,
            byte_order: Order::HighFirst,
            padding: Padding::Nul,
            load: LoadSignal::Register {
                address: 1,
                value: 1,
            },
            command_register: 0,
            start_value: 1,
            stop_value: 2,
            clear_value: 3,
            buffer_depth: None,
            counter: CounterMap::default(),
            status: StatusMap::default(),
        }
    }
}

/// One read request of a poll: table, first register, count.
pub type Read = (RegisterTable, u16, u16);

impl ModbusMarkerMap {
    /// Characters the code field holds.
    pub fn code_capacity(&self) -> usize {
        usize::from(self.code_registers) * 2
    }

    /// The registers a poll needs: the status register, the buffer count and the counter.
    /// Registers that touch are read in one request (§6.3, §6.4); a gap between them is not
    /// read, because a device may answer an unmapped address with exception 02 (§7).
    pub fn reads(&self) -> Vec<Read> {
        let mut items: Vec<(RegisterTable, u16, u16)> = vec![
            (self.status.table, self.status.register, 1),
            (
                self.counter.table,
                self.counter.register,
                self.counter.registers(),
            ),
        ];
        if let Some(count) = self.status.buffer_count_register {
            items.push((self.status.table, count, 1));
        }
        items.sort_unstable();
        let mut reads: Vec<Read> = Vec::new();
        for (table, first, count) in items {
            let end = u32::from(first) + u32::from(count);
            if let Some(last) = reads.last_mut()
                && last.0 == table
                && u32::from(first) <= u32::from(last.1) + u32::from(last.2)
            {
                let merged_end = end.max(u32::from(last.1) + u32::from(last.2));
                last.2 = u16::try_from(merged_end - u32::from(last.1)).unwrap_or(u16::MAX);
                continue;
            }
            reads.push((table, first, count));
        }
        reads
    }

    /// Every problem with the map, each naming its key; empty when the map is usable.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !(1..=MAX_WRITE_REGISTERS).contains(&self.code_registers) {
            problems.push(format!(
                "code_registers: {} is not 1 to {MAX_WRITE_REGISTERS} (one FC 16 write)",
                self.code_registers
            ));
        }
        let code_end = u32::from(self.code_register) + u32::from(self.code_registers);
        if code_end > 0x1_0000 {
            problems.push(format!(
                "code_register: the field of {} registers from {} runs past address 65535",
                self.code_registers, self.code_register
            ));
        }
        let in_code =
            |address: u16| (u32::from(self.code_register)..code_end).contains(&u32::from(address));
        if in_code(self.command_register) {
            problems.push(format!(
                "command_register: {} is inside the code field",
                self.command_register
            ));
        }
        if let LoadSignal::Register { address, .. } = self.load {
            if in_code(address) {
                problems.push(format!("load.address: {address} is inside the code field"));
            }
            if address == self.command_register {
                problems.push(format!(
                    "load.address: {address} is also the command_register"
                ));
            }
        }
        let commands = [
            ("start_value", self.start_value),
            ("stop_value", self.stop_value),
            ("clear_value", self.clear_value),
        ];
        for (i, (name, value)) in commands.iter().enumerate() {
            if let Some((other, _)) = commands[..i].iter().find(|(_, v)| v == value) {
                problems.push(format!("{name}: {value} is also {other}"));
            }
        }
        if self.buffer_depth == Some(0) {
            problems.push("buffer_depth: 0 holds no code".to_owned());
        }
        if self.counter.width != 16 && self.counter.width != 32 {
            problems.push(format!(
                "counter.width: {} is not 16 or 32",
                self.counter.width
            ));
        }
        if u32::from(self.counter.register) + u32::from(self.counter.registers()) > 0x1_0000 {
            problems.push(format!(
                "counter.register: {} runs past address 65535",
                self.counter.register
            ));
        }
        let bits = [
            ("status.fault_bit", self.status.fault_bit),
            ("status.consumable_out_bit", self.status.consumable_out_bit),
            ("status.buffer_full_bit", self.status.buffer_full_bit),
            ("status.empty_print_go_bit", self.status.empty_print_go_bit),
        ];
        for (i, (name, bit)) in bits.iter().enumerate() {
            let Some(bit) = bit else { continue };
            if *bit > 15 {
                problems.push(format!(
                    "{name}: {bit} is not a bit of a register (0 to 15)"
                ));
            } else if let Some((other, _)) = bits[..i].iter().find(|(_, b)| *b == Some(*bit)) {
                problems.push(format!("{name}: bit {bit} is also {other}"));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_map_is_usable_and_polls_with_one_read() {
        let map = ModbusMarkerMap::default();
        assert!(map.problems().is_empty(), "{:?}", map.problems());
        assert_eq!(map.reads(), vec![(RegisterTable::Input, 0, 4)]);
        assert_eq!(map.code_capacity(), 64);
    }

    #[test]
    fn problems_name_every_bad_key() {
        let map = ModbusMarkerMap {
            code_registers: 124,
            command_register: 20,
            stop_value: 1,
            counter: CounterMap {
                table: RegisterTable::Holding,
                width: 24,
                ..CounterMap::default()
            },
            status: StatusMap {
                buffer_full_bit: Some(0),
                empty_print_go_bit: Some(16),
                ..StatusMap::default()
            },
            ..ModbusMarkerMap::default()
        };
        let problems = map.problems();
        assert_eq!(
            problems,
            vec![
                "code_registers: 124 is not 1 to 123 (one FC 16 write)",
                "command_register: 20 is inside the code field",
                "stop_value: 1 is also start_value",
                "counter.width: 24 is not 16 or 32",
                "status.buffer_full_bit: bit 0 is also status.fault_bit",
                "status.empty_print_go_bit: 16 is not a bit of a register (0 to 15)",
            ]
        );
    }

    #[test]
    fn reads_cover_each_table_once() {
        let map = ModbusMarkerMap {
            counter: CounterMap {
                table: RegisterTable::Holding,
                register: 200,
                width: 16,
                word_order: Order::LowFirst,
            },
            status: StatusMap {
                register: 10,
                buffer_count_register: Some(12),
                ..StatusMap::default()
            },
            ..ModbusMarkerMap::default()
        };
        // The gap at 11 is not read: a device may not map it.
        assert_eq!(
            map.reads(),
            vec![
                (RegisterTable::Input, 10, 1),
                (RegisterTable::Input, 12, 1),
                (RegisterTable::Holding, 200, 1)
            ]
        );
        let far = ModbusMarkerMap {
            status: StatusMap {
                buffer_count_register: Some(400),
                ..StatusMap::default()
            },
            ..ModbusMarkerMap::default()
        };
        assert!(far.problems().is_empty(), "{:?}", far.problems());
        assert_eq!(
            far.reads(),
            vec![(RegisterTable::Input, 0, 3), (RegisterTable::Input, 400, 1)]
        );
    }
}
