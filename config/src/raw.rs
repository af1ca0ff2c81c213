//! The line config as written: TOML deserialised with every unknown key refused. Nothing here is
//! checked beyond types; [`super::compile`] turns it into a validated [`super::Line`].
//!
//! Option names are snake_case with their unit (`_mm`, `_ms`, `_upm`); every default is given
//! where the field is defined.

use std::collections::BTreeMap;
use tracemark_drivers::lineio::LineIoMap;
use tracemark_drivers::modbus_marker::ModbusMarkerMap;

use serde::Deserialize;

/// `[line]`: who the line is.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineSection {
    /// Short name, `[a-z0-9_-]`, 1–32 characters: MQTT topics are `tracemark/<id>/…`.
    pub id: String,
    /// Display name. Default: the id.
    #[serde(default)]
    pub name: Option<String>,
    /// The product produced by default (an id from `tracemark product list`). Optional.
    #[serde(default)]
    pub product: Option<String>,
    /// Minutes of production at the nominal speed the controller holds serials for ahead
    /// (reserved blocks), so a central store outage does not starve the marker (issue 18,
    /// docs/plant.md). 1–240. Default 10.
    #[serde(default)]
    pub codes_in_hand_minutes: Option<u32>,
}

/// `[conveyor]`: speed and encoder. Distances in the config are millimetres from the
/// product-detect photocell (SPEC §3); the encoder turns them into counts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConveyorSection {
    /// Nominal speed in units per minute (1–12,000).
    pub speed_upm: u32,
    /// Encoder counts per millimetre of belt. Default 1.0.
    #[serde(default = "default_counts_per_mm")]
    pub counts_per_mm: f64,
    /// Shortest distance between two product fronts, in mm. Default 100.
    #[serde(default = "default_pitch_mm")]
    pub min_pitch_mm: u32,
}

fn default_counts_per_mm() -> f64 {
    1.0
}

fn default_pitch_mm() -> u32 {
    100
}

/// How a device is reached.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum TransportSection {
    /// A serial port (RS-232/RS-485, or a pseudo-terminal for simulators).
    Serial {
        /// Device path, e.g. `/dev/ttyUSB0`.
        path: String,
        /// Baud rate. Default 9600.
        #[serde(default = "default_baud")]
        baud: u32,
        /// `none`, `even` or `odd`. Default `none`.
        #[serde(default = "default_parity")]
        parity: String,
        /// 7 or 8. Default 8.
        #[serde(default = "default_data_bits")]
        data_bits: u8,
        /// 1 or 2. Default 1.
        #[serde(default = "default_stop_bits")]
        stop_bits: u8,
    },
    /// A TCP connection.
    Tcp {
        /// `host:port`.
        address: String,
    },
}

fn default_baud() -> u32 {
    9600
}

fn default_parity() -> String {
    "none".to_owned()
}

fn default_data_bits() -> u8 {
    8
}

fn default_stop_bits() -> u8 {
    1
}

/// `[markers.<name>]`: a printer or marker that prints the unit code.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkerSection {
    /// Protocol: `linx_rci`, `zipher`, `codenet`, `zpl`, `modbus_marker` or `ascii`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Position of the print head, in mm from the photocell.
    pub position_mm: u32,
    /// How it is reached.
    pub transport: TransportSection,
    /// Refill the device's buffer when it holds fewer codes than this. Default 4.
    #[serde(default = "default_low_watermark")]
    pub low_watermark: u32,
    /// Never hold more than this many codes in the device. Default 16.
    #[serde(default = "default_high_watermark")]
    pub high_watermark: u32,
    /// A reply later than this is a lost link. Default 500 ms.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u32,
    /// Modbus unit id (`modbus_marker` only). Default 1.
    #[serde(default)]
    pub unit_id: Option<u8>,
    /// The register map (`modbus_marker` only; see docs/protocols/modbus-marker.md). Default:
    /// the map of docs/protocols/modbus-marker.md.
    #[serde(default)]
    pub registers: Option<ModbusMarkerMap>,
    /// A file relative to the config: the label template (`zpl`: a ZPL format body whose
    /// `^FN1` takes the code; default a DataMatrix and the code as text) or the device
    /// description (`ascii`, required; docs/protocols/ascii.md).
    #[serde(default)]
    pub template: Option<String>,
    /// Fixed label fields (`zpl` only): `^FN` number → text, e.g. `{ 2 = "ACME 500 g" }`.
    #[serde(default)]
    pub label_fields: BTreeMap<String, String>,
    /// The stored message (Linx, at most 15 bytes; Codenet, its number 1–999) or job (Zipher)
    /// that holds the code field, or the name the label template is stored under (ZPL,
    /// `d:NAME.ZPL`), selected before printing. Default: keep what the device has selected
    /// (ZPL: `R:TRACE.ZPL`).
    #[serde(default)]
    pub job: Option<String>,
    /// NAK codes (three digits) the printer answers when its external data queue is full
    /// (`codenet` only; docs/protocols/codenet.md). Default `["040"]`, a placeholder: set the
    /// printer's own.
    #[serde(default)]
    pub queue_full_naks: Option<Vec<String>>,
}

fn default_low_watermark() -> u32 {
    4
}

fn default_high_watermark() -> u32 {
    16
}

fn default_timeout_ms() -> u32 {
    500
}

/// `[readers.<name>]`: a camera that verifies prints and publishes results over MQTT.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReaderSection {
    /// Position of the read, in mm from the photocell (after the markers, before the gate).
    pub position_mm: u32,
    /// Lowest ISO/IEC 15415 grade this reader passes, `A`–`D`, when it must be stricter than the
    /// product's `min_grade` (a grading camera, say). Unset: the product's.
    #[serde(default)]
    pub min_grade: Option<String>,
    /// Payload field names when the reader does not publish tracemark's own JSON (SPEC §5):
    /// tracemark name → the reader's name, e.g. `data = "results.0.string"`.
    #[serde(default)]
    pub field_map: BTreeMap<String, String>,
}

/// `[plcs.<name>]`: a Modbus device with the line's I/O.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlcSection {
    /// How it is reached (Modbus TCP or RTU over serial).
    pub transport: TransportSection,
    /// Modbus unit id. Default 1.
    #[serde(default = "default_unit_id")]
    pub unit_id: u8,
    /// The device's communication watchdog: outputs fall to safe (gate open to reject) when
    /// tracemark is silent this long. Default 1000 ms.
    #[serde(default = "default_watchdog_ms")]
    pub watchdog_ms: u32,
    /// Where the PLC program keeps the line I/O (docs/protocols/line-io.md, "Register map"):
    /// any key of the tracemark line I/O map. Default: that document's map. The gate's coil
    /// and confirm input are `gate.coil` and `gate.confirm_input`; written here too they must
    /// agree.
    #[serde(default)]
    pub map: Option<LineIoMap>,
}

fn default_unit_id() -> u8 {
    1
}

fn default_watchdog_ms() -> u32 {
    1000
}

/// `[gate]`: the reject gate.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateSection {
    /// Position of the gate, in mm from the photocell (after every reader).
    pub position_mm: u32,
    /// The PLC (a `[plcs.<name>]`) that drives it.
    pub plc: String,
    /// Coil address that fires the gate. Default: the PLC map's `gate_coil` (0).
    #[serde(default)]
    pub coil: Option<u16>,
    /// Discrete input that confirms the gate moved. Default: the PLC map's
    /// `gate_confirm_input` (0).
    #[serde(default)]
    pub confirm_input: Option<u16>,
    /// A confirm later than this is a `gate_fault`. Default 200 ms.
    #[serde(default = "default_confirm_timeout_ms")]
    pub confirm_timeout_ms: u32,
    /// This many rejects in a row stop the line. Default 5.
    #[serde(default = "default_max_consecutive_rejects")]
    pub max_consecutive_rejects: u32,
}

fn default_confirm_timeout_ms() -> u32 {
    200
}

fn default_max_consecutive_rejects() -> u32 {
    5
}

/// `[mqtt]`: the broker the readers publish to and tracemark publishes its state on.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttSection {
    /// `mqtt://host:port` or `mqtts://host:port` (TLS).
    pub url: String,
    /// Client id; a persistent session is kept under it. Default `tracemark-<line id>`.
    #[serde(default)]
    pub client_id: Option<String>,
    /// User name, if the broker asks for one.
    #[serde(default)]
    pub username: Option<String>,
    /// The environment variable holding the password (never the password itself).
    #[serde(default)]
    pub password_env: Option<String>,
    /// CA certificate file (PEM) for `mqtts://`; without it the system's roots are trusted.
    #[serde(default)]
    pub ca_file: Option<String>,
    /// Client certificate (PEM) for brokers that require one (`mqtts://` only).
    #[serde(default)]
    pub client_cert_file: Option<String>,
    /// The client certificate's private key (PEM).
    #[serde(default)]
    pub client_key_file: Option<String>,
    /// Keep-alive in seconds. Default 30.
    #[serde(default = "default_keep_alive_s")]
    pub keep_alive_s: u16,
}

fn default_keep_alive_s() -> u16 {
    30
}

/// `[packing]`: the packing station after the gate (SPEC §3a, issue 14). Optional: a line
/// without it packs nothing by itself.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackingSection {
    /// How units are assigned to cases: `inferred` (the order they pass the gate),
    /// `case_camera` (a reader images each closed case) or `manual` (a hand-scanner station).
    pub mode: String,
    /// `case_camera`: the case camera's name; its case reads arrive on
    /// `tracemark/<line>/vision/<reader>/result`. Not one of `[readers.*]` (those verify prints
    /// before the gate). Required with `case_camera`, refused with the other modes.
    #[serde(default)]
    pub reader: Option<String>,
    /// `case_camera`: payload field names when the case camera does not publish tracemark's own
    /// case-read JSON, like a reader's `field_map`: tracemark name → the camera's dotted path
    /// (`reads`, and `data`/`grade` inside each read). Default: none (tracemark's JSON).
    #[serde(default)]
    pub field_map: BTreeMap<String, String>,
    /// Units per case. Default: the product's first pack size (`product add --pack-sizes`) at
    /// run time.
    #[serde(default)]
    pub units_per_case: Option<u32>,
    /// Cases per pallet. Default 0: no pallets.
    #[serde(default)]
    pub cases_per_pallet: u32,
    /// `inferred` only: the case packer's count (line I/O map IR 84–85) says when the open
    /// case is full, so the record closes when the physical case does. Default false: the case
    /// is full at `units_per_case`.
    #[serde(default)]
    pub case_packer_count: bool,
    /// `manual`: the carton station's hand scanner. Required in that mode.
    #[serde(default)]
    pub scanner: Option<super::scanner::ScannerSection>,
    /// `manual`: the palletiser's hand scanner (cartons onto pallets). Optional.
    #[serde(default)]
    pub palletiser: Option<super::scanner::ScannerSection>,
    /// `[packing.label]`: print and verify a GS1 logistic label per package. Default none:
    /// packages close unlabelled.
    #[serde(default)]
    pub label: Option<crate::label::LabelSection>,
}
