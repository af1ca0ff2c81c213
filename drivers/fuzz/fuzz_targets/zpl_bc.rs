//! Any `^BC` field data a printer could be sent must read as Code 128 symbol characters or a
//! clean error, never a panic, and draw bars of whole symbol characters; any element string
//! tracemark writes as field data must read back to exactly its bytes (start C or B, FNC1,
//! then the data with GS as FNC1), whatever its digit runs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracemark_drivers::zpl::bc::{BcError, field_data, modules, symbol_characters};

fuzz_target!(|data: &[u8]| {
    if let Ok(characters) = symbol_characters(data) {
        assert_eq!(modules(&characters).len(), (characters.len() + 1) * 11 + 13);
    }
    let Ok(field) = field_data(data) else {
        return;
    };
    let characters = match symbol_characters(&field) {
        Ok(characters) => characters,
        // Longer than any GS1-128 symbol: refused, not misread.
        Err(BcError::TooLong(_)) => return,
        Err(error) => panic!("tracemark's own field data does not read: {error}"),
    };
    // Decode the characters back to bytes, as a scanner transmits them.
    let mut out = Vec::new();
    let mut subset = characters[0];
    for &value in &characters[2..] {
        match (subset, value) {
            (_, 102) => out.push(0x1D),
            (105, 100) => subset = 104,
            (104, 99) => subset = 105,
            (105, v) => out.extend_from_slice(format!("{v:02}").as_bytes()),
            (_, v) => out.push(v + 0x20),
        }
    }
    assert_eq!(out, data);
});
