//! The tracemark line I/O map: the Modbus addresses an integrator programs into the line PLC.
//! See `docs/protocols/line-io.md`.

use serde::Deserialize;

/// Entries in the PLC's ring of latched encoder counts: detection number `n` (counting from 0)
/// is in slot `n % RING_LEN`. Part of the protocol, not configurable.
pub const RING_LEN: u16 = 16;

/// Registers the one FC 04 read of [`LineIo::poll`](super::LineIo::poll) covers: encoder (2),
/// detections count (2), ring (2 × [`RING_LEN`]).
pub const INPUT_BLOCK_LEN: u16 = 4 + 2 * RING_LEN;

/// Most discrete inputs one FC 02 request may read (Modbus Application Protocol V1.1b3 §6.2).
const MAX_DISCRETE_INPUTS: u16 = 2_000;

/// Where the line PLC keeps the line I/O, as 0-based Modbus protocol addresses (a PLC manual's
/// "IR 30001" or "%IW1" is address 0 here: subtract the manual's first number).
///
/// `Default` is the tracemark line I/O map:
///
/// | table | address | meaning |
/// |---|---|---|
/// | input registers (FC 04) | 0–1 | encoder count, u32, high word first |
/// | | 2–3 | photocell detections count, u32, high word first |
/// | | 4–35 | ring of the encoder counts latched at the last 16 detections (u32 each) |
/// | discrete inputs (FC 02) | 0 | reject gate confirm (diverter end position) |
/// | | 1 | line running |
/// | coils (FC 05) | 0 | reject gate |
/// | | 1 | line stop request |
/// | | 2, 3, 4 | stack light red, amber, green |
/// | holding register (FC 06) | 0 | comm watchdog timeout, ms (0 = off) |
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LineIoMap {
    /// First input register of the block read in one FC 04 request: encoder at +0..+1,
    /// detections count at +2..+3, the ring at +4..+35. Default 0.
    pub input_registers: u16,
    /// Discrete input: the reject gate reached its divert position. Default 0.
    pub gate_confirm_input: u16,
    /// Discrete input: the line runs. Default 1.
    pub line_running_input: u16,
    /// Coil: the reject gate (on = divert). Default 0.
    pub gate_coil: u16,
    /// Coil: ask the PLC to stop the line. Default 1.
    pub line_stop_coil: u16,
    /// Coil: stack light red. Default 2.
    pub stack_light_red_coil: u16,
    /// Coil: stack light amber. Default 3.
    pub stack_light_amber_coil: u16,
    /// Coil: stack light green. Default 4.
    pub stack_light_green_coil: u16,
    /// Holding register: the PLC's comm watchdog timeout in ms, 0 = off. Default 0.
    pub watchdog_register: u16,
}

impl Default for LineIoMap {
    fn default() -> Self {
        Self {
            input_registers: 0,
            gate_confirm_input: 0,
            line_running_input: 1,
            gate_coil: 0,
            line_stop_coil: 1,
            stack_light_red_coil: 2,
            stack_light_amber_coil: 3,
            stack_light_green_coil: 4,
            watchdog_register: 0,
        }
    }
}

impl LineIoMap {
    /// Every problem with the map, each naming its key; empty when the map is usable.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if u32::from(self.input_registers) + u32::from(INPUT_BLOCK_LEN) > 0x1_0000 {
            problems.push(format!(
                "input_registers: the block of {INPUT_BLOCK_LEN} registers from {} runs past \
                 address 65535",
                self.input_registers
            ));
        }
        if self.discrete_inputs().1 > MAX_DISCRETE_INPUTS {
            problems.push(format!(
                "gate_confirm_input, line_running_input: {} and {} are more than \
                 {MAX_DISCRETE_INPUTS} inputs apart (one FC 02 read covers both)",
                self.gate_confirm_input, self.line_running_input
            ));
        }
        let coils = [
            ("gate_coil", self.gate_coil),
            ("line_stop_coil", self.line_stop_coil),
            ("stack_light_red_coil", self.stack_light_red_coil),
            ("stack_light_amber_coil", self.stack_light_amber_coil),
            ("stack_light_green_coil", self.stack_light_green_coil),
        ];
        for (i, (name, address)) in coils.iter().enumerate() {
            if let Some((other, _)) = coils[..i].iter().find(|(_, a)| a == address) {
                problems.push(format!("{name}: coil {address} is also {other}"));
            }
        }
        problems
    }

    /// The FC 02 read covering both discrete inputs: first address and count.
    pub(crate) fn discrete_inputs(&self) -> (u16, u16) {
        let first = self.gate_confirm_input.min(self.line_running_input);
        let last = self.gate_confirm_input.max(self.line_running_input);
        (first, last - first + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_map_is_usable_and_reads_36_registers() {
        assert!(LineIoMap::default().problems().is_empty());
        assert_eq!(INPUT_BLOCK_LEN, 36);
        assert_eq!(LineIoMap::default().discrete_inputs(), (0, 2));
    }

    #[test]
    fn problems_name_every_bad_key() {
        let map = LineIoMap {
            input_registers: 65_501,
            gate_confirm_input: 5_000,
            line_running_input: 1,
            stack_light_green_coil: 0,
            ..LineIoMap::default()
        };
        let problems = map.problems();
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(problems[0].starts_with("input_registers:"));
        assert!(problems[1].starts_with("gate_confirm_input, line_running_input:"));
        assert_eq!(
            problems[2],
            "stack_light_green_coil: coil 0 is also gate_coil"
        );
    }

    #[test]
    fn discrete_inputs_span_either_order() {
        let map = LineIoMap {
            gate_confirm_input: 9,
            line_running_input: 4,
            ..LineIoMap::default()
        };
        assert_eq!(map.discrete_inputs(), (4, 6));
    }
}
