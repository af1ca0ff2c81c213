//! Codenet golden vectors. CS00145's command pages were not readable in the public copies, so
//! the vectors marked [OPEN] are the commands an open-source line controller sends to Domino
//! A-Series printers, quoted from its source (`TotalSmartCoding`, `InkjetDominoPrinterBLL.cs`
//! and `PrinterController.cs`: `ESC/A/?/EOT`, `ESC/O/1/?/EOT`, `ESC/Q/1/Y/EOT`,
//! `ESC/P/1/001/EOT`, `ESC/T/1/?/EOT`, `ESC/T/1/0/EOT`, `ESC/O/E/0000/0/EOT`, with every `/`
//! stripped before sending), and the reply shapes it parses (ACK, NAK + 3 digits, `ESC Q 1 Y
//! EOT`, `ESC T 1 <10 digits> EOT`, the lamp byte at offset 7). Vectors marked [tracemark] follow
//! those rules with values tracemark chose (see `docs/protocols/codenet.md`). Codenet has no
//! checksum: each vector is decoded whole and byte by byte, and its framing is corrupted to
//! show the decoder reports what and where.

use tracemark_drivers::codenet::DEFAULT_QUEUE_FULL_NAK;
use tracemark_drivers::codenet::frame::{
    Direction, EOT, FrameErrorKind, NakCode, Packet, PacketDecoder,
};
use tracemark_drivers::codenet::message::{
    Command, ExternalData, MessageError, MessageNumber, PrintEnable, PrinterStatus, ProductCount,
    StatusCode,
};

/// Decodes `wire` whole and byte by byte in `direction`; both must give exactly one packet, the
/// second only on the last byte. It must encode back to the same bytes.
fn decode_two_ways(direction: Direction, wire: &[u8]) -> Packet {
    let whole = PacketDecoder::new(direction).push_slice(wire);
    assert_eq!(whole.len(), 1, "whole: {whole:?}");
    let packet = whole[0].clone().expect("whole packet decodes");

    let mut decoder = PacketDecoder::new(direction);
    let (last, head) = wire.split_last().expect("non-empty vector");
    for (offset, &byte) in head.iter().enumerate() {
        assert!(
            decoder.push(byte).is_empty(),
            "no packet before the last byte (at {offset})"
        );
    }
    assert_eq!(decoder.push(*last), vec![Ok(packet.clone())]);
    assert_eq!(packet.encode(), wire, "re-encodes to the same bytes");
    packet
}

/// A frame that lost its EOT yields nothing: the decoder waits inside the packet.
fn lost_eot_waits(direction: Direction, wire: &[u8]) {
    assert_eq!(wire.last(), Some(&EOT));
    let mut decoder = PacketDecoder::new(direction);
    assert!(decoder.push_slice(&wire[..wire.len() - 1]).is_empty());
    assert!(decoder.in_packet());
}

fn command(wire: &[u8]) -> Command {
    let Packet::Frame(body) = decode_two_ways(Direction::Commands, wire) else {
        panic!("a command is a frame");
    };
    lost_eot_waits(Direction::Commands, wire);
    let command = Command::parse(&body).expect("command parses");
    assert_eq!(command.to_packet().encode(), wire);
    command
}

/// A data reply: decoded two ways, and with its EOT replaced by a NUL the decoder reports a
/// damaged reply at that byte.
fn data_reply(wire: &[u8]) -> Vec<u8> {
    let Packet::Frame(body) = decode_two_ways(Direction::Replies, wire) else {
        panic!("a data reply is a frame");
    };
    lost_eot_waits(Direction::Replies, wire);
    let mut corrupted = wire.to_vec();
    let end = corrupted.len() - 1;
    corrupted[end] = 0x00;
    let out = PacketDecoder::replies().push_slice(&corrupted);
    assert_eq!(out.len(), 1);
    let error = out[0].clone().expect_err("a NUL inside a reply is refused");
    assert_eq!(error.kind(), &FrameErrorKind::UnexpectedByte { byte: 0x00 });
    assert_eq!(error.offset(), end as u64);
    assert_eq!(error.packet_offset(), 0);
    assert!(error.to_string().contains("bad Codenet reply"), "{error}");
    body
}

#[test]
fn printer_identity_request() {
    // [OPEN InkjetDominoPrinterBLL.cs: `ESC/A/?/EOT`, "A: Printer Identity"]
    let wire = [
        0x1B, // ESC: start of frame
        0x41, // 'A': printer identity
        0x3F, // '?': a query
        0x04, // EOT: end of frame
    ];
    assert_eq!(command(&wire), Command::Identity);
}

#[test]
fn current_status_request_and_reply() {
    // [OPEN: `ESC/O/1/?/EOT`, "O/1: Current status"]
    let request = [
        0x1B, // ESC
        0x4F, 0x31, // 'O' '1': current status
        0x3F, // '?': a query
        0x04, // EOT
    ];
    assert_eq!(command(&request), Command::QueryStatus);
    // [OPEN lfStatusLED reads the lamp bits from frame byte 7; bytes 3–6 tracemark fills]
    let reply = [
        0x1B, // ESC
        0x4F, 0x31, // 'O' '1': answers the current-status query
        0x30, 0x30, 0x30, 0x30, // four bytes tracemark does not interpret [tracemark]
        0x31, // lamp byte: bit 0 green (ASCII '1') — ready
        0x04, // EOT
    ];
    let status = PrinterStatus::parse(&data_reply(&reply)).unwrap();
    assert!(status.green() && !status.amber() && !status.red() && status.ready());
    assert_eq!(status.body(), &reply[1..8]);
}

#[test]
fn print_enable_and_its_query() {
    // [OPEN: `ESC/Q/1/Y/EOT`, "Q: HEAD ENABLE"]
    let enable = [
        0x1B, // ESC
        0x51, // 'Q': head (print) enable
        0x31, // '1': head 1
        0x59, // 'Y': enable
        0x04, // EOT
    ];
    assert_eq!(command(&enable), Command::SetPrintEnable(true));
    // [tracemark] the same with 'N' to disable.
    let disable = [0x1B, 0x51, 0x31, 0x4E, 0x04];
    assert_eq!(command(&disable), Command::SetPrintEnable(false));
    // [OPEN: `ESC/Q/1/?/EOT`, answered `ESC Q 1 Y EOT` (byte 3 is 'Y' when enabled)]
    let query = [0x1B, 0x51, 0x31, 0x3F, 0x04];
    assert_eq!(command(&query), Command::QueryPrintEnable);
    let reply = [
        0x1B, // ESC
        0x51, 0x31, // 'Q' '1': answers the head-1 enable query
        0x59, // 'Y': printing enabled
        0x04, // EOT
    ];
    assert_eq!(
        PrintEnable::parse(&data_reply(&reply)),
        Ok(PrintEnable(true))
    );
}

#[test]
fn message_to_head_assignment() {
    // [OPEN: `ESC/P/1/001/EOT`, "P: Message To Head Assignment"]
    let wire = [
        0x1B, // ESC
        0x50, // 'P': message to head assignment
        0x31, // '1': head 1
        0x30, 0x30, 0x31, // "001": stored message number 1
        0x04, // EOT
    ];
    assert_eq!(
        command(&wire),
        Command::AssignMessage(MessageNumber::new(1).unwrap())
    );
}

#[test]
fn product_count_query_reset_and_reply() {
    // [OPEN PrinterController.cs: `ESC/T/1/?/EOT`, "T: READ Product Counting"]
    let query = [
        0x1B, // ESC
        0x54, // 'T': product count
        0x31, // '1': head 1
        0x3F, // '?': read it
        0x04, // EOT
    ];
    assert_eq!(command(&query), Command::QueryProductCount);
    // [OPEN: `ESC/T/1/0/EOT`, "T: Reset Product Counting"]
    let reset = [0x1B, 0x54, 0x31, 0x30, 0x04];
    assert_eq!(command(&reset), Command::ResetProductCount);
    // [OPEN: "Response to ?: Esc/T/A/NNNNNNNNNN/Eot … Return 10 digit", read as frame bytes
    // 3–12; byte 2 echoes the head, tracemark sends '1']
    let reply = [
        0x1B, // ESC
        0x54, 0x31, // 'T' '1': answers the head-1 product count
        0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x34, 0x32, // "0000000042"
        0x04, // EOT
    ];
    assert_eq!(ProductCount::parse(&data_reply(&reply)).unwrap().get(), 42);
    assert_eq!(ProductCount::new(42).body(), &reply[1..13]);
}

#[test]
fn empty_the_external_data_queue() {
    // [OPEN PrinterController.cs: `ESC/O/E/0000/0/EOT`, "EMPTY DATA QUEUE"]
    let wire = [
        0x1B, // ESC
        0x4F, 0x45, // 'O' 'E': external data
        0x30, 0x30, 0x30, 0x30, // length "0000"
        0x30, // '0': with length 0000, empty the queue
        0x04, // EOT
    ];
    assert_eq!(command(&wire), Command::ClearExternalData);
}

#[test]
fn one_code_into_the_external_data_queue() {
    // [tracemark] after [OPEN]: `ESC/O/E/0065/<fields separated by ;>/EOT`, the length being
    // the data's byte count.
    let wire = [
        0x1B, // ESC
        0x4F, 0x45, // 'O' 'E': external data
        0x30, 0x30, 0x30, 0x38, // length "0008"
        0x28, 0x32, 0x31, 0x29, 0x53, 0x30, 0x30, 0x31, // "(21)S001": the code, one field
        0x04, // EOT
    ];
    let expected = Command::ExternalData(ExternalData::single_field("(21)S001").unwrap());
    assert_eq!(command(&wire), expected);

    // Corrupted framing: the length field no longer matches the data.
    let mut corrupted = wire.to_vec();
    corrupted[6] = 0x39; // length "0009"
    let out = PacketDecoder::commands().push_slice(&corrupted);
    let Ok(Packet::Frame(body)) = &out[0] else {
        panic!("still a frame: {out:?}");
    };
    let error = Command::parse(body).unwrap_err();
    assert_eq!(
        error,
        MessageError::LengthMismatch {
            declared: 9,
            actual: 8
        }
    );
    assert_eq!(
        error.to_string(),
        "external data (OE) declares 9 bytes but carries 8"
    );

    // A stray EOT inside the data ends the frame early: the rest is noise until the next ESC.
    let mut cut = wire.to_vec();
    cut[9] = EOT;
    let out = PacketDecoder::commands().push_slice(&cut);
    assert_eq!(out.len(), 1);
    let Ok(Packet::Frame(body)) = &out[0] else {
        panic!("a frame: {out:?}");
    };
    assert_eq!(
        Command::parse(body),
        Err(MessageError::LengthMismatch {
            declared: 8,
            actual: 2
        })
    );
}

#[test]
fn a_lost_eot_merges_two_commands_into_one_the_printer_refuses() {
    // Commands may carry ESC (embedded commands in message text), so only EOT ends them.
    let mut wire = vec![0x1B, 0x51, 0x31, 0x59]; // ESC Q 1 Y, EOT lost
    wire.extend_from_slice(&[0x1B, 0x54, 0x31, 0x3F, 0x04]); // ESC T 1 ? EOT
    let out = PacketDecoder::commands().push_slice(&wire);
    assert_eq!(out.len(), 1);
    let Ok(Packet::Frame(body)) = &out[0] else {
        panic!("a frame: {out:?}");
    };
    assert_eq!(
        Command::parse(body),
        Ok(Command::Other(b"Q1Y\x1bT1?".to_vec()))
    );
}

#[test]
fn ack() {
    // [OPEN GlobalVariables.cs `charACK = 6`: a command accepted]
    let wire = [0x06];
    assert_eq!(decode_two_ways(Direction::Replies, &wire), Packet::Ack);
    // Host → printer, an ACK byte is noise.
    assert!(PacketDecoder::commands().push_slice(&wire).is_empty());
}

#[test]
fn nak_with_its_code() {
    // [OPEN: "[0]: NACK + [1][2][3]: 3 Digit --- Error Code"]; 040 is tracemark's queue-full
    // placeholder [tracemark].
    let wire = [
        0x15, // NAK: command refused
        0x30, 0x34, 0x30, // "040": the error code
    ];
    let packet = decode_two_ways(Direction::Replies, &wire);
    assert_eq!(packet, Packet::Nak(DEFAULT_QUEUE_FULL_NAK));
    assert_eq!(NakCode::parse("040"), Some(DEFAULT_QUEUE_FULL_NAK));

    // Corrupted: a digit lost, the next reply's first byte arrives where it should be.
    let corrupted = [0x15, 0x30, 0x34, 0x06];
    let out = PacketDecoder::replies().push_slice(&corrupted);
    assert_eq!(out.len(), 2);
    let error = out[0].clone().unwrap_err();
    assert_eq!(error.kind(), &FrameErrorKind::BadNakCode { byte: 0x06 });
    assert_eq!((error.packet_offset(), error.offset()), (0, 3));
    assert_eq!(out[1], Ok(Packet::Ack), "the ACK still decodes");
}

#[test]
fn status_code_reply() {
    // [OPEN: `ESC/1/C/?/EOT` "REQUEST CURRENT STATUS", reply of 12 bytes whose bytes 3–5 are
    // the status ("000" ready); the 5 bytes after them tracemark does not interpret]
    let request = [0x1B, 0x31, 0x43, 0x3F, 0x04];
    assert_eq!(command(&request), Command::QueryStatusCode);
    let reply = [
        0x1B, // ESC
        0x31, 0x43, // '1' 'C': answers the current-status-code query
        0x30, 0x30, 0x30, // "000": ready
        0x30, 0x30, 0x30, 0x30, 0x30, // not interpreted [tracemark]
        0x04, // EOT
    ];
    let code = StatusCode::parse(&data_reply(&reply)).unwrap();
    assert_eq!(code.code(), "000");
    assert_eq!(code.body(), &reply[1..11]);
}

#[test]
fn replies_in_any_chunking_and_noise_between_them() {
    let mut wire = b"\x00noise\x1c".to_vec();
    wire.push(0x06);
    wire.extend_from_slice(b"\x1bT10000000007\x04\x15040");
    let expected = vec![
        Ok(Packet::Ack),
        Ok(Packet::Frame(b"T10000000007".to_vec())),
        Ok(Packet::Nak(DEFAULT_QUEUE_FULL_NAK)),
    ];
    for chunk in 1..=wire.len() {
        let mut decoder = PacketDecoder::replies();
        let out: Vec<_> = wire
            .chunks(chunk)
            .flat_map(|piece| decoder.push_slice(piece))
            .collect();
        assert_eq!(out, expected, "chunks of {chunk}");
        assert_eq!(decoder.skipped_bytes(), 7);
    }
}
