//! Line configs: TOML files under `line-configs/`, overridden by `TRACEMARK_<SECTION>__<KEY>`
//! environment variables, loaded with the `config` crate, then compiled into a validated
//! [`Line`].
//!
//! Loading never stops at the first mistake: every section and every device is deserialised on
//! its own (unknown keys refused), then [`compile`] checks what types cannot (ports, positions
//! in order, references between devices, duplicate serial ports) — and all errors come back
//! together, each with its key path, so an integrator fixes a config in one pass.

mod compile;
mod dispatch;
mod label;
mod lineio;
mod marker;
mod packing;
pub mod raw;
mod scanner;
mod suggest;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_json::Value;

use compile::compile;
pub use compile::{Line, Mqtt, Reader, Transport};
pub use dispatch::{Dispatch, DispatchCommands};
pub use label::{LabelSection, PackingLabel};
pub use lineio::{Gate, Plc};
pub use marker::{MARKER_TYPES, Marker, MarkerKind};
pub use packing::{CASE_READ_FIELDS, CaseCamera, ManualStation, Packing, PackingMode};
pub use scanner::{Commands, CommandsSection, Scanner, ScannerSection};

/// The most readers one line may have: the tracker keeps which readers passed a unit in a 64-bit
/// set (`verify::tracker`).
pub const MAX_READERS: usize = 64;

/// The prefix of environment overrides: `TRACEMARK_MQTT__URL=mqtt://broker:1883` sets
/// `mqtt.url`, `TRACEMARK_MARKERS__M1__TIMEOUT_MS=800` sets `markers.m1.timeout_ms`. Only
/// variables with `__` are overrides, so `TRACEMARK_DB` and `TRACEMARK_USER` stay the command
/// line's own.
pub const ENV_PREFIX: &str = "TRACEMARK";

/// One mistake in a config, with the key path it is about (`markers.m1.transport.baud`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted key path; empty for the file as a whole.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every mistake found in one config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    /// The file.
    pub file: PathBuf,
    /// The mistakes, in file order of their sections.
    pub errors: Vec<ConfigError>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors.len();
        write!(
            f,
            "{}: {n} error{}",
            self.file.display(),
            if n == 1 { "" } else { "s" }
        )?;
        for error in &self.errors {
            write!(f, "\n  {error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// The sections a line config may have, in the order errors are reported.
const SECTIONS: [&str; 9] = [
    "line", "conveyor", "mqtt", "markers", "readers", "plcs", "gate", "packing", "dispatch",
];

/// The raw sections of a config, each present only when it deserialised cleanly.
#[derive(Debug, Default)]
pub(crate) struct RawLine {
    pub(crate) line: Option<raw::LineSection>,
    pub(crate) conveyor: Option<raw::ConveyorSection>,
    pub(crate) mqtt: Option<raw::MqttSection>,
    pub(crate) markers: BTreeMap<String, raw::MarkerSection>,
    pub(crate) readers: BTreeMap<String, raw::ReaderSection>,
    pub(crate) plcs: BTreeMap<String, raw::PlcSection>,
    pub(crate) gate: Option<raw::GateSection>,
    pub(crate) packing: Option<raw::PackingSection>,
    pub(crate) dispatch: Option<dispatch::DispatchSection>,
    /// Sections that were present (even if they had errors), so a missing one is reported
    /// only when it is really missing.
    pub(crate) present: Vec<&'static str>,
    /// Devices present but broken (`plcs.line_io`), so references to them are not reported as
    /// unknown on top of their own errors.
    pub(crate) broken: BTreeSet<String>,
    /// The keys written in each `[plcs.<name>.map]` (by PLC name).
    pub(crate) plc_map_keys: BTreeMap<String, BTreeSet<String>>,
}

/// Loads `path` with the process environment's overrides and compiles it.
pub fn load(path: &Path) -> Result<Line, ConfigErrors> {
    let overrides: BTreeMap<String, String> = std::env::vars()
        .filter(|(key, _)| is_override(key))
        .collect();
    load_with_env(path, overrides)
}

/// Whether an environment variable is a config override (`TRACEMARK_<SECTION>__…`).
fn is_override(key: &str) -> bool {
    key.strip_prefix(ENV_PREFIX)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|rest| rest.contains("__"))
}

/// Loads `path` with the given overrides (`TRACEMARK_…` names → values) and compiles it.
pub fn load_with_env(
    path: &Path,
    overrides: BTreeMap<String, String>,
) -> Result<Line, ConfigErrors> {
    let fail = |errors: Vec<ConfigError>| ConfigErrors {
        file: path.to_owned(),
        errors,
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        fail(vec![ConfigError::new(
            "",
            format!("cannot read the file: {e}"),
        )])
    })?;
    let overrides: ::config::Map<String, String> = overrides
        .into_iter()
        .filter(|(key, _)| is_override(key))
        .collect();
    let built = ::config::Config::builder()
        .add_source(::config::File::from_str(&text, ::config::FileFormat::Toml))
        .add_source(
            ::config::Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("_")
                .separator("__")
                .try_parsing(true)
                .source(Some(overrides)),
        )
        .build()
        .map_err(|e| fail(vec![ConfigError::new("", e.to_string())]))?;
    let tree: Value = built
        .try_deserialize()
        .map_err(|e| fail(vec![ConfigError::new("", e.to_string())]))?;
    let mut errors = Vec::new();
    let raw = split_sections(tree, &mut errors);
    let base = path.parent().unwrap_or(Path::new("."));
    match compile(raw, base) {
        Ok(line) if errors.is_empty() => Ok(line),
        Ok(_) => Err(fail(errors)),
        Err(more) => {
            errors.extend(more);
            Err(fail(errors))
        }
    }
}

/// Checks a piece of a line config — some of its sections, or one device table — for what
/// deserialisation finds: unknown sections and keys (with "did you mean"), wrong types, unknown
/// variants. Keys a fragment leaves out are not missing, and nothing is compiled (ranges,
/// positions, references): for the snippets in documentation, which show parts of a line.
pub fn check_fragment(text: &str) -> Vec<ConfigError> {
    let tree = ::config::Config::builder()
        .add_source(::config::File::from_str(text, ::config::FileFormat::Toml))
        .build()
        .and_then(|built| built.try_deserialize::<Value>());
    let tree = match tree {
        Ok(tree) => tree,
        Err(e) => return vec![ConfigError::new("", e.to_string())],
    };
    let mut errors = Vec::new();
    split_sections(tree, &mut errors);
    errors.retain(|e| !e.message.starts_with("missing field"));
    errors
}

/// Deserialises each section, and each device of the device tables, on its own, collecting one
/// error per broken part instead of stopping at the first.
fn split_sections(tree: Value, errors: &mut Vec<ConfigError>) -> RawLine {
    let mut raw = RawLine::default();
    let Value::Object(mut sections) = tree else {
        errors.push(ConfigError::new("", "a line config is a TOML table"));
        return raw;
    };
    for key in sections.keys() {
        if !SECTIONS.contains(&key.as_str()) {
            errors.push(ConfigError::new(
                key.clone(),
                format!("unknown section{}", suggest::hint(key, &SECTIONS)),
            ));
        }
    }
    for name in SECTIONS {
        let Some(value) = sections.remove(name) else {
            continue;
        };
        raw.present.push(name);
        match name {
            "line" => raw.line = section(name, value, errors),
            "conveyor" => raw.conveyor = section(name, value, errors),
            "mqtt" => raw.mqtt = section(name, value, errors),
            "gate" => raw.gate = section(name, value, errors),
            "packing" => raw.packing = section(name, value, errors),
            "dispatch" => raw.dispatch = section(name, value, errors),
            "markers" => raw.markers = devices(name, value, &mut raw.broken, errors),
            "readers" => raw.readers = devices(name, value, &mut raw.broken, errors),
            "plcs" => {
                raw.plc_map_keys = map_keys(&value);
                raw.plcs = devices(name, value, &mut raw.broken, errors);
            }
            _ => {}
        }
    }
    raw
}

fn section<T: DeserializeOwned>(
    path: &str,
    value: Value,
    errors: &mut Vec<ConfigError>,
) -> Option<T> {
    suggest::deserialize_all(path, value, errors)
}

/// The keys each `[plcs.<name>.map]` writes, so compile can tell a key set in the file from
/// a default (`gate.coil` and `map.gate_coil` may only disagree when both are written).
fn map_keys(plcs: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let Value::Object(plcs) = plcs else {
        return BTreeMap::new();
    };
    plcs.iter()
        .filter_map(|(name, plc)| {
            let Value::Object(map) = plc.get("map")? else {
                return None;
            };
            Some((name.clone(), map.keys().cloned().collect()))
        })
        .collect()
}

fn devices<T: DeserializeOwned>(
    path: &str,
    value: Value,
    broken: &mut BTreeSet<String>,
    errors: &mut Vec<ConfigError>,
) -> BTreeMap<String, T> {
    let mut parsed = BTreeMap::new();
    let Value::Object(entries) = value else {
        errors.push(ConfigError::new(
            path,
            format!("expected tables `[{path}.<name>]`, one per device"),
        ));
        return parsed;
    };
    for (name, entry) in entries {
        let device_path = format!("{path}.{name}");
        match section(&device_path, entry, errors) {
            Some(device) => {
                parsed.insert(name, device);
            }
            None => {
                broken.insert(device_path);
            }
        }
    }
    parsed
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_manual;
#[cfg(test)]
mod tests_refusals;
