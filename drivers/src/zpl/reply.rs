//! What a ZPL printer answers — the three `~HS` strings and the quoted value of an SGD
//! `getvar` — and an incremental decoder for both that takes bytes in any chunking. Pure, no
//! I/O. Sources: see [`super::status`] (\[ZPL-HS\], \[SGD\]).

use super::status::{ETX, FIELD_COUNTS, HostStatus, STX};

/// Opens and closes an SGD value \[SGD\].
pub const QUOTE: u8 = b'"';
/// Longest `~HS` string or SGD value the decoder accepts. String 2, the longest, is 36 bytes
/// \[ZPL-HS\]; a longer run means a lost ETX or quote.
pub const MAX_REPLY_LEN: usize = 128;

/// One answer from the printer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The three `~HS` strings.
    HostStatus(Box<HostStatus>),
    /// An SGD value, without its quotes.
    Value(String),
}

/// Bytes that break the reply framing. Offsets count bytes from the start of the stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// An STX arrived inside a string: the ETX of the string before was lost.
    #[error("~HS string {string} starting at stream byte {offset} has no ETX before the next STX")]
    MissingEtx {
        /// Which string (1–3).
        string: u8,
        /// Where its STX was.
        offset: u64,
    },
    /// The first string of a new reply arrived before this reply's last string.
    #[error("~HS reply starting at stream byte {offset} ended after {strings} of 3 strings")]
    Incomplete {
        /// Strings received.
        strings: u8,
        /// Where its first STX was.
        offset: u64,
    },
    /// A string or value longer than [`MAX_REPLY_LEN`].
    #[error("reply starting at stream byte {offset} has no end within {MAX_REPLY_LEN} bytes")]
    TooLong {
        /// Where it started.
        offset: u64,
    },
    /// A `~HS` string with the wrong number of fields.
    #[error(
        "~HS string {string} starting at stream byte {offset} has {got} fields, expected {expected}"
    )]
    FieldCount {
        /// Which string (1–3).
        string: u8,
        /// Fields it must have.
        expected: usize,
        /// Fields it had.
        got: usize,
        /// Where its STX was.
        offset: u64,
    },
    /// A field that is not what the guide says (a flag other than 0/1, a number with letters).
    #[error("~HS string {string} starting at stream byte {offset}: field {field} is `{value}`")]
    BadField {
        /// Which string (1–3).
        string: u8,
        /// The field's letters in the guide (`eee`, `p`, …).
        field: &'static str,
        /// What came.
        value: String,
        /// Where the string's STX was.
        offset: u64,
    },
    /// An SGD value arrived between the strings of a `~HS` reply.
    #[error("SGD value at stream byte {offset} interrupts a ~HS reply after string {strings}")]
    Interleaved {
        /// `~HS` strings received before it.
        strings: u8,
        /// Where its quote was.
        offset: u64,
    },
    /// An SGD value that is not UTF-8 text.
    #[error("SGD value starting at stream byte {offset} is not text")]
    NotText {
        /// Where its opening quote was.
        offset: u64,
    },
    /// A CR or LF inside an SGD value: its closing quote was lost.
    #[error("SGD value starting at stream byte {offset} has no closing quote before a line end")]
    UnterminatedValue {
        /// Where its opening quote was.
        offset: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Between,
    String,
    Value,
}

/// Splits a byte stream from the printer into replies. Bytes outside a `<STX>…<ETX>` string or a
/// quoted value (the CR LF after each string, line noise) are skipped and counted.
#[derive(Debug, Clone)]
pub struct ReplyDecoder {
    state: State,
    current: Vec<u8>,
    current_start: u64,
    strings: [Vec<u8>; 3],
    string_starts: [u64; 3],
    received: usize,
    /// A reply was reported broken; its remaining strings are skipped.
    broken: bool,
    position: u64,
    skipped: u64,
}

impl Default for ReplyDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ReplyDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self {
            state: State::Between,
            current: Vec::with_capacity(MAX_REPLY_LEN),
            current_start: 0,
            strings: Default::default(),
            string_starts: [0; 3],
            received: 0,
            broken: false,
            position: 0,
            skipped: 0,
        }
    }

    /// Bytes skipped outside replies so far (CR LF after each string included).
    pub fn skipped_bytes(&self) -> u64 {
        self.skipped
    }

    /// Drops a partly received reply (after an error, or before a new request).
    pub fn reset(&mut self) {
        self.state = State::Between;
        self.current.clear();
        self.received = 0;
        self.broken = false;
    }

    /// Feeds one byte; returns a reply or an error when this byte completes or breaks one.
    pub fn push(&mut self, byte: u8) -> Option<Result<Reply, ReplyError>> {
        let offset = self.position;
        self.position += 1;
        match (self.state, byte) {
            (State::Between, STX) => self.open(State::String, offset),
            (State::Between, QUOTE) if self.received > 0 => {
                let strings = u8::try_from(self.received).unwrap_or(u8::MAX);
                self.fail();
                self.open(State::Value, offset);
                Some(Err(ReplyError::Interleaved { strings, offset }))
            }
            (State::Between, QUOTE) => self.open(State::Value, offset),
            (State::Between, _) => {
                self.skipped += 1;
                None
            }
            (State::String, STX) => {
                // The string before lost its ETX; this STX may open a good reply.
                let error = ReplyError::MissingEtx {
                    string: self.string_number(),
                    offset: self.current_start,
                };
                self.fail();
                self.open(State::String, offset);
                Some(Err(error))
            }
            (State::String, ETX) => self.close_string(),
            (State::Value, QUOTE) => {
                let start = self.current_start;
                let value = String::from_utf8(std::mem::take(&mut self.current));
                self.reset();
                Some(
                    value
                        .map(Reply::Value)
                        .map_err(|_| ReplyError::NotText { offset: start }),
                )
            }
            (State::Value, b'\r' | b'\n') => {
                let error = ReplyError::UnterminatedValue {
                    offset: self.current_start,
                };
                self.reset();
                Some(Err(error))
            }
            (State::String | State::Value, _) if self.current.len() >= MAX_REPLY_LEN => {
                let error = ReplyError::TooLong {
                    offset: self.current_start,
                };
                self.fail();
                Some(Err(error))
            }
            (State::String | State::Value, _) => {
                self.current.push(byte);
                None
            }
        }
    }

    /// Feeds a slice; returns every reply and error it completes, in order.
    pub fn push_slice(&mut self, bytes: &[u8]) -> Vec<Result<Reply, ReplyError>> {
        bytes.iter().filter_map(|&byte| self.push(byte)).collect()
    }

    fn string_number(&self) -> u8 {
        u8::try_from(self.received + 1).unwrap_or(u8::MAX)
    }

    fn open(&mut self, state: State, offset: u64) -> Option<Result<Reply, ReplyError>> {
        self.state = state;
        self.current.clear();
        self.current_start = offset;
        None
    }

    fn close_string(&mut self) -> Option<Result<Reply, ReplyError>> {
        let index = self.received;
        let string = std::mem::take(&mut self.current);
        let start = self.current_start;
        self.state = State::Between;
        // The three strings have 12, 11 and 2 fields: the count tells which one this is, so a
        // broken reply is reported once and the next reply is read from its first string.
        let got = string.iter().filter(|&&b| b == b',').count() + 1;
        if got != FIELD_COUNTS[index] {
            if got == FIELD_COUNTS[0] {
                // A new reply began before this one ended: report it, read the new one.
                let error = ReplyError::Incomplete {
                    strings: u8::try_from(index).unwrap_or(u8::MAX),
                    offset: self.string_starts[0],
                };
                self.reset();
                self.accept(0, string, start);
                return Some(Err(error));
            }
            if self.broken && index == 0 {
                // The rest of a reply already reported broken.
                self.skipped += u64::try_from(string.len()).unwrap_or(u64::MAX) + 2;
                return None;
            }
            let error = ReplyError::FieldCount {
                string: u8::try_from(index + 1).unwrap_or(u8::MAX),
                expected: FIELD_COUNTS[index],
                got,
                offset: start,
            };
            self.fail();
            return Some(Err(error));
        }
        self.accept(index, string, start);
        if self.received < 3 {
            return None;
        }
        let result = HostStatus::from_strings(&self.strings, self.string_starts)
            .map(|status| Reply::HostStatus(Box::new(status)));
        if result.is_err() {
            self.fail();
        } else {
            self.reset();
        }
        Some(result)
    }

    fn accept(&mut self, index: usize, string: Vec<u8>, start: u64) {
        self.strings[index] = string;
        self.string_starts[index] = start;
        self.received = index + 1;
        if index == 0 {
            self.broken = false;
        }
    }

    /// Drops the reply in progress and skips what is left of it.
    fn fail(&mut self) {
        self.reset();
        self.broken = true;
    }
}

/// Parses the value of `odometer.total_label_count` \[SGD\]: decimal digits.
pub fn parse_label_count(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zpl::status::PrintMode;

    #[test]
    fn a_status_round_trips_in_any_chunking() {
        let status = HostStatus::new()
            .with_paused(true)
            .with_formats_in_buffer(7)
            .with_ribbon_out(true)
            .with_print_mode(PrintMode::Applicator)
            .with_labels_remaining(1);
        let wire = status.encode();
        for chunk in 1..wire.len() {
            let mut decoder = ReplyDecoder::new();
            let replies: Vec<_> = wire
                .chunks(chunk)
                .flat_map(|part| decoder.push_slice(part))
                .collect();
            assert_eq!(
                replies,
                vec![Ok(Reply::HostStatus(Box::new(status.clone())))]
            );
        }
        assert_eq!(status.labels_pending(), 8);
        assert_eq!(status.faults(), vec!["ribbon out"]);
    }

    #[test]
    fn a_lost_quote_is_reported_at_the_line_end() {
        let mut decoder = ReplyDecoder::new();
        assert_eq!(
            decoder.push_slice(b"\"123\r\n\"45\""),
            vec![
                Err(ReplyError::UnterminatedValue { offset: 0 }),
                Ok(Reply::Value("45".to_owned()))
            ]
        );
    }

    #[test]
    fn a_value_inside_a_status_reply_is_an_error() {
        let wire = HostStatus::new().encode();
        let first_string_end = wire.iter().position(|&b| b == b'\n').unwrap() + 1;
        let mut decoder = ReplyDecoder::new();
        let mut bytes = wire[..first_string_end].to_vec();
        bytes.extend_from_slice(b"\"9\"");
        assert_eq!(
            decoder.push_slice(&bytes),
            vec![
                Err(ReplyError::Interleaved {
                    strings: 1,
                    offset: first_string_end as u64
                }),
                Ok(Reply::Value("9".to_owned()))
            ]
        );
    }

    #[test]
    fn label_counts_are_digits_only() {
        assert_eq!(parse_label_count("31084"), Some(31_084));
        assert_eq!(parse_label_count(""), None);
        assert_eq!(parse_label_count("?"), None);
        assert_eq!(parse_label_count("-1"), None);
    }
}
