//! `tracemark-sim`: device simulators on a pseudo-terminal or a TCP port.

use std::io::Write as _;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use tokio::io::{AsyncBufReadExt, BufReader};
use tracemark_sim::ascii::AsciiSim;
use tracemark_sim::codenet::CodenetSim;
use tracemark_sim::linx::LinxSim;
use tracemark_sim::modbus_marker::ModbusMarkerSim;
use tracemark_sim::zipher::ZipherSim;
use tracemark_sim::zpl::ZplSim;
use tracemark_sim::{Fault, MarkerSim, run_print_timer};

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
            run(LinxSim::new(depth), args).await
        }
        Device::Zipher(args) => {
            let depth = args.depth.unwrap_or(tracemark_sim::zipher::DEFAULT_DEPTH);
            run(ZipherSim::new(depth), args).await
        }
        Device::Codenet(args) => {
            let depth = args.depth.unwrap_or(tracemark_sim::codenet::DEFAULT_DEPTH);
            run(CodenetSim::new(depth), args).await
        }
        Device::Zpl(args) => {
            let depth = args.depth.unwrap_or(tracemark_sim::zpl::DEFAULT_DEPTH);
            run(ZplSim::new(depth), args).await
        }
        Device::ModbusMarker(args) => {
            let depth = args
                .depth
                .unwrap_or(tracemark_sim::modbus_marker::DEFAULT_DEPTH);
            let sim = ModbusMarkerSim::new(depth);
            // On a serial line the device speaks Modbus RTU, not the MBAP framing of `serve`.
            run_with(sim, args, |sim, master| async move {
                let mut master = master;
                loop {
                    sim.serve_rtu(&mut master).await?;
                }
            })
            .await
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
            run(AsciiSim::new(config, depth), args.marker).await
        }
        Device::Vision(args) => run_vision(args).await,
        Device::Plc(args) => run_plc(args).await,
    }
}

async fn run_vision(args: VisionArgs) -> anyhow::Result<()> {
    use tracemark_sim::vision::{DamageRates, VisionSim, serve_feed};
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
    let options = rumqttc::MqttOptions::new(format!("tracemark-sim-{}", args.reader), host, port);
    let (client, mut events) = rumqttc::AsyncClient::new(options, 1024);
    tokio::spawn(async move {
        // The event loop carries the publishes; it reconnects by itself on the next poll.
        loop {
            if let Err(error) = events.poll().await {
                tracing::warn!(%error, "MQTT connection lost");
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
        }
    });
    let listener = tokio::net::TcpListener::bind(&args.feed)
        .await
        .with_context(|| format!("cannot listen on {}", args.feed))?;
    announce(&format!("listening: {}", listener.local_addr()?))?;
    let sim = std::sync::Arc::new(tokio::sync::Mutex::new(VisionSim::new(
        &args.reader,
        rates,
        args.seed,
    )));
    let topic = format!("tracemark/{}/vision/{}/result", args.line, args.reader);
    tokio::select! {
        served = serve_feed(listener, sim, client, topic) => served.context("the feed failed"),
        signal = tokio::signal::ctrl_c() => signal.context("waiting for ctrl-c"),
    }
}

async fn run<M: MarkerSim>(sim: M, args: MarkerArgs) -> anyhow::Result<()> {
    run_with(sim, args, |sim, master| async move {
        let mut master = master;
        loop {
            sim.serve(&mut master).await?;
        }
    })
    .await
}

/// Runs a marker simulator; `serve_pty` serves the pty's master end (its protocol on a serial
/// line) until it fails.
async fn run_with<M, F, Fut>(sim: M, args: MarkerArgs, serve_pty: F) -> anyhow::Result<()>
where
    M: MarkerSim,
    F: FnOnce(M, tokio_serial::SerialStream) -> Fut,
    Fut: std::future::Future<Output = std::io::Result<()>> + Send + 'static,
{
    for fault in &args.faults {
        sim.inject(*fault);
    }
    // The transport is set up (and announced) before anything else reaches stdout.
    let server = if let Some(addr) = &args.tcp {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        announce(&format!("listening: {}", listener.local_addr()?))?;
        let sim = sim.clone();
        tokio::spawn(async move { sim.serve_tcp(listener).await })
    } else if args.pty {
        let (master, slave) =
            tokio_serial::SerialStream::pair().context("cannot create a pty pair")?;
        let path = tokio_serial::SerialPort::name(&slave).context("the pty has no path")?;
        announce(&format!("pty: {path}"))?;
        let serving = serve_pty(sim.clone(), master);
        tokio::spawn(async move {
            // The slave end stays open here so the master never sees a hang-up while the host
            // reconnects.
            let _slave = slave;
            serving.await
        })
    } else {
        bail!("give --pty or --tcp HOST:PORT");
    };
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
    tokio::select! {
        result = control(&sim) => result,
        joined = server => match joined {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(error).context("serving failed"),
            Err(error) => Err(error).context("server task failed"),
        },
        signal = tokio::signal::ctrl_c() => signal.context("waiting for ctrl-c"),
    }
}

/// Run-time control from stdin, one command per line.
async fn control<M: MarkerSim>(sim: &M) -> anyhow::Result<()> {
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [] => {}
            ["trigger"] => announce(&format!("trigger: {:?}", sim.trigger()))?,
            ["fault", name] => match Fault::from_name(name) {
                Some(fault) => sim.inject(fault),
                None => announce(&format!("error: unknown fault `{name}`"))?,
            },
            ["clear", name] => match Fault::from_name(name) {
                Some(fault) => sim.clear(fault),
                None => announce(&format!("error: unknown fault `{name}`"))?,
            },
            ["status"] => announce(&format!(
                "status: {:?} faults={:?}",
                sim.snapshot(),
                sim.faults()
            ))?,
            ["quit"] => return Ok(()),
            _ => announce(&format!("error: unknown command `{line}`"))?,
        }
    }
    // stdin closed (e.g. started in the background): keep serving until interrupted.
    std::future::pending().await
}

async fn run_plc(args: PlcArgs) -> anyhow::Result<()> {
    use tracemark_sim::plc::{PlcSim, run_conveyor};
    let sim = PlcSim::new(args.unit_id);
    let server = if let Some(addr) = &args.tcp {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        announce(&format!("listening: {}", listener.local_addr()?))?;
        let sim = sim.clone();
        tokio::spawn(async move { sim.serve_tcp(listener).await })
    } else {
        let (master, slave) =
            tokio_serial::SerialStream::pair().context("cannot create a pty pair")?;
        let path = tokio_serial::SerialPort::name(&slave).context("the pty has no path")?;
        announce(&format!("pty: {path}"))?;
        let sim = sim.clone();
        tokio::spawn(async move {
            // The slave end stays open so the master sees no hang-up while the host reopens.
            let _slave = slave;
            let mut master = master;
            loop {
                sim.serve_rtu(&mut master).await?;
            }
        })
    };
    if let (Some(rate), Some(pitch)) = (args.rate, args.pitch_counts) {
        let sim = sim.clone();
        tokio::spawn(async move { run_conveyor(&sim, rate, pitch).await });
    }
    tokio::select! {
        result = plc_control(&sim) => result,
        joined = server => match joined {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(error).context("serving failed"),
            Err(error) => Err(error).context("server task failed"),
        },
        signal = tokio::signal::ctrl_c() => signal.context("waiting for ctrl-c"),
    }
}

/// Run-time control of the PLC from stdin, one command per line: `detect`, `encoder N`,
/// `fault NAME`, `clear NAME` (gate-jam, stall, disconnect), `status` (the snapshot, with the
/// reject queue's counts), `quit`.
async fn plc_control(sim: &tracemark_sim::plc::PlcSim) -> anyhow::Result<()> {
    use tracemark_sim::plc::PlcFault;
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [] => {}
            ["detect"] => {
                sim.detect();
                announce(&format!("detect: {}", sim.snapshot().detections()))?;
            }
            ["encoder", count] => match count.parse::<u64>() {
                Ok(count) => sim.set_encoder(count),
                Err(_) => announce(&format!("error: `{count}` is not a count"))?,
            },
            [verb @ ("fault" | "clear"), name] => match PlcFault::from_name(name) {
                Some(fault) if *verb == "fault" => sim.inject(fault),
                Some(fault) => sim.clear(fault),
                None => {
                    let names: Vec<&str> = PlcFault::ALL.iter().map(|f| f.name()).collect();
                    announce(&format!(
                        "error: unknown fault `{name}`; one of: {}",
                        names.join(", ")
                    ))?;
                }
            },
            ["status"] => announce(&format!("status: {:?}", sim.snapshot()))?,
            ["quit"] => return Ok(()),
            _ => announce(&format!("error: unknown command `{line}`"))?,
        }
    }
    // stdin closed (e.g. started in the background): keep serving until interrupted.
    std::future::pending().await
}
