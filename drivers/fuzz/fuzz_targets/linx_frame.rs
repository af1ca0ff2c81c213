//! Whatever a printer line delivers — noise, half packets, bad checksums — the Linx RCI decoder
//! must give packets or clean errors, never a panic; every packet it accepts must encode back
//! to bytes that decode to the same packet, and the typed parsers must not panic on its body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracemark_drivers::linx::frame::FrameDecoder;
use tracemark_drivers::linx::message::{self, Command, PrintCounts, PrinterStatus, Reply};

fuzz_target!(|data: &[u8]| {
    let mut decoder = FrameDecoder::new();
    for result in decoder.push_slice(data) {
        let Ok(frame) = result else {
            continue;
        };
        let again = FrameDecoder::new().push_slice(&frame.encode());
        assert_eq!(again, vec![Ok(frame.clone())]);
        if let Ok(reply) = Reply::from_frame(&frame) {
            assert_eq!(reply.to_frame(), frame);
            let _ = PrinterStatus::decode(reply.data());
            let _ = PrintCounts::decode(reply.data());
        }
        if let Ok(command) = Command::from_frame(&frame) {
            assert_eq!(command.to_frame(), frame);
            let _ = message::decode_remote_data(command.data());
            let _ = message::decode_message_name(command.data());
        }
    }
});
