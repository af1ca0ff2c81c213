//! An integrator's first check of a line config's devices (docs/integrator.md §3): find the
//! device a name means, choose a test code its protocol can carry, and probe it
//! ([`crate::probe`]) — without printing and without moving the line.

use std::time::Duration;

use tracemark_drivers::linx::message::encode_remote_data;
use tracemark_drivers::modbus_marker::ModbusMarkerMap;
use tracemark_drivers::modbus_marker::codec::encode_code;
use tracemark_drivers::zipher::codec::encode_command;

use super::AppError;
use crate::config::{Line, Marker, MarkerKind, Plc};
use crate::probe::{self, Report};

/// The default test code: plainly not a trace code, should it ever show up anywhere.
pub const PROBE_CODE: &str = "TRACEMARK-PROBE";

/// Probes the device `name` of `line` (a marker with the test code `code`, or
/// [`PROBE_CODE`] cut to what it can carry), each step waiting at most `timeout`. The report
/// says whether every step passed.
pub async fn probe(
    line: &Line,
    name: &str,
    code: Option<&str>,
    timeout: Duration,
) -> Result<Report, AppError> {
    Ok(match find_device(line, name)? {
        Device::Marker(marker) => {
            let code = probe_code(marker, code)?;
            probe::probe_marker(marker, &code, timeout).await
        }
        Device::Plc(plc) => probe::probe_plc(plc, timeout).await,
    })
}

/// A device of a line config that has a link to probe.
#[derive(Debug, Clone, Copy)]
pub enum Device<'a> {
    /// A `[markers.<name>]`.
    Marker(&'a Marker),
    /// A `[plcs.<name>]`.
    Plc(&'a Plc),
}

/// The device `name` (`NAME`, `markers.NAME` or `plcs.NAME`) of the config, or an input error
/// listing the devices it has.
pub fn find_device<'a>(line: &'a Line, name: &str) -> Result<Device<'a>, AppError> {
    let (tables, bare) = match name.split_once('.') {
        Some(("markers", rest)) => ((true, false), rest),
        Some(("plcs", rest)) => ((false, true), rest),
        _ => ((true, true), name),
    };
    let marker = line.markers.iter().find(|m| tables.0 && m.name == bare);
    let plc = line.plcs.iter().find(|p| tables.1 && p.name == bare);
    match (marker, plc) {
        (Some(_), Some(_)) => Err(AppError::input(
            "--device",
            format!("both markers.{bare} and plcs.{bare} exist: name one of them"),
        )),
        (Some(marker), None) => Ok(Device::Marker(marker)),
        (None, Some(plc)) => Ok(Device::Plc(plc)),
        (None, None) => {
            let why = if line.readers.iter().any(|r| r.name == bare) {
                format!(
                    "readers.{bare} is a camera: it publishes over MQTT and has no link to probe"
                )
            } else {
                format!("no device {name:?} in the config")
            };
            Err(AppError::input(
                "--device",
                format!("{why}; devices to probe: {}", device_list(line)),
            ))
        }
    }
}

fn device_list(line: &Line) -> String {
    let names: Vec<String> = line
        .markers
        .iter()
        .map(|m| format!("markers.{} ({})", m.name, m.kind))
        .chain(
            line.plcs
                .iter()
                .map(|p| format!("plcs.{} (line I/O)", p.name)),
        )
        .collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// The test code for `marker`, checked against what its protocol can carry, so a code the
/// driver would refuse is an input error before anything is sent.
pub fn probe_code(marker: &Marker, given: Option<&str>) -> Result<String, AppError> {
    let map = match &marker.kind {
        MarkerKind::ModbusMarker { registers, .. } => registers.clone(),
        _ => ModbusMarkerMap::default(),
    };
    let text = match given {
        Some(text) => text.to_owned(),
        // A short register field gets the start of the default code.
        None if matches!(marker.kind, MarkerKind::ModbusMarker { .. }) => {
            PROBE_CODE.chars().take(map.code_capacity()).collect()
        }
        None => PROBE_CODE.to_owned(),
    };
    if text.is_empty() {
        return Err(AppError::input("--code", "must not be empty"));
    }
    if let Some(c) = text.chars().find(|c| !(' '..='~').contains(c)) {
        return Err(AppError::input(
            "--code",
            format!("{c:?} is not printable ASCII"),
        ));
    }
    let problem = match marker.kind {
        MarkerKind::LinxRci { .. } => encode_remote_data(text.as_bytes())
            .err()
            .map(|e| e.to_string()),
        MarkerKind::Zipher { .. } => encode_command("SID", &["1", &text])
            .err()
            .map(|e| e.to_string()),
        MarkerKind::ModbusMarker { .. } => encode_code(&map, &text).err().map(|e| e.to_string()),
        MarkerKind::Codenet { .. } | MarkerKind::Zpl { .. } | MarkerKind::Ascii { .. } => None,
    };
    match problem {
        Some(problem) => Err(AppError::input(
            "--code",
            format!("markers.{}: {problem}", marker.name),
        )),
        None => Ok(text),
    }
}
