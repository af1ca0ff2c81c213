//! The tracemark line I/O map: the Modbus addresses an integrator programs into the line PLC.
//! See `docs/protocols/line-io.md`.

use serde::{Deserialize, Serialize};

/// Entries in the PLC's ring of latched encoder counts: detection number `n` (counting from 0)
/// is in slot `n % RING_LEN`. Part of the protocol, not configurable.
pub const RING_LEN: u16 = 16;

/// Slots in the PLC's reject queue: reject number `seq` goes to slot `seq % REJECT_SLOTS`, so at
/// most this many rejects can be in flight. Part of the protocol, not configurable.
pub const REJECT_SLOTS: u16 = RING_LEN;

/// Holding registers per reject queue slot: `seq` (u32), `fire_at` (u32), high word first.
pub const REJECT_SLOT_REGISTERS: u16 = 4;

/// Holding registers of the whole reject queue ([`REJECT_SLOTS`] × [`REJECT_SLOT_REGISTERS`]).
pub const REJECT_QUEUE_LEN: u16 = REJECT_SLOTS * REJECT_SLOT_REGISTERS;

/// Where the reject outcomes start in the input block: after encoder (2), detections count (2)
/// and ring (2 × [`RING_LEN`]).
pub(crate) const REJECT_OUTCOMES_AT: u16 = 4 + 2 * RING_LEN;

/// Input registers per reject outcome: `seq` (u32, high word first), `status` (u16).
pub(crate) const REJECT_OUTCOME_REGISTERS: u16 = 3;

/// Where the case packer's count starts in the input block: after the reject outcomes.
pub(crate) const CASES_PACKED_AT: u16 =
    REJECT_OUTCOMES_AT + REJECT_OUTCOME_REGISTERS * REJECT_SLOTS;

/// Registers the one FC 04 read of [`LineIo::poll`](super::LineIo::poll) covers: encoder (2),
/// detections count (2), ring (2 × [`RING_LEN`]), reject outcomes (3 × [`REJECT_SLOTS`]), the
/// case packer's count (2): 86, within the 125 one request may read (Modbus Application
/// Protocol V1.1b3 §6.4).
pub const INPUT_BLOCK_LEN: u16 = CASES_PACKED_AT + 2;

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
/// | | 36–83 | reject outcomes: slot *k* at 36 + 3*k*: `seq` (u32), `status` (0–3) |
/// | | 84–85 | cases the case packer closed, u32, high word first (0 when there is none) |
/// | discrete inputs (FC 02) | 0 | reject gate confirm (diverter end position) |
/// | | 1 | line running |
/// | coils (FC 05) | 0 | reject gate |
/// | | 1 | line stop request |
/// | | 2, 3, 4 | stack light red, amber, green |
/// | holding registers (FC 06, FC 16) | 0 | comm watchdog timeout, ms (0 = off) |
/// | | 1 | gate half window, encoder counts |
/// | | 2 | gate confirm timeout, ms |
/// | | 16–79 | reject queue: slot *k* at 16 + 4*k*: `seq` (u32), `fire_at` (u32) |
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LineIoMap {
    /// First input register of the block read in one FC 04 request: encoder at +0..+1,
    /// detections count at +2..+3, the ring at +4..+35, the reject outcomes at +36..+83, the
    /// case packer's count at +84..+85.
    /// Default 0.
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
    /// Holding register: half the gate window in encoder counts; a queued reject diverts while
    /// `fire_at - half <= encoder < fire_at + half`. Default 1.
    pub gate_half_window_register: u16,
    /// Holding register: how long the PLC waits for the gate confirm after a reject's window
    /// opened, ms. Default 2.
    pub gate_confirm_timeout_register: u16,
    /// First holding register of the reject queue, [`REJECT_QUEUE_LEN`] registers: slot `k` at
    /// +4k holds `seq` (u32) and `fire_at` (u32), high word first. Default 16.
    pub reject_queue_registers: u16,
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
            gate_half_window_register: 1,
            gate_confirm_timeout_register: 2,
            reject_queue_registers: 16,
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
        if u32::from(self.reject_queue_registers) + u32::from(REJECT_QUEUE_LEN) > 0x1_0000 {
            problems.push(format!(
                "reject_queue_registers: the block of {REJECT_QUEUE_LEN} registers from {} runs \
                 past address 65535",
                self.reject_queue_registers
            ));
        }
        let holding = [
            ("watchdog_register", self.watchdog_register, 1),
            (
                "gate_half_window_register",
                self.gate_half_window_register,
                1,
            ),
            (
                "gate_confirm_timeout_register",
                self.gate_confirm_timeout_register,
                1,
            ),
            (
                "reject_queue_registers",
                self.reject_queue_registers,
                REJECT_QUEUE_LEN,
            ),
        ];
        for (i, &(name, first, len)) in holding.iter().enumerate() {
            for &(other, other_first, other_len) in &holding[..i] {
                if !overlap((first, len), (other_first, other_len)) {
                    continue;
                }
                problems.push(if (len, other_len) == (1, 1) {
                    format!("{name}: holding register {first} is also {other}")
                } else {
                    format!(
                        "{name}: {} overlap {other} ({})",
                        holding_span(first, len),
                        holding_span(other_first, other_len)
                    )
                });
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

/// Two address ranges, first address and count, share an address.
fn overlap((first, len): (u16, u16), (other_first, other_len): (u16, u16)) -> bool {
    let (first, other_first) = (u32::from(first), u32::from(other_first));
    first < other_first + u32::from(other_len) && other_first < first + u32::from(len)
}

/// "holding register 7" or "holding registers 16–79" (cut at 65535) for a problem message.
fn holding_span(first: u16, len: u16) -> String {
    if len == 1 {
        return format!("holding register {first}");
    }
    let last = (u32::from(first) + u32::from(len) - 1).min(0xFFFF);
    format!("holding registers {first}–{last}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_map_is_usable_and_reads_84_registers() {
        assert!(LineIoMap::default().problems().is_empty());
        assert_eq!(INPUT_BLOCK_LEN, 86);
        assert_eq!(CASES_PACKED_AT, 84);
        assert_eq!(REJECT_OUTCOMES_AT, 36);
        assert_eq!(REJECT_QUEUE_LEN, 64);
        assert_eq!(LineIoMap::default().discrete_inputs(), (0, 2));
    }

    #[test]
    fn problems_name_every_bad_key() {
        let map = LineIoMap {
            input_registers: 65_453,
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

    #[test]
    fn holding_register_problems_name_their_keys() {
        let map = LineIoMap {
            gate_half_window_register: 0,
            gate_confirm_timeout_register: 2,
            reject_queue_registers: 65_500,
            ..LineIoMap::default()
        };
        assert_eq!(
            map.problems(),
            [
                "reject_queue_registers: the block of 64 registers from 65500 runs past address \
                 65535",
                "gate_half_window_register: holding register 0 is also watchdog_register",
            ]
        );

        let map = LineIoMap {
            watchdog_register: 79,
            gate_confirm_timeout_register: 16,
            ..LineIoMap::default()
        };
        assert_eq!(
            map.problems(),
            [
                "reject_queue_registers: holding registers 16–79 overlap watchdog_register \
                 (holding register 79)",
                "reject_queue_registers: holding registers 16–79 overlap \
                 gate_confirm_timeout_register (holding register 16)",
            ]
        );

        // Just outside the block on both sides: no problem.
        let map = LineIoMap {
            watchdog_register: 80,
            gate_confirm_timeout_register: 15,
            ..LineIoMap::default()
        };
        assert!(map.problems().is_empty(), "{:?}", map.problems());
    }

    #[test]
    fn a_map_deserializes_the_new_keys_and_refuses_unknown_ones() {
        use serde::de::value::{Error, MapDeserializer};
        let keys = |pairs: Vec<(&'static str, u16)>| {
            LineIoMap::deserialize(MapDeserializer::<_, Error>::new(pairs.into_iter()))
        };
        let map = keys(vec![
            ("reject_queue_registers", 100),
            ("gate_half_window_register", 7),
        ])
        .expect("valid map");
        assert_eq!(map.reject_queue_registers, 100);
        assert_eq!(map.gate_half_window_register, 7);
        assert_eq!(map.gate_confirm_timeout_register, 2, "the default");
        assert!(keys(vec![("reject_queue", 1)]).is_err());
    }
}
