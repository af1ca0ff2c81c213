//! A compiled, validated ASCII device description ([`AsciiConfig`]): what the driver sends and
//! what it expects back, and — for the simulator — how a device reads the commands and what it
//! answers. Built from a [`RawAsciiConfig`] by collecting every problem with its key.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use super::compile::compile;
use super::frame::Framing;
use super::pattern::{Captures, Pattern, RenderError, printable};
use super::raw::{DEFAULT_DESCRIPTION, RawAsciiConfig};

/// A description with problems, each naming its key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ascii device description: {}", .0.join("; "))]
pub struct InvalidConfig(pub Vec<String>);

/// What the host asks of the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// Put a code into the buffer.
    Load,
    /// Start printing.
    Start,
    /// Stop printing.
    Stop,
    /// Empty the buffer.
    Clear,
    /// Read the status.
    Status,
    /// Read the print counter.
    Count,
}

impl Command {
    /// Every command.
    pub const ALL: [Command; 6] = [
        Command::Load,
        Command::Start,
        Command::Stop,
        Command::Clear,
        Command::Status,
        Command::Count,
    ];

    /// Its key in the description.
    pub fn key(self) -> &'static str {
        match self {
            Self::Load => "commands.load",
            Self::Start => "commands.start",
            Self::Stop => "commands.stop",
            Self::Clear => "commands.clear",
            Self::Status => "status.query",
            Self::Count => "counter.query",
        }
    }

    /// What it is, for refusals and errors.
    pub fn name(self) -> &'static str {
        match self {
            Self::Load => "code load",
            Self::Start => "start",
            Self::Stop => "stop",
            Self::Clear => "clear buffer",
            Self::Status => "status query",
            Self::Count => "counter query",
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A command as a device receives it (the simulator's side).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostCommand {
    /// A code to buffer, and its index when the template carries one.
    Load {
        /// The code's bytes.
        code: Vec<u8>,
        /// `{index}`, if in the template.
        index: Option<u64>,
    },
    /// Start printing.
    Start,
    /// Stop printing.
    Stop,
    /// Empty the buffer.
    Clear,
    /// Status query.
    Status,
    /// Counter query.
    Count,
}

/// A code the device cannot take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// No text.
    #[error("empty code")]
    Empty,
    /// Longer than `max_code_length`.
    #[error("code of {len} bytes is longer than max_code_length {max}")]
    TooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A byte of the framing inside the code would end or restart the frame.
    #[error(
        "byte `{byte}` at position {position} of the code is a framing byte (prefix or suffix)"
    )]
    FramingByte {
        /// The byte, readable.
        byte: String,
        /// Its position, from 0.
        position: usize,
    },
}

/// What a status reply says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusReading {
    /// Why the device cannot print, if it cannot.
    pub fault: Option<String>,
    /// Codes in the buffer, if the reply says.
    pub level: Option<u64>,
    /// The print counter, if the reply carries it.
    pub count: Option<u64>,
}

/// The compiled status query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusQuery {
    pub(super) reply: Pattern,
    pub(super) nak: Pattern,
    pub(super) ok_states: Vec<String>,
    pub(super) fault_states: Vec<String>,
    pub(super) no_fault: Vec<String>,
    pub(super) fault_text: BTreeMap<String, String>,
}

impl StatusQuery {
    /// The reply pattern.
    pub fn reply(&self) -> &Pattern {
        &self.reply
    }

    /// The refusal pattern.
    pub fn nak(&self) -> &Pattern {
        &self.nak
    }

    /// `{state}` values of a healthy device.
    pub fn ok_states(&self) -> &[String] {
        &self.ok_states
    }

    /// `{state}` values of a faulted device.
    pub fn fault_states(&self) -> &[String] {
        &self.fault_states
    }

    /// `{fault}` values meaning no fault.
    pub fn no_fault(&self) -> &[String] {
        &self.no_fault
    }

    /// Descriptions of `{state}` and `{fault}` values.
    pub fn fault_text(&self) -> &BTreeMap<String, String> {
        &self.fault_text
    }

    /// Reads a matched reply.
    pub fn read(&self, captures: &Captures) -> Result<StatusReading, String> {
        let mut faults = Vec::new();
        if let Some(state) = captures.text("state") {
            if self.fault_states.contains(&state) {
                faults.push(self.describe("state", &state));
            } else if !self.ok_states.contains(&state) {
                return Err(format!(
                    "state `{state}` is in neither status.ok_states {:?} nor status.fault_states {:?}",
                    self.ok_states, self.fault_states
                ));
            }
        }
        if let Some(fault) = captures.text("fault")
            && !self.no_fault.contains(&fault)
        {
            faults.push(self.describe("fault", &fault));
        }
        Ok(StatusReading {
            fault: (!faults.is_empty()).then(|| faults.join("; ")),
            level: number(captures, "level")?,
            count: number(captures, "count")?,
        })
    }

    fn describe(&self, what: &str, value: &str) -> String {
        match self.fault_text.get(value) {
            Some(text) => format!("{text} ({what} {value})"),
            None => format!("{what} {value}"),
        }
    }
}

/// The compiled counter query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterQuery {
    pub(super) reply: Pattern,
    pub(super) nak: Pattern,
    pub(super) modulus: Option<u64>,
}

impl CounterQuery {
    /// The reply pattern.
    pub fn reply(&self) -> &Pattern {
        &self.reply
    }

    /// The refusal pattern.
    pub fn nak(&self) -> &Pattern {
        &self.nak
    }

    /// Where the counter returns to 0.
    pub fn modulus(&self) -> Option<u64> {
        self.modulus
    }

    /// Reads the count of a matched reply.
    pub fn read(&self, captures: &Captures) -> Result<u64, String> {
        let count = number(captures, "count")?.ok_or("the reply has no {count}")?;
        match self.modulus {
            Some(modulus) if count >= modulus => Err(format!(
                "count {count} is not below counter.modulus {modulus}"
            )),
            _ => Ok(count),
        }
    }
}

/// Reads capture `name` as a decimal number (spaces around it allowed).
fn number(captures: &Captures, name: &str) -> Result<Option<u64>, String> {
    let Some(bytes) = captures.get(name) else {
        return Ok(None);
    };
    let digits = bytes.trim_ascii();
    let valid = !digits.is_empty() && digits.len() <= 19 && digits.iter().all(u8::is_ascii_digit);
    let value = valid
        .then(|| std::str::from_utf8(digits).ok()?.parse::<u64>().ok())
        .flatten();
    value
        .map(Some)
        .ok_or_else(|| format!("{name} `{}` is not a number", printable(bytes)))
}

/// A compiled, validated description.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawAsciiConfig")]
pub struct AsciiConfig {
    pub(super) model: String,
    pub(super) reply_timeout: Duration,
    pub(super) depth: Option<u64>,
    pub(super) field: Option<String>,
    pub(super) max_code_length: Option<usize>,
    pub(super) framing: Framing,
    /// Command templates with `{field}` filled in, by [`Command`].
    pub(super) templates: Vec<(Command, Pattern)>,
    pub(super) ack: Pattern,
    pub(super) nak: Pattern,
    pub(super) buffer_full: Option<Pattern>,
    pub(super) nak_reasons: BTreeMap<String, String>,
    pub(super) status: Option<StatusQuery>,
    pub(super) counter: Option<CounterQuery>,
}

impl Default for AsciiConfig {
    /// The built-in reference dialect ([`DEFAULT_DESCRIPTION`]).
    fn default() -> Self {
        // A constant, checked by `the_built_in_description_compiles`.
        Self::from_toml(DEFAULT_DESCRIPTION).expect("the built-in description is valid")
    }
}

impl TryFrom<RawAsciiConfig> for AsciiConfig {
    type Error = InvalidConfig;

    fn try_from(raw: RawAsciiConfig) -> Result<Self, InvalidConfig> {
        compile(&raw)
    }
}

/// The values a load template is rendered with.
#[derive(Debug, Clone, Copy)]
pub struct CodeValues<'a> {
    /// `{code}`.
    pub text: &'a str,
    /// `{index}`: the code's sequence number.
    pub index: u64,
}

impl AsciiConfig {
    /// Reads and compiles a TOML description; every problem is reported, each with its key
    /// (syntax errors with their line and column).
    pub fn from_toml(text: &str) -> Result<Self, InvalidConfig> {
        let raw: RawAsciiConfig =
            toml::from_str(text).map_err(|error| InvalidConfig(vec![error.to_string()]))?;
        compile(&raw)
    }

    /// The same description with another reply timeout (a line config's `timeout_ms`).
    pub fn with_reply_timeout(mut self, timeout: Duration) -> Self {
        self.reply_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// The device, for logs.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Longest wait for a reply.
    pub fn reply_timeout(&self) -> Duration {
        self.reply_timeout
    }

    /// Codes the device buffer holds, if known.
    pub fn depth(&self) -> Option<u64> {
        self.depth
    }

    /// The `{field}` value.
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// The framing.
    pub fn framing(&self) -> &Framing {
        &self.framing
    }

    /// The template of `command` (with `{field}` filled in), if the device has it.
    pub fn template(&self, command: Command) -> Option<&Pattern> {
        self.templates
            .iter()
            .find(|(c, _)| *c == command)
            .map(|(_, pattern)| pattern)
    }

    /// Command accepted.
    pub fn ack(&self) -> &Pattern {
        &self.ack
    }

    /// Command refused.
    pub fn nak(&self) -> &Pattern {
        &self.nak
    }

    /// Load refused, buffer full.
    pub fn buffer_full(&self) -> Option<&Pattern> {
        self.buffer_full.as_ref()
    }

    /// What each refusal reason means.
    pub fn nak_reasons(&self) -> &BTreeMap<String, String> {
        &self.nak_reasons
    }

    /// The status query.
    pub fn status(&self) -> Option<&StatusQuery> {
        self.status.as_ref()
    }

    /// The counter query.
    pub fn counter(&self) -> Option<&CounterQuery> {
        self.counter.as_ref()
    }

    /// Checks that `text` can be sent as a code.
    pub fn check_code(&self, text: &str) -> Result<(), CodeError> {
        if text.is_empty() {
            return Err(CodeError::Empty);
        }
        if let Some(max) = self.max_code_length
            && text.len() > max
        {
            return Err(CodeError::TooLong {
                len: text.len(),
                max,
            });
        }
        let framing = &self.framing;
        let reserved = |byte: &u8| {
            framing.prefix().contains(byte)
                || framing.suffix().contains(byte)
                || framing.reply_prefix().contains(byte)
        };
        match text.bytes().position(|byte| reserved(&byte)) {
            Some(position) => Err(CodeError::FramingByte {
                byte: printable(&text.as_bytes()[position..=position]),
                position,
            }),
            None => Ok(()),
        }
    }

    /// The frame of `command`; `code` fills a load template. `None` when the device has no
    /// such command.
    pub fn encode(
        &self,
        command: Command,
        code: Option<CodeValues<'_>>,
    ) -> Option<Result<Vec<u8>, RenderError>> {
        let template = self.template(command)?;
        let body = template.render(|name| {
            let code = code?;
            match name {
                "code" => Some(code.text.as_bytes().to_vec()),
                "index" => Some(code.index.to_string().into_bytes()),
                "len" => Some(code.text.len().to_string().into_bytes()),
                _ => None,
            }
        });
        Some(body.map(|body| self.framing.encode_command(&body)))
    }

    /// What a received command body is (the device's side): literal templates first, then
    /// the load template.
    pub fn identify(&self, body: &[u8]) -> Option<HostCommand> {
        for (command, template) in &self.templates {
            let host = match command {
                Command::Load => continue,
                Command::Start => HostCommand::Start,
                Command::Stop => HostCommand::Stop,
                Command::Clear => HostCommand::Clear,
                Command::Status => HostCommand::Status,
                Command::Count => HostCommand::Count,
            };
            if template.is_literal() && template.captures(body).is_some() {
                return Some(host);
            }
        }
        let captures = self.template(Command::Load)?.captures(body)?;
        let index = captures
            .text("index")
            .and_then(|index| index.trim().parse().ok());
        Some(HostCommand::Load {
            code: captures.get("code")?.to_vec(),
            index,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_description_compiles() {
        let config = AsciiConfig::from_toml(DEFAULT_DESCRIPTION).expect("valid");
        assert_eq!(config, AsciiConfig::default());
        assert_eq!(
            config
                .template(Command::Load)
                .map(Pattern::parts)
                .map(<[_]>::len),
            Some(2),
            "{{field}} is filled in"
        );
        let frame = config
            .encode(
                Command::Load,
                Some(CodeValues {
                    text: "A1",
                    index: 7,
                }),
            )
            .expect("has a load")
            .expect("renders");
        let body = &frame[1..frame.len() - 3];
        assert_eq!(body, b"SETTEXT SERIAL A1");
        assert_eq!(
            config.identify(body),
            Some(HostCommand::Load {
                code: b"A1".to_vec(),
                index: None
            })
        );
        assert_eq!(config.identify(b"CLEAR"), Some(HostCommand::Clear));
        assert_eq!(config.identify(b"NOPE"), None);
    }

    #[test]
    fn codes_with_framing_bytes_are_refused() {
        let config = AsciiConfig::default();
        assert_eq!(config.check_code(""), Err(CodeError::Empty));
        assert_eq!(
            config.check_code("AB\x03C").unwrap_err().to_string(),
            "byte `\\x03` at position 2 of the code is a framing byte (prefix or suffix)"
        );
        assert!(config.check_code("(01)09506000134352(21)A\u{1d}B").is_ok());
    }

    #[test]
    fn status_states_and_fault_codes_are_read() {
        let config = AsciiConfig::default();
        let status = config.status().expect("has a status query");
        let read = |reply: &[u8]| status.read(&status.reply().captures(reply).expect("matches"));
        assert_eq!(
            read(b"STATUS READY 0 3"),
            Ok(StatusReading {
                fault: None,
                level: Some(3),
                count: None
            })
        );
        assert_eq!(
            read(b"STATUS FAULT E12 0").map(|r| r.fault),
            Ok(Some("state FAULT; ink out (fault E12)".to_owned()))
        );
        assert_eq!(
            read(b"STATUS HUH 0 0"),
            Err(
                "state `HUH` is in neither status.ok_states [\"READY\", \"PRINTING\"] nor \
                 status.fault_states [\"FAULT\"]"
                    .to_owned()
            )
        );
        assert_eq!(
            read(b"STATUS READY 0 x1"),
            Err("level `x1` is not a number".to_owned())
        );
    }
}
