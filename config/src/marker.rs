//! `[markers.<name>]` compiled: the marker's protocol as a [`MarkerKind`] carrying that
//! protocol's own options, so no runtime matches on a type name or re-reads a template file.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use tracemark_drivers::ascii::AsciiConfig;
use tracemark_drivers::codenet::DEFAULT_QUEUE_FULL_NAK;
use tracemark_drivers::codenet::frame::NakCode;
use tracemark_drivers::codenet::message::MessageNumber;
use tracemark_drivers::linx::message::encode_message_name;
use tracemark_drivers::modbus_marker::ModbusMarkerMap;
use tracemark_drivers::zipher::codec::encode_command;
use tracemark_drivers::zpl::codec::LabelError;
use tracemark_drivers::zpl::{ZplConfig, ZplField};

use super::compile::{Errors, Transport, check_transport, counts};
use super::{RawLine, suggest};

/// Marker protocols (SPEC §5), by their `type` name in the config.
pub const MARKER_TYPES: [&str; 6] = [
    "linx_rci",
    "zipher",
    "codenet",
    "zpl",
    "modbus_marker",
    "ascii",
];

/// A marker, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Marker {
    /// Name (the key of `[markers.<name>]`).
    pub name: String,
    /// Protocol and its own options.
    pub kind: MarkerKind,
    /// Print position, mm from the photocell.
    pub position_mm: u32,
    /// Print position in encoder counts.
    pub position_counts: u64,
    /// How it is reached.
    pub transport: Transport,
    /// Refill below this many codes in the device.
    pub low_watermark: u32,
    /// At most this many codes in the device.
    pub high_watermark: u32,
    /// Reply timeout.
    pub timeout: Duration,
}

/// A marker's protocol, with the options only that protocol has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MarkerKind {
    /// Linx RCI (docs/protocols/linx-rci.md).
    LinxRci {
        /// The stored message holding the code field, selected before printing.
        job: Option<String>,
    },
    /// Videojet Zipher text communications (docs/protocols/zipher.md).
    Zipher {
        /// The stored job holding the code field, selected before printing.
        job: Option<String>,
    },
    /// Markem-Imaje / Codenet (docs/protocols/codenet.md).
    Codenet {
        /// The stored message (1–999) holding the code field, selected before printing.
        job: Option<String>,
        /// NAK codes that mean "external data queue full" (three digits each).
        queue_full_naks: Vec<String>,
    },
    /// A ZPL label printer (docs/protocols/zpl.md).
    Zpl {
        /// The stored format's name.
        job: Option<String>,
        /// The label template file, resolved against the config's directory.
        template: Option<PathBuf>,
        /// The template's content, read when the config was compiled.
        #[serde(skip)]
        template_body: Option<String>,
        /// Fixed label fields: `^FN` number → text.
        label_fields: BTreeMap<u16, String>,
    },
    /// A marker driven through Modbus registers (docs/protocols/modbus-marker.md).
    ModbusMarker {
        /// Modbus unit id.
        unit_id: u8,
        /// The register map (the config's, or the default map).
        registers: ModbusMarkerMap,
    },
    /// A device described in an ASCII protocol file (docs/protocols/ascii.md).
    Ascii {
        /// The device description file, resolved against the config's directory.
        template: PathBuf,
        /// The description, compiled when the config was (boxed: it is large, the other
        /// kinds are small).
        #[serde(skip)]
        device: Box<AsciiConfig>,
    },
}

impl MarkerKind {
    /// The `type` name in the config.
    pub fn name(&self) -> &'static str {
        match self {
            MarkerKind::LinxRci { .. } => "linx_rci",
            MarkerKind::Zipher { .. } => "zipher",
            MarkerKind::Codenet { .. } => "codenet",
            MarkerKind::Zpl { .. } => "zpl",
            MarkerKind::ModbusMarker { .. } => "modbus_marker",
            MarkerKind::Ascii { .. } => "ascii",
        }
    }
}

/// The ZPL driver's settings for a `zpl` marker kind (defaults for another kind): the label
/// template (the built-in one without a `template` file), the stored format's name (`job`), the
/// fixed label fields; the printer holds no more labels than the feed loop sends it
/// (`high_watermark`).
fn zpl_settings(kind: &MarkerKind, high_watermark: u32, reply_timeout_ms: u64) -> ZplConfig {
    let defaults = ZplConfig::default();
    let MarkerKind::Zpl {
        job,
        template_body,
        label_fields,
        ..
    } = kind
    else {
        return defaults;
    };
    ZplConfig {
        reply_timeout_ms,
        template_name: job.clone().unwrap_or(defaults.template_name),
        template_body: template_body.clone(),
        fields: label_fields
            .iter()
            .map(|(number, data)| ZplField {
                number: *number,
                data: data.clone(),
            })
            .collect(),
        max_queued_labels: u64::from(high_watermark),
        ..defaults
    }
}

impl Marker {
    /// The ZPL printer settings of this marker (default settings for a marker of another
    /// kind), as compile checked them.
    pub fn zpl_config(&self) -> ZplConfig {
        let timeout = u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX);
        zpl_settings(&self.kind, self.high_watermark, timeout)
    }
}

impl fmt::Display for MarkerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Every `[markers.<name>]` of `raw`, ordered by position, with their errors in `errors`.
pub(super) fn check_markers(
    raw: &RawLine,
    base: &Path,
    counts_per_mm: f64,
    errors: &mut Errors,
) -> Vec<Marker> {
    let mut markers = Vec::new();
    for (name, m) in &raw.markers {
        let path = format!("markers.{name}");
        let kind_name = m.kind.as_str();
        if !MARKER_TYPES.contains(&kind_name) {
            errors.push(
                format!("{path}.type"),
                format!(
                    "{:?} is not one of {}{}",
                    m.kind,
                    MARKER_TYPES.join(", "),
                    suggest::nearest(kind_name, MARKER_TYPES)
                        .map(|near| format!("; did you mean `{near}`?"))
                        .unwrap_or_default()
                ),
            );
        }
        if m.position_mm == 0 {
            errors.push(
                format!("{path}.position_mm"),
                "must be after the photocell (above 0)",
            );
        }
        if m.low_watermark == 0 || m.low_watermark >= m.high_watermark {
            errors.push(
                format!("{path}.low_watermark"),
                format!(
                    "{} must be at least 1 and below high_watermark ({})",
                    m.low_watermark, m.high_watermark
                ),
            );
        }
        if m.high_watermark > 1000 {
            errors.push(
                format!("{path}.high_watermark"),
                format!("{} is above 1000", m.high_watermark),
            );
        }
        if !(10..=60_000).contains(&m.timeout_ms) {
            errors.push(
                format!("{path}.timeout_ms"),
                format!("{} is not between 10 and 60000", m.timeout_ms),
            );
        }
        // A marker whose protocol options do not compile still takes part in the checks of
        // positions and ports below, so those errors are reported in the same pass; its error
        // is recorded, so no line with the stand-in kind is ever returned.
        let kind = check_kind(&path, m, base, errors).unwrap_or(MarkerKind::LinxRci { job: None });
        let transport = check_transport(&format!("{path}.transport"), &m.transport, errors);
        if let (MarkerKind::ModbusMarker { unit_id, .. }, Transport::Serial { .. }) =
            (&kind, &transport)
        {
            // Modbus over Serial Line V1.02 §2.2: unit addresses 1–247 (0 is broadcast).
            if !(1..=247).contains(unit_id) {
                errors.push(
                    format!("{path}.unit_id"),
                    format!("{unit_id} is not a Modbus serial address (1–247)"),
                );
            }
        }
        markers.push(Marker {
            name: name.clone(),
            kind,
            position_mm: m.position_mm,
            position_counts: counts(m.position_mm, counts_per_mm),
            transport,
            low_watermark: m.low_watermark,
            high_watermark: m.high_watermark,
            timeout: Duration::from_millis(u64::from(m.timeout_ms)),
        });
    }
    // Two markers cannot share a port or an address.
    for (i, marker) in markers.iter().enumerate() {
        let endpoint = marker.transport.endpoint();
        if let Some(first) = markers[..i]
            .iter()
            .find(|o| o.transport.endpoint() == endpoint)
        {
            errors.push(
                format!("markers.{}.transport", marker.name),
                format!("{endpoint} is already used by markers.{}", first.name),
            );
        }
    }
    markers.sort_by_key(|m| m.position_mm);
    markers
}

/// The protocol options of `[markers.<name>]`, each refused on a marker of another type; `None`
/// when the type is unknown or a file it needs cannot be used (the errors say why).
fn check_kind(
    path: &str,
    m: &super::raw::MarkerSection,
    base: &Path,
    errors: &mut Errors,
) -> Option<MarkerKind> {
    let kind = m.kind.as_str();
    if m.unit_id.is_some() && kind != "modbus_marker" {
        errors.push(
            format!("{path}.unit_id"),
            "only a modbus_marker has a unit id",
        );
    }
    if m.registers.is_some() && kind != "modbus_marker" {
        errors.push(
            format!("{path}.registers"),
            "only a modbus_marker has a register map",
        );
    }
    if m.template.is_some() && kind != "zpl" && kind != "ascii" {
        errors.push(
            format!("{path}.template"),
            "only a zpl or an ascii marker has a template",
        );
    }
    if m.job.is_some() && !matches!(kind, "linx_rci" | "zipher" | "codenet" | "zpl") {
        errors.push(
            format!("{path}.job"),
            "only a linx_rci, zipher, codenet or zpl marker selects a job",
        );
    }
    if m.queue_full_naks.is_some() && kind != "codenet" {
        errors.push(
            format!("{path}.queue_full_naks"),
            "only a codenet marker has queue-full NAK codes",
        );
    }
    let mut label_fields = BTreeMap::new();
    for (number, text) in &m.label_fields {
        let key = format!("{path}.label_fields.{number}");
        match number.parse::<u16>() {
            _ if kind != "zpl" => errors.push(key, "only a zpl marker has label fields"),
            // ^FN1 carries the code (ZPL II Programming Guide, ^FN: 1–9999).
            Ok(n @ 2..=9999) => {
                label_fields.insert(n, text.clone());
            }
            _ => errors.push(key, "a field number from 2 to 9999 (^FN1 carries the code)"),
        }
    }
    let job = m.job.clone();
    let template = m.template.as_ref().map(|file| base.join(file));
    let read_template = |errors: &mut Errors, file: &Path| match std::fs::read_to_string(file) {
        Ok(text) => Some(text),
        Err(e) => {
            errors.push(
                format!("{path}.template"),
                format!("cannot read {}: {e}", file.display()),
            );
            None
        }
    };
    // Each driver's own rule for its job, as it would refuse it at start.
    let job_path = format!("{path}.job");
    match kind {
        "linx_rci" => {
            if let Some(Err(refused)) = job.as_deref().map(encode_message_name) {
                // Linx RCI, Load Print Message (1Eh): the name field.
                errors.push(job_path, refused.to_string());
            }
            Some(MarkerKind::LinxRci { job })
        }
        "zipher" => {
            if let Some(Err(refused)) = job.as_deref().map(|j| encode_command("SEL", &[j])) {
                errors.push(job_path, refused.to_string());
            }
            Some(MarkerKind::Zipher { job })
        }
        "codenet" => {
            if let Some(text) = &job
                && MessageNumber::parse(text.trim()).is_none()
            {
                // Codenet `P1nnn`: stored messages 1–999 (docs/protocols/codenet.md).
                errors.push(
                    job_path,
                    format!("{text:?} is not a stored message number 1–999 (`P1nnn`)"),
                );
            }
            let naks = m
                .queue_full_naks
                .clone()
                .unwrap_or_else(|| vec![DEFAULT_QUEUE_FULL_NAK.as_str().to_owned()]);
            for (i, code) in naks.iter().enumerate() {
                if NakCode::parse(code).is_none() {
                    errors.push(
                        format!("{path}.queue_full_naks.{i}"),
                        format!("{code:?} is not a NAK code (three digits, e.g. \"040\")"),
                    );
                }
            }
            Some(MarkerKind::Codenet {
                job,
                queue_full_naks: naks,
            })
        }
        "zpl" => {
            let template_body = match &template {
                Some(file) => Some(read_template(errors, file)?),
                None => None,
            };
            let zpl = MarkerKind::Zpl {
                job,
                template,
                template_body,
                label_fields,
            };
            // The printer driver's own checks of name, fields and template body (ZPL II
            // Programming Guide, ^DF, ^XF, ^FN, ^FD), as at start.
            if let Err(refused) = zpl_settings(&zpl, m.high_watermark, 0).check() {
                let key = match refused {
                    LabelError::BadName(_) => "job",
                    LabelError::BodyCommand(_) | LabelError::CodeFieldMissing(_) => "template",
                    _ => "label_fields",
                };
                errors.push(format!("{path}.{key}"), refused.to_string());
            }
            Some(zpl)
        }
        "modbus_marker" => {
            let registers = m.registers.clone().unwrap_or_default();
            for problem in registers.problems() {
                // Each problem starts with the key it is about.
                let (key, what) = problem.split_once(": ").unwrap_or(("", &problem));
                let key = if key.is_empty() {
                    format!("{path}.registers")
                } else {
                    format!("{path}.registers.{key}")
                };
                errors.push(key, what.to_owned());
            }
            Some(MarkerKind::ModbusMarker {
                unit_id: m.unit_id.unwrap_or(1),
                registers,
            })
        }
        "ascii" => {
            let Some(file) = template else {
                errors.push(
                    format!("{path}.template"),
                    "an ascii marker needs its device description file",
                );
                return None;
            };
            let text = read_template(errors, &file)?;
            match AsciiConfig::from_toml(&text) {
                Ok(device) => Some(MarkerKind::Ascii {
                    template: file,
                    device: Box::new(device),
                }),
                Err(invalid) => {
                    errors.push(
                        format!("{path}.template"),
                        format!("{}: {invalid}", file.display()),
                    );
                    None
                }
            }
        }
        _ => None,
    }
}
