//! Hand-scanner lines, without I/O: the line framing, the symbology identifier and the checks
//! on the data.
//!
//! A hand scanner in "keyboard-less" mode (RS-232, a USB CDC serial port, or a TCP base
//! station) sends one line per read: the symbology identifier, the decoded data and a suffix of
//! CR, LF or CR LF (each vendor's default differs, so any of them ends a line and an empty line
//! is nothing). The symbology identifier is that of ISO/IEC 15424 (AIM "Symbology
//! Identifiers"): `]`, a code character naming the symbology and a modifier character giving
//! its options. GS1 data is told apart from plain data by the identifier (GS1 General
//! Specifications, "Symbology identifiers": `]C1`, `]d2`, `]Q3`, `]e0`, `]E0`, `]J1`), which is
//! why a station normally requires it ([`ParseOptions::require_identifier`]).
//!
//! Inside GS1 data a scanner transmits FNC1 used as a separator as GS (0x1D, GS1 General
//! Specifications §7.8.5): that control character is kept; any other is refused.

use std::fmt;

/// The longest line taken, terminator excluded. A unit's GS1 DataMatrix with its AIs, an SSCC
/// label or a Digital Link URL is far below it (a 24×24 DataMatrix holds 52 alphanumerics); a
/// longer line is a scanner in the wrong mode or noise on the link, not a code.
pub const MAX_LINE_LEN: usize = 1024;

/// GS: FNC1 as a separator in transmitted GS1 data.
const GS: u8 = 0x1D;

/// A line longer than [`MAX_LINE_LEN`]; its remaining bytes up to the terminator are skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineTooLong {
    /// Offset in the stream of the line's first byte.
    pub offset: u64,
}

/// Splits a byte stream into lines at CR and LF.
#[derive(Debug, Default)]
pub struct LineDecoder {
    line: Vec<u8>,
    position: u64,
    line_start: u64,
    overflowed: bool,
}

impl LineDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one byte; returns a line (without its terminator) when this byte ends one.
    pub fn push(&mut self, byte: u8) -> Option<Result<Vec<u8>, LineTooLong>> {
        let offset = self.position;
        self.position += 1;
        match byte {
            b'\r' | b'\n' => {
                let overflowed = std::mem::take(&mut self.overflowed);
                let line = std::mem::take(&mut self.line);
                self.line_start = self.position;
                // The overlong line was reported already; an empty line (the LF of CR LF, or a
                // bare terminator) carries nothing.
                (!overflowed && !line.is_empty()).then_some(Ok(line))
            }
            _ if self.overflowed => None,
            _ if self.line.len() >= MAX_LINE_LEN => {
                self.overflowed = true;
                self.line.clear();
                Some(Err(LineTooLong {
                    offset: self.line_start.min(offset),
                }))
            }
            _ => {
                self.line.push(byte);
                None
            }
        }
    }

    /// Feeds a slice; returns every line it completes, in order.
    pub fn push_slice(&mut self, bytes: &[u8]) -> Vec<Result<Vec<u8>, LineTooLong>> {
        bytes.iter().filter_map(|&byte| self.push(byte)).collect()
    }
}

/// An ISO/IEC 15424 symbology identifier: `]` + code character + modifier character.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Symbology {
    code: u8,
    modifier: u8,
}

/// The identifiers a packing station meets, with their names (ISO/IEC 15424 Table 1 and each
/// symbology's own standard; the GS1 ones as the GS1 General Specifications list them).
static KNOWN: [(&[u8; 2], &str, bool); 16] = [
    (b"C0", "Code 128", false),
    (b"C1", "GS1-128", true),
    (b"C2", "Code 128 (FNC1 in second position)", false),
    (b"d1", "Data Matrix", false),
    (b"d2", "GS1 DataMatrix", true),
    (b"Q1", "QR Code", false),
    (b"Q3", "GS1 QR Code", true),
    (b"E0", "EAN-13 / UPC-A", true),
    (b"E4", "EAN-8", true),
    (b"e0", "GS1 DataBar", true),
    (b"J1", "GS1 DotCode", true),
    (b"A0", "Code 39", false),
    (b"I0", "Interleaved 2 of 5", false),
    (b"L0", "PDF417", false),
    (b"z0", "Aztec Code", false),
    (b"X0", "other (no identifier assigned)", false),
];

impl Symbology {
    /// The identifier `]` + `code` + `modifier`, if both are what ISO/IEC 15424 allows: a letter
    /// for the code character, a digit or letter for the modifier.
    pub fn new(code: u8, modifier: u8) -> Option<Self> {
        (code.is_ascii_alphabetic() && modifier.is_ascii_alphanumeric())
            .then_some(Self { code, modifier })
    }

    /// Parses a three-character identifier such as `]C1`.
    pub fn from_identifier(text: &str) -> Option<Self> {
        match text.as_bytes() {
            [b']', code, modifier] => Self::new(*code, *modifier),
            _ => None,
        }
    }

    /// The code character (`C` for Code 128, `d` for Data Matrix, …).
    pub fn code(self) -> char {
        char::from(self.code)
    }

    /// The modifier character.
    pub fn modifier(self) -> char {
        char::from(self.modifier)
    }

    /// The three characters as transmitted, e.g. `]C1`.
    pub fn identifier(self) -> String {
        format!("]{}{}", self.code(), self.modifier())
    }

    fn known(self) -> Option<&'static (&'static [u8; 2], &'static str, bool)> {
        KNOWN
            .iter()
            .find(|(id, _, _)| **id == [self.code, self.modifier])
    }

    /// The symbology's name, for logs and replies; `None` for an identifier not in the table
    /// (still accepted: a scanner may read symbologies the station does not name).
    pub fn name(self) -> Option<&'static str> {
        self.known().map(|(_, name, _)| *name)
    }

    /// Whether the identifier announces GS1 data (element strings with FNC1 as GS).
    pub fn is_gs1(self) -> bool {
        self.known().is_some_and(|(_, _, gs1)| *gs1)
    }
}

impl fmt::Display for Symbology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{} ({name})", self.identifier()),
            None => f.write_str(&self.identifier()),
        }
    }
}

/// One read: its symbology (when the scanner sent an identifier) and its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    /// The symbology identifier, if the line had one.
    pub symbology: Option<Symbology>,
    /// The decoded data, UTF-8, GS kept as the FNC1 separator.
    pub data: String,
}

impl Scan {
    /// The line as a scanner sends it: identifier, data, CR LF.
    pub fn to_line(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + 5);
        if let Some(symbology) = self.symbology {
            out.extend_from_slice(symbology.identifier().as_bytes());
        }
        out.extend_from_slice(self.data.as_bytes());
        out.extend_from_slice(b"\r\n");
        out
    }

    /// Identifier and data, as `tracemark_codes` parsers take scanner output (`]d2010…`).
    pub fn text(&self) -> String {
        let mut out = self
            .symbology
            .map(Symbology::identifier)
            .unwrap_or_default();
        out.push_str(&self.data);
        out
    }
}

/// How lines are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// Refuse a line without a symbology identifier. Default true: without it GS1 data and
    /// plain text cannot be told apart reliably (configure the scanner to transmit AIM IDs).
    pub require_identifier: bool,
}

impl Default for ParseOptions {
    fn default() -> Self {
        Self {
            require_identifier: true,
        }
    }
}

/// Why a line is not a scan. Offsets are 0-based within the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    /// Longer than [`MAX_LINE_LEN`].
    #[error("line at stream offset {offset} is longer than {MAX_LINE_LEN} bytes")]
    TooLong {
        /// Stream offset of the line's first byte.
        offset: u64,
    },
    /// Not UTF-8.
    #[error("byte {at} is not UTF-8 (0x{byte:02X})")]
    NotUtf8 {
        /// Where.
        at: usize,
        /// The byte.
        byte: u8,
    },
    /// A control character other than GS.
    #[error("byte {at} is control character 0x{byte:02X} (only GS, 0x1D, may appear in data)")]
    ControlCharacter {
        /// Where.
        at: usize,
        /// The byte.
        byte: u8,
    },
    /// No symbology identifier, and the station requires one.
    #[error(
        "no symbology identifier (the line must start with one like ]C1 or ]d2: set the \
         scanner to transmit AIM identifiers)"
    )]
    NoIdentifier,
    /// A `]` not followed by a valid code and modifier character.
    #[error("{found:?} is not a symbology identifier (] + letter + digit or letter)")]
    BadIdentifier {
        /// What the line started with.
        found: String,
    },
    /// An identifier and no data.
    #[error("no data after the symbology identifier {0}")]
    Empty(String),
}

impl From<LineTooLong> for ScanError {
    fn from(e: LineTooLong) -> Self {
        ScanError::TooLong { offset: e.offset }
    }
}

/// Parses one line (terminator removed, as [`LineDecoder`] gives it).
pub fn parse_line(line: &[u8], options: ParseOptions) -> Result<Scan, ScanError> {
    if line.len() > MAX_LINE_LEN {
        return Err(ScanError::TooLong { offset: 0 });
    }
    // Control characters first: they say more about the link than a UTF-8 error would.
    if let Some(at) = line.iter().position(|&b| b.is_ascii_control() && b != GS) {
        return Err(ScanError::ControlCharacter { at, byte: line[at] });
    }
    let text = std::str::from_utf8(line).map_err(|e| {
        let at = e.valid_up_to();
        ScanError::NotUtf8 { at, byte: line[at] }
    })?;
    let (symbology, data) = match text.strip_prefix(']') {
        Some(_) => {
            let symbology = text.get(..3).and_then(Symbology::from_identifier);
            match symbology {
                Some(symbology) => (Some(symbology), &text[3..]),
                None => {
                    return Err(ScanError::BadIdentifier {
                        found: text.chars().take(3).collect(),
                    });
                }
            }
        }
        None if options.require_identifier => return Err(ScanError::NoIdentifier),
        None => (None, text),
    };
    if data.is_empty() {
        return Err(ScanError::Empty(
            symbology.map(Symbology::identifier).unwrap_or_default(),
        ));
    }
    Ok(Scan {
        symbology,
        data: data.to_owned(),
    })
}

/// A reply line to the scanner (its base station shows or beeps it): the text, CR LF. A
/// CR, LF or other control character in the text is replaced by a space, so one reply is
/// always one line.
pub fn encode_reply(text: &str) -> Vec<u8> {
    let mut out: Vec<u8> = text
        .bytes()
        .map(|b| if b.is_ascii_control() { b' ' } else { b })
        .collect();
    out.extend_from_slice(b"\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_need_a_letter_and_an_alphanumeric() {
        assert!(Symbology::from_identifier("]C1").is_some());
        assert!(Symbology::from_identifier("]1C").is_none());
        assert!(Symbology::from_identifier("]C").is_none());
        assert!(Symbology::from_identifier("]C1x").is_none());
        assert!(Symbology::from_identifier("]C-").is_none());
    }

    #[test]
    fn a_reply_is_always_one_line() {
        assert_eq!(encode_reply("OK a\r\nb"), b"OK a  b\r\n");
    }
}
