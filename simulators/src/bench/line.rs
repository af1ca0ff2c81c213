//! A line config on the bench: every device of a [`Line`] started as a simulator of its own
//! protocol, where the config says it is — or, where that cannot be had on this machine, on a
//! pseudo-terminal or a free local port, with the `TRACEMARK_…` override that points the config
//! there (`tracemark-sim line --config FILE`).
//!
//! - A marker gets the simulator of its `type` with the config's options (a Modbus register
//!   marker's map and unit id, an ASCII marker's device description), its buffer at least
//!   `high_watermark` deep, so a config that fits the real device fits the simulator.
//! - A PLC gets the line I/O map at its unit id. Its encoder and photocell stand still until
//!   something moves them ([`LineBench::command`]: `<plc> encoder N`, `<plc> detect`), as
//!   `tracemark-sim plc` without `--rate`: on the bench no unit passes, and a probe reads what
//!   the bench was told.
//! - A reader gets a camera publishing to the config's broker, fed over TCP; when no broker
//!   answers at the configured address (or it wants TLS) the camera is not started, and
//!   [`LineBench::not_started`] says why: the simulators carry no broker of their own.
//! - TCP: the configured `host:port` is bound if it can be (a local address, a free port, a
//!   port the user may bind); otherwise (another machine's address, a name that does not
//!   resolve, a port in use or below 1024) a free port of 127.0.0.1.
//! - Serial: a pseudo-terminal. The configured port is the host's end of the cable, and a PC
//!   has `/dev/ttyS0` whether or not anything is wired to it, so serving there would most often
//!   serve nothing; [`LineOptions::open_serial`] serves an existing port instead (the host on
//!   another machine, through a null-modem cable), and falls back to a pty if it cannot open.

use std::fmt;
use std::time::Duration;

use tokio::task::JoinSet;
use tracemark_config::{Line, Marker, MarkerKind, Mqtt, Plc, Reader, Transport};
use tracing::Instrument as _;

use super::camera::{CameraSetup, start_camera};
use super::{Endpoint, Place, Serve, ServeTask, serve};
use crate::any_marker::AnyMarkerSim;
use crate::ascii::AsciiSim;
use crate::codenet::CodenetSim;
use crate::control::{Reply, marker_command, plc_command};
use crate::linx::LinxSim;
use crate::modbus_marker::ModbusMarkerSim;
use crate::plc::PlcSim;
use crate::vision::DamageRates;
use crate::zipher::ZipherSim;
use crate::zpl::ZplSim;

/// The prefix and separator of config overrides (`tracemark_config::ENV_PREFIX`, `__`).
const OVERRIDE_PREFIX: &str = "TRACEMARK";

/// How [`start_line`] starts a line.
#[derive(Debug, Clone)]
pub struct LineOptions {
    /// Serve a serial device on its configured port when that port opens (default: a
    /// pseudo-terminal always).
    pub open_serial: bool,
    /// How long the broker has to accept each camera (default 2 s).
    pub broker_timeout: Duration,
    /// The cameras' damage rates (default: none, so every good print reads).
    pub damage: DamageRates,
    /// Seed of the cameras' damage draws (default 1).
    pub seed: u64,
}

impl Default for LineOptions {
    fn default() -> Self {
        Self {
            open_serial: false,
            broker_timeout: Duration::from_secs(2),
            damage: DamageRates::NONE,
            seed: 1,
        }
    }
}

/// The config section a device is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// `[markers.<name>]`.
    Markers,
    /// `[plcs.<name>]`.
    Plcs,
    /// `[readers.<name>]`.
    Readers,
}

impl Section {
    /// The section's key: `markers`.
    pub fn key(self) -> &'static str {
        match self {
            Section::Markers => "markers",
            Section::Plcs => "plcs",
            Section::Readers => "readers",
        }
    }

    /// One device of it: `marker`.
    pub fn device(self) -> &'static str {
        match self {
            Section::Markers => "marker",
            Section::Plcs => "plc",
            Section::Readers => "reader",
        }
    }
}

/// An environment variable that overrides one config key (`TRACEMARK_<SECTION>__<KEY>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// `TRACEMARK_MARKERS__CIJ__TRANSPORT__ADDRESS`.
    pub name: String,
    /// `127.0.0.1:40123`.
    pub value: String,
}

impl Override {
    fn transport(section: Section, device: &str, key: &str, value: String) -> Self {
        let name = format!(
            "{OVERRIDE_PREFIX}_{}__{}__TRANSPORT__{key}",
            section.key(),
            device
        )
        .to_ascii_uppercase();
        Self { name, value }
    }

    /// Whether a shell can export it: the device's name is letters, digits and `_` only.
    pub fn exportable(&self) -> bool {
        self.name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    }
}

impl fmt::Display for Override {
    /// `export NAME=VALUE`, or a comment saying it cannot be exported.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.exportable() {
            write!(f, "export {}={}", self.name, self.value)
        } else {
            write!(
                f,
                "# {}={} is not a shell variable name: set the address in the file, or rename the device",
                self.name, self.value
            )
        }
    }
}

/// A device served elsewhere than its config says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    /// Where the config says: `tcp 192.168.10.21:3002`.
    pub configured: String,
    /// Why it is not there.
    pub reason: String,
    /// What points the config at where it is.
    pub fix: Override,
}

/// A device started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchDevice {
    /// Its section.
    pub section: Section,
    /// Its name in the section.
    pub name: String,
    /// Its protocol: a marker `type`, `modbus_tcp`/`modbus_rtu` (a PLC), `vision` (a reader).
    pub protocol: String,
    /// Where it is served (a reader: its unit feed).
    pub endpoint: Endpoint,
    /// More: a PLC's unit id, a reader's broker and topic.
    pub detail: Option<String>,
    /// Set when it is not where the config says.
    pub moved: Option<Moved>,
}

impl fmt::Display for BenchDevice {
    /// `marker cij: linx_rci on tcp 127.0.0.1:40123 (instead of …)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {} on {}",
            self.section.device(),
            self.name,
            self.protocol,
            self.endpoint
        )?;
        if let Some(detail) = &self.detail {
            write!(f, ", {detail}")?;
        }
        if let Some(moved) = &self.moved {
            write!(f, " (instead of {}: {})", moved.configured, moved.reason)?;
        }
        Ok(())
    }
}

/// A device of the config that was not started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotStarted {
    /// Its section.
    pub section: Section,
    /// Its name.
    pub name: String,
    /// Why, and what to do.
    pub reason: String,
}

impl fmt::Display for NotStarted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: not started: {}",
            self.section.device(),
            self.name,
            self.reason
        )
    }
}

/// A device that could be served nowhere (not even on a pty or a free port).
#[derive(Debug, thiserror::Error)]
#[error("{section}.{name}: cannot start its simulator: {source}", section = .section.key())]
pub struct BenchError {
    /// Its section.
    pub section: Section,
    /// Its name.
    pub name: String,
    /// Why.
    pub source: std::io::Error,
}

/// What a device takes commands through.
#[derive(Debug, Clone)]
enum Control {
    Marker(AnyMarkerSim),
    Plc(PlcSim),
    Camera,
}

/// The line's simulators by name, to drive them: cheap to clone, shared with the [`LineBench`].
#[derive(Debug, Clone, Default)]
pub struct LineControls {
    devices: Vec<(Section, String, Control)>,
}

impl LineControls {
    /// The simulator of marker `name`.
    pub fn marker(&self, name: &str) -> Option<&AnyMarkerSim> {
        self.devices
            .iter()
            .find_map(|(_, n, control)| match control {
                Control::Marker(sim) if n == name => Some(sim),
                _ => None,
            })
    }

    /// The simulator of PLC `name`.
    pub fn plc(&self, name: &str) -> Option<&PlcSim> {
        self.devices
            .iter()
            .find_map(|(_, n, control)| match control {
                Control::Plc(sim) if n == name => Some(sim),
                _ => None,
            })
    }

    /// One command: `DEVICE COMMAND…` (the device by its name, or `markers.NAME` /
    /// `plcs.NAME`), given to that device as `tracemark-sim <device>` takes it on stdin
    /// ([`marker_command`], [`plc_command`]); or `quit`.
    pub fn command(&self, line: &str) -> Reply {
        let line = line.trim();
        let (device, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        match device {
            "" => return Reply::Silent,
            "quit" => return Reply::Quit,
            _ => {}
        }
        let found: Vec<&(Section, String, Control)> = self
            .devices
            .iter()
            .filter(|(section, name, _)| {
                name == device || format!("{}.{name}", section.key()) == device
            })
            .collect();
        match found.as_slice() {
            [(_, _, Control::Marker(sim))] => marker_command(sim, rest.trim()),
            [(_, _, Control::Plc(sim))] => plc_command(sim, rest.trim()),
            [(_, name, Control::Camera)] => Reply::Say(format!(
                "error: camera {name} takes units on its feed (`ENCODER CODE` lines over TCP), not here"
            )),
            [] => {
                let names: Vec<&str> = self.devices.iter().map(|(_, n, _)| n.as_str()).collect();
                Reply::Say(format!(
                    "error: no device `{device}`; devices: {}",
                    names.join(", ")
                ))
            }
            _ => {
                let keys: Vec<String> = found
                    .iter()
                    .map(|(section, name, _)| format!("{}.{name}", section.key()))
                    .collect();
                Reply::Say(format!(
                    "error: `{device}` is ambiguous; say one of: {}",
                    keys.join(", ")
                ))
            }
        }
    }
}

/// A line's simulators, serving. Dropping it stops them.
#[derive(Debug)]
pub struct LineBench {
    devices: Vec<BenchDevice>,
    not_started: Vec<NotStarted>,
    controls: LineControls,
    tasks: JoinSet<(String, std::io::Result<()>)>,
}

impl LineBench {
    /// The devices started, markers first, then PLCs, then readers.
    pub fn devices(&self) -> &[BenchDevice] {
        &self.devices
    }

    /// The devices of the config that were not started, with why.
    pub fn not_started(&self) -> &[NotStarted] {
        &self.not_started
    }

    /// The simulators, to drive.
    pub fn controls(&self) -> &LineControls {
        &self.controls
    }

    /// Waits until a device's simulator stops serving (its listener failed), and returns its
    /// `section.name` and why. Never returns while every device serves.
    pub async fn stopped(&mut self) -> (String, std::io::Result<()>) {
        match self.tasks.join_next().await {
            Some(Ok(ended)) => ended,
            Some(Err(error)) => ("a simulator".to_owned(), Err(std::io::Error::other(error))),
            None => std::future::pending().await,
        }
    }

    fn spawn(&mut self, section: Section, name: &str, task: ServeTask) {
        let key = format!("{}.{name}", section.key());
        let span = tracing::info_span!("sim", device = %key);
        self.tasks
            .spawn(async move { (key, task.await) }.instrument(span));
    }

    fn control(&mut self, section: Section, name: &str, control: Control) {
        self.controls
            .devices
            .push((section, name.to_owned(), control));
    }
}

/// The simulator for `marker`, with the config's options for its protocol.
pub fn marker_sim(marker: &Marker) -> AnyMarkerSim {
    // At least as deep as the driver will fill it.
    let high = usize::try_from(marker.high_watermark).unwrap_or(usize::MAX);
    let depth = |default: usize| default.max(high);
    match &marker.kind {
        MarkerKind::LinxRci { .. } => {
            AnyMarkerSim::Linx(LinxSim::new(depth(crate::linx::DEFAULT_DEPTH)))
        }
        MarkerKind::Zipher { .. } => {
            AnyMarkerSim::Zipher(ZipherSim::new(depth(crate::zipher::DEFAULT_DEPTH)))
        }
        MarkerKind::Codenet { .. } => {
            AnyMarkerSim::Codenet(CodenetSim::new(depth(crate::codenet::DEFAULT_DEPTH)))
        }
        MarkerKind::Zpl { .. } => AnyMarkerSim::Zpl(ZplSim::new(depth(crate::zpl::DEFAULT_DEPTH))),
        MarkerKind::ModbusMarker { unit_id, registers } => {
            AnyMarkerSim::ModbusMarker(ModbusMarkerSim::with_map(
                registers.clone(),
                *unit_id,
                depth(crate::modbus_marker::DEFAULT_DEPTH),
            ))
        }
        MarkerKind::Ascii { device, .. } => {
            let config = device.as_ref().clone().with_reply_timeout(marker.timeout);
            // The description's own depth is the device's; without one, as deep as filled.
            let depth = config
                .depth()
                .and_then(|depth| usize::try_from(depth).ok())
                .unwrap_or_else(|| depth(crate::ascii::DEFAULT_DEPTH));
            AnyMarkerSim::Ascii(AsciiSim::new(config, depth))
        }
    }
}

/// Starts every device of `line` (see the module header for where each goes).
pub async fn start_line(line: &Line, options: &LineOptions) -> Result<LineBench, BenchError> {
    let mut bench = LineBench {
        devices: Vec::new(),
        not_started: Vec::new(),
        controls: LineControls::default(),
        tasks: JoinSet::new(),
    };
    for marker in &line.markers {
        let sim = marker_sim(marker);
        let protocol = marker.kind.name().to_owned();
        let (device, task) = place(
            &sim,
            Section::Markers,
            &marker.name,
            &marker.transport,
            options,
        )
        .await?;
        bench.spawn(Section::Markers, &marker.name, task);
        bench.devices.push(BenchDevice { protocol, ..device });
        bench.control(Section::Markers, &marker.name, Control::Marker(sim));
    }
    for plc in &line.plcs {
        start_plc(&mut bench, plc, options).await?;
    }
    for (index, reader) in line.readers.iter().enumerate() {
        let seed = options.seed.wrapping_add(index as u64);
        start_reader(&mut bench, line, reader, options, seed).await;
    }
    Ok(bench)
}

async fn start_plc(
    bench: &mut LineBench,
    plc: &Plc,
    options: &LineOptions,
) -> Result<(), BenchError> {
    let sim = PlcSim::with_map(plc.unit_id, plc.line_io.clone());
    let (device, task) = place(&sim, Section::Plcs, &plc.name, &plc.transport, options).await?;
    bench.spawn(Section::Plcs, &plc.name, task);
    let protocol = match device.endpoint {
        Endpoint::Tcp(_) => "modbus_tcp",
        Endpoint::Pty(_) | Endpoint::Serial(_) => "modbus_rtu",
    };
    bench.devices.push(BenchDevice {
        protocol: protocol.to_owned(),
        detail: Some(format!(
            "unit {}, line I/O map{}",
            plc.unit_id,
            if plc.line_io == tracemark_drivers::lineio::LineIoMap::default() {
                ""
            } else {
                " as relocated by the config"
            }
        )),
        ..device
    });
    bench.control(Section::Plcs, &plc.name, Control::Plc(sim));
    Ok(())
}

async fn start_reader(
    bench: &mut LineBench,
    line: &Line,
    reader: &Reader,
    options: &LineOptions,
    seed: u64,
) {
    let not_started = |reason: String| NotStarted {
        section: Section::Readers,
        name: reader.name.clone(),
        reason,
    };
    let Some(mqtt) = &line.mqtt else {
        bench
            .not_started
            .push(not_started("the config has no [mqtt] broker".to_owned()));
        return;
    };
    if mqtt.tls {
        bench.not_started.push(not_started(format!(
            "the camera simulator speaks plain MQTT and [mqtt] is mqtts://{}:{}; point \
             TRACEMARK_MQTT__URL at a plain mqtt:// broker",
            mqtt.host, mqtt.port
        )));
        return;
    }
    let setup = CameraSetup {
        reader: reader.name.clone(),
        line: line.id.clone(),
        client_id: format!("tracemark-sim-{}-{}", line.id, reader.name),
        broker_host: mqtt.host.clone(),
        broker_port: mqtt.port,
        credentials: credentials(mqtt),
        rates: options.damage,
        seed,
        feed: "127.0.0.1:0".to_owned(),
    };
    match start_camera(setup, Some(options.broker_timeout)).await {
        Ok(camera) => {
            bench.spawn(Section::Readers, &reader.name, camera.task);
            bench.devices.push(BenchDevice {
                section: Section::Readers,
                name: reader.name.clone(),
                protocol: "vision".to_owned(),
                endpoint: Endpoint::Tcp(camera.feed),
                detail: Some(format!(
                    "results to mqtt://{}:{} on {}",
                    mqtt.host, mqtt.port, camera.topic
                )),
                moved: None,
            });
            bench.control(Section::Readers, &reader.name, Control::Camera);
        }
        Err(error) => bench.not_started.push(not_started(format!(
            "{error}; start one there (e.g. `mosquitto -p {}`), or point TRACEMARK_MQTT__URL \
             at one, and start again",
            mqtt.port
        ))),
    }
}

/// The broker login: the user name, and the password from its environment variable.
fn credentials(mqtt: &Mqtt) -> Option<(String, String)> {
    let user = mqtt.username.clone()?;
    let password = mqtt
        .password_env
        .as_ref()
        .and_then(|name| std::env::var(name).ok())
        .unwrap_or_default();
    Some((user, password))
}

/// Serves `device` where `transport` says, or where it can be had instead.
async fn place<D: Serve>(
    device: &D,
    section: Section,
    name: &str,
    transport: &Transport,
    options: &LineOptions,
) -> Result<(BenchDevice, ServeTask), BenchError> {
    let failed = |source| BenchError {
        section,
        name: name.to_owned(),
        source,
    };
    let (instead, key, reason) = match transport {
        Transport::Tcp { host, port } => {
            match serve(device, &Place::Tcp(format!("{host}:{port}"))).await {
                Ok(served) => return Ok((device_at(section, name, served.0, None), served.1)),
                Err(error) => (
                    Place::Tcp("127.0.0.1:0".to_owned()),
                    "ADDRESS",
                    format!("cannot listen there: {error}"),
                ),
            }
        }
        Transport::Serial { .. } if options.open_serial => {
            // A serial transport always has serial settings; a pty is the fallback anyway.
            let place = transport
                .serial_settings()
                .map_or(Place::Pty, Place::Serial);
            match serve(device, &place).await {
                Ok(served) => return Ok((device_at(section, name, served.0, None), served.1)),
                Err(error) => (Place::Pty, "PATH", error.to_string()),
            }
        }
        Transport::Serial { .. } => (
            Place::Pty,
            "PATH",
            "serial devices get a pseudo-terminal here; --open-serial tries the port".to_owned(),
        ),
    };
    let (endpoint, task) = serve(device, &instead).await.map_err(failed)?;
    let moved = Moved {
        configured: transport.describe(),
        reason,
        fix: Override::transport(section, name, key, endpoint.target()),
    };
    Ok((device_at(section, name, endpoint, Some(moved)), task))
}

fn device_at(
    section: Section,
    name: &str,
    endpoint: Endpoint,
    moved: Option<Moved>,
) -> BenchDevice {
    BenchDevice {
        section,
        name: name.to_owned(),
        protocol: String::new(),
        endpoint,
        detail: None,
        moved,
    }
}

#[cfg(test)]
mod tests;
