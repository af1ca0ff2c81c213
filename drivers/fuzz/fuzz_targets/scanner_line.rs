//! Whatever a hand scanner's link delivers, the line decoder and the line parser must give
//! scans or clean errors, never a panic; every scan re-encodes to a line that parses to the
//! same scan.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracemark_drivers::scanner::{LineDecoder, ParseOptions, parse_line};

fuzz_target!(|data: &[u8]| {
    let require = data.first().is_some_and(|b| b & 1 == 0);
    let options = ParseOptions {
        require_identifier: require,
    };
    let mut decoder = LineDecoder::new();
    for line in decoder.push_slice(data) {
        let Ok(line) = line else {
            continue;
        };
        let Ok(scan) = parse_line(&line, options) else {
            continue;
        };
        let _ = scan.symbology.map(|s| (s.name(), s.is_gs1(), s.to_string()));
        let again = LineDecoder::new().push_slice(&scan.to_line());
        assert_eq!(again.len(), 1);
        let reparsed = again[0]
            .as_ref()
            .ok()
            .and_then(|line| parse_line(line, options).ok());
        assert_eq!(reparsed.as_ref(), Some(&scan));
    }
});
