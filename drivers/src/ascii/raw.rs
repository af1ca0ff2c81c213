//! The description of an ASCII device as an integrator writes it from the device manual: TOML
//! with `deny_unknown_fields` at every level, every default given where it is defined.
//! [`AsciiConfig::from_toml`](super::AsciiConfig::from_toml) compiles it. See
//! `docs/protocols/ascii.md` for every key, its default and two real devices.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::frame::{ByteOrder, ChecksumCoverage, ChecksumEncoding, ChecksumKind, ChecksumPosition};

/// The built-in description: tracemark's reference dialect, served by `tracemark-sim ascii`
/// when no `--config` is given.
pub const DEFAULT_DESCRIPTION: &str = include_str!("default.toml");

/// The description as written. Every default is given where it is defined.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAsciiConfig {
    /// The device, for logs and the HMI. Default `"ascii marker"`.
    #[serde(default = "default_model")]
    pub model: String,
    /// Longest wait for a reply (and for the connection). Default 1,000 ms.
    #[serde(default = "default_reply_timeout_ms")]
    pub reply_timeout_ms: u64,
    /// Codes the device buffer holds (1 for a laser with one variable slot). With it the driver
    /// stops pushing when the buffer is full instead of waiting for a refusal. Default none.
    #[serde(default)]
    pub depth: Option<u64>,
    /// The value of `{field}` in command templates (the device's variable field, block or
    /// string number). Default none.
    #[serde(default)]
    pub field: Option<String>,
    /// Longest code the device takes, in bytes; longer codes are refused before sending.
    /// Default none.
    #[serde(default)]
    pub max_code_length: Option<usize>,
    /// Prefix, suffix and checksum.
    #[serde(default)]
    pub framing: RawFraming,
    /// Command templates.
    pub commands: RawCommands,
    /// Reply patterns of the commands.
    pub replies: RawReplies,
    /// The status query. Default none: faults show only as silence.
    #[serde(default)]
    pub status: Option<RawStatus>,
    /// The print counter query. Default none: `{count}` must then be in `status.reply`.
    #[serde(default)]
    pub counter: Option<RawCounter>,
}

fn default_model() -> String {
    "ascii marker".to_owned()
}

fn default_reply_timeout_ms() -> u64 {
    1_000
}

/// Framing keys. Every default is given where it is defined.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawFraming {
    /// Starts every command. Default empty.
    pub prefix: String,
    /// Ends every command and reply. Default `\r`.
    pub suffix: String,
    /// Starts every reply; bytes before it are noise. Default: the prefix.
    pub reply_prefix: Option<String>,
    /// Default `none`.
    pub checksum: ChecksumKind,
    /// Default `hex`.
    pub checksum_encoding: ChecksumEncoding,
    /// Default `before_suffix`.
    pub checksum_position: ChecksumPosition,
    /// Default `all`.
    pub checksum_covers: ChecksumCoverage,
    /// Byte order of a 16-bit checksum. Default `low_first` for `crc16_modbus`, else
    /// `high_first`.
    pub checksum_byte_order: Option<ByteOrder>,
}

impl Default for RawFraming {
    fn default() -> Self {
        Self {
            prefix: String::new(),
            suffix: r"\r".to_owned(),
            reply_prefix: None,
            checksum: ChecksumKind::None,
            checksum_encoding: ChecksumEncoding::Hex,
            checksum_position: ChecksumPosition::BeforeSuffix,
            checksum_covers: ChecksumCoverage::All,
            checksum_byte_order: None,
        }
    }
}

/// Command templates (bodies, without prefix, checksum and suffix).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCommands {
    /// Puts `{code}` into the device's buffer. Placeholders: `{code}`, `{field}`, `{index}`,
    /// `{len}`. Required.
    pub load: String,
    /// Empties the buffer, so nothing sent can print any more. Required.
    pub clear: String,
    /// Starts printing. Default none (the device prints whenever it has a code).
    #[serde(default)]
    pub start: Option<String>,
    /// Stops printing. Default none.
    #[serde(default)]
    pub stop: Option<String>,
}

/// Reply patterns.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReplies {
    /// Command accepted. Required.
    pub ack: String,
    /// Command refused; may capture `{reason}`. Required.
    pub nak: String,
    /// A load refused because the buffer is full; may capture `{reason}`. Default none.
    #[serde(default)]
    pub buffer_full: Option<String>,
    /// What each `{reason}` means, for operators. Default none.
    #[serde(default)]
    pub nak_reasons: BTreeMap<String, String>,
}

/// The status query.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStatus {
    /// The command. Placeholder: `{field}`. Required.
    pub query: String,
    /// Its reply; may capture `{state}`, `{fault}`, `{level}`, `{count}`. Required.
    pub reply: String,
    /// `{state}` values of a healthy device. Required with `{state}`.
    #[serde(default)]
    pub ok_states: Vec<String>,
    /// `{state}` values of a device that cannot print. Required with `{state}`.
    #[serde(default)]
    pub fault_states: Vec<String>,
    /// `{fault}` values meaning no fault; any other is a fault code. Default `["0"]`.
    #[serde(default = "default_no_fault")]
    pub no_fault: Vec<String>,
    /// What each `{state}` or `{fault}` value means, for operators. Default none.
    #[serde(default)]
    pub fault_text: BTreeMap<String, String>,
    /// A refusal of the query. Default `replies.nak`.
    #[serde(default)]
    pub nak: Option<String>,
}

fn default_no_fault() -> Vec<String> {
    vec!["0".to_owned()]
}

/// The print counter query.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCounter {
    /// The command. Placeholder: `{field}`. Required.
    pub query: String,
    /// Its reply; must capture `{count}`. Required.
    pub reply: String,
    /// The counter returns to 0 at this value (1000000 for six digits). Default none.
    #[serde(default)]
    pub modulus: Option<u64>,
    /// A refusal of the query. Default `replies.nak`.
    #[serde(default)]
    pub nak: Option<String>,
}
