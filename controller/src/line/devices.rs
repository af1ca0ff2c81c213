//! From a line config's `[markers.<name>]` to the driver that speaks its protocol: the one place
//! the line runtime, `tracemark driver probe` and the commissioning twin turn a compiled
//! [`MarkerKind`] and its options into a device.

use tracemark_drivers::ascii::{AsciiConfig, AsciiMarker};
use tracemark_drivers::codenet::{CodenetConfig, CodenetMarker};
use tracemark_drivers::linx::{LinxConfig, LinxMarker};
use tracemark_drivers::marker::AnyMarker;
use tracemark_drivers::modbus_marker::{InvalidMap, ModbusMarker};
use tracemark_drivers::zipher::{ZipherConfig, ZipherMarker};
use tracemark_drivers::zpl::{ZplConfig, ZplPrinter};

use super::device_transport;
use crate::config::{Marker, MarkerKind};

/// The driver of `marker`, on its configured transport. Everything it needs was read and
/// checked when the config was compiled; only the Modbus driver checks its register map again,
/// as its own constructor does for every caller.
pub fn marker_device(marker: &Marker) -> Result<AnyMarker, InvalidMap> {
    let transport = device_transport(&marker.transport);
    let reply_timeout_ms = u64::try_from(marker.timeout.as_millis()).unwrap_or(u64::MAX);
    let device = match &marker.kind {
        MarkerKind::LinxRci { job } => AnyMarker::Linx(LinxMarker::new(
            transport,
            LinxConfig {
                reply_timeout_ms,
                message: job.clone(),
            },
        )),
        MarkerKind::Zipher { job } => AnyMarker::Zipher(ZipherMarker::new(
            transport,
            ZipherConfig {
                reply_timeout_ms,
                job: job.clone(),
                ..ZipherConfig::default()
            },
        )),
        MarkerKind::Codenet {
            job,
            queue_full_naks,
        } => AnyMarker::Codenet(CodenetMarker::new(
            transport,
            CodenetConfig {
                reply_timeout_ms,
                message: job.clone(),
                queue_full_naks: queue_full_naks.clone(),
            },
        )),
        MarkerKind::Zpl { .. } => AnyMarker::Zpl(ZplPrinter::new(transport, zpl_config(marker))),
        MarkerKind::ModbusMarker { unit_id, registers } => AnyMarker::Modbus(ModbusMarker::new(
            transport,
            *unit_id,
            registers.clone(),
            marker.timeout,
        )?),
        MarkerKind::Ascii { device, .. } => AnyMarker::Ascii(AsciiMarker::new(
            transport,
            device.as_ref().clone().with_reply_timeout(marker.timeout),
        )),
    };
    Ok(device)
}

/// The ZPL printer settings of `marker`: its label template (the built-in one without a
/// `template` file), the stored format's name (`job`), and its fixed label fields, as the config
/// compiled and checked them. Default settings for a marker of another kind.
pub fn zpl_config(marker: &Marker) -> ZplConfig {
    marker.zpl_config()
}

/// The device description of an `ascii` marker (compiled with the config), with the marker's
/// reply timeout; `None` for a marker of another kind.
pub fn ascii_config(marker: &Marker) -> Option<AsciiConfig> {
    match &marker.kind {
        MarkerKind::Ascii { device, .. } => {
            Some(device.as_ref().clone().with_reply_timeout(marker.timeout))
        }
        _ => None,
    }
}
