//! Scanner output and typed codes: whatever a reader or an operator sends must give a value or a
//! clean error, never a panic, and every accepted GS1 code must survive conversion to its other
//! forms and back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracemark_codes::gs1::{self, DEFAULT_DOMAIN};
use tracemark_codes::scheme::{SchemeOptions, parse_any};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_any(text, &SchemeOptions::default());
    if let Ok(scan) = gs1::parse(text) {
        let code = scan.code;
        assert_eq!(gs1::parse_hri(&code.to_hri()).as_ref(), Ok(&code));
        assert_eq!(gs1::parse_element_string(&code.to_element_string(), 0).as_ref(), Ok(&code));
        if let Ok(uri) = code.to_digital_link(DEFAULT_DOMAIN) {
            let back = gs1::parse_digital_link(&uri).expect("own Digital Link URI parses");
            assert_eq!(back.to_digital_link(DEFAULT_DOMAIN).as_deref(), Ok(uri.as_str()));
        }
    }
    let _ = gs1::parse_digital_link(text);
});
