//! The station task: reads the scanner's lines, hands each to the [`Station`], asks the store
//! what it asks (`manual::rules`), writes the reply back to the scanner and logs it.
//!
//! The link is a TCP connection the scanner's base station makes to us ([`ScannerSource::Listen`])
//! or we make to it, or a serial port ([`ScannerSource::Connect`]). When it drops, the station
//! keeps its open package and scans and waits for the scanner again: an operator who walks out
//! of a Bluetooth base station's range loses nothing scanned.

use std::time::Duration;

use tokio::sync::watch;
use tracemark_drivers::scanner::{ParseOptions, ScannerLink, ScannerListener};
use tracemark_drivers::transport::{BoxedStream, Transport as DeviceTransport};
use tracemark_store::{Actor, PackageLevel, Store};

use super::rules as manual_packing;
use super::scan::recognise;
use super::station::{Answer, Ask, PackageView, Reply, Station, StationStats, Step};
use crate::aggregation::label::SharedLabelStation;
use crate::config::{Commands, Scanner};

/// How long to wait before connecting again to a scanner that could not be reached.
const RECONNECT: Duration = Duration::from_secs(1);

/// Where the scanner's lines come from.
#[derive(Debug)]
pub enum ScannerSource {
    /// A TCP port the scanner connects to (bound already).
    Listen(ScannerListener),
    /// A TCP address or a serial port we open.
    Connect(DeviceTransport),
}

impl ScannerSource {
    /// The source a configured scanner names: binds its port when it listens.
    pub async fn for_scanner(scanner: &Scanner) -> std::io::Result<Self> {
        match (&scanner.transport, scanner.listen) {
            (crate::config::Transport::Tcp { host, port }, true) => {
                let address = if host.contains(':') {
                    format!("[{host}]:{port}")
                } else {
                    format!("{host}:{port}")
                };
                Ok(Self::Listen(ScannerListener::bind(&address).await?))
            }
            (transport, _) => Ok(Self::Connect(transport.to_device())),
        }
    }

    /// For logs: `listening on 0.0.0.0:7001`, `tcp://scanner:23`, `serial:/dev/ttyACM0@9600`.
    pub fn describe(&self) -> String {
        match self {
            Self::Listen(listener) => match listener.local_addr() {
                Ok(addr) => format!("listening on {addr}"),
                Err(_) => "listening".into(),
            },
            Self::Connect(transport) => transport.describe(),
        }
    }

    async fn next_link(&self) -> Result<BoxedStream, String> {
        match self {
            Self::Listen(listener) => listener
                .accept()
                .await
                .map(|(stream, peer)| {
                    tracing::info!(%peer, "scanner connected");
                    stream
                })
                .map_err(|e| format!("accept: {e}")),
            Self::Connect(transport) => transport.open().await.map_err(|e| e.to_string()),
        }
    }
}

/// What a station needs.
#[derive(Debug, Clone)]
pub struct StationSetup {
    /// The store.
    pub store: Store,
    /// Who packs (the audit events' user and device).
    pub actor: Actor,
    /// The batch packed.
    pub batch: i64,
    /// Cartons (units into cartons) or pallets (cartons onto pallets).
    pub level: PackageLevel,
    /// Capacity of the packages `NEW` allocates; `None`: the product's pack size of the level.
    pub capacity: Option<i64>,
    /// The command barcodes.
    pub commands: Commands,
    /// How lines are read.
    pub options: ParseOptions,
    /// With `[packing.label]`: the label station, each package's label printed and read back
    /// before it closes.
    pub labels: Option<SharedLabelStation>,
}

/// Runs the station until `stop` turns true; returns what it did.
pub async fn run_station(
    setup: StationSetup,
    source: ScannerSource,
    mut stop: watch::Receiver<bool>,
) -> StationStats {
    let mut station = Station::new(setup.level);
    let level = setup.level;
    let from = source.describe();
    tracing::info!(%level, %from, batch = setup.batch, "packing station ready");
    loop {
        // `wait_for` also ends when the sender is gone: a station never outlives its run.
        let stream = tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            link = source.next_link() => link,
        };
        let stream = match stream {
            Ok(stream) => stream,
            Err(error) => {
                tracing::warn!(%level, %from, %error, "scanner not reachable");
                tokio::select! {
                    _ = stop.wait_for(|s| *s) => break,
                    () = tokio::time::sleep(RECONNECT) => {}
                }
                continue;
            }
        };
        serve(&setup, &mut station, stream, &mut stop).await;
    }
    if let Some((sscc, scanned)) = station.open_package() {
        tracing::warn!(
            %level,
            %sscc,
            scans = scanned.len(),
            "the station stops with a package open: its scans were not packed (scan its label \
             and the units again, then CLOSE)"
        );
    }
    station.stats().clone()
}

/// Serves one link until it drops or `stop` turns true.
async fn serve(
    setup: &StationSetup,
    station: &mut Station,
    stream: BoxedStream,
    stop: &mut watch::Receiver<bool>,
) {
    let mut link = ScannerLink::new(stream, setup.options);
    loop {
        let line = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            line = link.next_scan() => line,
        };
        let reply = match line {
            Ok(Some(Ok(scan))) => {
                let read = recognise(&scan, &setup.commands);
                match station.scan(read) {
                    Step::Reply(reply) => reply,
                    Step::Ask(ask) => {
                        let answer = ask_store(setup, ask).await;
                        station.answer(answer)
                    }
                }
            }
            Ok(Some(Err(error))) => station.unreadable(error),
            Ok(None) => {
                tracing::info!(level = %setup.level, "scanner disconnected");
                return;
            }
            Err(error) => {
                tracing::warn!(level = %setup.level, %error, "scanner link failed");
                return;
            }
        };
        log(setup.level, &reply);
        if let Err(error) = link.reply(&reply.to_string()).await {
            tracing::warn!(level = %setup.level, %error, "cannot answer the scanner");
            return;
        }
    }
}

fn log(level: PackageLevel, reply: &Reply) {
    if reply.good {
        tracing::info!(station = %level, "{reply}");
    } else {
        tracing::warn!(station = %level, "{reply}");
    }
}

fn view(package: &tracemark_store::Package) -> PackageView {
    PackageView {
        sscc: package.sscc.clone(),
        children: package.children_count,
        capacity: package.capacity,
        short: package.short,
    }
}

/// Carries out `ask` through `manual::rules`; failures (the database) are answered as
/// refusals with their message, and logged.
async fn ask_store(setup: &StationSetup, ask: Ask) -> Answer {
    let store = &setup.store;
    let failed = |e: tracemark_store::StoreError| {
        tracing::error!(error = %e, batch = setup.batch, "packing station: store failed");
        e.to_string()
    };
    match ask {
        Ask::Open { sscc } => Answer::Opened(
            match manual_packing::open_at_station(store, setup.batch, setup.level, &sscc).await {
                Ok(opened) => opened.map(|p| view(&p)),
                Err(e) => Err(failed(e)),
            },
        ),
        Ask::New => Answer::Opened(
            manual_packing::new_at_station(
                store,
                &setup.actor,
                setup.batch,
                setup.level,
                setup.capacity,
            )
            .await
            .map(|p| view(&p))
            .map_err(failed),
        ),
        Ask::Check {
            sscc,
            scanned,
            item,
        } => Answer::Checked(
            match manual_packing::check_scan(store, &sscc, setup.level, &scanned, &item).await {
                Ok(None) => Ok(()),
                Ok(Some(reason)) => Err(reason),
                Err(e) => Err(failed(e)),
            },
        ),
        Ask::Close { sscc, children } => Answer::Closed(
            manual_packing::close_package(
                store,
                &setup.actor,
                &sscc,
                setup.level,
                &children,
                setup.labels.as_ref(),
            )
            .await
            .map(|p| view(&p))
            .map_err(|e| e.to_string()),
        ),
    }
}
