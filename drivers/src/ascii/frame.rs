//! Framing of an ASCII device: prefix, body, checksum, suffix, and an incremental decoder that
//! takes bytes in any chunking. Pure, no I/O. See `docs/protocols/ascii.md`.
//!
//! A frame on the wire is `start body [checksum] suffix [checksum]`:
//! - `start` is the configured prefix on commands and the reply prefix on replies (often the
//!   same STX; empty when replies begin with ACK/NAK/STX as part of their text, as Panasonic's
//!   do \[PAN-GS §2-3-3\]);
//! - the checksum goes before the suffix (Panasonic: `STX FNOS2047 05 CR` \[PAN-GS §2-3-2\]) or
//!   after it (Amada ML-7x: `STX SPW300 ETX 92` \[AMADA §9.4\]), as ASCII hex or raw bytes;
//! - it covers every byte before it (`all`, both examples) or every byte after the start
//!   (`after_prefix`).
//!
//! A raw checksum byte may equal a suffix byte, so it must come after the suffix: the decoder
//! then takes a fixed count of bytes after the suffix, whatever they are.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::pattern::printable;

/// Longest frame the decoder accepts (start, body and checksum, without the suffix). A code is
/// at most a few hundred bytes (Panasonic SIN: 198 \[PAN-GS §3-5-3\]); a longer frame means a lost
/// suffix, so the decoder gives up on it and resynchronises.
pub const MAX_FRAME_LEN: usize = 1024;

/// The checksum algorithm.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChecksumKind {
    /// No checksum.
    #[default]
    None,
    /// XOR of the covered bytes (8 bits).
    Xor,
    /// Sum of the covered bytes, low 8 bits (Panasonic LP series \[PAN-GS §2-3-1\], Amada
    /// ML-7x \[AMADA §9.4\]).
    Sum8,
    /// Two's complement of the 8-bit sum (Linx RCI style: the bytes and the checksum add to 0).
    Sum8TwosComplement,
    /// CRC-16/MODBUS: polynomial A001h reflected, initial FFFFh (MBSL §6.2.2).
    Crc16Modbus,
    /// CRC-16/CCITT-FALSE: polynomial 1021h, initial FFFFh, not reflected; "123456789" gives
    /// 29B1h.
    Crc16Ccitt,
}

impl ChecksumKind {
    /// Bytes in the checksum value: 0, 1 or 2.
    pub fn width(self) -> usize {
        match self {
            Self::None => 0,
            Self::Xor | Self::Sum8 | Self::Sum8TwosComplement => 1,
            Self::Crc16Modbus | Self::Crc16Ccitt => 2,
        }
    }

    /// The checksum of `chunks`, taken as one byte string.
    pub fn compute(self, chunks: &[&[u8]]) -> u16 {
        let bytes = chunks.iter().flat_map(|chunk| chunk.iter().copied());
        match self {
            Self::None => 0,
            Self::Xor => u16::from(bytes.fold(0u8, |acc, byte| acc ^ byte)),
            Self::Sum8 => u16::from(bytes.fold(0u8, u8::wrapping_add)),
            Self::Sum8TwosComplement => u16::from(bytes.fold(0u8, u8::wrapping_add).wrapping_neg()),
            Self::Crc16Modbus => crc16(&CRC16_MODBUS, chunks),
            Self::Crc16Ccitt => crc16(&CRC16_CCITT_FALSE, chunks),
        }
    }
}

/// CRC-16/MODBUS (MBSL §6.2.2), from the `crc` crate's catalogue.
const CRC16_MODBUS: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_MODBUS);
/// CRC-16/CCITT-FALSE, catalogued as CRC-16/IBM-3740 (check value 29B1h).
const CRC16_CCITT_FALSE: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_IBM_3740);

fn crc16(algorithm: &crc::Crc<u16>, chunks: &[&[u8]]) -> u16 {
    let mut digest = algorithm.digest();
    for chunk in chunks {
        digest.update(chunk);
    }
    digest.finalize()
}

/// How the checksum value is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChecksumEncoding {
    /// Upper-case ASCII hex, two characters per byte (accepted in either case).
    #[default]
    Hex,
    /// The bytes themselves.
    Raw,
}

/// Where the checksum is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChecksumPosition {
    /// Between the body and the suffix.
    #[default]
    BeforeSuffix,
    /// After the suffix: the frame ends with the checksum.
    AfterSuffix,
}

/// Which bytes the checksum covers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChecksumCoverage {
    /// Every byte before the checksum, the start (prefix) included.
    #[default]
    All,
    /// Every byte before the checksum except the start (prefix).
    AfterPrefix,
}

/// The order of the two bytes of a 16-bit checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ByteOrder {
    /// High byte first.
    HighFirst,
    /// Low byte first (Modbus RTU's CRC, MBSL §6.2.2).
    LowFirst,
}

/// A checksum: what, how written, where, over what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checksum {
    /// The algorithm.
    pub kind: ChecksumKind,
    /// How the value is written.
    pub encoding: ChecksumEncoding,
    /// Where it is.
    pub position: ChecksumPosition,
    /// What it covers.
    pub covers: ChecksumCoverage,
    /// Byte order of a 16-bit value (raw and hex alike).
    pub byte_order: ByteOrder,
}

impl Checksum {
    /// No checksum.
    pub const NONE: Checksum = Checksum {
        kind: ChecksumKind::None,
        encoding: ChecksumEncoding::Hex,
        position: ChecksumPosition::BeforeSuffix,
        covers: ChecksumCoverage::All,
        byte_order: ByteOrder::HighFirst,
    };

    /// Bytes the checksum takes on the wire.
    pub fn len(&self) -> usize {
        match self.encoding {
            ChecksumEncoding::Hex => self.kind.width() * 2,
            ChecksumEncoding::Raw => self.kind.width(),
        }
    }

    /// There is no checksum.
    pub fn is_empty(&self) -> bool {
        self.kind == ChecksumKind::None
    }

    /// The value's bytes in wire order.
    fn value_bytes(&self, value: u16) -> Vec<u8> {
        match (self.kind.width(), self.byte_order) {
            (0, _) => Vec::new(),
            (1, _) => vec![value as u8],
            (_, ByteOrder::HighFirst) => value.to_be_bytes().to_vec(),
            (_, ByteOrder::LowFirst) => value.to_le_bytes().to_vec(),
        }
    }

    /// Appends `value` as it goes on the wire.
    pub fn encode_into(&self, value: u16, out: &mut Vec<u8>) {
        for byte in self.value_bytes(value) {
            match self.encoding {
                ChecksumEncoding::Raw => out.push(byte),
                ChecksumEncoding::Hex => {
                    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
                    out.push(DIGITS[usize::from(byte >> 4)]);
                    out.push(DIGITS[usize::from(byte & 0x0F)]);
                }
            }
        }
    }

    /// Reads a value from its wire bytes; `None` if they are not hex (hex encoding) or not
    /// [`len`](Self::len) long.
    pub fn decode(&self, wire: &[u8]) -> Option<u16> {
        if wire.len() != self.len() {
            return None;
        }
        let bytes: Vec<u8> = match self.encoding {
            ChecksumEncoding::Raw => wire.to_vec(),
            ChecksumEncoding::Hex => wire
                .chunks_exact(2)
                .map(|pair| {
                    let high = char::from(pair[0]).to_digit(16)?;
                    let low = char::from(pair[1]).to_digit(16)?;
                    Some(((high << 4) | low) as u8)
                })
                .collect::<Option<Vec<u8>>>()?,
        };
        Some(match (bytes.as_slice(), self.byte_order) {
            ([], _) => 0,
            ([byte], _) => u16::from(*byte),
            ([first, second], ByteOrder::HighFirst) => u16::from_be_bytes([*first, *second]),
            ([first, second], ByteOrder::LowFirst) => u16::from_le_bytes([*first, *second]),
            _ => return None,
        })
    }

    /// The value written as the wire shows it, for messages (`3Ah`, `374Bh`).
    fn show(&self, value: u16) -> String {
        let digits = self.kind.width() * 2;
        format!("{value:0digits$X}h")
    }
}

/// Prefix, suffix and checksum: how commands and replies are framed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Framing {
    prefix: Vec<u8>,
    suffix: Vec<u8>,
    reply_prefix: Vec<u8>,
    checksum: Checksum,
}

impl Framing {
    /// A framing. The suffix must not be empty and a raw checksum must come after it (the
    /// description's validation makes sure).
    pub fn new(
        prefix: Vec<u8>,
        suffix: Vec<u8>,
        reply_prefix: Vec<u8>,
        checksum: Checksum,
    ) -> Self {
        Self {
            prefix,
            suffix,
            reply_prefix,
            checksum,
        }
    }

    /// Starts every command.
    pub fn prefix(&self) -> &[u8] {
        &self.prefix
    }

    /// Ends every command and reply (before a trailing checksum).
    pub fn suffix(&self) -> &[u8] {
        &self.suffix
    }

    /// Starts every reply.
    pub fn reply_prefix(&self) -> &[u8] {
        &self.reply_prefix
    }

    /// The checksum.
    pub fn checksum(&self) -> &Checksum {
        &self.checksum
    }

    /// A command frame around `body`.
    pub fn encode_command(&self, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(body.len() + 16);
        encode_into(&self.prefix, body, &self.suffix, &self.checksum, &mut out);
        out
    }

    /// A reply frame around `body` (what a device sends).
    pub fn encode_reply(&self, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(body.len() + 16);
        encode_into(
            &self.reply_prefix,
            body,
            &self.suffix,
            &self.checksum,
            &mut out,
        );
        out
    }

    /// A decoder for replies (the host's side).
    pub fn reply_decoder(&self) -> FrameDecoder {
        FrameDecoder::new(
            self.reply_prefix.clone(),
            self.suffix.clone(),
            self.checksum,
        )
    }

    /// A decoder for commands (a device's side).
    pub fn command_decoder(&self) -> FrameDecoder {
        FrameDecoder::new(self.prefix.clone(), self.suffix.clone(), self.checksum)
    }
}

fn encode_into(start: &[u8], body: &[u8], suffix: &[u8], checksum: &Checksum, out: &mut Vec<u8>) {
    let covered_start: &[u8] = match checksum.covers {
        ChecksumCoverage::All => start,
        ChecksumCoverage::AfterPrefix => &[],
    };
    out.extend_from_slice(start);
    out.extend_from_slice(body);
    match checksum.position {
        ChecksumPosition::BeforeSuffix => {
            if !checksum.is_empty() {
                let value = checksum.kind.compute(&[covered_start, body]);
                checksum.encode_into(value, out);
            }
            out.extend_from_slice(suffix);
        }
        ChecksumPosition::AfterSuffix => {
            out.extend_from_slice(suffix);
            if !checksum.is_empty() {
                let value = checksum.kind.compute(&[covered_start, body, suffix]);
                checksum.encode_into(value, out);
            }
        }
    }
}

/// One decoded frame: its body (without start, checksum and suffix) and where it began.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    body: Vec<u8>,
    offset: u64,
}

impl Frame {
    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Stream offset (bytes since the decoder was created) of the frame's first byte.
    pub fn offset(&self) -> u64 {
        self.offset
    }
}

/// What is wrong with a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameErrorKind {
    /// No suffix within [`MAX_FRAME_LEN`] bytes.
    TooLong,
    /// Fewer bytes before the suffix than the checksum takes.
    ShorterThanChecksum {
        /// Bytes before the suffix.
        len: usize,
    },
    /// The checksum bytes are not hex.
    ChecksumNotHex {
        /// The bytes, readable.
        found: String,
    },
    /// The checksum does not match.
    ChecksumMismatch {
        /// What the frame's bytes give.
        expected: String,
        /// What the frame carries.
        found: String,
    },
}

impl fmt::Display for FrameErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong => write!(f, "no suffix within {MAX_FRAME_LEN} bytes"),
            Self::ShorterThanChecksum { len } => {
                write!(
                    f,
                    "{len} byte(s) before the suffix, fewer than the checksum takes"
                )
            }
            Self::ChecksumNotHex { found } => write!(f, "checksum `{found}` is not hex"),
            Self::ChecksumMismatch { expected, found } => {
                write!(f, "checksum is {found}, the frame's bytes give {expected}")
            }
        }
    }
}

/// A frame that could not be decoded, and where it began in the byte stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad frame starting at stream byte {offset}: {kind} (frame `{frame}`)")]
pub struct FrameError {
    kind: FrameErrorKind,
    offset: u64,
    frame: String,
}

impl FrameError {
    /// What is wrong.
    pub fn kind(&self) -> &FrameErrorKind {
        &self.kind
    }

    /// Stream offset of the frame's first byte.
    pub fn offset(&self) -> u64 {
        self.offset
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Looking for the start marker; what comes before it is noise.
    Hunting,
    /// In a frame, up to its suffix.
    Body,
    /// After the suffix, reading a trailing checksum.
    Trailer,
    /// After an overlong frame, dropping bytes up to the next suffix.
    Discarding,
}

/// Splits a byte stream into frames, whatever the chunking.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    start: Vec<u8>,
    suffix: Vec<u8>,
    checksum: Checksum,
    state: State,
    buffer: Vec<u8>,
    trailer: Vec<u8>,
    position: u64,
    frame_offset: u64,
    skipped: u64,
}

impl FrameDecoder {
    /// A decoder for frames opened by `start` (none when empty) and closed by `suffix`.
    pub fn new(start: Vec<u8>, suffix: Vec<u8>, checksum: Checksum) -> Self {
        let state = if start.is_empty() {
            State::Body
        } else {
            State::Hunting
        };
        Self {
            start,
            suffix,
            checksum,
            state,
            buffer: Vec::with_capacity(128),
            trailer: Vec::new(),
            position: 0,
            frame_offset: 0,
            skipped: 0,
        }
    }

    /// Bytes dropped while looking for a frame start (noise between frames).
    pub fn skipped_bytes(&self) -> u64 {
        self.skipped
    }

    /// Feeds a slice; returns every frame (or bad frame) it completes, in order.
    pub fn push_slice(&mut self, bytes: &[u8]) -> Vec<Result<Frame, FrameError>> {
        bytes.iter().filter_map(|&byte| self.push(byte)).collect()
    }

    /// Feeds one byte; returns a frame when this byte completes one. An empty frame (a lone
    /// suffix where replies have no start marker) is dropped.
    pub fn push(&mut self, byte: u8) -> Option<Result<Frame, FrameError>> {
        let offset = self.position;
        self.position += 1;
        match self.state {
            State::Hunting => {
                self.buffer.push(byte);
                if self.buffer.ends_with(&self.start) {
                    self.skipped += (self.buffer.len() - self.start.len()) as u64;
                    self.buffer.clear();
                    self.frame_offset = self.position - self.start.len() as u64;
                    self.state = State::Body;
                } else if self.buffer.len() >= self.start.len() {
                    self.buffer.remove(0);
                    self.skipped += 1;
                }
                None
            }
            State::Body => {
                if self.buffer.is_empty() && self.start.is_empty() {
                    self.frame_offset = offset;
                }
                self.buffer.push(byte);
                if self.buffer.ends_with(&self.suffix) {
                    if self.checksum.position == ChecksumPosition::AfterSuffix
                        && !self.checksum.is_empty()
                    {
                        self.state = State::Trailer;
                        return None;
                    }
                    return self.finish();
                }
                if self.buffer.len() > MAX_FRAME_LEN + self.suffix.len() {
                    let frame = printable(&self.buffer[..32.min(self.buffer.len())]) + "…";
                    self.buffer.clear();
                    self.state = State::Discarding;
                    return Some(Err(FrameError {
                        kind: FrameErrorKind::TooLong,
                        offset: self.frame_offset,
                        frame,
                    }));
                }
                None
            }
            State::Trailer => {
                self.trailer.push(byte);
                if self.trailer.len() >= self.checksum.len() {
                    return self.finish();
                }
                None
            }
            State::Discarding => {
                self.buffer.push(byte);
                if self.buffer.ends_with(&self.suffix) {
                    self.buffer.clear();
                    self.state = self.between_frames();
                } else if self.buffer.len() >= self.suffix.len() {
                    self.buffer.remove(0);
                }
                None
            }
        }
    }

    fn between_frames(&self) -> State {
        if self.start.is_empty() {
            State::Body
        } else {
            State::Hunting
        }
    }

    /// Checks and returns the frame in the buffer (and trailer).
    fn finish(&mut self) -> Option<Result<Frame, FrameError>> {
        let mut buffer = std::mem::take(&mut self.buffer);
        let trailer = std::mem::take(&mut self.trailer);
        self.state = self.between_frames();
        let offset = self.frame_offset;
        let content_len = buffer.len() - self.suffix.len();
        if content_len == 0 && self.start.is_empty() && trailer.is_empty() {
            return None;
        }
        let checksum = self.checksum;
        let covered_start: &[u8] = match checksum.covers {
            ChecksumCoverage::All => &self.start,
            ChecksumCoverage::AfterPrefix => &[],
        };
        let show = |body: &[u8], check: &[u8]| {
            let mut frame = printable(&self.start);
            frame.push_str(&printable(body));
            frame.push_str(&printable(check));
            frame
        };
        let error = |kind: FrameErrorKind, frame: String| {
            Some(Err(FrameError {
                kind,
                offset,
                frame,
            }))
        };
        let (body_len, wire, expected) = match checksum.position {
            ChecksumPosition::BeforeSuffix => {
                let Some(body_len) = content_len.checked_sub(checksum.len()) else {
                    let frame = show(&buffer, &[]);
                    return error(
                        FrameErrorKind::ShorterThanChecksum { len: content_len },
                        frame,
                    );
                };
                let expected = checksum.kind.compute(&[covered_start, &buffer[..body_len]]);
                (body_len, buffer[body_len..content_len].to_vec(), expected)
            }
            ChecksumPosition::AfterSuffix => {
                let expected = checksum.kind.compute(&[covered_start, &buffer]);
                (content_len, trailer, expected)
            }
        };
        if !checksum.is_empty() {
            let frame = || show(&buffer[..body_len], &wire);
            let Some(found) = checksum.decode(&wire) else {
                return error(
                    FrameErrorKind::ChecksumNotHex {
                        found: printable(&wire),
                    },
                    frame(),
                );
            };
            if found != expected {
                return error(
                    FrameErrorKind::ChecksumMismatch {
                        expected: checksum.show(expected),
                        found: checksum.show(found),
                    },
                    frame(),
                );
            }
        }
        buffer.truncate(body_len);
        Some(Ok(Frame {
            body: buffer,
            offset,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checksum(kind: ChecksumKind) -> Checksum {
        Checksum {
            kind,
            ..Checksum::NONE
        }
    }

    #[test]
    fn checksums_match_their_check_values() {
        let check = b"123456789";
        assert_eq!(ChecksumKind::Crc16Modbus.compute(&[check]), 0x4B37);
        assert_eq!(
            ChecksumKind::Crc16Ccitt.compute(&[&check[..4], &check[4..]]),
            0x29B1
        );
        assert_eq!(ChecksumKind::Sum8.compute(&[check]), 0xDD);
        assert_eq!(ChecksumKind::Sum8TwosComplement.compute(&[check]), 0x23);
        assert_eq!(ChecksumKind::Xor.compute(&[check]), 0x31);
        assert_eq!(ChecksumKind::None.compute(&[check]), 0);
    }

    #[test]
    fn sixteen_bit_values_follow_the_byte_order_in_hex_and_raw() {
        let mut out = Vec::new();
        let high = Checksum {
            kind: ChecksumKind::Crc16Modbus,
            ..Checksum::NONE
        };
        high.encode_into(0x4B37, &mut out);
        assert_eq!(out, b"4B37");
        assert_eq!(high.decode(b"4b37"), Some(0x4B37));
        let low_raw = Checksum {
            encoding: ChecksumEncoding::Raw,
            byte_order: ByteOrder::LowFirst,
            ..high
        };
        out.clear();
        low_raw.encode_into(0x4B37, &mut out);
        assert_eq!(out, [0x37, 0x4B]);
        assert_eq!(low_raw.decode(&[0x37, 0x4B]), Some(0x4B37));
        assert_eq!(high.decode(b"4B3"), None);
        assert_eq!(high.decode(b"4B3G"), None);
    }

    #[test]
    fn noise_before_the_start_is_skipped_and_counted() {
        let framing = Framing::new(
            b"\x02".to_vec(),
            b"\x03".to_vec(),
            b"\x02".to_vec(),
            checksum(ChecksumKind::Xor),
        );
        let wire = framing.encode_reply(b"OK");
        // XOR over STX O K: 02h ^ 4Fh ^ 4Bh = 06h.
        assert_eq!(wire, b"\x02OK06\x03");
        let mut stream = b"\x00\xffnoise\x03".to_vec();
        stream.extend_from_slice(&wire);
        let mut decoder = framing.reply_decoder();
        let frames = decoder.push_slice(&stream);
        assert_eq!(frames.len(), 1);
        let frame = frames[0].clone().unwrap();
        assert_eq!(frame.body(), b"OK");
        assert_eq!(frame.offset(), 8);
        assert_eq!(decoder.skipped_bytes(), 8);
    }

    #[test]
    fn an_overlong_frame_is_reported_once_and_the_next_one_decodes() {
        let framing = Framing::new(Vec::new(), b"\r".to_vec(), Vec::new(), Checksum::NONE);
        let mut decoder = framing.reply_decoder();
        let mut stream = vec![b'A'; MAX_FRAME_LEN + 10];
        stream.extend_from_slice(b"\rOK\r");
        let frames = decoder.push_slice(&stream);
        assert_eq!(frames.len(), 2, "{frames:?}");
        assert_eq!(
            frames[0].clone().unwrap_err().kind(),
            &FrameErrorKind::TooLong
        );
        assert_eq!(frames[1].clone().unwrap().body(), b"OK");
    }
}
