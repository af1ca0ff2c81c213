//! Marker driver throughput over TCP (issue 4: ≥ 2,000 codes/s per driver against its
//! simulator).
//!
//! For each driver: its simulator serves TCP on 127.0.0.1 from a runtime and thread of its own
//! (the device), with a print-go as soon as a code is in its buffer — a line faster than any real
//! one, so the driver is the bottleneck. The driver runs the production feed loop (the marker
//! task) on another runtime, is fed codes as fast as it takes them, and the bench counts the
//! prints it confirms. Every confirmation is checked against what the simulated head printed.
//!
//! `cargo bench -p tracemark-sim --bench marker_throughput [-- --codes N] [DRIVER…]`

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tracemark_drivers::ascii::{AsciiConfig, AsciiMarker};
use tracemark_drivers::codenet::{CodenetConfig, CodenetMarker};
use tracemark_drivers::linx::{LinxConfig, LinxMarker};
use tracemark_drivers::marker::{
    Code, CodeId, MarkerConfig, MarkerDevice, MarkerEvent, create_marker,
};
use tracemark_drivers::modbus_marker::{ModbusMarker, ModbusMarkerMap};
use tracemark_drivers::transport::Transport;
use tracemark_drivers::zipher::{ZipherConfig, ZipherMarker};
use tracemark_drivers::zpl::{ZplConfig, ZplPrinter};
use tracemark_sim::ascii::AsciiSim;
use tracemark_sim::codenet::CodenetSim;
use tracemark_sim::linx::LinxSim;
use tracemark_sim::modbus_marker::ModbusMarkerSim;
use tracemark_sim::zipher::ZipherSim;
use tracemark_sim::zpl::ZplSim;
use tracemark_sim::{MarkerSim, TriggerOutcome};

/// The device buffer of every simulator, and the feed loop's watermarks within it.
const DEPTH: usize = 64;
const HIGH_WATERMARK: usize = 48;
const LOW_WATERMARK: usize = 24;
const REPLY_TIMEOUT: Duration = Duration::from_secs(2);

struct Figures {
    codes: u64,
    elapsed: Duration,
}

impl Figures {
    fn per_second(&self) -> f64 {
        self.codes as f64 / self.elapsed.as_secs_f64()
    }
}

/// Serves `sim` on a TCP port from a thread of its own, printing whenever its buffer holds a
/// code; returns the address.
fn start_device<M: MarkerSim>(sim: M) -> anyhow::Result<std::net::SocketAddr> {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("device".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    let _ = addr_tx.send(Err(anyhow::Error::from(error)));
                    return;
                }
            };
            runtime.block_on(async move {
                let listener = match TcpListener::bind("127.0.0.1:0").await {
                    Ok(listener) => listener,
                    Err(error) => {
                        let _ = addr_tx.send(Err(error.into()));
                        return;
                    }
                };
                let _ = addr_tx.send(listener.local_addr().map_err(Into::into));
                let server = sim.clone();
                tokio::spawn(async move { server.serve_tcp(listener).await });
                loop {
                    sim.wait_until(|s| s.printing() && s.buffered() > 0).await;
                    if let TriggerOutcome::Reprinted(_) = sim.trigger() {
                        tracing::error!("the simulator reprinted old data");
                    }
                }
            });
        })?;
    addr_rx.recv().context("the device thread ended")?
}

/// Feeds `codes` codes to a marker task for `device` and returns once all are confirmed.
async fn drive<M: MarkerSim, D: MarkerDevice>(
    sim: &M,
    device: D,
    codes: u64,
) -> anyhow::Result<Figures> {
    let config = MarkerConfig {
        low_watermark: LOW_WATERMARK,
        high_watermark: HIGH_WATERMARK,
        poll_interval_ms: 2,
        ..MarkerConfig::default()
    };
    let (code_tx, code_rx) = mpsc::channel(256);
    let (event_tx, mut events) = mpsc::channel(4096);
    let (handle, task) = create_marker(device, config, code_rx, event_tx);
    tokio::spawn(task.run());
    let mut state = handle.state();
    tokio::time::timeout(
        Duration::from_secs(10),
        state.wait_for(|s| *s == tracemark_drivers::marker::MarkerState::Connected),
    )
    .await
    .context("the driver did not connect within 10 s")??;
    handle.start().await?;
    let prints_before = sim.prints().len();
    let started = Instant::now();
    tokio::spawn(async move {
        for id in 1..=codes {
            let code = Code::new(CodeId::new(id), format!("(01)09506000134352(21)B{id:08}"));
            if code_tx.send(code).await.is_err() {
                return;
            }
        }
    });
    let mut confirmed = Vec::with_capacity(codes as usize);
    while (confirmed.len() as u64) < codes {
        match tokio::time::timeout(Duration::from_secs(10), events.recv()).await {
            Ok(Some(MarkerEvent::Printed { code })) => confirmed.push(code),
            Ok(Some(
                event @ (MarkerEvent::Voided { .. }
                | MarkerEvent::Unconfirmed { .. }
                | MarkerEvent::PrintWithoutCode { .. }
                | MarkerEvent::Refused(_)),
            )) => bail!("unexpected {event:?}"),
            Ok(Some(_)) => {}
            Ok(None) => bail!("the marker task ended"),
            Err(_) => bail!(
                "no confirmation within 10 s after {} of {codes}",
                confirmed.len()
            ),
        }
    }
    let elapsed = started.elapsed();
    handle.shutdown().await?;
    let truth = sim.prints();
    let printed = &truth[prints_before..];
    ensure!(
        printed.len() as u64 == codes,
        "{} prints for {codes} confirmations",
        printed.len()
    );
    for (print, id) in printed.iter().zip(&confirmed) {
        ensure!(
            print.text().ends_with(&format!("B{:08}", id.get())),
            "confirmed {id:?} but the head printed {}",
            print.text()
        );
    }
    Ok(Figures { codes, elapsed })
}

async fn bench(driver: &str, codes: u64) -> anyhow::Result<Figures> {
    match driver {
        "linx" => {
            let sim = LinxSim::new(DEPTH);
            let addr = start_device(sim.clone())?;
            let device = LinxMarker::new(
                Transport::Tcp(addr.to_string()),
                LinxConfig {
                    reply_timeout_ms: REPLY_TIMEOUT.as_millis() as u64,
                    message: Some("CODES".to_owned()),
                },
            );
            drive(&sim, device, codes).await
        }
        "zipher" => {
            let sim = ZipherSim::new(DEPTH);
            let addr = start_device(sim.clone())?;
            let device = ZipherMarker::new(
                Transport::Tcp(addr.to_string()),
                ZipherConfig {
                    reply_timeout_ms: REPLY_TIMEOUT.as_millis() as u64,
                    job: Some("CODES".to_owned()),
                    ..ZipherConfig::default()
                },
            );
            drive(&sim, device, codes).await
        }
        "modbus_marker" => {
            let sim = ModbusMarkerSim::new(DEPTH);
            let addr = start_device(sim.clone())?;
            let device = ModbusMarker::new(
                Transport::Tcp(addr.to_string()),
                1,
                ModbusMarkerMap::default(),
                REPLY_TIMEOUT,
            )?;
            drive(&sim, device, codes).await
        }
        "codenet" => {
            let sim = CodenetSim::new(DEPTH);
            let addr = start_device(sim.clone())?;
            let device = CodenetMarker::new(
                Transport::Tcp(addr.to_string()),
                CodenetConfig {
                    reply_timeout_ms: REPLY_TIMEOUT.as_millis() as u64,
                    ..CodenetConfig::default()
                },
            );
            drive(&sim, device, codes).await
        }
        "zpl" => {
            let sim = ZplSim::new(DEPTH);
            let addr = start_device(sim.clone())?;
            let device = ZplPrinter::new(
                Transport::Tcp(addr.to_string()),
                ZplConfig {
                    reply_timeout_ms: REPLY_TIMEOUT.as_millis() as u64,
                    max_queued_labels: DEPTH as u64,
                    ..ZplConfig::default()
                },
            );
            drive(&sim, device, codes).await
        }
        "ascii" => {
            let config = AsciiConfig::default().with_reply_timeout(REPLY_TIMEOUT);
            let sim = AsciiSim::new(config.clone(), DEPTH);
            let addr = start_device(sim.clone())?;
            let device = AsciiMarker::new(Transport::Tcp(addr.to_string()), config);
            drive(&sim, device, codes).await
        }
        other => bail!("unknown driver {other:?}; one of: {}", DRIVERS.join(", ")),
    }
}

const DRIVERS: [&str; 6] = ["linx", "zipher", "modbus_marker", "codenet", "zpl", "ascii"];

fn main() -> anyhow::Result<()> {
    let mut codes = 20_000;
    let mut drivers = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--codes" => {
                codes = args
                    .next()
                    .context("--codes needs a number")?
                    .parse()
                    .context("--codes N")?;
            }
            // `cargo bench` passes `--bench`; filters name drivers.
            "--bench" => {}
            name => drivers.push(name.to_owned()),
        }
    }
    if drivers.is_empty() {
        drivers = DRIVERS.iter().map(|d| (*d).to_owned()).collect();
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    println!(
        "{:<14} {:>8} {:>10} {:>12}",
        "driver", "codes", "seconds", "codes/s"
    );
    for driver in &drivers {
        let figures = runtime.block_on(bench(driver, codes))?;
        println!(
            "{:<14} {:>8} {:>10.2} {:>12.0}",
            driver,
            figures.codes,
            figures.elapsed.as_secs_f64(),
            figures.per_second()
        );
    }
    Ok(())
}
