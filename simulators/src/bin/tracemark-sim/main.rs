//! `tracemark-sim`: device simulators on a pseudo-terminal or a TCP port, one device
//! (`tracemark-sim linx --tcp …`) or every device of a line config (`tracemark-sim line`).
//! Each runs until its stdin closes, `quit`, or Ctrl-C.

mod erp;
mod line;
mod scanner;
mod stdin;

use std::io::Write as _;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use tracemark_sim::ascii::AsciiSim;
use tracemark_sim::bench::{Endpoint, Place, ServeTask};
use tracemark_sim::codenet::CodenetSim;
use tracemark_sim::control::{Reply, marker_command, plc_command};
use tracemark_sim::linx::LinxSim;
use tracemark_sim::modbus_marker::ModbusMarkerSim;
use tracemark_sim::zipher::ZipherSim;
use tracemark_sim::zpl::ZplSim;
use tracemark_sim::{AnyMarkerSim, Fault, MarkerSim, run_print_timer};

#[derive(Debug, Parser)]
#[command(
    name = "tracemark-sim",
    version,
    about = "Device simulators for tracemark"
)]
struct Cli {
    #[command(subcommand)]
    device: Device,
}

#[derive(Debug, Subcommand)]
enum Device {
    /// A Linx RCI continuous-inkjet printer (binary protocol).
    Linx(MarkerArgs),
    /// A Zipher-protocol thermal-transfer / thermal-inkjet coder (text protocol).
    Zipher(MarkerArgs),
    /// A Codenet continuous-inkjet printer (Domino A-Series style, `ESC … EOT` protocol).
    Codenet(MarkerArgs),
    /// A ZPL II label printer in applicator (print-and-apply) mode: stored formats recalled
    /// with field data, ~HS host status, the SGD label odometer.
    Zpl(MarkerArgs),
    /// A Modbus register marker (cable/pipe inkjet or laser) with the default register map:
    /// Modbus TCP with --tcp, Modbus RTU with --pty; unit id 1.
    ModbusMarker(MarkerArgs),
    /// A generic ASCII marker (laser or printer) answering as a device description says:
    /// tracemark's reference dialect, or the TOML file given with --config
    /// (docs/protocols/ascii.md); --depth default 16.
    Ascii(AsciiArgs),
    /// A camera: inspects printed units fed over TCP (`ENCODER CODE` lines), renders, damages
    /// and decodes each, and publishes the result over MQTT (SPEC §5).
    Vision(VisionArgs),
    /// A line PLC with the tracemark line I/O map over Modbus TCP (--tcp) or Modbus RTU on a
    /// pseudo-terminal (--pty): encoder, photocell ring, reject queue and gate with confirm,
    /// stack light, line stop, comm watchdog (SPEC §5).
    Plc(PlcArgs),
    /// Every device of a line config, each where the config says or, where that cannot be had
    /// here, on a pseudo-terminal or a free local port with the `TRACEMARK_…` override to use;
    /// one `# ready` line when all serve. stdin: `DEVICE COMMAND` (a device's own commands).
    Line(line::LineArgs),
    /// A hand scanner at a packing station (`[packing] mode = "manual"`): stdin `unit CODE`,
    /// `label SSCC`, `cmd TEXT`, `raw TEXT`; prints the station's reply to each.
    Scanner(scanner::ScannerArgs),
    /// An ERP receiver of batch deliveries (SPEC §6): verifies the Standard Webhooks signature
    /// (401), de-duplicates by Idempotency-Key (replay, or 422 for another body), validates
    /// EPCIS (400 with the reasons), injects faults; prints `listening: ADDR` first.
    /// stdin: `status`, `accepted`.
    Erp(erp::ErpArgs),
}

#[derive(Debug, Args)]
struct AsciiArgs {
    #[command(flatten)]
    marker: MarkerArgs,
    /// The device description (TOML); default: tracemark's reference dialect.
    #[arg(long, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
struct PlcArgs {
    /// Serve Modbus TCP on HOST:PORT (port 0 picks one); prints `listening: ADDR` first.
    #[arg(long, value_name = "HOST:PORT")]
    tcp: Option<String>,
    /// Serve Modbus RTU on a new pseudo-terminal; prints `pty: PATH` as the first stdout line.
    #[arg(long, conflicts_with = "tcp", required_unless_present = "tcp")]
    pty: bool,
    /// The unit id answered; requests to other units get no answer.
    #[arg(long, default_value_t = 1)]
    unit_id: u8,
    /// Run the conveyor on the simulator's own timer, units per minute: the encoder advances
    /// by --pitch-counts and the photocell sees a unit at every pitch.
    #[arg(long, value_name = "UPM", requires = "pitch_counts")]
    rate: Option<u32>,
    /// Encoder counts between two units, with --rate.
    #[arg(long, value_name = "N", requires = "rate")]
    pitch_counts: Option<u64>,
}

#[derive(Debug, Args)]
struct VisionArgs {
    /// The broker, `mqtt://HOST:PORT`.
    #[arg(long, value_name = "URL")]
    mqtt: String,
    /// The line id: results go to `tracemark/<line>/vision/<reader>/result`.
    #[arg(long)]
    line: String,
    /// The reader's name.
    #[arg(long, default_value = "cam1")]
    reader: String,
    /// Damage rates: none, default (≈ 3 % of units) or heavy (≈ 15 %).
    #[arg(long, default_value = "default")]
    damage: String,
    /// Seed of the damage draws (runs repeat with the same seed).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Serve the unit feed on TCP HOST:PORT (port 0 picks one); prints `listening: ADDR`.
    #[arg(long, value_name = "HOST:PORT")]
    feed: String,
}

#[derive(Debug, Args)]
struct MarkerArgs {
    /// Serve on a new pseudo-terminal; prints `pty: PATH` as the first stdout line.
    #[arg(long, conflicts_with = "tcp", required_unless_present = "tcp")]
    pty: bool,
    /// Serve on TCP HOST:PORT (port 0 picks one); prints `listening: ADDR` first.
    #[arg(long, value_name = "HOST:PORT")]
    tcp: Option<String>,
    /// Code buffer depth (Linx remote buffer entries, Zipher serialization records, Codenet
    /// external data entries, ZPL labels, Modbus marker codes, ASCII device queue); default 8
    /// for linx, 16 for zipher, modbus-marker and ascii, 32 for codenet and zpl.
    #[arg(long)]
    depth: Option<usize>,
    /// Print on the simulator's own timer, units per minute.
    #[arg(long, value_name = "UPM")]
    rate: Option<u32>,
    /// Take print-go signals over Modbus TCP on HOST:PORT (port 0 picks one): writing coil 0
    /// ON (FC 05) is one print-go, as a line PLC gives it; prints `print-go: ADDR` as the
    /// second stdout line.
    #[arg(long, value_name = "HOST:PORT")]
    print_go: Option<String>,
    /// Start with a fault in force (repeatable): nak, buffer-full, disconnect, stall, garbage,
    /// ink-out, head-open, reprint-on-empty.
    #[arg(long = "fault", value_name = "NAME", value_parser = parse_fault)]
    faults: Vec<Fault>,
}

fn parse_fault(name: &str) -> Result<Fault, String> {
    Fault::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = Fault::ALL.iter().map(|fault| fault.name()).collect();
        format!("unknown fault `{name}`; one of: {}", names.join(", "))
    })
}

/// Writes one line to stdout and flushes it, so a parent process reading lines sees it now.
fn announce(line: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    match cli.device {
        Device::Linx(args) => {
            let depth = args.depth.unwrap_or(tracemark_sim::linx::DEFAULT_DEPTH);
            run_marker(AnyMarkerSim::Linx(LinxSim::new(depth)), args).await
        }
        Device::Zipher(args) => {
            let depth = args.depth.unwrap_or(tracemark_sim::zipher::DEFAULT_DEPTH);
            run_marker(AnyMarkerSim::Zipher(ZipherSim::new(depth)), args).await
        }
        Device::Codenet(args) => {
            let depth = args.depth.unwrap_or(tracemark_sim::codenet::DEFAULT_DEPTH);
            run_marker(AnyMarkerSim::Codenet(CodenetSim::new(depth)), args).await
        }
        Device::Zpl(args) => {
            let depth = args.depth.unwrap_or(tracemark_sim::zpl::DEFAULT_DEPTH);
            run_marker(AnyMarkerSim::Zpl(ZplSim::new(depth)), args).await
        }
        Device::ModbusMarker(args) => {
            let depth = args
                .depth
                .unwrap_or(tracemark_sim::modbus_marker::DEFAULT_DEPTH);
            // On a pty the device speaks Modbus RTU, over TCP the MBAP framing.
            let sim = AnyMarkerSim::ModbusMarker(ModbusMarkerSim::new(depth));
            run_marker(sim, args).await
        }
        Device::Ascii(args) => {
            let config = match &args.config {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("cannot read {}", path.display()))?;
                    tracemark_drivers::ascii::AsciiConfig::from_toml(&text).with_context(|| {
                        format!("{} is not a usable description", path.display())
                    })?
                }
                None => tracemark_drivers::ascii::AsciiConfig::default(),
            };
            let depth = args
                .marker
                .depth
                .unwrap_or(tracemark_sim::ascii::DEFAULT_DEPTH);
            run_marker(
                AnyMarkerSim::Ascii(AsciiSim::new(config, depth)),
                args.marker,
            )
            .await
        }
        Device::Vision(args) => run_vision(args).await,
        Device::Plc(args) => run_plc(args).await,
        Device::Line(args) => line::run(args).await,
        Device::Scanner(args) => scanner::run(args).await,
        Device::Erp(args) => erp::run(args).await,
    }
}

/// Where `--pty` / `--tcp HOST:PORT` say to serve.
fn place(pty: bool, tcp: Option<&String>) -> anyhow::Result<Place> {
    match (pty, tcp) {
        (_, Some(addr)) => Ok(Place::Tcp(addr.clone())),
        (true, None) => Ok(Place::Pty),
        (false, None) => bail!("give --pty or --tcp HOST:PORT"),
    }
}

/// Sets `device` up at `place`, announces where (`listening: ADDR` or `pty: PATH`, the first
/// stdout line) and returns the task that serves it.
async fn serve_announced<D: tracemark_sim::bench::Serve>(
    device: &D,
    place: &Place,
) -> anyhow::Result<ServeTask> {
    let (endpoint, task) = tracemark_sim::bench::serve(device, place)
        .await
        .with_context(|| match place {
            Place::Tcp(addr) => format!("cannot listen on {addr}"),
            Place::Pty => "cannot create a pty pair".to_owned(),
            Place::Serial(settings) => format!("cannot open {}", settings.path),
        })?;
    match &endpoint {
        Endpoint::Tcp(addr) => announce(&format!("listening: {addr}"))?,
        Endpoint::Pty(path) | Endpoint::Serial(path) => announce(&format!("pty: {path}"))?,
    }
    Ok(task)
}

async fn run_vision(args: VisionArgs) -> anyhow::Result<()> {
    use tracemark_sim::bench::camera::{CameraSetup, start_camera};
    use tracemark_sim::vision::DamageRates;
    let rates = match args.damage.as_str() {
        "none" => DamageRates::NONE,
        "default" => DamageRates::DEFAULT,
        "heavy" => DamageRates::HEAVY,
        other => bail!("--damage {other:?}: one of none, default, heavy"),
    };
    let (host, port) = args
        .mqtt
        .strip_prefix("mqtt://")
        .and_then(|rest| rest.rsplit_once(':'))
        .and_then(|(host, port)| Some((host.to_owned(), port.parse::<u16>().ok()?)))
        .with_context(|| format!("--mqtt {:?}: expected mqtt://HOST:PORT", args.mqtt))?;
    let setup = CameraSetup {
        client_id: format!("tracemark-sim-{}", args.reader),
        reader: args.reader,
        line: args.line,
        broker_host: host,
        broker_port: port,
        credentials: None,
        rates,
        seed: args.seed,
        feed: args.feed,
    };
    // The client keeps trying to reach the broker in the background.
    let camera = start_camera(setup, None).await?;
    announce(&format!("listening: {}", camera.feed))?;
    serve_until_done(tokio::spawn(camera.task), |line| {
        if line.trim().is_empty() {
            Reply::Silent
        } else {
            Reply::Say("error: the camera takes units on its feed (`ENCODER CODE` lines over TCP), not on stdin; `quit` or EOF ends".to_owned())
        }
    })
    .await
}

async fn run_marker(sim: AnyMarkerSim, args: MarkerArgs) -> anyhow::Result<()> {
    for fault in &args.faults {
        sim.inject(*fault);
    }
    // The transport is set up (and announced) before anything else reaches stdout.
    let task = serve_announced(&sim, &place(args.pty, args.tcp.as_ref())?).await?;
    let server = tokio::spawn(task);
    if let Some(addr) = &args.print_go {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("--print-go: cannot listen on {addr}"))?;
        announce(&format!("print-go: {}", listener.local_addr()?))?;
        tokio::spawn(tracemark_sim::print_go::serve_print_go(
            sim.clone(),
            listener,
        ));
    }
    if let Some(rate) = args.rate {
        let sim = sim.clone();
        tokio::spawn(async move { run_print_timer(&sim, rate).await });
    }
    serve_until_done(server, |line| marker_command(&sim, line)).await
}

async fn run_plc(args: PlcArgs) -> anyhow::Result<()> {
    use tracemark_sim::plc::{PlcSim, run_conveyor};
    let sim = PlcSim::new(args.unit_id);
    let task = serve_announced(&sim, &place(args.pty, args.tcp.as_ref())?).await?;
    let server = tokio::spawn(task);
    if let (Some(rate), Some(pitch)) = (args.rate, args.pitch_counts) {
        let sim = sim.clone();
        tokio::spawn(async move { run_conveyor(&sim, rate, pitch).await });
    }
    serve_until_done(server, |line| plc_command(&sim, line)).await
}

/// Serves until stdin closes or says `quit` (each other line goes to `command`, its answer to
/// stdout), the server fails, or Ctrl-C.
async fn serve_until_done(
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    command: impl FnMut(&str) -> Reply,
) -> anyhow::Result<()> {
    tokio::select! {
        result = stdin::commands(command) => result,
        joined = server => match joined {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(error).context("serving failed"),
            Err(error) => Err(error).context("server task failed"),
        },
        signal = tokio::signal::ctrl_c() => signal.context("waiting for ctrl-c"),
    }
}
