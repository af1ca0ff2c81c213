//! Codenet framing: packets, NAK codes and an incremental decoder for either direction. Pure,
//! no I/O.
//!
//! Sources (see `docs/protocols/codenet.md` for the full list):
//! - \[CS00145\] Domino *Codenet Communications Protocol*, document CS00145 (A-Series and
//!   A-Series plus): its contents list (§3.2 serial connection, §3.3 TCP/IP connection) and
//!   revision history are public; the command pages could not be read, so byte details come
//!   from the sources below.
//! - \[OPEN\] an open-source production-line controller that drives Domino A-Series printers
//!   over TCP port 7000 (`TotalSmartCoding`, `InkjetDominoPrinterBLL.cs`, `PrinterController.cs`,
//!   `IOSerialPort.cs`, `GlobalVariables.cs`), which quotes each command it sends and how it
//!   reads the answers.
//! - \[SPEC\] tracemark `SPEC.md` §5: `ESC cmd params EOT`, `ACK` or `NAK` + 3-digit code.
//!
//! On the wire there are three kinds of packet \[OPEN\], \[SPEC\]:
//! - a frame `ESC body… EOT`: every host command, and every printer reply that carries data
//!   (the body starts with the command letters it answers, e.g. `ESC Q 1 Y EOT`);
//! - `ACK` (06h), one byte: the printer accepted a command that returns no data;
//! - `NAK` (15h) followed by three ASCII digits: the printer refused it, with an error code.
//!
//! There is no checksum and no escaping \[OPEN\]: a frame ends at the first EOT. The decoder
//! therefore checks shapes: a printer reply body is printable ASCII (a control byte inside it
//! means a damaged reply and is reported, and an `ESC`, `ACK` or `NAK` there starts the next
//! packet), a NAK code is three digits. Host commands may carry `ESC` inside (embedded commands
//! in message text, e.g. `ESC u 1` font selection \[OPEN\]), so in that direction only EOT ends
//! a frame.

use std::fmt;

/// Starts every frame \[OPEN `charESC = 27`\], \[SPEC\].
pub const ESC: u8 = 0x1B;
/// Ends every frame \[OPEN `charEOT = 4`\], \[SPEC\].
pub const EOT: u8 = 0x04;
/// The printer accepted the command \[OPEN `charACK = 6`\].
pub const ACK: u8 = 0x06;
/// The printer refused the command; three ASCII digits follow \[OPEN `charNACK = 21`, "NACK +
/// 3 digit error code"\].
pub const NAK: u8 = 0x15;

/// Longest frame body the decoder accepts. The longest command tracemark sends is one code in
/// an external-data packet (the length field allows 9,999 bytes, a code is a few dozen); a
/// longer body means a lost EOT, so the decoder gives up and resynchronises instead of
/// buffering without bound.
pub const MAX_BODY_LEN: usize = 4096;

/// A NAK's error code: three ASCII digits \[OPEN\], \[SPEC\]. CS00145 has the table of what each
/// code means; tracemark could not read it, so codes are shown as digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NakCode([u8; 3]);

impl NakCode {
    /// A code from its three digits; `None` unless all three are ASCII digits.
    pub const fn new(digits: [u8; 3]) -> Option<Self> {
        if digits[0].is_ascii_digit() && digits[1].is_ascii_digit() && digits[2].is_ascii_digit() {
            Some(Self(digits))
        } else {
            None
        }
    }

    /// Parses `"040"`-style text.
    pub fn parse(text: &str) -> Option<Self> {
        let digits: [u8; 3] = text.as_bytes().try_into().ok()?;
        Self::new(digits)
    }

    /// The three digits.
    pub fn digits(self) -> [u8; 3] {
        self.0
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Three ASCII digits are always UTF-8.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl fmt::Display for NakCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One packet on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// `ESC body… EOT`: a command, or a reply with data.
    Frame(Vec<u8>),
    /// `ACK`: accepted.
    Ack,
    /// `NAK ddd`: refused, with a code.
    Nak(NakCode),
}

impl Packet {
    /// The packet as it goes on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Appends the packet, as it goes on the wire, to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Self::Frame(body) => {
                out.reserve(body.len() + 2);
                out.push(ESC);
                out.extend_from_slice(body);
                out.push(EOT);
            }
            Self::Ack => out.push(ACK),
            Self::Nak(code) => {
                out.push(NAK);
                out.extend_from_slice(&code.0);
            }
        }
    }
}

/// Which side's packets a decoder reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Host → printer: frames only; a body may hold any byte but EOT.
    Commands,
    /// Printer → host: frames with printable bodies, ACK, NAK + code.
    Replies,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Commands => "command",
            Self::Replies => "reply",
        })
    }
}

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameErrorKind {
    /// A byte that cannot be inside a reply frame (control byte, non-ASCII).
    UnexpectedByte {
        /// The byte.
        byte: u8,
    },
    /// `ESC EOT`: a frame without a command.
    EmptyFrame,
    /// The body grew past [`MAX_BODY_LEN`] without an EOT.
    TooLong,
    /// A NAK not followed by three digits.
    BadNakCode {
        /// The byte where a digit was expected.
        byte: u8,
    },
}

impl fmt::Display for FrameErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnexpectedByte { byte } => {
                write!(
                    f,
                    "byte 0x{byte:02X} inside a reply frame (only printable ASCII may appear there)"
                )
            }
            Self::EmptyFrame => f.write_str("ESC EOT carries no command"),
            Self::TooLong => write!(f, "no EOT within {MAX_BODY_LEN} body bytes"),
            Self::BadNakCode { byte } => {
                write!(
                    f,
                    "NAK followed by 0x{byte:02X} where a digit of its 3-digit code was expected"
                )
            }
        }
    }
}

/// Bytes that could not be decoded, and where they were in the stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "bad Codenet {direction} starting at stream byte {packet_offset}: {kind} (at byte {offset})"
)]
pub struct FrameError {
    kind: FrameErrorKind,
    direction: Direction,
    packet_offset: u64,
    offset: u64,
}

impl FrameError {
    /// What went wrong.
    pub fn kind(&self) -> &FrameErrorKind {
        &self.kind
    }

    /// Stream offset (bytes since the decoder was created) of the offending byte.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Stream offset of the packet's first byte (its ESC or NAK).
    pub fn packet_offset(&self) -> u64 {
        self.packet_offset
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between packets.
    Hunt,
    /// After NAK, `got` digits of its code read.
    NakCode { got: usize },
    /// Inside a frame body.
    Body,
}

/// Incremental packet decoder: feed it bytes as they arrive, one at a time or in slices, and it
/// yields whole packets. Bytes between packets (line noise, a print-acknowledge character, half
/// a packet after a reconnect) are skipped and counted; a damaged packet is reported once and
/// the decoder looks for the next one.
#[derive(Debug, Clone)]
pub struct PacketDecoder {
    direction: Direction,
    state: State,
    body: Vec<u8>,
    nak_digits: [u8; 3],
    position: u64,
    packet_offset: u64,
    skipped: u64,
}

impl PacketDecoder {
    /// A decoder of `direction`'s packets at the start of a stream.
    pub fn new(direction: Direction) -> Self {
        Self {
            direction,
            state: State::Hunt,
            body: Vec::new(),
            nak_digits: [0; 3],
            position: 0,
            packet_offset: 0,
            skipped: 0,
        }
    }

    /// A decoder of printer replies (the driver's side).
    pub fn replies() -> Self {
        Self::new(Direction::Replies)
    }

    /// A decoder of host commands (the printer's side).
    pub fn commands() -> Self {
        Self::new(Direction::Commands)
    }

    /// Bytes skipped between packets so far.
    pub fn skipped_bytes(&self) -> u64 {
        self.skipped
    }

    /// True while the decoder is in the middle of a packet.
    pub fn in_packet(&self) -> bool {
        self.state != State::Hunt
    }

    /// Feeds one byte; returns what it completes: usually nothing or one packet or error, and
    /// two when a one-byte `ACK` cuts a damaged reply short (the error, then the `ACK`).
    pub fn push(&mut self, byte: u8) -> Vec<Result<Packet, FrameError>> {
        let mut out = Vec::new();
        self.step(byte, &mut out);
        out
    }

    /// Feeds a slice; returns every packet and error it completes, in order.
    pub fn push_slice(&mut self, bytes: &[u8]) -> Vec<Result<Packet, FrameError>> {
        let mut out = Vec::new();
        for &byte in bytes {
            self.step(byte, &mut out);
        }
        out
    }

    fn step(&mut self, byte: u8, out: &mut Vec<Result<Packet, FrameError>>) {
        let offset = self.position;
        self.position += 1;
        match self.state {
            State::Hunt => self.hunt(byte, offset, out),
            State::NakCode { got } => {
                if !byte.is_ascii_digit() {
                    out.push(Err(self.fail(FrameErrorKind::BadNakCode { byte }, offset)));
                    // The byte may start the next packet: a lost digit costs one packet.
                    self.hunt(byte, offset, out);
                    return;
                }
                self.nak_digits[got] = byte;
                if got + 1 == self.nak_digits.len() {
                    self.state = State::Hunt;
                    out.push(Ok(Packet::Nak(NakCode(self.nak_digits))));
                } else {
                    self.state = State::NakCode { got: got + 1 };
                }
            }
            State::Body => self.body_byte(byte, offset, out),
        }
    }

    /// A byte between packets: the start of one, a whole `ACK`, or noise.
    fn hunt(&mut self, byte: u8, offset: u64, out: &mut Vec<Result<Packet, FrameError>>) {
        match (byte, self.direction) {
            (ESC, _) => {
                self.body.clear();
                self.packet_offset = offset;
                self.state = State::Body;
            }
            (ACK, Direction::Replies) => {
                self.state = State::Hunt;
                out.push(Ok(Packet::Ack));
            }
            (NAK, Direction::Replies) => {
                self.packet_offset = offset;
                self.state = State::NakCode { got: 0 };
            }
            _ => {
                self.state = State::Hunt;
                self.skipped += 1;
            }
        }
    }

    fn body_byte(&mut self, byte: u8, offset: u64, out: &mut Vec<Result<Packet, FrameError>>) {
        if byte == EOT {
            self.state = State::Hunt;
            if self.body.is_empty() {
                out.push(Err(self.fail(FrameErrorKind::EmptyFrame, offset)));
            } else {
                out.push(Ok(Packet::Frame(std::mem::take(&mut self.body))));
            }
            return;
        }
        let allowed = match self.direction {
            Direction::Commands => true,
            Direction::Replies => (0x20..=0x7E).contains(&byte),
        };
        if !allowed {
            out.push(Err(
                self.fail(FrameErrorKind::UnexpectedByte { byte }, offset)
            ));
            // ESC, ACK or NAK inside a damaged reply start the next packet right here.
            self.hunt(byte, offset, out);
            return;
        }
        if self.body.len() >= MAX_BODY_LEN {
            out.push(Err(self.fail(FrameErrorKind::TooLong, offset)));
            return;
        }
        self.body.push(byte);
    }

    fn fail(&mut self, kind: FrameErrorKind, offset: u64) -> FrameError {
        self.state = State::Hunt;
        self.body.clear();
        FrameError {
            kind,
            direction: self.direction,
            packet_offset: self.packet_offset,
            offset,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_of_every_kind_decode_in_one_stream() {
        let mut wire = vec![ACK];
        wire.extend_from_slice(b"\x15040");
        wire.extend_from_slice(b"\x1bQ1Y\x04");
        let out = PacketDecoder::replies().push_slice(&wire);
        assert_eq!(
            out,
            vec![
                Ok(Packet::Ack),
                Ok(Packet::Nak(NakCode(*b"040"))),
                Ok(Packet::Frame(b"Q1Y".to_vec())),
            ]
        );
    }

    #[test]
    fn noise_between_replies_is_skipped_and_counted() {
        let mut decoder = PacketDecoder::replies();
        let out = decoder.push_slice(b"\x00\xffnoise\x1c\x06");
        assert_eq!(out, vec![Ok(Packet::Ack)]);
        assert_eq!(decoder.skipped_bytes(), 8);
    }

    #[test]
    fn a_damaged_reply_is_reported_and_the_next_packet_still_decodes() {
        // A stray `ESC Z` (noise) runs into the real ACK: one error, then the ACK.
        let mut decoder = PacketDecoder::replies();
        let out = decoder.push(ESC);
        assert!(out.is_empty());
        assert!(decoder.push(b'Z').is_empty());
        let out = decoder.push(ACK);
        assert_eq!(out.len(), 2);
        let error = out[0].clone().unwrap_err();
        assert_eq!(error.kind(), &FrameErrorKind::UnexpectedByte { byte: ACK });
        assert_eq!((error.packet_offset(), error.offset()), (0, 2));
        assert_eq!(out[1], Ok(Packet::Ack));
        // The same for a data reply: its ESC restarts the frame.
        let out = PacketDecoder::replies().push_slice(b"\x1bZ\x1bT10000000001\x04");
        assert_eq!(out.len(), 2);
        assert_eq!(out[1], Ok(Packet::Frame(b"T10000000001".to_vec())));
    }

    #[test]
    fn a_nak_needs_three_digits() {
        let out = PacketDecoder::replies().push_slice(b"\x1504\x06");
        assert_eq!(out.len(), 2);
        let error = out[0].clone().unwrap_err();
        assert_eq!(error.kind(), &FrameErrorKind::BadNakCode { byte: ACK });
        assert!(error.to_string().contains("stream byte 0"), "{error}");
        assert_eq!(out[1], Ok(Packet::Ack));
    }

    #[test]
    fn commands_may_carry_esc_and_ignore_ack_bytes() {
        let out = PacketDecoder::commands().push_slice(b"\x06\x15\x1bS001\x1bu1AB\x04");
        assert_eq!(out, vec![Ok(Packet::Frame(b"S001\x1bu1AB".to_vec()))]);
    }

    #[test]
    fn an_empty_frame_and_an_overlong_body_are_errors() {
        let out = PacketDecoder::replies().push_slice(&[ESC, EOT]);
        assert_eq!(
            out[0].clone().unwrap_err().kind(),
            &FrameErrorKind::EmptyFrame
        );
        let mut wire = vec![ESC];
        wire.extend(std::iter::repeat_n(b'A', MAX_BODY_LEN + 1));
        let mut decoder = PacketDecoder::commands();
        let out = decoder.push_slice(&wire);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].clone().unwrap_err().kind(), &FrameErrorKind::TooLong);
        assert!(!decoder.in_packet());
    }

    #[test]
    fn packets_encode_to_their_wire_form() {
        assert_eq!(Packet::Ack.encode(), [ACK]);
        assert_eq!(
            Packet::Nak(NakCode::parse("123").unwrap()).encode(),
            b"\x15123"
        );
        assert_eq!(Packet::Frame(b"A?".to_vec()).encode(), b"\x1bA?\x04");
        assert_eq!(NakCode::parse("12a"), None);
        assert_eq!(NakCode::parse("1234"), None);
    }
}
