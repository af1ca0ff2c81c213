//! Whatever a printer line delivers — noise, half packets, damaged replies — the Codenet
//! decoder must give packets or clean errors in either direction, never a panic; every packet it
//! accepts must encode back to bytes that decode to the same packet, every command that parses
//! must encode back to its body, and the reply parsers must not panic (and re-encode what they
//! accept).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracemark_drivers::codenet::frame::{Direction, Packet, PacketDecoder};
use tracemark_drivers::codenet::message::{
    Command, Identity, PrintEnable, PrinterStatus, ProductCount, StatusCode,
};

fuzz_target!(|data: &[u8]| {
    for direction in [Direction::Replies, Direction::Commands] {
        let mut decoder = PacketDecoder::new(direction);
        for result in decoder.push_slice(data) {
            let Ok(packet) = result else {
                continue;
            };
            let again = PacketDecoder::new(direction).push_slice(&packet.encode());
            assert_eq!(again, vec![Ok(packet.clone())]);
            let Packet::Frame(body) = packet else {
                continue;
            };
            if let Ok(command) = Command::parse(&body) {
                assert_eq!(command.body(), body);
                assert_eq!(Command::parse(&command.body()), Ok(command));
            }
            if direction == Direction::Replies {
                if let Ok(reply) = PrintEnable::parse(&body) {
                    assert_eq!(reply.body(), body);
                }
                if let Ok(reply) = ProductCount::parse(&body) {
                    assert_eq!(reply.body(), body);
                }
                if let Ok(reply) = PrinterStatus::parse(&body) {
                    assert_eq!(reply.body(), body);
                }
                if let Ok(reply) = StatusCode::parse(&body) {
                    assert_eq!(reply.body(), body);
                }
                if let Ok(reply) = Identity::parse(&body) {
                    assert_eq!(reply.body(), body);
                }
            }
        }
    }
});
