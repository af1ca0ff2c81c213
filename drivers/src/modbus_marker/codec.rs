//! Register content of a Modbus register marker: the code text as register words, the status
//! bits and the print counter from the registers a poll reads. Pure, no I/O: tokio-modbus does
//! the Modbus framing (MBAP header, CRC), this module only what goes inside the PDUs.
//!
//! Modbus carries every register high byte first (Modbus Application Protocol V1.1b3 §4.2); how
//! a device packs two characters into one register, or a 32-bit counter into two, is the
//! device's choice, given by the [`ModbusMarkerMap`].

use std::fmt;

use super::map::{CounterMap, ModbusMarkerMap, Order, Read, RegisterTable, TextEncoding};

/// A code that does not fit the code field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// A character the encoding cannot carry.
    #[error("character {character:?} at {position} is not printable ASCII")]
    NotAscii {
        /// The character.
        character: char,
        /// Its position, from 0.
        position: usize,
    },
    /// Longer than the field.
    #[error("code of {len} characters does not fit the {capacity}-character code field")]
    TooLong {
        /// The code's length.
        len: usize,
        /// The field's capacity.
        capacity: usize,
    },
    /// Field words of the wrong count (decoding).
    #[error("code field of {got} registers, expected {expected}")]
    WrongLength {
        /// Registers given.
        got: usize,
        /// Registers in the field.
        expected: usize,
    },
}

/// Encodes `text` into the code field: exactly `code_registers` words, two characters per
/// register in the map's byte order, padded.
pub fn encode_code(map: &ModbusMarkerMap, text: &str) -> Result<Vec<u16>, CodeError> {
    let TextEncoding::Ascii = map.encoding;
    if let Some((position, character)) = text
        .chars()
        .enumerate()
        .find(|(_, c)| !(' '..='~').contains(c))
    {
        return Err(CodeError::NotAscii {
            character,
            position,
        });
    }
    let capacity = map.code_capacity();
    if text.len() > capacity {
        return Err(CodeError::TooLong {
            len: text.len(),
            capacity,
        });
    }
    let mut bytes = text.as_bytes().to_vec();
    bytes.resize(capacity, map.padding.byte());
    Ok(bytes
        .chunks_exact(2)
        .map(|pair| match map.byte_order {
            Order::HighFirst => u16::from_be_bytes([pair[0], pair[1]]),
            Order::LowFirst => u16::from_le_bytes([pair[0], pair[1]]),
        })
        .collect())
}

/// Decodes the code field back into text: the inverse of [`encode_code`], trailing padding
/// (NUL, and spaces when the map pads with spaces) removed. Non-ASCII bytes are replaced.
pub fn decode_code(map: &ModbusMarkerMap, words: &[u16]) -> Result<String, CodeError> {
    if words.len() != usize::from(map.code_registers) {
        return Err(CodeError::WrongLength {
            got: words.len(),
            expected: usize::from(map.code_registers),
        });
    }
    let mut bytes: Vec<u8> = words
        .iter()
        .flat_map(|word| match map.byte_order {
            Order::HighFirst => word.to_be_bytes(),
            Order::LowFirst => word.to_le_bytes(),
        })
        .collect();
    // A NUL ends a C-string field whatever follows.
    if let Some(nul) = bytes.iter().position(|&b| b == 0) {
        bytes.truncate(nul);
    }
    let pad = map.padding.byte();
    while bytes.last() == Some(&pad) {
        bytes.pop();
    }
    Ok(bytes
        .iter()
        .map(|&b| {
            if b.is_ascii() {
                char::from(b)
            } else {
                '\u{fffd}'
            }
        })
        .collect())
}

/// The counter's raw value from its registers (one, or two in the map's word order).
pub fn counter_from_words(counter: &CounterMap, words: &[u16]) -> Option<u32> {
    match (counter.width, words) {
        (16, [word, ..]) => Some(u32::from(*word)),
        (_, [first, second, ..]) => {
            let (high, low) = match counter.word_order {
                Order::HighFirst => (*first, *second),
                Order::LowFirst => (*second, *first),
            };
            Some((u32::from(high) << 16) | u32::from(low))
        }
        _ => None,
    }
}

/// The counter's registers for `value` (modulo 2^width): what a device shows. The inverse of
/// [`counter_from_words`].
pub fn counter_to_words(counter: &CounterMap, value: u64) -> Vec<u16> {
    if counter.width == 16 {
        return vec![value as u16];
    }
    let (high, low) = ((value >> 16) as u16, value as u16);
    match counter.word_order {
        Order::HighFirst => vec![high, low],
        Order::LowFirst => vec![low, high],
    }
}

/// The status register's flags, as far as the map names bits for them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusFlags {
    /// Device fault.
    pub fault: bool,
    /// Ink or another consumable out.
    pub consumable_out: bool,
    /// Code buffer full.
    pub buffer_full: bool,
    /// A print-go found the buffer empty.
    pub empty_print_go: bool,
}

impl StatusFlags {
    /// Decodes the status register.
    pub fn decode(map: &ModbusMarkerMap, word: u16) -> Self {
        let bit = |bit: Option<u8>| bit.is_some_and(|b| b < 16 && word & (1 << b) != 0);
        Self {
            fault: bit(map.status.fault_bit),
            consumable_out: bit(map.status.consumable_out_bit),
            buffer_full: bit(map.status.buffer_full_bit),
            empty_print_go: bit(map.status.empty_print_go_bit),
        }
    }

    /// Encodes the status register: what a device shows.
    pub fn encode(&self, map: &ModbusMarkerMap) -> u16 {
        let mut word = 0u16;
        for (on, bit) in [
            (self.fault, map.status.fault_bit),
            (self.consumable_out, map.status.consumable_out_bit),
            (self.buffer_full, map.status.buffer_full_bit),
            (self.empty_print_go, map.status.empty_print_go_bit),
        ] {
            if let Some(bit) = bit.filter(|b| *b < 16)
                && on
            {
                word |= 1 << bit;
            }
        }
        word
    }

    /// The fault text for the controller, when the device cannot print.
    pub fn fault_detail(&self, map: &ModbusMarkerMap) -> Option<String> {
        let mut parts = Vec::new();
        if self.fault {
            parts.push(format!(
                "device fault (status bit {})",
                map.status.fault_bit.unwrap_or_default()
            ));
        }
        if self.consumable_out {
            parts.push(format!(
                "ink or consumable out (status bit {})",
                map.status.consumable_out_bit.unwrap_or_default()
            ));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// One poll's registers, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readings {
    /// The status flags.
    pub flags: StatusFlags,
    /// The counter, raw (modulo 2^width).
    pub counter: u32,
    /// Codes queued, when the map names a buffer count register.
    pub buffer_count: Option<u16>,
}

impl Readings {
    /// Decodes the blocks read for [`ModbusMarkerMap::reads`], one per read, in that order;
    /// `None` if a block is shorter than its read.
    pub fn decode(map: &ModbusMarkerMap, blocks: &[(Read, Vec<u16>)]) -> Option<Self> {
        let find = |table: RegisterTable, address: u16, count: u16| -> Option<&[u16]> {
            blocks.iter().find_map(|((t, first, n), words)| {
                let offset = usize::from(address.checked_sub(*first)?);
                let end = offset + usize::from(count);
                (*t == table && end <= usize::from(*n) && end <= words.len())
                    .then(|| &words[offset..end])
            })
        };
        let status = find(map.status.table, map.status.register, 1)?;
        let counter = find(
            map.counter.table,
            map.counter.register,
            map.counter.registers(),
        )?;
        let buffer_count = match map.status.buffer_count_register {
            Some(register) => Some(find(map.status.table, register, 1)?[0]),
            None => None,
        };
        Some(Self {
            flags: StatusFlags::decode(map, status[0]),
            counter: counter_from_words(&map.counter, counter)?,
            buffer_count,
        })
    }
}

/// Extends a device counter of `width` bits to u64 across its wrap. A counter that went up
/// keeps counting; one that came down either wrapped forwards — taken as such only when the step
/// round the wrap is small ([`MAX_WRAP_STEP`]) — or was reset (a power cycle): that steps back,
/// which the marker model reports as unconfirmed prints. Taking the short way round instead would
/// read a 16-bit counter reset from above 32,767 to 0 as thousands of prints, and confirm every
/// code in flight. The first reading is the start value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterTracker {
    width: u8,
    last: Option<(u32, u64)>,
}

/// The most prints taken to have happened across a wrap between two readings: 100 units/s
/// for 10 s, far more than a poll or a reconnection ever sees.
pub const MAX_WRAP_STEP: u32 = 1_000;

impl CounterTracker {
    /// A tracker for a counter of `width` bits (16 or 32).
    pub fn new(width: u8) -> Self {
        Self { width, last: None }
    }

    /// The extended value of `raw`, read after the previous reading.
    pub fn extend(&mut self, raw: u32) -> u64 {
        let value = match self.last {
            None => u64::from(raw),
            Some((prev_raw, prev)) if raw >= prev_raw => prev + u64::from(raw - prev_raw),
            Some((prev_raw, prev)) => {
                let round = if self.width == 16 {
                    u32::from(raw.wrapping_sub(prev_raw) as u16)
                } else {
                    raw.wrapping_sub(prev_raw)
                };
                if round <= MAX_WRAP_STEP {
                    prev + u64::from(round)
                } else {
                    prev.saturating_sub(u64::from(prev_raw - raw))
                }
            }
        };
        self.last = Some((raw, value));
        value
    }
}

/// A Modbus exception code (Modbus Application Protocol V1.1b3 §7) with its name, for refusals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exception(pub u8);

impl fmt::Display for Exception {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            0x01 => "illegal function",
            0x02 => "illegal data address",
            0x03 => "illegal data value",
            0x04 => "server device failure",
            0x05 => "acknowledge",
            0x06 => "server device busy",
            0x08 => "memory parity error",
            0x0A => "gateway path unavailable",
            0x0B => "gateway target device failed to respond",
            _ => "unknown exception",
        };
        write!(f, "exception {:02X}h {name}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::super::map::{Padding, StatusMap};
    use super::*;

    fn small(byte_order: Order, padding: Padding) -> ModbusMarkerMap {
        ModbusMarkerMap {
            code_registers: 3,
            byte_order,
            padding,
            ..ModbusMarkerMap::default()
        }
    }

    #[test]
    fn code_is_packed_two_characters_per_register_in_the_byte_order() {
        let high = small(Order::HighFirst, Padding::Nul);
        assert_eq!(encode_code(&high, "ABC"), Ok(vec![0x4142, 0x4300, 0x0000]));
        let low = small(Order::LowFirst, Padding::Space);
        assert_eq!(encode_code(&low, "ABC"), Ok(vec![0x4241, 0x2043, 0x2020]));
        for map in [high, low] {
            let words = encode_code(&map, "A1 b").unwrap();
            assert_eq!(decode_code(&map, &words).unwrap(), "A1 b".trim_end());
        }
    }

    #[test]
    fn codes_that_do_not_fit_are_refused() {
        let map = small(Order::HighFirst, Padding::Nul);
        assert_eq!(
            encode_code(&map, "1234567"),
            Err(CodeError::TooLong {
                len: 7,
                capacity: 6
            })
        );
        assert_eq!(
            encode_code(&map, "Aé"),
            Err(CodeError::NotAscii {
                character: 'é',
                position: 1
            })
        );
        assert!(
            encode_code(&map, "A\u{1d}B").is_err(),
            "GS is not printable"
        );
        assert!(decode_code(&map, &[0; 2]).is_err());
    }

    #[test]
    fn counters_in_both_word_orders_and_widths() {
        let mut counter = CounterMap::default();
        assert_eq!(
            counter_from_words(&counter, &[0x0001, 0x0002]),
            Some(0x1_0002)
        );
        assert_eq!(counter_to_words(&counter, 0x1_0002), vec![1, 2]);
        counter.word_order = Order::LowFirst;
        assert_eq!(
            counter_from_words(&counter, &[0x0002, 0x0001]),
            Some(0x1_0002)
        );
        assert_eq!(counter_to_words(&counter, 0x7_0001_0002), vec![2, 1]);
        counter.width = 16;
        assert_eq!(counter_from_words(&counter, &[0xFFFF]), Some(0xFFFF));
        assert_eq!(counter_to_words(&counter, 0x1_0005), vec![5]);
        assert_eq!(counter_from_words(&CounterMap::default(), &[1]), None);
    }

    #[test]
    fn counter_extends_across_the_wrap_and_steps_back_on_reset() {
        let mut tracker = CounterTracker::new(16);
        assert_eq!(tracker.extend(65_530), 65_530);
        assert_eq!(tracker.extend(4), 65_540);
        assert_eq!(tracker.extend(1), 65_537, "a reset steps back");
        let mut tracker = CounterTracker::new(32);
        assert_eq!(tracker.extend(u32::MAX), u64::from(u32::MAX));
        assert_eq!(tracker.extend(1), 1 << 32 | 1);
        // A 16-bit counter reset from above half its range is a reset, not 25,536 prints.
        let mut tracker = CounterTracker::new(16);
        assert_eq!(tracker.extend(40_000), 40_000);
        assert_eq!(
            tracker.extend(0),
            0,
            "steps back: the prints in flight are unconfirmed"
        );
    }

    #[test]
    fn status_bits_decode_and_encode() {
        let map = ModbusMarkerMap::default();
        let flags = StatusFlags::decode(&map, 0b1010);
        assert!(flags.consumable_out && flags.empty_print_go);
        assert!(!flags.fault && !flags.buffer_full);
        assert_eq!(flags.encode(&map), 0b1010);
        assert_eq!(
            flags.fault_detail(&map).as_deref(),
            Some("ink or consumable out (status bit 1)")
        );
        let without = ModbusMarkerMap {
            status: StatusMap {
                consumable_out_bit: None,
                ..StatusMap::default()
            },
            ..ModbusMarkerMap::default()
        };
        assert_eq!(
            StatusFlags::decode(&without, 0b1010).fault_detail(&without),
            None
        );
    }

    #[test]
    fn readings_come_from_the_blocks_of_the_reads() {
        let map = ModbusMarkerMap::default();
        let reads = map.reads();
        let blocks = vec![(reads[0], vec![0b0100, 0x0001, 0x0002, 7])];
        let readings = Readings::decode(&map, &blocks).unwrap();
        assert!(readings.flags.buffer_full);
        assert_eq!(
            (readings.counter, readings.buffer_count),
            (0x1_0002, Some(7))
        );
        let short = vec![(reads[0], vec![0, 0])];
        assert_eq!(Readings::decode(&map, &short), None);
    }

    #[test]
    fn exceptions_are_named() {
        assert_eq!(Exception(6).to_string(), "exception 06h server device busy");
        assert_eq!(
            Exception(0x0B).to_string(),
            "exception 0Bh gateway target device failed to respond"
        );
    }
}
