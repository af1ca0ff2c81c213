//! The Modbus register marker's status decoder (docs/protocols/modbus-marker.md): arbitrary
//! register values (big-endian words as on the Modbus wire) decoded as poll blocks under the
//! default map and a 16-bit, word- and byte-swapped holding-register map, and fed through the
//! counter tracker in sequence. Whatever the device answers, decoding never panics, a short
//! block is refused, the flags re-encode to the status bits they came from, and the extended
//! counter stays the reading plus whole turns, crossing the wrap forwards only by a small step.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracemark_drivers::modbus_marker::ModbusMarkerMap;
use tracemark_drivers::modbus_marker::codec::{
    CounterTracker, MAX_WRAP_STEP, Readings, StatusFlags, decode_code, encode_code,
};
use tracemark_drivers::modbus_marker::map::{CounterMap, Order, RegisterTable, StatusMap};

fuzz_target!(|data: &[u8]| {
    let words: Vec<u16> = data
        .chunks_exact(2)
        .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
        .collect();
    let swapped = ModbusMarkerMap {
        byte_order: Order::LowFirst,
        counter: CounterMap {
            table: RegisterTable::Holding,
            register: 40,
            width: 16,
            word_order: Order::LowFirst,
        },
        status: StatusMap {
            table: RegisterTable::Holding,
            register: 41,
            fault_bit: Some(15),
            consumable_out_bit: None,
            buffer_full_bit: Some(7),
            empty_print_go_bit: Some(0),
            buffer_count_register: Some(44),
        },
        ..ModbusMarkerMap::default()
    };
    for map in [ModbusMarkerMap::default(), swapped] {
        let reads = map.reads();
        let mut tracker = CounterTracker::new(map.counter.width);
        let mut last: Option<(u64, u32)> = None;
        let mut rest = words.as_slice();
        while !rest.is_empty() {
            let blocks: Vec<_> = reads
                .iter()
                .map(|read| {
                    let take = rest.len().min(usize::from(read.2));
                    let (block, tail) = rest.split_at(take);
                    rest = tail;
                    (*read, block.to_vec())
                })
                .collect();
            let whole = blocks
                .iter()
                .all(|((_, _, count), block)| block.len() == usize::from(*count));
            let Some(readings) = Readings::decode(&map, &blocks) else {
                assert!(!whole, "a whole poll decodes");
                continue;
            };
            assert!(whole, "a short block is refused");
            let status_word = blocks[0].1[usize::from(map.status.register - reads[0].1)];
            let again = StatusFlags::decode(&map, readings.flags.encode(&map));
            assert_eq!(again, readings.flags);
            assert_eq!(readings.flags.encode(&map) & !status_word, 0);
            let raw = readings.counter;
            let value = tracker.extend(raw);
            // The extended counter is the reading plus whole turns of the counter.
            let turn = 1u64 << map.counter.width;
            assert_eq!(value % turn, u64::from(raw));
            assert!(value >= u64::from(raw));
            // A step forward across the wrap is a small one; anything else down is a reset.
            if let Some((previous, previous_raw)) = last
                && raw < previous_raw
                && value > previous
            {
                assert!(value - previous <= u64::from(MAX_WRAP_STEP));
            }
            last = Some((value, raw));
        }
        // The code field: any words decode; text that fits encodes and decodes back.
        let field = usize::from(map.code_registers);
        if words.len() >= field {
            let text = decode_code(&map, &words[..field]).expect("right length");
            if let Ok(encoded) = encode_code(&map, &text) {
                assert_eq!(decode_code(&map, &encoded).expect("right length"), text);
            }
        }
    }
});
