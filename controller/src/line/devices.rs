//! From a line config's `[markers.<name>]` to the driver that speaks its protocol: the one place
//! the line runtime, `tracemark driver probe` and the commissioning twin turn a marker's `type`,
//! `job`, `timeout_ms`, register map and template file into a device.

use std::path::Path;

use tracemark_drivers::ascii::{AsciiConfig, AsciiMarker};
use tracemark_drivers::codenet::{CodenetConfig, CodenetMarker};
use tracemark_drivers::linx::{LinxConfig, LinxMarker};
use tracemark_drivers::marker::AnyMarker;
use tracemark_drivers::modbus_marker::ModbusMarker;
use tracemark_drivers::zipher::{ZipherConfig, ZipherMarker};
use tracemark_drivers::zpl::{ZplConfig, ZplField, ZplPrinter};

use super::device_transport;
use crate::config::Marker;

/// The driver of `marker`, on its configured transport. Fails, naming the marker, when a file
/// the config names cannot be read or its content is not valid.
pub fn marker_device(marker: &Marker) -> Result<AnyMarker, String> {
    let transport = device_transport(&marker.transport);
    let reply_timeout_ms = u64::try_from(marker.timeout.as_millis()).unwrap_or(u64::MAX);
    let device = match marker.kind.as_str() {
        "linx_rci" => AnyMarker::Linx(LinxMarker::new(
            transport,
            LinxConfig {
                reply_timeout_ms,
                message: marker.job.clone(),
            },
        )),
        "zipher" => AnyMarker::Zipher(ZipherMarker::new(
            transport,
            ZipherConfig {
                reply_timeout_ms,
                job: marker.job.clone(),
                ..ZipherConfig::default()
            },
        )),
        "codenet" => AnyMarker::Codenet(CodenetMarker::new(
            transport,
            CodenetConfig {
                reply_timeout_ms,
                message: marker.job.clone(),
                ..CodenetConfig::default()
            },
        )),
        "zpl" => AnyMarker::Zpl(ZplPrinter::new(transport, zpl_config(marker)?)),
        "modbus_marker" => AnyMarker::Modbus(
            ModbusMarker::new(
                transport,
                marker.unit_id.unwrap_or(1),
                marker.registers.clone().unwrap_or_default(),
                marker.timeout,
            )
            .map_err(|e| format!("marker {}: {e}", marker.name))?,
        ),
        "ascii" => AnyMarker::Ascii(AsciiMarker::new(transport, ascii_config(marker)?)),
        other => return Err(format!("marker {}: unknown type {other:?}", marker.name)),
    };
    Ok(device)
}

/// The ZPL printer settings of `marker`: its label template (the built-in one without a
/// `template` file), the stored format's name (`job`), and its fixed label fields.
pub fn zpl_config(marker: &Marker) -> Result<ZplConfig, String> {
    let template_body = match &marker.template {
        Some(path) => Some(read(marker, path)?),
        None => None,
    };
    let defaults = ZplConfig::default();
    Ok(ZplConfig {
        reply_timeout_ms: u64::try_from(marker.timeout.as_millis()).unwrap_or(u64::MAX),
        template_name: marker.job.clone().unwrap_or(defaults.template_name),
        template_body,
        fields: marker
            .label_fields
            .iter()
            .map(|(number, data)| ZplField {
                number: *number,
                data: data.clone(),
            })
            .collect(),
        // The printer holds no more labels than the feed loop sends it.
        max_queued_labels: u64::from(marker.high_watermark),
        ..defaults
    })
}

/// The device description of an `ascii` marker, read from its `template` file, with the
/// marker's reply timeout.
pub fn ascii_config(marker: &Marker) -> Result<AsciiConfig, String> {
    let path = marker.template.as_ref().ok_or_else(|| {
        format!(
            "marker {}: an ascii marker needs a template file",
            marker.name
        )
    })?;
    let text = read(marker, path)?;
    AsciiConfig::from_toml(&text)
        .map(|config| config.with_reply_timeout(marker.timeout))
        .map_err(|e| format!("marker {}: {}: {e}", marker.name, path.display()))
}

fn read(marker: &Marker, path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| {
        format!(
            "marker {}: cannot read {}: {e}",
            marker.name,
            path.display()
        )
    })
}
