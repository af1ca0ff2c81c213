//! The integrator's view of the line configs a server knows (SPEC §8, issue 16 item 4): each
//! config's text and its validation — the same [`crate::config::load`] that `tracemark config
//! validate`, `run` and `demo` use, so the errors are the same ones, each with its key path —
//! each device's state, and a probe of one device (the same [`devices::probe`] as `tracemark
//! driver probe`).
//!
//! The files are read again on every request: an integrator edits a config on disk and reloads
//! the page to see its new errors; nothing here caches a verdict.
//!
//! A probe stops a marker and clears its buffer (`crate::probe`), so a marker of a line this
//! process is running now is refused; a PLC is only read by a probe and may be probed at any
//! time. Two probes of one device at once are refused too: the second would interleave its
//! commands with the first's on the same link.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppError;
use super::devices::{self, Device};
use crate::commissioning::LiveView;
use crate::config::{self, Line};
use crate::probe::Report;

/// The shortest wait a probe may be given per step: below it nothing answers, even on TCP.
pub const MIN_PROBE_TIMEOUT_MS: u64 = 10;
/// The longest wait per step over the API: a person is waiting on the page, and the probe has
/// up to six steps.
pub const MAX_PROBE_TIMEOUT_MS: u64 = 10_000;
/// The wait per step when none is asked for (as `tracemark driver probe`'s default).
pub const DEFAULT_PROBE_TIMEOUT_MS: u64 = 2_000;

/// The line config files a server knows, in the order given (`serve --config`, or the config
/// of `run` and `demo`), each once. Cloning shares the probes under way.
#[derive(Debug, Clone, Default)]
pub struct LineConfigs {
    files: Arc<Vec<PathBuf>>,
    /// Devices being probed now, as `INDEX/markers.NAME`.
    probing: Arc<Mutex<BTreeSet<String>>>,
}

impl LineConfigs {
    /// These files, a repeated one kept once.
    pub fn new(files: impl IntoIterator<Item = PathBuf>) -> LineConfigs {
        let mut unique: Vec<PathBuf> = Vec::new();
        for file in files {
            if !unique.contains(&file) {
                unique.push(file);
            }
        }
        LineConfigs {
            files: Arc::new(unique),
            probing: Arc::default(),
        }
    }

    /// The files, in order; a config's index is its place here.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    fn file(&self, index: usize) -> Result<&Path, AppError> {
        self.files
            .get(index)
            .map(PathBuf::as_path)
            .ok_or_else(|| AppError::NotFound {
                what: "line config",
                id: index.to_string(),
            })
    }
}

/// One config as it is on disk now.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConfigCheck {
    /// Its place in the server's list (the `{config}` of the probe).
    pub index: usize,
    /// The file.
    pub file: String,
    /// The file's text; `null` when it cannot be read (the error says why).
    pub text: Option<String>,
    /// It compiles into a line.
    pub valid: bool,
    /// Every mistake, each with its key path (`markers.m1.transport.baud`; empty for the file
    /// as a whole), as `tracemark config validate` lists them.
    pub errors: Vec<ConfigProblem>,
    /// The line's id (a valid config).
    pub line_id: Option<String>,
    /// The line's display name (a valid config).
    pub line_name: Option<String>,
    /// Its markers and PLCs with their state (a valid config; an invalid one has no devices
    /// that can be trusted).
    pub devices: Vec<DeviceState>,
}

/// One mistake of a config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ConfigProblem {
    /// The dotted key path it is about; empty for the file as a whole.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// Whether this process runs a device's line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LineRun {
    /// This process does not run the line (`serve`, or another line's config).
    NotRunning,
    /// This process runs the line now: its markers are in use.
    Running,
    /// This process ran the line and the run has ended (`demo --keep-open`).
    Finished,
}

/// A marker or PLC of a config and its state.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeviceState {
    /// The config's index.
    pub config: usize,
    /// The line's id.
    pub line_id: String,
    /// `markers.NAME` or `plcs.NAME` (what the probe takes).
    pub device: String,
    /// The marker type, or `line_io` for a PLC.
    pub kind: String,
    /// Where, as the config says.
    pub transport: String,
    /// Whether this process runs the line.
    pub line: LineRun,
    /// The marker's state in words, as the running line's runtime reports it (`connected`,
    /// `faulted: …`); `null` when the line is not running, and for a PLC.
    pub state: Option<String>,
    /// The running line's last alarm.
    pub alarm: Option<String>,
    /// Something needs a person: a marker not connected, a line alarm, a held belt.
    pub abnormal: bool,
}

/// What a probe over the API may be given.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProbeRequest {
    /// Longest wait for the connection and each reply, ms: 10 to 10000 (default 2000).
    pub timeout_ms: Option<u64>,
    /// The test code loaded into a marker (printable ASCII); default `TRACEMARK-PROBE`, cut to
    /// a Modbus marker's code field.
    pub code: Option<String>,
}

impl ProbeRequest {
    /// The per-step timeout, checked.
    pub fn timeout(&self) -> Result<Duration, AppError> {
        let ms = self.timeout_ms.unwrap_or(DEFAULT_PROBE_TIMEOUT_MS);
        if !(MIN_PROBE_TIMEOUT_MS..=MAX_PROBE_TIMEOUT_MS).contains(&ms) {
            return Err(AppError::input(
                "timeout_ms",
                format!("{ms} is not between {MIN_PROBE_TIMEOUT_MS} and {MAX_PROBE_TIMEOUT_MS}"),
            ));
        }
        Ok(Duration::from_millis(ms))
    }
}

/// Every config as it is on disk now, with its devices' states from `live` (the lines this
/// process runs).
pub fn check_all(configs: &LineConfigs, live: &[LiveView]) -> Vec<ConfigCheck> {
    configs
        .files()
        .iter()
        .enumerate()
        .map(|(index, file)| check(index, file, live))
        .collect()
}

/// Every device of every valid config, with its state.
pub fn device_states(configs: &LineConfigs, live: &[LiveView]) -> Vec<DeviceState> {
    check_all(configs, live)
        .into_iter()
        .flat_map(|check| check.devices)
        .collect()
}

fn check(index: usize, file: &Path, live: &[LiveView]) -> ConfigCheck {
    let text = std::fs::read_to_string(file).ok();
    let (line, errors) = match config::load(file) {
        Ok(line) => (Some(line), Vec::new()),
        Err(errors) => (
            None,
            errors
                .errors
                .into_iter()
                .map(|e| ConfigProblem {
                    path: e.path,
                    message: e.message,
                })
                .collect(),
        ),
    };
    ConfigCheck {
        index,
        file: file.display().to_string(),
        text,
        valid: line.is_some(),
        errors,
        line_id: line.as_ref().map(|l| l.id.clone()),
        line_name: line.as_ref().map(|l| l.name.clone()),
        devices: line
            .as_ref()
            .map(|l| states(index, l, live))
            .unwrap_or_default(),
    }
}

/// The view of `line` if this process runs it, and whether its run is still going.
fn run_of<'a>(line: &Line, live: &'a [LiveView]) -> (LineRun, Option<&'a LiveView>) {
    match live.iter().find(|v| v.line_id == line.id) {
        None => (LineRun::NotRunning, None),
        // The end-of-run report is set when the run is over (`demo --keep-open` keeps serving).
        Some(view) if view.report.is_some() => (LineRun::Finished, Some(view)),
        Some(view) => (LineRun::Running, Some(view)),
    }
}

fn states(index: usize, line: &Line, live: &[LiveView]) -> Vec<DeviceState> {
    let (run, view) = run_of(line, live);
    let alarm = view.and_then(|v| v.line.alarm.clone());
    let held = view.is_some_and(|v| v.stopped);
    let running = run == LineRun::Running;
    let markers = line.markers.iter().map(|m| {
        // The runtime reports one marker state: the line's marker (`LineStats::marker`).
        let state = running.then(|| view.map(|v| v.line.marker.clone()).unwrap_or_default());
        let faulted = state
            .as_deref()
            .is_some_and(|s| !s.is_empty() && s != "connected");
        DeviceState {
            config: index,
            line_id: line.id.clone(),
            device: format!("markers.{}", m.name),
            kind: m.kind.to_string(),
            transport: m.transport.describe(),
            line: run,
            state,
            alarm: alarm.clone(),
            abnormal: running && (faulted || alarm.is_some() || held),
        }
    });
    let plcs = line.plcs.iter().map(|p| DeviceState {
        config: index,
        line_id: line.id.clone(),
        device: format!("plcs.{}", p.name),
        kind: "line_io".to_owned(),
        transport: p.transport.describe(),
        line: run,
        state: None,
        alarm: alarm.clone(),
        abnormal: running && (alarm.is_some() || held),
    });
    markers.chain(plcs).collect()
}

/// Probes `device` (`NAME`, `markers.NAME` or `plcs.NAME`) of config `index`, as `tracemark
/// driver probe` does. Refused: a config with errors, a marker of a line this process runs now
/// (`live`), a device already being probed, a timeout outside 10 ms to 10 s, a test code the
/// marker cannot carry.
pub async fn probe(
    configs: &LineConfigs,
    live: &[LiveView],
    index: usize,
    device: &str,
    request: &ProbeRequest,
) -> Result<Report, AppError> {
    let timeout = request.timeout()?;
    let file = configs.file(index)?;
    let line = config::load(file).map_err(|errors| AppError::Conflict {
        field: "config",
        reason: format!("{errors}; correct the config before probing its devices"),
    })?;
    let found = devices::find_device(&line, device).map_err(api_field)?;
    let full = match found {
        Device::Marker(m) => format!("markers.{}", m.name),
        Device::Plc(p) => format!("plcs.{}", p.name),
    };
    if let (Device::Marker(_), (LineRun::Running, _)) = (found, run_of(&line, live)) {
        return Err(AppError::Conflict {
            field: "device",
            reason: format!(
                "{full} prints for line {}, which this process is running now: a probe stops \
                 the marker and clears its buffer; stop the line first",
                line.id
            ),
        });
    }
    let _guard = ProbeGuard::take(configs, format!("{index}/{full}"))?;
    devices::probe(&line, &full, request.code.as_deref(), timeout)
        .await
        .map_err(api_field)
}

/// [`devices`] names the command line's options (`--device`, `--code`); the API's members
/// are `device` and `code`.
fn api_field(error: AppError) -> AppError {
    match error {
        AppError::Input { field, reason } => AppError::Input {
            field: field.trim_start_matches("--").to_owned(),
            reason,
        },
        other => other,
    }
}

/// A device marked as being probed until dropped.
struct ProbeGuard {
    probing: Arc<Mutex<BTreeSet<String>>>,
    key: String,
}

impl ProbeGuard {
    fn take(configs: &LineConfigs, key: String) -> Result<ProbeGuard, AppError> {
        let mut probing = configs
            .probing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !probing.insert(key.clone()) {
            let device = key.split_once('/').map_or(key.as_str(), |(_, d)| d);
            return Err(AppError::Conflict {
                field: "device",
                reason: format!("{device} is being probed already: wait for that probe's report"),
            });
        }
        Ok(ProbeGuard {
            probing: configs.probing.clone(),
            key,
        })
    }
}

impl Drop for ProbeGuard {
    fn drop(&mut self) {
        self.probing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_is_between_10_ms_and_10_s() {
        let request = |ms| ProbeRequest {
            timeout_ms: Some(ms),
            code: None,
        };
        assert_eq!(
            ProbeRequest::default().timeout().expect("the default"),
            Duration::from_secs(2)
        );
        assert_eq!(
            request(10_000).timeout().expect("10 s"),
            Duration::from_secs(10)
        );
        for ms in [0, 9, 10_001, u64::MAX] {
            match request(ms).timeout() {
                Err(AppError::Input { field, .. }) => assert_eq!(field, "timeout_ms"),
                other => panic!("{ms} ms: {other:?}"),
            }
        }
    }

    #[test]
    fn a_file_named_twice_is_one_config_and_an_index_past_the_end_is_not_found() {
        let configs = LineConfigs::new(["a.toml", "b.toml", "a.toml"].map(PathBuf::from));
        assert_eq!(configs.files().len(), 2);
        assert!(matches!(
            configs.file(2),
            Err(AppError::NotFound {
                what: "line config",
                ..
            })
        ));
    }

    #[test]
    fn a_device_is_probed_once_at_a_time() {
        let configs = LineConfigs::new([PathBuf::from("a.toml")]);
        let first = ProbeGuard::take(&configs, "0/markers.m1".into()).expect("the first");
        match ProbeGuard::take(&configs.clone(), "0/markers.m1".into()) {
            Err(AppError::Conflict { reason, .. }) => {
                assert!(reason.starts_with("markers.m1 is being probed"), "{reason}");
            }
            other => panic!("the second: {:?}", other.err()),
        }
        drop(first);
        assert!(ProbeGuard::take(&configs, "0/markers.m1".into()).is_ok());
    }
}
