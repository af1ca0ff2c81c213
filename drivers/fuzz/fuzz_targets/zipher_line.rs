//! Whatever a coder's line delivers, the Zipher-style line decoder and reply parsers must give
//! values or clean errors, never a panic; every reply that parses must encode back to a line
//! that parses to the same reply.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracemark_drivers::zipher::codec::{
    LineDecoder, MachineState, Response, decode_faults, decode_number,
};

fuzz_target!(|data: &[u8]| {
    let mut decoder = LineDecoder::new();
    for line in decoder.push_slice(data) {
        let Ok(line) = line else {
            continue;
        };
        let Ok(response) = Response::parse(&line) else {
            continue;
        };
        let encoded = response.encode();
        let again = LineDecoder::new().push_slice(&encoded);
        assert_eq!(again.len(), 1);
        let reparsed = again[0]
            .as_ref()
            .ok()
            .and_then(|line| Response::parse(line).ok());
        assert_eq!(reparsed.as_ref(), Some(&response));
        if let Ok(state) = MachineState::decode(&response) {
            assert_eq!(state.encode(), response);
        }
        let _ = decode_faults(&response);
        let _ = decode_number(&response, "SLR");
    }
});
