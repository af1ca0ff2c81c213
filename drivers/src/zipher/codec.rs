//! Zipher-style text protocol: commands, responses and an incremental line decoder. Pure, no I/O.
//!
//! Sources (see `docs/protocols/zipher.md`):
//! - \[ZTCP\] *Zipher Text Communications Protocol* (Zipher / Videojet, revisions 1.21–1.37),
//!   public copies listed in the protocol document; its command and reply descriptions are
//!   quoted per command in the open Videojet Dataflex 6330 driver \[VJ6330\]
//!   (`Videojet6330App/Printer/VideoJetPrinter.cs`, on GitHub).
//! - \[SPEC\] tracemark `SPEC.md` §5: ASCII, `|`-separated, CR-terminated, `ACK`/`ERR` replies.
//!
//! A command is `NAME|field|field|…|` + CR, or `NAME` + CR without fields \[VJ6330 `GST\r`,
//! `SST|3|\r`\]. A reply is `ACK` + CR, `ERR` + CR, or `TAG|field|…|` + CR (e.g. `STS|3|0|job|12|3456|`)
//! \[VJ6330 `DefaultSuccessResponse = "ACK\r"`, response patterns\].

use std::fmt;

/// Ends every command and reply \[SPEC\], \[VJ6330\].
pub const CR: u8 = b'\r';
/// Separates fields \[SPEC\].
pub const SEPARATOR: u8 = b'|';
/// Longest line the decoder accepts; a status line or a record is well under it, so a longer
/// one means a lost CR.
pub const MAX_LINE_LEN: usize = 2048;

/// A command that cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The name is not three or four upper-case letters.
    #[error("command name `{0}` is not 3 or 4 upper-case letters")]
    BadName(String),
    /// A field holds a byte the framing reserves.
    #[error("field {index} of {name} contains {byte:?}, which the protocol reserves")]
    ReservedByte {
        /// Command name.
        name: String,
        /// Field number, from 1.
        index: usize,
        /// The reserved byte, as a char.
        byte: char,
    },
}

/// Encodes `NAME|f1|f2|…|` + CR, or `NAME` + CR when there are no fields.
pub fn encode_command(name: &str, fields: &[&str]) -> Result<Vec<u8>, EncodeError> {
    if !(3..=4).contains(&name.len()) || !name.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(EncodeError::BadName(name.to_owned()));
    }
    let mut out =
        Vec::with_capacity(name.len() + 2 + fields.iter().map(|f| f.len() + 1).sum::<usize>());
    out.extend_from_slice(name.as_bytes());
    for (index, field) in fields.iter().enumerate() {
        if let Some(byte) = field
            .bytes()
            .find(|&b| b == SEPARATOR || b == CR || b == b'\n')
        {
            return Err(EncodeError::ReservedByte {
                name: name.to_owned(),
                index: index + 1,
                byte: char::from(byte),
            });
        }
        out.push(SEPARATOR);
        out.extend_from_slice(field.as_bytes());
    }
    if !fields.is_empty() {
        out.push(SEPARATOR);
    }
    out.push(CR);
    Ok(out)
}

/// One reply line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// `ACK`: the command succeeded \[VJ6330\].
    Ack,
    /// `ERR`: the command failed; the protocol gives no reason \[VJ6330\].
    Err,
    /// `TAG|field|…|`: data.
    Data {
        /// The three-letter tag (`STS`, `FLT`, `SRC`, …).
        tag: String,
        /// The fields, without separators.
        fields: Vec<String>,
    },
}

impl Response {
    /// Parses one line (without its CR).
    pub fn parse(line: &[u8]) -> Result<Self, ResponseError> {
        let text = std::str::from_utf8(line).map_err(|error| ResponseError::NotText {
            offset: error.valid_up_to(),
        })?;
        match text {
            "ACK" => return Ok(Self::Ack),
            "ERR" => return Ok(Self::Err),
            _ => {}
        }
        let Some((tag, rest)) = text.split_once('|') else {
            return Err(ResponseError::NoTag(text.to_owned()));
        };
        if !(3..=4).contains(&tag.len()) || !tag.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(ResponseError::NoTag(text.to_owned()));
        }
        // Every field is followed by `|`, the last one too [VJ6330 response patterns]:
        // `TAG|` has no field, `TAG||` one empty field.
        let fields = if rest.is_empty() {
            Vec::new()
        } else {
            let Some(body) = rest.strip_suffix('|') else {
                return Err(ResponseError::Unterminated(text.to_owned()));
            };
            body.split('|').map(str::to_owned).collect()
        };
        Ok(Self::Data {
            tag: tag.to_owned(),
            fields,
        })
    }

    /// Encodes the reply line, CR included.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = match self {
            Self::Ack => b"ACK".to_vec(),
            Self::Err => b"ERR".to_vec(),
            Self::Data { tag, fields } => {
                let mut out = tag.as_bytes().to_vec();
                out.push(SEPARATOR);
                for field in fields {
                    out.extend_from_slice(field.as_bytes());
                    out.push(SEPARATOR);
                }
                out
            }
        };
        out.push(CR);
        out
    }

    /// A data reply.
    pub fn data(tag: &str, fields: &[&str]) -> Self {
        Self::Data {
            tag: tag.to_owned(),
            fields: fields.iter().map(|f| (*f).to_owned()).collect(),
        }
    }
}

/// A reply line that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// Not UTF-8.
    #[error("reply is not text (invalid byte at offset {offset})")]
    NotText {
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// Neither ACK, ERR nor `TAG|…`.
    #[error("reply `{0}` is not ACK, ERR or TAG|fields|")]
    NoTag(String),
    /// Fields not closed by `|`.
    #[error("reply `{0}` does not end with `|`")]
    Unterminated(String),
    /// A data reply with another tag or shape than the command expects.
    #[error("expected {expected}, got `{got}`")]
    Unexpected {
        /// What the command answers with.
        expected: &'static str,
        /// What came.
        got: String,
    },
}

/// A line longer than [`MAX_LINE_LEN`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("reply line starting at stream byte {offset} has no CR within {MAX_LINE_LEN} bytes")]
pub struct LineTooLong {
    offset: u64,
}

/// Splits a byte stream into CR-terminated lines. A LF right after a CR (a `\r\n` sender) and
/// empty lines are skipped.
#[derive(Debug, Clone, Default)]
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

    /// Feeds one byte; returns a line (without CR) when this byte ends one.
    pub fn push(&mut self, byte: u8) -> Option<Result<Vec<u8>, LineTooLong>> {
        let offset = self.position;
        self.position += 1;
        match byte {
            CR => {
                let overflowed = std::mem::take(&mut self.overflowed);
                let line = std::mem::take(&mut self.line);
                self.line_start = self.position;
                // The tail of an overlong line was reported already; empty lines carry nothing.
                (!overflowed && !line.is_empty()).then_some(Ok(line))
            }
            b'\n' if self.line.is_empty() => {
                self.line_start = self.position;
                None
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

/// Overall state in `STS` and `SST` \[VJ6330 `OverallState`, state transition diagram\].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OverallState {
    /// 0.
    ShutDown,
    /// 1.
    StartingUp,
    /// 2.
    ShuttingDown,
    /// 3: printing.
    Running,
    /// 4: idle, not printing.
    Offline,
}

impl OverallState {
    /// The number on the wire.
    pub fn code(self) -> u8 {
        match self {
            Self::ShutDown => 0,
            Self::StartingUp => 1,
            Self::ShuttingDown => 2,
            Self::Running => 3,
            Self::Offline => 4,
        }
    }

    /// Parses the number.
    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "0" => Some(Self::ShutDown),
            "1" => Some(Self::StartingUp),
            "2" => Some(Self::ShuttingDown),
            "3" => Some(Self::Running),
            "4" => Some(Self::Offline),
            _ => None,
        }
    }
}

/// Error state in `STS` \[VJ6330 `ErrorState`\].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorState {
    /// 0.
    None,
    /// 1.
    Warnings,
    /// 2.
    Faults,
}

impl ErrorState {
    /// The number on the wire.
    pub fn code(self) -> u8 {
        match self {
            Self::None => 0,
            Self::Warnings => 1,
            Self::Faults => 2,
        }
    }

    fn from_code(code: &str) -> Option<Self> {
        match code {
            "0" => Some(Self::None),
            "1" => Some(Self::Warnings),
            "2" => Some(Self::Faults),
            _ => None,
        }
    }
}

/// The `GST` reply: `STS|overall|error|job|batch count|total count|` \[VJ6330 `GetStateCommand`\].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineState {
    overall: OverallState,
    error: ErrorState,
    job: String,
    batch_count: u64,
    total_count: u64,
}

impl MachineState {
    /// A state.
    pub fn new(
        overall: OverallState,
        error: ErrorState,
        job: impl Into<String>,
        batch_count: u64,
        total_count: u64,
    ) -> Self {
        Self {
            overall,
            error,
            job: job.into(),
            batch_count,
            total_count,
        }
    }

    /// Overall state.
    pub fn overall(&self) -> OverallState {
        self.overall
    }

    /// Error state.
    pub fn error(&self) -> ErrorState {
        self.error
    }

    /// Selected job; empty when none.
    pub fn job(&self) -> &str {
        &self.job
    }

    /// Batch count.
    pub fn batch_count(&self) -> u64 {
        self.batch_count
    }

    /// Total count: every print the machine made.
    pub fn total_count(&self) -> u64 {
        self.total_count
    }

    /// Decodes a `STS` reply.
    pub fn decode(response: &Response) -> Result<Self, ResponseError> {
        let unexpected = || ResponseError::Unexpected {
            expected: "STS|overall|error|job|batch|total|",
            got: String::from_utf8_lossy(&response.encode())
                .trim_end()
                .to_owned(),
        };
        let Response::Data { tag, fields } = response else {
            return Err(unexpected());
        };
        match (tag.as_str(), fields.as_slice()) {
            ("STS", [overall, error, job, batch, total]) => Ok(Self::new(
                OverallState::from_code(overall).ok_or_else(unexpected)?,
                ErrorState::from_code(error).ok_or_else(unexpected)?,
                job.clone(),
                batch.parse().map_err(|_| unexpected())?,
                total.parse().map_err(|_| unexpected())?,
            )),
            _ => Err(unexpected()),
        }
    }

    /// Encodes the `STS` reply.
    pub fn encode(&self) -> Response {
        Response::Data {
            tag: "STS".to_owned(),
            fields: vec![
                self.overall.code().to_string(),
                self.error.code().to_string(),
                self.job.clone(),
                self.batch_count.to_string(),
                self.total_count.to_string(),
            ],
        }
    }
}

/// One entry of the `GFT` reply \[VJ6330 `GetAllFaultsCommand`: code, clearable flag, text\].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultEntry {
    code: String,
    clearable: bool,
    text: String,
}

impl FaultEntry {
    /// A fault.
    pub fn new(code: impl Into<String>, clearable: bool, text: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            clearable,
            text: text.into(),
        }
    }

    /// The machine's fault code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// Clearable by `CAF`.
    pub fn clearable(&self) -> bool {
        self.clearable
    }

    /// Description.
    pub fn text(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for FaultEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.text)
    }
}

/// Decodes `FLT|count|code|clearable|text|…|` \[VJ6330\].
pub fn decode_faults(response: &Response) -> Result<Vec<FaultEntry>, ResponseError> {
    let unexpected = || ResponseError::Unexpected {
        expected: "FLT|count|code|clearable|text|…|",
        got: String::from_utf8_lossy(&response.encode())
            .trim_end()
            .to_owned(),
    };
    let Response::Data { tag, fields } = response else {
        return Err(unexpected());
    };
    let Some((count, entries)) = fields.split_first() else {
        return Err(unexpected());
    };
    let count: usize = count.parse().map_err(|_| unexpected())?;
    if tag != "FLT" || entries.len() != count.saturating_mul(3) {
        return Err(unexpected());
    }
    Ok(entries
        .chunks_exact(3)
        .map(|entry| FaultEntry::new(entry[0].clone(), entry[1] != "0", entry[2].clone()))
        .collect())
}

/// Encodes the `FLT` reply.
pub fn encode_faults(faults: &[FaultEntry]) -> Response {
    let mut fields = vec![faults.len().to_string()];
    for fault in faults {
        fields.push(fault.code.clone());
        fields.push(if fault.clearable { "1" } else { "0" }.to_owned());
        fields.push(fault.text.clone());
    }
    Response::Data {
        tag: "FLT".to_owned(),
        fields,
    }
}

/// Decodes a one-number reply such as `SRC|12|` or `SLR|4711|` \[VJ6330 `ExecuteRequestInt`\].
pub fn decode_number(
    response: &Response,
    expected_tag: &'static str,
) -> Result<u64, ResponseError> {
    match response {
        Response::Data { tag, fields } if tag == expected_tag => match fields.as_slice() {
            [value] => value.parse().map_err(|_| ResponseError::Unexpected {
                expected: expected_tag,
                got: value.clone(),
            }),
            _ => Err(ResponseError::Unexpected {
                expected: expected_tag,
                got: fields.join("|"),
            }),
        },
        other => Err(ResponseError::Unexpected {
            expected: expected_tag,
            got: String::from_utf8_lossy(&other.encode())
                .trim_end()
                .to_owned(),
        }),
    }
}
