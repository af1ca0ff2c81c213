//! Whatever a label printer line delivers — noise, cut strings, lost ETXs, bad fields — the ZPL
//! reply decoder must give `~HS` replies, SGD values or clean errors, never a panic; every status
//! it accepts must encode back to bytes that decode to the same status. The same input, taken as
//! field data, must leave the `^FH` escaping with no command prefix or control byte and decode
//! back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracemark_drivers::zpl::codec::{HEX_INDICATOR, decode_field_hex, encode_field_data};
use tracemark_drivers::zpl::reply::{Reply, ReplyDecoder};

fuzz_target!(|data: &[u8]| {
    let mut decoder = ReplyDecoder::new();
    for result in decoder.push_slice(data) {
        match result {
            Ok(Reply::HostStatus(status)) => {
                let again = ReplyDecoder::new().push_slice(&status.encode());
                assert_eq!(again, vec![Ok(Reply::HostStatus(status))]);
            }
            Ok(Reply::Value(value)) => {
                assert!(!value.contains(['"', '\r', '\n']));
                let quoted = format!("\"{value}\"");
                let again = ReplyDecoder::new().push_slice(quoted.as_bytes());
                assert_eq!(again, vec![Ok(Reply::Value(value))]);
            }
            Err(error) => {
                let _ = error.to_string();
            }
        }
    }

    let mut field = Vec::new();
    encode_field_data(&mut field, data);
    let payload = if let Some(escaped) = field.strip_prefix(b"^FH_^FD") {
        let escaped = escaped.strip_suffix(b"^FS").expect("closed by ^FS");
        assert_eq!(decode_field_hex(escaped, HEX_INDICATOR), data);
        escaped
    } else {
        let plain = field
            .strip_prefix(b"^FD")
            .and_then(|rest| rest.strip_suffix(b"^FS"))
            .expect("^FD…^FS");
        assert_eq!(plain, data);
        plain
    };
    assert!(
        !payload
            .iter()
            .any(|&b| b == b'^' || b == b'~' || b < 0x20 || b == 0x7F),
        "a prefix or control byte left in {payload:?}"
    );
});
