//! Linx RCI golden vectors. Those marked [RCI-E] are the manual's worked examples (appendix E)
//! as quoted byte by byte in the open iPlus driver (`iplus-framework/iPlus`,
//! `gip.core.reporthandler/Linx/LinxPrinter_RCI_Impl.cs`,
//! `LinxPrinterCompleteStatusResponse.cs`); the others are built by tracemark from the rules
//! those examples show, with the checksum worked out by hand in the comment. Each vector is
//! decoded whole, byte by byte, and with its checksum corrupted, and encoded back from the
//! typed message.

use tracemark_drivers::linx::frame::{Frame, FrameDecoder, FrameErrorKind, FrameKind};
use tracemark_drivers::linx::message::{
    self, Command, CommandStatus, JetState, PrintCounts, PrintState, PrinterStatus, Reply, command,
};

/// Decodes `wire` whole and byte by byte; both must give exactly one frame, the second only on
/// the last byte. Corrupting the checksum must give a checksum error at the last byte.
fn decode_three_ways(wire: &[u8]) -> Frame {
    let whole = FrameDecoder::new().push_slice(wire);
    assert_eq!(whole.len(), 1, "whole: {whole:?}");
    let frame = whole[0].clone().expect("whole packet decodes");

    let mut decoder = FrameDecoder::new();
    let (last, head) = wire.split_last().expect("non-empty vector");
    for (offset, &byte) in head.iter().enumerate() {
        assert_eq!(
            decoder.push(byte),
            None,
            "no frame before the last byte (at {offset})"
        );
    }
    assert_eq!(decoder.push(*last), Some(Ok(frame.clone())));

    let mut corrupted = wire.to_vec();
    let index = corrupted.len() - 1;
    corrupted[index] = corrupted[index].wrapping_add(1);
    let out = FrameDecoder::new().push_slice(&corrupted);
    assert_eq!(out.len(), 1);
    let error = out[0].clone().expect_err("corrupted checksum is refused");
    assert_eq!(
        error.kind(),
        &FrameErrorKind::Checksum {
            expected: *last,
            found: last.wrapping_add(1)
        }
    );
    assert_eq!(error.offset(), index as u64);
    assert_eq!(error.frame_offset(), 0);
    assert!(error.to_string().contains("checksum byte is"), "{error}");

    assert_eq!(frame.encode(), wire, "re-encodes to the same bytes");
    frame
}

#[test]
fn start_print_command() {
    // [RCI-E E.1.10 Start Print Command]
    let wire = [
        0x1B, 0x02, // ESC STX: a command packet
        0x11, // command ID: Start Print
        0x1B, 0x03, // ESC ETX: end of packet
        0xEA, // checksum: -(02 + 11 + 03) = -16h = EAh
    ];
    let frame = decode_three_ways(&wire);
    let command = Command::from_frame(&frame).unwrap();
    assert_eq!(command, Command::bare(command::START_PRINT));
    assert_eq!(command.to_frame().encode(), wire);
}

#[test]
fn start_print_reply() {
    // [RCI-E E.1.10, printer reply]
    let wire = [
        0x1B, 0x06, // ESC ACK: command accepted
        0x00, // P-status: no printer errors
        0x00, // C-status: no command errors
        0x11, // command ID answered: Start Print
        0x1B, 0x03, // ESC ETX
        0xE6, // checksum: -(06 + 00 + 00 + 11 + 03) = -1Ah = E6h
    ];
    let frame = decode_three_ways(&wire);
    assert_eq!(frame.kind(), FrameKind::Ack);
    let reply = Reply::from_frame(&frame).unwrap();
    assert!(reply.accepted());
    assert_eq!(reply.printer_status(), 0);
    assert_eq!(reply.command_status(), CommandStatus::OK);
    assert_eq!(reply.command(), command::START_PRINT);
    assert_eq!(
        Reply::ok(command::START_PRINT, Vec::new())
            .to_frame()
            .encode(),
        wire
    );
}

#[test]
fn start_jet_command_and_reply() {
    // [RCI-E E.1.9 Start Jet Command]
    let command_wire = [
        0x1B, 0x02, // ESC STX
        0x0F, // command ID: Start Jet
        0x1B, 0x03, // ESC ETX
        0xEC, // checksum: -(02 + 0F + 03) = -14h = ECh
    ];
    let reply_wire = [
        0x1B, 0x06, // ESC ACK
        0x00, // P-status: no printer errors
        0x00, // C-status: no command errors
        0x0F, // command ID answered: Start Jet
        0x1B, 0x03, // ESC ETX
        0xE8, // checksum: -(06 + 0F + 03) = -18h = E8h
    ];
    let command = Command::from_frame(&decode_three_ways(&command_wire)).unwrap();
    assert_eq!(command.id(), command::START_JET);
    let reply = Reply::from_frame(&decode_three_ways(&reply_wire)).unwrap();
    assert_eq!(reply.command(), command::START_JET);
}

#[test]
fn printer_status_reply() {
    // [RCI-E printer status reply, LinxPrinterCompleteStatusResponse.cs]
    let wire = [
        0x1B, 0x06, // ESC ACK
        0x00, // P-status: no printer errors
        0x00, // C-status: no command errors
        0x14, // command ID answered: Printer Status Request
        0x03, // jet state: jet stopped
        0x02, // print state: idle
        0x00, 0x00, 0x00, 0x00, // 32-bit error mask: no errors
        0x1B, 0x03, // ESC ETX
        0xDE, // checksum: -(06 + 14 + 03 + 02 + 03) = -22h = DEh
    ];
    let reply = Reply::from_frame(&decode_three_ways(&wire)).unwrap();
    let status = PrinterStatus::decode(reply.data()).unwrap();
    assert_eq!(status.jet(), JetState::Stopped);
    assert_eq!(status.print(), PrintState::Idle);
    assert_eq!(status.errors().bits(), 0);
    assert_eq!(
        Reply::ok(command::PRINTER_STATUS, status.encode())
            .to_frame()
            .encode(),
        wire
    );
}

#[test]
fn download_message_reply() {
    // [RCI-E Download Message Data (19h) example, printer reply]
    let wire = [
        0x1B, 0x06, // ESC ACK
        0x00, // P-status
        0x00, // C-status
        0x19, // command ID answered: Download Message Data
        0x1B, 0x03, // ESC ETX
        0xDE, // checksum: -(06 + 19 + 03) = -22h = DEh
    ];
    let reply = Reply::from_frame(&decode_three_ways(&wire)).unwrap();
    assert_eq!(reply.command(), 0x19);
}

#[test]
fn status_and_count_requests() {
    // Built by tracemark from the [RCI-E] framing rules.
    let status_request = [
        0x1B, 0x02, // ESC STX
        0x14, // command ID: Printer Status Request
        0x1B, 0x03, // ESC ETX
        0xE7, // checksum: -(02 + 14 + 03) = -19h = E7h
    ];
    let count_request = [
        0x1B, 0x02, // ESC STX
        0x08, // command ID: Request Print Count
        0x1B, 0x03, // ESC ETX
        0xF3, // checksum: -(02 + 08 + 03) = -0Dh = F3h
    ];
    assert_eq!(
        Command::from_frame(&decode_three_ways(&status_request)).unwrap(),
        Command::bare(command::PRINTER_STATUS)
    );
    assert_eq!(
        Command::from_frame(&decode_three_ways(&count_request)).unwrap(),
        Command::bare(command::REQUEST_PRINT_COUNT)
    );
}

#[test]
fn print_count_reply() {
    // Built by tracemark: layout per message::PrintCounts (to verify on a printer).
    let wire = [
        0x1B, 0x06, // ESC ACK
        0x00, // P-status
        0x00, // C-status
        0x08, // command ID answered: Request Print Count
        0x05, 0x00, 0x00, 0x00, // product count 5, least significant byte first
        0x03, 0x01, 0x00, 0x00, // print count 0x103 = 259
        0x1B, 0x03, // ESC ETX
        0xE6, // checksum: -(06 + 08 + 05 + 03 + 01 + 03) = -1Ah = E6h
    ];
    let reply = Reply::from_frame(&decode_three_ways(&wire)).unwrap();
    let counts = PrintCounts::decode(reply.data()).unwrap();
    assert_eq!((counts.product(), counts.print()), (5, 259));
}

#[test]
fn remote_field_data_command() {
    // Built by tracemark: Download Remote Field Data with a 4-byte length prefix (iPlus).
    let wire = [
        0x1B, 0x02, // ESC STX
        0x1D, // command ID: Download Remote Field Data
        0x02, 0x00, 0x00, 0x00, // data length 2, least significant byte first
        0x41, 0x42, // field data "AB"
        0x1B, 0x03, // ESC ETX
        0x59, // checksum: -(02 + 1D + 02 + 41 + 42 + 03) = -A7h = 59h
    ];
    let command = Command::from_frame(&decode_three_ways(&wire)).unwrap();
    assert_eq!(command.id(), command::DOWNLOAD_REMOTE_DATA);
    assert_eq!(message::decode_remote_data(command.data()).unwrap(), b"AB");
    let built = Command::new(
        command::DOWNLOAD_REMOTE_DATA,
        message::encode_remote_data(b"AB").unwrap(),
    );
    assert_eq!(built.to_frame().encode(), wire);
}

#[test]
fn escape_in_data_is_doubled() {
    // Built by tracemark: [SPEC] ESC in data is sent twice and counted once in the checksum.
    let wire = [
        0x1B, 0x02, // ESC STX
        0x1D, // command ID: Download Remote Field Data
        0x03, 0x00, 0x00, 0x00, // data length 3
        0x41, // "A"
        0x1B, 0x1B, // a data ESC, doubled on the wire
        0x42, // "B"
        0x1B, 0x03, // ESC ETX
        0x3D, // checksum: -(02 + 1D + 03 + 41 + 1B + 42 + 03) = -C3h = 3Dh
    ];
    let command = Command::from_frame(&decode_three_ways(&wire)).unwrap();
    assert_eq!(
        message::decode_remote_data(command.data()).unwrap(),
        b"A\x1bB"
    );
}

#[test]
fn buffer_still_full_nak() {
    // Built by tracemark: NAK with C-status 43h "remote buffer still full" [SPEC].
    let wire = [
        0x1B, 0x15, // ESC NAK: command refused
        0x00, // P-status
        0x43, // C-status: remote buffer still full
        0x1D, // command ID answered: Download Remote Field Data
        0x1B, 0x03, // ESC ETX
        0x88, // checksum: -(15 + 43 + 1D + 03) = -78h = 88h
    ];
    let reply = Reply::from_frame(&decode_three_ways(&wire)).unwrap();
    assert!(!reply.accepted());
    assert!(reply.command_status().is_remote_buffer_full());
    assert_eq!(
        reply.command_status().to_string(),
        "C-status 0x43 (remote buffer still full)"
    );
}

#[test]
fn short_reply_says_what_is_missing() {
    let frame = Frame::new(FrameKind::Ack, vec![0x00, 0x00]);
    let error = Reply::from_frame(&frame).unwrap_err();
    assert_eq!(
        error.to_string(),
        "reply body has 2 bytes, need at least 3 (P-status, C-status, command ID)"
    );
}
