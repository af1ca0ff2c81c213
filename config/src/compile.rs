//! The compile step: raw sections → a validated [`Line`], with every error and its key path.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use tracemark_drivers::transport::{DataBits, Parity, StopBits};
use tracemark_store::{Grade, StoreError};

use super::dispatch::Dispatch;
use super::lineio::{Gate, Placement, Plc, check_gate, check_plcs};
use super::marker::{Marker, check_markers};
use super::packing::{Packing, check_packing};
use super::raw::{self, TransportSection};
use super::{ConfigError, MAX_READERS, RawLine};

/// Baud rates serial markers and PLCs use.
const BAUD_RATES: [u32; 8] = [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115_200];

/// Fields of tracemark's own reader payload (SPEC §5) that a `field_map` may rename.
const READER_FIELDS: [&str; 7] = [
    "reader",
    "seq",
    "ts",
    "symbology",
    "data",
    "grade",
    "encoder",
];

/// A validated line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    /// Short name, used in MQTT topics.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Default product id, if any.
    pub product: Option<String>,
    /// Nominal speed, units per minute.
    pub speed_upm: u32,
    /// Minutes of production at the nominal speed held in reserved serial blocks (docs/plant.md
    /// "Codes in hand").
    pub codes_in_hand_minutes: u32,
    /// Encoder counts per millimetre.
    pub counts_per_mm: f64,
    /// Shortest distance between product fronts, mm.
    pub min_pitch_mm: u32,
    /// The broker, when the line has readers.
    pub mqtt: Option<Mqtt>,
    /// Markers, ordered by position.
    pub markers: Vec<Marker>,
    /// Readers, ordered by position.
    pub readers: Vec<Reader>,
    /// PLCs with the line I/O.
    pub plcs: Vec<Plc>,
    /// The reject gate, if any.
    pub gate: Option<Gate>,
    /// The packing station, if the line packs (`[packing]`).
    pub packing: Option<Packing>,
    /// The dispatch scanner station, if the line has one (`[dispatch]`).
    pub dispatch: Option<Dispatch>,
}

/// How a device is reached, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Transport {
    /// A serial port.
    Serial {
        /// Device path.
        path: String,
        /// Baud rate.
        baud: u32,
        /// Parity.
        parity: Parity,
        /// Data bits.
        data_bits: DataBits,
        /// Stop bits.
        stop_bits: StopBits,
    },
    /// A TCP connection.
    Tcp {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
    },
}

impl Transport {
    /// The drivers' transport: how a driver (or a simulator serving the configured port) opens
    /// the link.
    pub fn to_device(&self) -> tracemark_drivers::transport::Transport {
        use tracemark_drivers::transport::Transport as Device;
        match (self, self.serial_settings()) {
            (_, Some(settings)) => Device::Serial(settings),
            (Transport::Tcp { host, port }, None) => Device::Tcp(format!("{host}:{port}")),
            (Transport::Serial { path, baud, .. }, None) => Device::Serial(
                tracemark_drivers::transport::SerialSettings::new(path.clone(), *baud),
            ),
        }
    }

    /// The serial port's settings, for a serial transport.
    pub fn serial_settings(&self) -> Option<tracemark_drivers::transport::SerialSettings> {
        match self {
            Transport::Serial {
                path,
                baud,
                parity,
                data_bits,
                stop_bits,
            } => Some(tracemark_drivers::transport::SerialSettings {
                parity: *parity,
                data_bits: *data_bits,
                stop_bits: *stop_bits,
                ..tracemark_drivers::transport::SerialSettings::new(path.clone(), *baud)
            }),
            Transport::Tcp { .. } => None,
        }
    }

    /// What two devices cannot share: `serial /dev/ttyUSB0` or `tcp 10.0.0.5:9100`.
    pub fn endpoint(&self) -> String {
        match self {
            Transport::Serial { path, .. } => format!("serial {path}"),
            Transport::Tcp { host, port } => format!("tcp {host}:{port}"),
        }
    }

    /// `serial /dev/ttyUSB0 9600` or `tcp 10.0.0.5:9100`, for summaries.
    pub fn describe(&self) -> String {
        match self {
            Transport::Serial { path, baud, .. } => format!("serial {path} {baud}"),
            Transport::Tcp { host, port } => format!("tcp {host}:{port}"),
        }
    }
}

/// A reader (camera), checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reader {
    /// Name; results arrive on `tracemark/<line>/vision/<name>/result`.
    pub name: String,
    /// Read position, mm from the photocell.
    pub position_mm: u32,
    /// Read position in encoder counts.
    pub position_counts: u64,
    /// Lowest grade this reader passes, `A`–`D`, when stricter than the product's.
    pub min_grade: Option<Grade>,
    /// tracemark field → the reader's field.
    pub field_map: BTreeMap<String, String>,
}

/// The broker, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mqtt {
    /// Host.
    pub host: String,
    /// Port (default 1883, or 8883 with TLS).
    pub port: u16,
    /// Whether to use TLS (`mqtts://`).
    pub tls: bool,
    /// Client id of the persistent session.
    pub client_id: String,
    /// User name.
    pub username: Option<String>,
    /// Environment variable with the password.
    pub password_env: Option<String>,
    /// CA file for TLS.
    pub ca_file: Option<PathBuf>,
    /// Client certificate and key files for TLS, both or neither.
    pub client_auth: Option<(PathBuf, PathBuf)>,
    /// Keep-alive.
    pub keep_alive: Duration,
}

/// Collects errors while compiling.
pub(super) struct Errors(pub(super) Vec<ConfigError>);

impl Errors {
    /// How many errors so far.
    pub(super) fn len(&self) -> usize {
        self.0.len()
    }

    pub(super) fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigError::new(path, message));
    }

    fn missing(&mut self, raw: &RawLine, section: &'static str, why: &str) {
        if !raw.present.contains(&section) {
            self.push(section, format!("missing: {why}"));
        }
    }
}

pub(super) fn counts(mm: u32, counts_per_mm: f64) -> u64 {
    // Positions are at most u32::MAX mm and counts_per_mm is checked to (0, 1000]: no overflow.
    (f64::from(mm) * counts_per_mm).round() as u64
}

/// Checks `raw` (paths of template and CA files are relative to `base`, the config's
/// directory) and returns the line, or every error found.
pub(crate) fn compile(raw: RawLine, base: &Path) -> Result<Line, Vec<ConfigError>> {
    let mut errors = Errors(Vec::new());
    errors.missing(&raw, "line", "[line] with at least `id`");
    errors.missing(&raw, "conveyor", "[conveyor] with at least `speed_upm`");
    // What `tracemark run` and `simulate` need to run at all: a marker prints, a reader checks,
    // the gate (on its PLC) rejects, and the readers' results arrive over MQTT. One rule, here.
    errors.missing(
        &raw,
        "markers",
        "at least one [markers.<name>] to print the codes",
    );
    errors.missing(
        &raw,
        "readers",
        "at least one [readers.<name>] to check the prints (a line runs with a marker, a \
         reader and a [gate])",
    );
    errors.missing(
        &raw,
        "gate",
        "[gate] with `position_mm` and `plc`: the reject gate rejects what fails (a line runs \
         with a marker, a reader and a [gate])",
    );
    if let Some(line) = &raw.line {
        check_line(line, &mut errors);
    }
    let counts_per_mm = raw.conveyor.as_ref().map_or(1.0, |c| {
        check_conveyor(c, &mut errors);
        c.counts_per_mm
    });
    let markers = check_markers(&raw, base, counts_per_mm, &mut errors);
    let readers = check_readers(&raw, &markers, counts_per_mm, &mut errors);
    let plcs = check_plcs(&raw, &markers, &mut errors);
    let gate = raw.gate.as_ref().and_then(|g| {
        let at = Placement {
            markers: &markers,
            readers: &readers,
            plcs: &plcs,
        };
        check_gate(g, &raw, at, &mut errors)
    });
    let line_id = raw.line.as_ref().map_or("line", |l| l.id.as_str());
    let mqtt = raw
        .mqtt
        .as_ref()
        .map(|m| check_mqtt(m, line_id, base, &mut errors));
    errors.missing(
        &raw,
        "mqtt",
        "[mqtt] with `url`: the readers publish their results over it",
    );
    let readers_named = reader_names(&readers);
    let label = raw
        .packing
        .as_ref()
        .and_then(|p| p.label.as_ref())
        .and_then(|l| super::label::check_label(l, base, &readers_named, &mut errors));
    let packing = raw
        .packing
        .as_ref()
        .and_then(|p| check_packing(p, &readers_named, &mut errors))
        .map(|p| Packing { label, ..p });
    let dispatch = raw
        .dispatch
        .as_ref()
        .and_then(|d| super::dispatch::check_dispatch(d, &mut errors));
    match (raw.line, raw.conveyor, errors.0.is_empty()) {
        (Some(line), Some(conveyor), true) => Ok(Line {
            name: line.name.unwrap_or_else(|| line.id.clone()),
            id: line.id,
            product: line.product,
            codes_in_hand_minutes: line
                .codes_in_hand_minutes
                .unwrap_or(DEFAULT_CODES_IN_HAND_MINUTES),
            speed_upm: conveyor.speed_upm,
            counts_per_mm: conveyor.counts_per_mm,
            min_pitch_mm: conveyor.min_pitch_mm,
            mqtt,
            markers,
            readers,
            plcs,
            gate,
            packing,
            dispatch,
        }),
        _ => Err(errors.0),
    }
}

fn check_line(line: &raw::LineSection, errors: &mut Errors) {
    let ok = (1..=32).contains(&line.id.len())
        && line
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if let Some(minutes) = line.codes_in_hand_minutes
        && !(1..=240).contains(&minutes)
    {
        errors.push(
            "line.codes_in_hand_minutes",
            format!("{minutes} is not between 1 and 240"),
        );
    }
    if !ok {
        errors.push(
            "line.id",
            format!(
                "{:?} must be 1–32 characters of a–z, 0–9, _ and - (it is an MQTT topic level)",
                line.id
            ),
        );
    }
}

impl Line {
    /// Codes the controller holds ahead in reserved serial blocks: `codes_in_hand_minutes` of
    /// production at the nominal speed.
    pub fn codes_in_hand(&self) -> u64 {
        u64::from(self.codes_in_hand_minutes) * u64::from(self.speed_upm)
    }
}

/// Minutes of production held in serial blocks when `[line] codes_in_hand_minutes` is not set.
pub(crate) const DEFAULT_CODES_IN_HAND_MINUTES: u32 = 10;

fn check_conveyor(conveyor: &raw::ConveyorSection, errors: &mut Errors) {
    if !(1..=12_000).contains(&conveyor.speed_upm) {
        errors.push(
            "conveyor.speed_upm",
            format!("{} is not between 1 and 12000", conveyor.speed_upm),
        );
    }
    if !(conveyor.counts_per_mm > 0.0 && conveyor.counts_per_mm <= 1000.0) {
        errors.push(
            "conveyor.counts_per_mm",
            format!("{} is not above 0 and at most 1000", conveyor.counts_per_mm),
        );
    }
    if conveyor.min_pitch_mm == 0 {
        errors.push("conveyor.min_pitch_mm", "must be at least 1");
    }
}

pub(super) fn check_transport(
    path: &str,
    transport: &TransportSection,
    errors: &mut Errors,
) -> Transport {
    match transport {
        TransportSection::Serial {
            path: device,
            baud,
            parity,
            data_bits,
            stop_bits,
        } => {
            if device.trim().is_empty() {
                errors.push(format!("{path}.path"), "must name a serial device");
            }
            if !BAUD_RATES.contains(baud) {
                errors.push(
                    format!("{path}.baud"),
                    format!("{baud} is not a standard rate ({BAUD_RATES:?})"),
                );
            }
            let parity = Parity::from_name(parity).unwrap_or_else(|| {
                errors.push(
                    format!("{path}.parity"),
                    format!("{parity:?} is not none, even or odd"),
                );
                Parity::None
            });
            let data_bits = DataBits::try_from(*data_bits).unwrap_or_else(|reason| {
                errors.push(format!("{path}.data_bits"), reason);
                DataBits::Eight
            });
            let stop_bits = StopBits::try_from(*stop_bits).unwrap_or_else(|reason| {
                errors.push(format!("{path}.stop_bits"), reason);
                StopBits::One
            });
            Transport::Serial {
                path: device.clone(),
                baud: *baud,
                parity,
                data_bits,
                stop_bits,
            }
        }
        TransportSection::Tcp { address } => {
            let parsed = address
                .rsplit_once(':')
                .and_then(|(host, port)| Some((host, port.parse::<u16>().ok()?)))
                .filter(|(host, port)| !host.is_empty() && *port != 0);
            match parsed {
                Some((host, port)) => Transport::Tcp {
                    host: host.trim_matches(['[', ']']).to_owned(),
                    port,
                },
                None => {
                    errors.push(
                        format!("{path}.address"),
                        format!("{address:?} is not host:port with a port from 1 to 65535"),
                    );
                    Transport::Tcp {
                        host: address.clone(),
                        port: 0,
                    }
                }
            }
        }
    }
}

fn check_readers(
    raw: &RawLine,
    markers: &[Marker],
    counts_per_mm: f64,
    errors: &mut Errors,
) -> Vec<Reader> {
    let last_marker = markers.iter().map(|m| m.position_mm).max().unwrap_or(0);
    let mut readers = Vec::new();
    for (name, r) in &raw.readers {
        let path = format!("readers.{name}");
        if r.position_mm <= last_marker {
            errors.push(
                format!("{path}.position_mm"),
                format!(
                    "{} mm is not after the last marker ({last_marker} mm): a reader checks \
                     what was printed",
                    r.position_mm
                ),
            );
        }
        let grade = match r.min_grade.as_deref().map(Grade::parse_minimum) {
            None => None,
            Some(Ok(grade)) => Some(grade),
            Some(Err(invalid)) => {
                // The vocabulary's message, at this reader's key path.
                let reason = match invalid {
                    StoreError::Invalid { reason, .. } => reason,
                    other => other.to_string(),
                };
                errors.push(format!("{path}.min_grade"), reason);
                None
            }
        };
        for field in r.field_map.keys() {
            if !READER_FIELDS.contains(&field.as_str()) {
                errors.push(
                    format!("{path}.field_map.{field}"),
                    format!("not a result field ({})", READER_FIELDS.join(", ")),
                );
            }
        }
        readers.push(Reader {
            name: name.clone(),
            position_mm: r.position_mm,
            position_counts: counts(r.position_mm, counts_per_mm),
            min_grade: grade,
            field_map: r.field_map.clone(),
        });
    }
    if readers.len() > MAX_READERS {
        errors.push(
            "readers",
            format!(
                "{} readers: a line has at most {MAX_READERS}",
                readers.len()
            ),
        );
    }
    readers.sort_by_key(|r| r.position_mm);
    readers
}

fn check_mqtt(m: &raw::MqttSection, line_id: &str, base: &Path, errors: &mut Errors) -> Mqtt {
    let (tls, rest) = if let Some(rest) = m.url.strip_prefix("mqtts://") {
        (true, rest)
    } else if let Some(rest) = m.url.strip_prefix("mqtt://") {
        (false, rest)
    } else {
        errors.push(
            "mqtt.url",
            format!("{:?} must start with mqtt:// or mqtts://", m.url),
        );
        (false, "")
    };
    let authority = rest.trim_end_matches('/');
    let default_port = if tls { 8883 } else { 1883 };
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => match port.parse::<u16>() {
            Ok(port) if port != 0 => (host.to_owned(), port),
            _ => {
                errors.push(
                    "mqtt.url",
                    format!("{port:?} is not a port from 1 to 65535"),
                );
                (host.to_owned(), default_port)
            }
        },
        None => (authority.to_owned(), default_port),
    };
    if host.is_empty() && !rest.is_empty() {
        errors.push("mqtt.url", format!("{:?} has no host", m.url));
    }
    if m.password_env.is_some() && m.username.is_none() {
        errors.push("mqtt.password_env", "a password needs a username");
    }
    let mut tls_file = |key: &str, file: &Option<String>, marker: &str| {
        let file = file.as_ref()?;
        let resolved = base.join(file);
        let path = format!("mqtt.{key}");
        if !tls {
            errors.push(path, "only used with mqtts://");
        } else {
            match std::fs::read_to_string(&resolved) {
                // Only a PEM marker is checked here; the TLS handshake checks the rest.
                Ok(text) if text.contains(marker) => {}
                Ok(_) => errors.push(
                    path,
                    format!("{} holds no `{marker}` (PEM expected)", resolved.display()),
                ),
                Err(error) => {
                    errors.push(path, format!("cannot read {}: {error}", resolved.display()))
                }
            }
        }
        Some(resolved)
    };
    let ca_file = tls_file("ca_file", &m.ca_file, "-----BEGIN CERTIFICATE-----");
    let client_cert = tls_file(
        "client_cert_file",
        &m.client_cert_file,
        "-----BEGIN CERTIFICATE-----",
    );
    let client_key = tls_file("client_key_file", &m.client_key_file, "PRIVATE KEY-----");
    let client_auth = match (client_cert, client_key) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        (Some(_), None) => {
            errors.push("mqtt.client_key_file", "a client certificate needs its key");
            None
        }
        (None, Some(_)) => {
            errors.push(
                "mqtt.client_cert_file",
                "a client key needs its certificate",
            );
            None
        }
    };
    if m.keep_alive_s < 5 {
        errors.push(
            "mqtt.keep_alive_s",
            format!("{} is below 5 seconds", m.keep_alive_s),
        );
    }
    Mqtt {
        host,
        port,
        tls,
        client_id: m
            .client_id
            .clone()
            .unwrap_or_else(|| format!("tracemark-{line_id}")),
        username: m.username.clone(),
        password_env: m.password_env.clone(),
        ca_file,
        client_auth,
        keep_alive: Duration::from_secs(u64::from(m.keep_alive_s)),
    }
}

/// The names of the line's readers.
fn reader_names(readers: &[Reader]) -> Vec<String> {
    readers.iter().map(|r| r.name.clone()).collect()
}
