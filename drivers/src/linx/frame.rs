//! Linx RCI packet framing: encoding, checksum and an incremental decoder. Pure, no I/O.
//!
//! Sources (see `docs/protocols/linx-rci.md` for the full list):
//! - \[RCI-E\] the worked packet examples of the Linx *Remote Communications Interface Reference
//!   Manual* (appendix E, e.g. E.1.9 "Start Jet", E.1.10 "Start Print"), as quoted with every byte
//!   in the open iPlus driver (`iplus-framework/iPlus`, `gip.core.reporthandler/Linx/`).
//! - \[SPEC\] tracemark `SPEC.md` §5, which summarises the manual's framing rules.
//!
//! A packet on the wire is `ESC <start> body… ESC ETX <checksum>`:
//! - host → printer: `<start>` is STX and the body is `command-id data…` \[RCI-E\];
//! - printer → host: `<start>` is ACK (or NAK when the command was refused) and the body is
//!   `P-status C-status command-id data…` \[RCI-E\];
//! - an ESC byte inside the body is sent twice \[SPEC\];
//! - the checksum is the two's complement of the 8-bit sum of the bytes from `<start>` to ETX,
//!   leaving out the framing ESCs: `ESC STX 11 ESC ETX` gives `-(02 + 11 + 03) = EA` \[RCI-E
//!   E.1.10\]. A doubled data ESC counts once (the logical byte); the manual text we could read
//!   does not show a packet with ESC in its data, so this one rule is from \[SPEC\] and is marked
//!   "to verify on a printer" in the protocol document.
//!
//! The checksum byte itself is never doubled: the decoder knows that exactly one byte follows
//! `ESC ETX`.

use std::fmt;

/// Escape: starts and ends every packet, doubled when it occurs in data \[RCI-E\].
pub const ESC: u8 = 0x1B;
/// Start of a host command packet \[RCI-E\].
pub const STX: u8 = 0x02;
/// End of a packet (after an ESC) \[RCI-E\].
pub const ETX: u8 = 0x03;
/// Start of a printer reply: command accepted \[RCI-E\].
pub const ACK: u8 = 0x06;
/// Start of a printer reply: command refused \[SPEC\].
pub const NAK: u8 = 0x15;

/// Largest body the decoder accepts. The commands tracemark uses carry at most one remote
/// field (a few dozen bytes); a longer body means a lost `ESC ETX`, so the decoder gives up and
/// resynchronises instead of buffering without bound.
pub const MAX_BODY_LEN: usize = 1024;

/// What a packet is, from the byte after its opening ESC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameKind {
    /// `ESC STX`: a command from the host.
    Command,
    /// `ESC ACK`: a reply, command accepted.
    Ack,
    /// `ESC NAK`: a reply, command refused.
    Nak,
}

impl FrameKind {
    /// The byte that follows the opening ESC.
    pub fn start_byte(self) -> u8 {
        match self {
            Self::Command => STX,
            Self::Ack => ACK,
            Self::Nak => NAK,
        }
    }

    /// The kind a start byte opens, if any.
    pub fn from_start_byte(byte: u8) -> Option<Self> {
        match byte {
            STX => Some(Self::Command),
            ACK => Some(Self::Ack),
            NAK => Some(Self::Nak),
            _ => None,
        }
    }
}

impl fmt::Display for FrameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Command => "ESC STX command",
            Self::Ack => "ESC ACK reply",
            Self::Nak => "ESC NAK reply",
        })
    }
}

/// One packet: its kind and its unescaped body (everything between the start byte and
/// `ESC ETX`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    kind: FrameKind,
    body: Vec<u8>,
}

impl Frame {
    /// A packet of `kind` carrying `body` (unescaped).
    pub fn new(kind: FrameKind, body: Vec<u8>) -> Self {
        Self { kind, body }
    }

    /// What the packet is.
    pub fn kind(&self) -> FrameKind {
        self.kind
    }

    /// The unescaped body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The packet's checksum byte.
    pub fn checksum(&self) -> u8 {
        checksum(self.kind.start_byte(), &self.body)
    }

    /// The packet as it goes on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + 6);
        self.encode_into(&mut out);
        out
    }

    /// Appends the packet, as it goes on the wire, to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(ESC);
        out.push(self.kind.start_byte());
        for &byte in &self.body {
            // A data ESC is doubled so the receiver never mistakes it for ESC ETX [SPEC].
            if byte == ESC {
                out.push(ESC);
            }
            out.push(byte);
        }
        out.push(ESC);
        out.push(ETX);
        out.push(self.checksum());
    }
}

/// The RCI checksum: two's complement of the 8-bit sum of `start`, the unescaped `body` and
/// ETX \[RCI-E E.1.10\].
pub fn checksum(start: u8, body: &[u8]) -> u8 {
    let sum = body
        .iter()
        .fold(start.wrapping_add(ETX), |sum, &byte| sum.wrapping_add(byte));
    sum.wrapping_neg()
}

/// Why bytes inside a packet could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameErrorKind {
    /// ESC inside a body followed by something other than ESC (data) or ETX (end).
    UnexpectedEscape {
        /// The byte after the ESC.
        byte: u8,
    },
    /// The body grew past [`MAX_BODY_LEN`] without an `ESC ETX`.
    TooLong,
    /// The checksum byte does not match the packet.
    Checksum {
        /// What the packet's bytes sum to.
        expected: u8,
        /// What the sender put in the checksum byte.
        found: u8,
    },
}

impl fmt::Display for FrameErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnexpectedEscape { byte } => write!(
                f,
                "ESC followed by 0x{byte:02X} inside a packet (only ESC ESC or ESC ETX may appear there)"
            ),
            Self::TooLong => write!(f, "no ESC ETX within {MAX_BODY_LEN} body bytes"),
            Self::Checksum { expected, found } => write!(
                f,
                "checksum byte is 0x{found:02X}, the packet's bytes give 0x{expected:02X}"
            ),
        }
    }
}

/// A packet that could not be decoded, and where it was in the byte stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "bad Linx RCI {kind_of_frame} starting at stream byte {frame_offset}: {kind} (at byte {offset})"
)]
pub struct FrameError {
    kind: FrameErrorKind,
    kind_of_frame: FrameKind,
    frame_offset: u64,
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

    /// Stream offset of the packet's opening ESC.
    pub fn frame_offset(&self) -> u64 {
        self.frame_offset
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between packets: looking for ESC.
    Hunt,
    /// Saw ESC between packets: the next byte must open a packet.
    HuntEscape,
    /// Inside a body.
    Body,
    /// Saw ESC inside a body.
    BodyEscape,
    /// Saw `ESC ETX`: the next byte is the checksum.
    Checksum,
}

/// Incremental packet decoder: feed it bytes as they arrive, one at a time or in slices, and it
/// yields whole packets. Bytes between packets (line noise, a half packet after a reconnect)
/// are skipped and counted; an error inside a packet is reported once and the decoder hunts
/// for the next `ESC <start>`.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    state: State,
    kind: FrameKind,
    body: Vec<u8>,
    position: u64,
    frame_offset: u64,
    skipped: u64,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self {
            state: State::Hunt,
            kind: FrameKind::Command,
            body: Vec::new(),
            position: 0,
            frame_offset: 0,
            skipped: 0,
        }
    }

    /// Bytes skipped between packets so far (noise before a packet's opening ESC).
    pub fn skipped_bytes(&self) -> u64 {
        self.skipped
    }

    /// True while the decoder is in the middle of a packet.
    pub fn in_frame(&self) -> bool {
        !matches!(self.state, State::Hunt | State::HuntEscape)
    }

    /// Feeds one byte; returns a packet or an error when this byte completes one.
    pub fn push(&mut self, byte: u8) -> Option<Result<Frame, FrameError>> {
        let offset = self.position;
        self.position += 1;
        match self.state {
            State::Hunt => {
                if byte == ESC {
                    self.state = State::HuntEscape;
                } else {
                    self.skipped += 1;
                }
                None
            }
            State::HuntEscape => {
                if let Some(kind) = FrameKind::from_start_byte(byte) {
                    self.begin(kind, offset - 1);
                } else if byte == ESC {
                    // ESC ESC between packets: the first was noise, the second may open one.
                    self.skipped += 1;
                } else {
                    self.skipped += 2;
                    self.state = State::Hunt;
                }
                None
            }
            State::Body => {
                if byte == ESC {
                    self.state = State::BodyEscape;
                } else if self.body.len() >= MAX_BODY_LEN {
                    return Some(Err(self.fail(FrameErrorKind::TooLong, offset)));
                } else {
                    self.body.push(byte);
                }
                None
            }
            State::BodyEscape => match byte {
                ESC => {
                    if self.body.len() >= MAX_BODY_LEN {
                        return Some(Err(self.fail(FrameErrorKind::TooLong, offset)));
                    }
                    self.body.push(ESC);
                    self.state = State::Body;
                    None
                }
                ETX => {
                    self.state = State::Checksum;
                    None
                }
                other => {
                    let error = self.fail(FrameErrorKind::UnexpectedEscape { byte: other }, offset);
                    // `ESC <start>` is how every packet begins: a lost `ESC ETX` followed by a
                    // new packet resynchronises right here instead of losing the new packet.
                    if let Some(kind) = FrameKind::from_start_byte(other) {
                        self.begin(kind, offset - 1);
                    }
                    Some(Err(error))
                }
            },
            State::Checksum => {
                let expected = checksum(self.kind.start_byte(), &self.body);
                if byte == expected {
                    self.state = State::Hunt;
                    let body = std::mem::take(&mut self.body);
                    Some(Ok(Frame::new(self.kind, body)))
                } else {
                    Some(Err(self.fail(
                        FrameErrorKind::Checksum {
                            expected,
                            found: byte,
                        },
                        offset,
                    )))
                }
            }
        }
    }

    /// Feeds a slice; returns every packet and error it completes, in order.
    pub fn push_slice(&mut self, bytes: &[u8]) -> Vec<Result<Frame, FrameError>> {
        bytes.iter().filter_map(|&byte| self.push(byte)).collect()
    }

    fn begin(&mut self, kind: FrameKind, frame_offset: u64) {
        self.kind = kind;
        self.body.clear();
        self.frame_offset = frame_offset;
        self.state = State::Body;
    }

    fn fail(&mut self, kind: FrameErrorKind, offset: u64) -> FrameError {
        self.state = State::Hunt;
        self.body.clear();
        FrameError {
            kind,
            kind_of_frame: self.kind,
            frame_offset: self.frame_offset,
            offset,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_is_twos_complement_of_sum() {
        // [RCI-E E.1.10]: 02 + 11 + 03 = 16, -16 = EA.
        assert_eq!(checksum(STX, &[0x11]), 0xEA);
        // Everything from start to ETX plus the checksum sums to zero.
        let body = [0x1D, 0x41, 0xFF, 0x1B, 0x00];
        let sum = body
            .iter()
            .fold(STX.wrapping_add(ETX), |s, &b| s.wrapping_add(b));
        assert_eq!(sum.wrapping_add(checksum(STX, &body)), 0);
    }

    #[test]
    fn data_escape_is_doubled_and_decoded_once() {
        let frame = Frame::new(FrameKind::Command, vec![0x1D, ESC, 0x41]);
        let wire = frame.encode();
        assert_eq!(&wire[..6], &[ESC, STX, 0x1D, ESC, ESC, 0x41]);
        let mut decoder = FrameDecoder::new();
        assert_eq!(decoder.push_slice(&wire), vec![Ok(frame)]);
    }

    #[test]
    fn noise_between_packets_is_skipped_and_counted() {
        let frame = Frame::new(FrameKind::Ack, vec![0, 0, 0x11]);
        let mut wire = b"\x00\xffnoise\x1bA\x1b".to_vec();
        wire.extend(frame.encode());
        let mut decoder = FrameDecoder::new();
        assert_eq!(decoder.push_slice(&wire), vec![Ok(frame)]);
        assert_eq!(decoder.skipped_bytes(), 10);
    }

    #[test]
    fn lost_end_resynchronises_on_next_packet() {
        let frame = Frame::new(FrameKind::Ack, vec![0, 0, 0x14]);
        let mut wire = vec![ESC, ACK, 0x00, 0x00];
        wire.extend(frame.encode());
        let mut decoder = FrameDecoder::new();
        let out = decoder.push_slice(&wire);
        assert_eq!(out.len(), 2);
        let error = out[0].clone().unwrap_err();
        assert_eq!(
            error.kind(),
            &FrameErrorKind::UnexpectedEscape { byte: ACK }
        );
        assert_eq!(error.offset(), 5);
        assert_eq!(out[1], Ok(frame));
    }

    #[test]
    fn overlong_body_is_an_error_not_a_leak() {
        let mut wire = vec![ESC, STX];
        wire.extend(std::iter::repeat_n(0x41, MAX_BODY_LEN + 1));
        let mut decoder = FrameDecoder::new();
        let out = decoder.push_slice(&wire);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].clone().unwrap_err().kind(), &FrameErrorKind::TooLong);
        assert!(!decoder.in_frame());
    }
}
