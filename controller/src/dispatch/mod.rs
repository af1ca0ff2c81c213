//! The dispatch scanner station (issue 17 item 2; docs/shipping.md "The dispatch station"): a
//! hand scanner at the shipping dock, configured in the line config's `[dispatch]`. The
//! operator scans a dispatch order's reference, the pallets' and cartons' SSCC labels, then
//! `SHIP`; every scan is answered at once on the scanner's link (`OK …` / `BAD … <reason>`)
//! and `SHIP` ships the scans in one store transaction with the order's buyer as the flow
//! record.
//!
//! - `station.rs`: what a scan is and the station's decisions, without I/O;
//! - `rules.rs`: what the store is asked — the order, a dry run of the shipment per scan, the
//!   shipment;
//! - here: the task around it — the scanner link (the manual packing station's
//!   [`serve_scanner`]), the store, the replies.
//!
//! It runs beside the line in `tracemark run` when the config has `[dispatch]`, or alone
//! (`tracemark dispatch station --line CONFIG`): shipping is not tied to a batch.

mod rules;
mod station;

#[cfg(test)]
mod station_tests;

pub use station::DispatchStats;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracemark_drivers::scanner::{ParseOptions, Scan, ScanError};
use tracemark_store::{Actor, Store};

use crate::aggregation::manual::ScannerSource;
use crate::aggregation::manual::station::Reply;
use crate::aggregation::manual::task::{ScanHandler, serve_scanner};
use crate::config::{Dispatch, DispatchCommands};
use station::{Answer, Ask, Station, Step, recognise};

/// What the station needs.
#[derive(Debug, Clone)]
pub struct DispatchSetup {
    /// The store.
    pub store: Store,
    /// Who ships (the audit events' user and device).
    pub actor: Actor,
    /// The command barcodes.
    pub commands: DispatchCommands,
    /// How lines are read.
    pub options: ParseOptions,
}

impl DispatchSetup {
    /// The setup of `[dispatch]` `dispatch` for `store`, acting as `actor`.
    pub fn for_config(store: &Store, actor: &Actor, dispatch: &Dispatch) -> Self {
        Self {
            store: store.clone(),
            actor: actor.clone(),
            commands: dispatch.commands.clone(),
            options: ParseOptions {
                require_identifier: dispatch.require_identifier,
            },
        }
    }
}

struct DispatchHandler {
    setup: DispatchSetup,
    station: Station,
}

impl ScanHandler for DispatchHandler {
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

/// Runs the station until `stop` turns true; returns what it did. An order left open with
/// scans is logged: nothing of it shipped.
pub async fn run_dispatch(
    setup: DispatchSetup,
    source: ScannerSource,
    mut stop: watch::Receiver<bool>,
) -> DispatchStats {
    let options = setup.options;
    let mut handler = DispatchHandler {
        setup,
        station: Station::default(),
    };
    serve_scanner(&mut handler, &source, options, "dispatch", &mut stop).await;
    if let Some((order, scanned)) = handler
        .station
        .open_order()
        .filter(|(_, scanned)| !scanned.is_empty())
    {
        tracing::warn!(
            %order,
            scans = scanned.len(),
            "the dispatch station stops with an order open: nothing of it shipped (scan the \
             order and its packages again, then SHIP)"
        );
    }
    handler.station.stats().clone()
}

/// Opens the scanner of `[dispatch]` `dispatch` (binding its port when it listens) and spawns
/// the station. Returns the task and where the scanner is (`listening on 0.0.0.0:7010`).
pub async fn spawn_dispatch(
    store: &Store,
    actor: &Actor,
    dispatch: &Dispatch,
    stop: watch::Receiver<bool>,
) -> std::io::Result<(JoinHandle<DispatchStats>, String)> {
    let source = ScannerSource::for_transport(&dispatch.transport, dispatch.listen).await?;
    let at = source.describe();
    let setup = DispatchSetup::for_config(store, actor, dispatch);
    Ok((tokio::spawn(run_dispatch(setup, source, stop)), at))
}

/// Carries out `ask` through `app::dispatch`; failures (the database) are answered as
/// refusals with their message, and logged.
async fn ask_store(setup: &DispatchSetup, ask: Ask) -> Answer {
    let store = &setup.store;
    let failed = |e: tracemark_store::StoreError| {
        tracing::error!(error = %e, "dispatch station: store failed");
        e.to_string()
    };
    match ask {
        Ask::Order { order_ref } => {
            Answer::Order(match rules::open_at_station(store, &order_ref).await {
                Ok(opened) => opened.map(|order| order.buyer_name),
                Err(e) => Err(failed(e)),
            })
        }
        Ask::Check { scanned, sscc } => {
            Answer::Checked(match rules::check_scan(store, &scanned, &sscc).await {
                Ok(None) => Ok(()),
                Ok(Some(reason)) => Err(reason),
                Err(e) => Err(failed(e)),
            })
        }
        Ask::Ship { order_ref, ssccs } => Answer::Shipped(
            rules::ship_order(store, &setup.actor, &order_ref, &ssccs)
                .await
                .map(|s| (s.id, s.packages, s.quantity)),
        ),
    }
}
