//! Codenet commands and the data replies tracemark reads. Pure, no I/O.
//!
//! A frame body is the command letters followed by their parameters, with no separators: the
//! open driver \[OPEN\] writes `ESC/P/1/001/EOT` in its source and strips every `/` before
//! sending (`IONetSocket.WritetoStream`), so `P 1 001` goes out as `P1001`. Commands whose
//! first letter is `O` take a second letter (`OE`, `OS`, `O1`) \[OPEN\]; CS00145's revision
//! history names more such pairs (`OQ`, `OH`) \[CS00145\]. A query has `?` where a set command
//! has its value; its reply is a frame that repeats the command letters and the selector
//! (`Q1?` → `Q1Y`) \[OPEN\]. Sources are listed in `frame.rs` and `docs/protocols/codenet.md`.
//!
//! Every printer tracemark drives has one head: the head selector is always `1`, as in every
//! command of \[OPEN\].

use std::fmt;

use super::frame::{EOT, Packet};

/// The head selector tracemark sends \[OPEN\].
pub const HEAD: u8 = b'1';

/// Largest external-data payload: the length field has four decimal digits \[OPEN `0065`\].
pub const MAX_EXTERNAL_DATA_LEN: usize = 9_999;

/// Separates the fields of one external-data entry, in the order the message's updatable
/// fields take them \[OPEN: `barcode;line1;line3;line2`\]. tracemark sends one field, so a code
/// must not contain it.
pub const FIELD_SEPARATOR: u8 = b';';

/// Product counts have ten digits \[OPEN: "Esc/T/A/NNNNNNNNNN/Eot … Return 10 digit"\]; the
/// counter rolls over after this.
pub const PRODUCT_COUNT_MODULUS: u64 = 10_000_000_000;

/// A stored message's number, 1–999, sent as three digits \[OPEN `P/1/001`\].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageNumber(u16);

impl MessageNumber {
    /// A message number; `None` outside 1–999.
    pub fn new(number: u16) -> Option<Self> {
        (1..=999).contains(&number).then_some(Self(number))
    }

    /// Parses `"2"`, `"02"` or `"002"`.
    pub fn parse(text: &str) -> Option<Self> {
        if text.is_empty() || text.len() > 3 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        text.parse().ok().and_then(Self::new)
    }

    /// The number.
    pub fn get(self) -> u16 {
        self.0
    }
}

impl fmt::Display for MessageNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03}", self.0)
    }
}

/// The payload of one external-data entry: 1 to 9,999 bytes, no EOT (it would end the frame).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalData(Vec<u8>);

impl ExternalData {
    /// A payload as the printer takes it: any bytes but EOT, fields separated by `;`.
    pub fn new(bytes: Vec<u8>) -> Result<Self, DataError> {
        if bytes.is_empty() {
            return Err(DataError::Empty);
        }
        if bytes.len() > MAX_EXTERNAL_DATA_LEN {
            return Err(DataError::TooLong { len: bytes.len() });
        }
        if let Some(offset) = bytes.iter().position(|&b| b == EOT) {
            return Err(DataError::Reserved { byte: EOT, offset });
        }
        Ok(Self(bytes))
    }

    /// One code for one updatable field: printable ASCII without `;`. A control byte could be
    /// taken for an embedded command (`ESC`) or end the frame (EOT); `;` would split the code
    /// across two fields.
    pub fn single_field(text: &str) -> Result<Self, DataError> {
        if let Some(offset) = text
            .bytes()
            .position(|b| !(0x20..=0x7E).contains(&b) || b == FIELD_SEPARATOR)
        {
            return Err(DataError::Reserved {
                byte: text.as_bytes()[offset],
                offset,
            });
        }
        Self::new(text.as_bytes().to_vec())
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Why a payload cannot be sent as external data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataError {
    /// Nothing to send (a length of 0000 means "empty the queue").
    #[error("external data is empty")]
    Empty,
    /// Over the four-digit length field.
    #[error("external data is {len} bytes, the length field allows {MAX_EXTERNAL_DATA_LEN}")]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// A byte the framing or the field layout reserves.
    #[error("external data has byte 0x{byte:02X} at offset {offset}, which Codenet reserves")]
    Reserved {
        /// The byte.
        byte: u8,
        /// Where, from 0.
        offset: usize,
    },
}

/// A host command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `A?`: printer identity \[OPEN "A: Printer Identity"\]; answered `A…`.
    Identity,
    /// `P1nnn`: message to head assignment, which stored message head 1 prints \[OPEN\];
    /// answered ACK/NAK.
    AssignMessage(MessageNumber),
    /// `Q1Y` / `Q1N`: head enable, printing on or off \[OPEN `Q/1/Y`\]; answered ACK/NAK. `N`
    /// for off is tracemark's reading of the Y/N flag (to verify).
    SetPrintEnable(bool),
    /// `Q1?`: is printing enabled \[OPEN\]; answered `Q1Y` or `Q1N`.
    QueryPrintEnable,
    /// `T1?`: read the product count \[OPEN\]; answered `T` + head + ten digits.
    QueryProductCount,
    /// `T10`: reset the product count \[OPEN\]; answered ACK/NAK. tracemark never sends it (the
    /// driver takes the counter as it finds it).
    ResetProductCount,
    /// `O1?`: current status, the printer's status lamps \[OPEN "O/1: Current status"\];
    /// answered `O1` + four bytes + the lamp byte.
    QueryStatus,
    /// `1C?`: request current status, a three-digit status code \[OPEN\]; answered `1C` +
    /// three digits + more.
    QueryStatusCode,
    /// `OEnnnn…`: one entry into the external data queue, `nnnn` its length in bytes \[OPEN
    /// "OE (4Fh 45h): Streaming the data to the printer"\]; answered ACK/NAK.
    ExternalData(ExternalData),
    /// `OE00000`: empty the external data queue \[OPEN "Esc/O/E/0000/0/Eot: EMPTY DATA
    /// QUEUE"\]; answered ACK/NAK.
    ClearExternalData,
    /// Any other frame body (the printer NAKs what it does not know).
    Other(Vec<u8>),
}

impl Command {
    /// The frame body.
    pub fn body(&self) -> Vec<u8> {
        match self {
            Self::Identity => b"A?".to_vec(),
            Self::AssignMessage(number) => format!("P1{number}").into_bytes(),
            Self::SetPrintEnable(on) => vec![b'Q', HEAD, if *on { b'Y' } else { b'N' }],
            Self::QueryPrintEnable => vec![b'Q', HEAD, b'?'],
            Self::QueryProductCount => vec![b'T', HEAD, b'?'],
            Self::ResetProductCount => vec![b'T', HEAD, b'0'],
            Self::QueryStatus => b"O1?".to_vec(),
            Self::QueryStatusCode => b"1C?".to_vec(),
            Self::ExternalData(data) => {
                let mut body = format!("OE{:04}", data.bytes().len()).into_bytes();
                body.extend_from_slice(data.bytes());
                body
            }
            Self::ClearExternalData => b"OE00000".to_vec(),
            Self::Other(body) => body.clone(),
        }
    }

    /// The packet carrying this command.
    pub fn to_packet(&self) -> Packet {
        Packet::Frame(self.body())
    }

    /// The command in a frame body. Unknown commands are [`Command::Other`]; a known command
    /// with parameters that do not fit is an error.
    pub fn parse(body: &[u8]) -> Result<Self, MessageError> {
        let head = HEAD;
        Ok(match body {
            b"A?" => Self::Identity,
            [b'P', h, digits @ ..] if *h == head && digits.len() == 3 => {
                let number = digits_value(digits)
                    .and_then(|n| u16::try_from(n).ok())
                    .and_then(MessageNumber::new)
                    .ok_or_else(|| MessageError::BadParameter {
                        command: "message assignment (P)",
                        found: lossy(body),
                    })?;
                Self::AssignMessage(number)
            }
            [b'Q', h, b'Y'] if *h == head => Self::SetPrintEnable(true),
            [b'Q', h, b'N'] if *h == head => Self::SetPrintEnable(false),
            [b'Q', h, b'?'] if *h == head => Self::QueryPrintEnable,
            [b'T', h, b'?'] if *h == head => Self::QueryProductCount,
            [b'T', h, b'0'] if *h == head => Self::ResetProductCount,
            b"O1?" => Self::QueryStatus,
            b"1C?" => Self::QueryStatusCode,
            b"OE00000" => Self::ClearExternalData,
            [b'O', b'E', rest @ ..] => {
                let (length, data) =
                    rest.split_at_checked(4)
                        .ok_or_else(|| MessageError::BadParameter {
                            command: "external data (OE)",
                            found: lossy(body),
                        })?;
                let declared = digits_value(length).ok_or_else(|| MessageError::BadParameter {
                    command: "external data (OE)",
                    found: lossy(body),
                })?;
                if usize::try_from(declared).ok() != Some(data.len()) {
                    return Err(MessageError::LengthMismatch {
                        declared,
                        actual: data.len(),
                    });
                }
                let data =
                    ExternalData::new(data.to_vec()).map_err(|_| MessageError::BadParameter {
                        command: "external data (OE)",
                        found: lossy(body),
                    })?;
                Self::ExternalData(data)
            }
            _ => Self::Other(body.to_vec()),
        })
    }

    /// What the command is, for logs and refusals.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Identity => "printer identity (A)",
            Self::AssignMessage(_) => "message assignment (P)",
            Self::SetPrintEnable(true) => "print enable (Q Y)",
            Self::SetPrintEnable(false) => "print disable (Q N)",
            Self::QueryPrintEnable => "print enable query (Q ?)",
            Self::QueryProductCount => "product count (T ?)",
            Self::ResetProductCount => "product count reset (T 0)",
            Self::QueryStatus => "current status (O1 ?)",
            Self::QueryStatusCode => "status code (1C ?)",
            Self::ExternalData(_) => "external data (OE)",
            Self::ClearExternalData => "empty external data queue (OE 0000)",
            Self::Other(_) => "unknown command",
        }
    }

    /// For a query, the letters its data reply starts with; `None` for commands answered by
    /// ACK or NAK.
    pub fn reply_prefix(&self) -> Option<&'static [u8]> {
        match self {
            Self::Identity => Some(b"A"),
            Self::QueryPrintEnable => Some(b"Q1"),
            Self::QueryProductCount => Some(b"T"),
            Self::QueryStatus => Some(b"O1"),
            Self::QueryStatusCode => Some(b"1C"),
            _ => None,
        }
    }
}

/// A data reply that does not have the expected shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// A reply to another query.
    #[error("expected a reply starting `{expected}`, got `{found}`")]
    WrongReply {
        /// The prefix expected.
        expected: String,
        /// The body received.
        found: String,
    },
    /// A reply of the right kind but the wrong length or content.
    #[error("{what} reply `{found}`: {problem}")]
    BadReply {
        /// Which reply.
        what: &'static str,
        /// The body received.
        found: String,
        /// What is wrong, and where.
        problem: String,
    },
    /// A known command with parameters that do not fit.
    #[error("{command} with parameters that do not fit: `{found}`")]
    BadParameter {
        /// Which command.
        command: &'static str,
        /// The body received.
        found: String,
    },
    /// The external-data length field disagrees with the data.
    #[error("external data (OE) declares {declared} bytes but carries {actual}")]
    LengthMismatch {
        /// The length field.
        declared: u64,
        /// The bytes that followed it.
        actual: usize,
    },
}

/// `Q1Y` / `Q1N`: whether head 1 prints \[OPEN reads byte 3 == `Y`\].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrintEnable(pub bool);

impl PrintEnable {
    /// The reply body.
    pub fn body(self) -> Vec<u8> {
        vec![b'Q', HEAD, if self.0 { b'Y' } else { b'N' }]
    }

    /// Parses a reply body.
    pub fn parse(body: &[u8]) -> Result<Self, MessageError> {
        expect_prefix(body, b"Q1")?;
        match body {
            [_, _, b'Y'] => Ok(Self(true)),
            [_, _, b'N'] => Ok(Self(false)),
            _ => Err(bad_reply(
                "print enable",
                body,
                "expected Y or N after `Q1`",
            )),
        }
    }
}

/// `T` + head + ten digits: the product count, prints made since the counter was last reset
/// \[OPEN\]. The driver confirms prints by it. The byte after `T` echoes the head (`1`); OPEN's
/// note of the reply writes it `A` ("Esc/T/A/NNNNNNNNNN/Eot"), so any printable byte is
/// accepted there and kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProductCount {
    head: u8,
    count: u64,
}

impl ProductCount {
    /// A count for head 1; values past ten digits roll over as the printer's counter does.
    pub fn new(count: u64) -> Self {
        Self {
            head: HEAD,
            count: count % PRODUCT_COUNT_MODULUS,
        }
    }

    /// The count.
    pub fn get(self) -> u64 {
        self.count
    }

    /// The reply body.
    pub fn body(self) -> Vec<u8> {
        let mut body = vec![b'T', self.head];
        body.extend_from_slice(format!("{:010}", self.count).as_bytes());
        body
    }

    /// Parses a reply body.
    pub fn parse(body: &[u8]) -> Result<Self, MessageError> {
        expect_prefix(body, b"T")?;
        let Some((&head, digits)) = body[1..].split_first() else {
            return Err(bad_reply("product count", body, "nothing after `T`"));
        };
        if digits.len() != 10 {
            return Err(bad_reply(
                "product count",
                body,
                &format!(
                    "{} characters after `T` and the head, expected 10 digits",
                    digits.len()
                ),
            ));
        }
        let count = digits_value(digits).ok_or_else(|| {
            let offset = digits.iter().position(|b| !b.is_ascii_digit()).unwrap_or(0) + 2;
            bad_reply(
                "product count",
                body,
                &format!("not a digit at offset {offset}"),
            )
        })?;
        Ok(Self { head, count })
    }
}

/// The lamp bits of the current-status reply \[OPEN `lfStatusLED`: bit 0 green, bit 1 amber;
/// red is read as the remaining bit, 4 — to verify\].
pub mod lamp {
    /// Green: running, ready to print.
    pub const GREEN: u8 = 0x01;
    /// Amber: warning (e.g. ink low); still prints.
    pub const AMBER: u8 = 0x02;
    /// Red: fault; does not print.
    pub const RED: u8 = 0x04;
}

/// `O1` + four bytes + lamp byte: the printer's status lamps \[OPEN reads byte 7 of the
/// frame, i.e. body byte 6\]. The four bytes before it are not interpreted (to verify).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrinterStatus {
    other: [u8; 4],
    lamp_byte: u8,
}

impl PrinterStatus {
    /// A status with `lamps` (bits of [`lamp`]), as the simulator sends it: the lamp byte an
    /// ASCII digit, the other bytes `0000`.
    pub fn new(lamps: u8) -> Self {
        Self {
            other: *b"0000",
            lamp_byte: b'0' | (lamps & 0x07),
        }
    }

    /// The lamp bits. The open driver masks the byte's low bits, which works whether the
    /// printer sends raw bits or an ASCII digit.
    pub fn lamps(self) -> u8 {
        self.lamp_byte & 0x07
    }

    /// The green lamp is on.
    pub fn green(self) -> bool {
        self.lamps() & lamp::GREEN != 0
    }

    /// The amber lamp is on.
    pub fn amber(self) -> bool {
        self.lamps() & lamp::AMBER != 0
    }

    /// The red lamp is on.
    pub fn red(self) -> bool {
        self.lamps() & lamp::RED != 0
    }

    /// Ready to print: green or amber, and not red \[OPEN "LedGreenOn OR LedAmberOn: the printer
    /// is ready for printing"\].
    pub fn ready(self) -> bool {
        (self.green() || self.amber()) && !self.red()
    }

    /// The reply body.
    pub fn body(self) -> Vec<u8> {
        let mut body = b"O1".to_vec();
        body.extend_from_slice(&self.other);
        body.push(self.lamp_byte);
        body
    }

    /// Parses a reply body.
    pub fn parse(body: &[u8]) -> Result<Self, MessageError> {
        expect_prefix(body, b"O1")?;
        match body {
            [_, _, a, b, c, d, lamp_byte] => Ok(Self {
                other: [*a, *b, *c, *d],
                lamp_byte: *lamp_byte,
            }),
            _ => Err(bad_reply(
                "current status",
                body,
                &format!(
                    "{} bytes, expected 7 (`O1`, four bytes, the lamps)",
                    body.len()
                ),
            )),
        }
    }
}

impl fmt::Display for PrinterStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = [
            (lamp::GREEN, "green"),
            (lamp::AMBER, "amber"),
            (lamp::RED, "red"),
        ]
        .into_iter()
        .filter(|(bit, _)| self.lamps() & bit != 0)
        .map(|(_, name)| name)
        .collect();
        if names.is_empty() {
            f.write_str("no lamp")
        } else {
            write!(f, "{} lamp", names.join("+"))
        }
    }
}

/// `1C` + three digits + more: the current status code \[OPEN: bytes 3–5 of the frame, `000`
/// ready, `1..` warning\]. What follows the digits is kept, not interpreted (to verify).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCode {
    code: [u8; 3],
    rest: Vec<u8>,
}

impl StatusCode {
    /// A status code as the simulator sends it; `None` unless `code` is three digits.
    pub fn new(code: &str) -> Option<Self> {
        let code: [u8; 3] = code.as_bytes().try_into().ok()?;
        code.iter().all(u8::is_ascii_digit).then(|| Self {
            code,
            rest: b"00000".to_vec(),
        })
    }

    /// The three digits.
    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.code).unwrap_or("???")
    }

    /// The reply body.
    pub fn body(&self) -> Vec<u8> {
        let mut body = b"1C".to_vec();
        body.extend_from_slice(&self.code);
        body.extend_from_slice(&self.rest);
        body
    }

    /// Parses a reply body.
    pub fn parse(body: &[u8]) -> Result<Self, MessageError> {
        expect_prefix(body, b"1C")?;
        match body.get(2..5) {
            Some(code) if code.iter().all(u8::is_ascii_digit) => Ok(Self {
                code: [code[0], code[1], code[2]],
                rest: body[5..].to_vec(),
            }),
            _ => Err(bad_reply(
                "status code",
                body,
                "expected three digits after `1C`",
            )),
        }
    }
}

/// `A…`: the printer identity text \[OPEN\].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity(pub String);

impl Identity {
    /// The reply body.
    pub fn body(&self) -> Vec<u8> {
        let mut body = b"A".to_vec();
        body.extend_from_slice(self.0.as_bytes());
        body
    }

    /// Parses a reply body.
    pub fn parse(body: &[u8]) -> Result<Self, MessageError> {
        expect_prefix(body, b"A")?;
        Ok(Self(String::from_utf8_lossy(&body[1..]).into_owned()))
    }
}

fn expect_prefix(body: &[u8], prefix: &[u8]) -> Result<(), MessageError> {
    if body.starts_with(prefix) {
        Ok(())
    } else {
        Err(MessageError::WrongReply {
            expected: lossy(prefix),
            found: lossy(body),
        })
    }
}

fn bad_reply(what: &'static str, body: &[u8], problem: &str) -> MessageError {
    MessageError::BadReply {
        what,
        found: lossy(body),
        problem: problem.to_owned(),
    }
}

/// The value of a run of ASCII digits; `None` if any byte is not a digit or it overflows.
fn digits_value(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |value, &b| {
        if !b.is_ascii_digit() {
            return None;
        }
        value.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

/// Bytes as text for messages, control bytes escaped.
fn lossy(bytes: &[u8]) -> String {
    bytes
        .iter()
        .flat_map(|&b| std::ascii::escape_default(b))
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_parses_back_from_its_body() {
        let commands = [
            Command::Identity,
            Command::AssignMessage(MessageNumber::new(2).unwrap()),
            Command::SetPrintEnable(true),
            Command::SetPrintEnable(false),
            Command::QueryPrintEnable,
            Command::QueryProductCount,
            Command::ResetProductCount,
            Command::QueryStatus,
            Command::QueryStatusCode,
            Command::ExternalData(ExternalData::single_field("(21)S00001").unwrap()),
            Command::ClearExternalData,
            Command::Other(b"OS1".to_vec()),
        ];
        for command in commands {
            assert_eq!(Command::parse(&command.body()), Ok(command));
        }
    }

    #[test]
    fn external_data_checks_its_length_field() {
        assert_eq!(
            Command::parse(b"OE0003ABCD"),
            Err(MessageError::LengthMismatch {
                declared: 3,
                actual: 4
            })
        );
        assert!(matches!(
            Command::parse(b"OE00x1A"),
            Err(MessageError::BadParameter { .. })
        ));
        assert_eq!(
            Command::ExternalData(ExternalData::single_field("AB").unwrap()).body(),
            b"OE0002AB"
        );
    }

    #[test]
    fn a_code_with_reserved_bytes_is_refused_before_sending() {
        assert_eq!(
            ExternalData::single_field("A;B"),
            Err(DataError::Reserved {
                byte: b';',
                offset: 1
            })
        );
        assert_eq!(
            ExternalData::single_field("A\u{1b}u1"),
            Err(DataError::Reserved {
                byte: 0x1B,
                offset: 1
            })
        );
        assert_eq!(ExternalData::single_field(""), Err(DataError::Empty));
        let long = "A".repeat(MAX_EXTERNAL_DATA_LEN + 1);
        assert_eq!(
            ExternalData::single_field(&long),
            Err(DataError::TooLong {
                len: MAX_EXTERNAL_DATA_LEN + 1
            })
        );
    }

    #[test]
    fn replies_parse_and_say_what_is_wrong() {
        assert_eq!(ProductCount::parse(b"T10000000042").unwrap().get(), 42);
        let short = ProductCount::parse(b"T1000042").unwrap_err();
        assert_eq!(
            short.to_string(),
            "product count reply `T1000042`: 6 characters after `T` and the head, expected 10 digits"
        );
        let letter = ProductCount::parse(b"T100000x0042").unwrap_err();
        assert!(letter.to_string().contains("offset 7"), "{letter}");
        assert_eq!(
            ProductCount::parse(b"Q1Y").unwrap_err().to_string(),
            "expected a reply starting `T`, got `Q1Y`"
        );
        assert_eq!(ProductCount::new(PRODUCT_COUNT_MODULUS + 5).get(), 5);
        // OPEN's note writes the echoed head as `A`: accepted, and kept on re-encoding.
        let lettered = ProductCount::parse(b"TA0000000042").unwrap();
        assert_eq!(
            (lettered.get(), lettered.body()),
            (42, b"TA0000000042".to_vec())
        );

        let status = PrinterStatus::parse(b"O100003").unwrap();
        assert!(status.green() && status.amber() && !status.red() && status.ready());
        assert_eq!(status.to_string(), "green+amber lamp");
        assert!(!PrinterStatus::new(lamp::RED | lamp::GREEN).ready());
        assert!(!PrinterStatus::new(0).ready());
        assert_eq!(PrinterStatus::new(lamp::GREEN).body(), b"O100001");

        let code = StatusCode::parse(b"1C20100000").unwrap();
        assert_eq!(code.code(), "201");
        assert_eq!(code.body(), b"1C20100000");
        assert!(StatusCode::parse(b"1C2x").is_err());
        assert_eq!(PrintEnable::parse(b"Q1N"), Ok(PrintEnable(false)));
        assert_eq!(
            MessageNumber::parse("2").map(|m| m.to_string()).as_deref(),
            Some("002")
        );
        assert_eq!(MessageNumber::parse("0"), None);
        assert_eq!(MessageNumber::parse("1000"), None);
    }
}
