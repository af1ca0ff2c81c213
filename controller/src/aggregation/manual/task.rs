//! The station task: reads the scanner's lines, hands each to the [`Station`], asks the store
//! what it asks (`manual::rules`), writes the reply back to the scanner and logs it.
//!
//! The link is a TCP connection the scanner's base station makes to us ([`ScannerSource::Listen`])
//! or we make to it, or a serial port ([`ScannerSource::Connect`]). When it drops, the station
//! keeps its open package and scans and waits for the scanner again: an operator who walks out
//! of a Bluetooth base station's range loses nothing scanned.

use std::time::Duration;

use tokio::sync::watch;
use tracemark_drivers::scanner::{ParseOptions, Scan, ScanError, ScannerLink, ScannerListener};
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
        Self::for_transport(&scanner.transport, scanner.listen).await
    }

    /// The source of a scanner at `transport`: binds its port when it `listen`s.
    pub async fn for_transport(
        transport: &crate::config::Transport,
        listen: bool,
    ) -> std::io::Result<Self> {
        match (transport, listen) {
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

/// What a scanner station does with each line of its scanner: a manual packing station's
/// carton or pallet scanner, or the dispatch station (docs/shipping.md).
pub(crate) trait ScanHandler {
    /// Answers a scan.
    async fn scan(&mut self, scan: Scan) -> Reply;
    /// Answers a line that is no scan (the driver's reason).
    fn unreadable(&mut self, error: ScanError) -> Reply;
}

/// Serves the scanner at `source` with `handler` until `stop` turns true: opens or accepts its
/// link, answers every line, and when the link drops waits for the scanner again (trying
/// again every [`RECONNECT`] when it cannot be reached). `station` names it in the logs.
pub(crate) async fn serve_scanner<H: ScanHandler>(
    handler: &mut H,
    source: &ScannerSource,
    options: ParseOptions,
    station: &str,
    stop: &mut watch::Receiver<bool>,
) {
    let from = source.describe();
    tracing::info!(%station, %from, "scanner station ready");
    loop {
        // `wait_for` also ends when the sender is gone: a station never outlives its run.
        let stream = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            link = source.next_link() => link,
        };
        let stream = match stream {
            Ok(stream) => stream,
            Err(error) => {
                tracing::warn!(%station, %from, %error, "scanner not reachable");
                tokio::select! {
                    _ = stop.wait_for(|s| *s) => return,
                    () = tokio::time::sleep(RECONNECT) => {}
                }
                continue;
            }
        };
        serve_link(handler, stream, options, station, stop).await;
    }
}

/// Serves one link until it drops or `stop` turns true.
async fn serve_link<H: ScanHandler>(
    handler: &mut H,
    stream: BoxedStream,
    options: ParseOptions,
    station: &str,
    stop: &mut watch::Receiver<bool>,
) {
    let mut link = ScannerLink::new(stream, options);
    loop {
        let line = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            line = link.next_scan() => line,
        };
        let reply = match line {
            Ok(Some(Ok(scan))) => handler.scan(scan).await,
            Ok(Some(Err(error))) => handler.unreadable(error),
            Ok(None) => {
                tracing::info!(%station, "scanner disconnected");
                return;
            }
            Err(error) => {
                tracing::warn!(%station, %error, "scanner link failed");
                return;
            }
        };
        if reply.good {
            tracing::info!(%station, "{reply}");
        } else {
            tracing::warn!(%station, "{reply}");
        }
        if let Err(error) = link.reply(&reply.to_string()).await {
            tracing::warn!(%station, %error, "cannot answer the scanner");
            return;
        }
    }
}

/// A packing station's scanner: its setup and decisions.
struct PackingHandler {
    setup: StationSetup,
    station: Station,
}

impl ScanHandler for PackingHandler {
    async fn scan(&mut self, scan: Scan) -> Reply {
        let read = recognise(&scan, &self.setup.commands);
        match self.station.scan(read) {
            Step::Reply(reply) => reply,
            Step::Ask(ask) => {
                let answer = ask_store(&self.setup, ask).await;
                self.station.answer(answer)
            }
        }
    }

    fn unreadable(&mut self, error: ScanError) -> Reply {
        self.station.unreadable(error)
    }
}

/// Runs the station until `stop` turns true; returns what it did.
pub async fn run_station(
    setup: StationSetup,
    source: ScannerSource,
    mut stop: watch::Receiver<bool>,
) -> StationStats {
    let level = setup.level;
    let options = setup.options;
    tracing::info!(%level, batch = setup.batch, "packing station");
    let mut handler = PackingHandler {
        station: Station::new(level),
        setup,
    };
    serve_scanner(
        &mut handler,
        &source,
        options,
        &level.to_string(),
        &mut stop,
    )
    .await;
    if let Some((sscc, scanned)) = handler.station.open_package() {
        tracing::warn!(
            %level,
            %sscc,
            scans = scanned.len(),
            "the station stops with a package open: its scans were not packed (scan its label \
             and the units again, then CLOSE)"
        );
    }
    handler.station.stats().clone()
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
