//! Shipping in a twin run (docs/shipping.md "The dispatch station"): after the batch closed, a
//! simulated hand scanner (`tracemark_sim::scanner`) at a dispatch station of its own over a
//! local TCP socket ships what was packed — the order's reference, each pallet's and each loose
//! carton's SSCC label, `SHIP` — for a dispatch order of the demo's buyer. The demo shows the
//! dock the way a plant runs it: every scan answered by the station, one shipment, the order
//! filled.

use serde::Serialize;
use tokio::sync::watch;
use tracemark_drivers::scanner::{ParseOptions, ScannerListener};
use tracemark_sim::scanner::HandScanner;
use tracemark_store::{Actor, NewDispatchOrder, PackageState, Shipment, Store, StoreError};

use super::CommissioningError;
use crate::aggregation::manual::ScannerSource;
use crate::config::DispatchCommands;
use crate::dispatch::{DispatchSetup, run_dispatch};

/// The demo's buyer (a distributor; seed 000 annex 2 §一(三) asks for its name, address and
/// contact).
const BUYER: (&str, &str, &str) = (
    "演示经销商 (demo distributor)",
    "福建省福州市鼓楼区演示路1号",
    "0591-00000000",
);

/// What the dock shipped.
#[derive(Debug, Clone, Serialize)]
pub struct DockShipment {
    /// The dispatch order filled.
    pub order: String,
    /// The shipment recorded.
    pub shipment: Shipment,
    /// Lines the scanner sent and the station answered.
    pub scans: u64,
}

/// Ships batch `batch`'s closed pallets and loose closed cartons through a dispatch station
/// and a simulated hand scanner, for a new dispatch order `DEMO-<batch>`. `None` when the batch
/// packed nothing to ship. A `BAD` answer is an error naming the scan and the reason.
pub async fn ship_at_the_dock(
    store: &Store,
    actor: &Actor,
    batch: i64,
) -> Result<Option<DockShipment>, CommissioningError> {
    let ssccs: Vec<String> = store
        .packages_of_batch(batch)
        .await?
        .into_iter()
        .filter(|p| p.parent.is_none() && p.state == PackageState::Closed && p.children_count > 0)
        .map(|p| p.sscc)
        .collect();
    if ssccs.is_empty() {
        return Ok(None);
    }
    let order = format!("DEMO-{batch}");
    // A run resumed on a batch that shipped already has its order: a new reference each time.
    let order = match store.dispatch_order(&order).await {
        Err(StoreError::NotFound { .. }) => order,
        Ok(_) => format!(
            "{order}-{}",
            time::OffsetDateTime::now_utc().unix_timestamp()
        ),
        Err(other) => return Err(other.into()),
    };
    store
        .with_actor(actor.clone())
        .add_dispatch_order(&NewDispatchOrder {
            order_ref: order.clone(),
            buyer_name: BUYER.0.into(),
            buyer_address: BUYER.1.into(),
            buyer_contact: BUYER.2.into(),
        })
        .await?;
    let setup_failed = |source: std::io::Error| CommissioningError::Setup {
        what: "the dispatch station",
        source,
    };
    let listener = ScannerListener::bind("127.0.0.1:0")
        .await
        .map_err(setup_failed)?;
    let address = listener.local_addr().map_err(setup_failed)?;
    let setup = DispatchSetup {
        store: store.clone(),
        actor: actor.on_device("dispatch@demo"),
        commands: DispatchCommands {
            ship: "SHIP".into(),
            cancel: "CANCEL".into(),
            remove: "REMOVE".into(),
        },
        options: ParseOptions::default(),
    };
    let (stop_tx, stop) = watch::channel(false);
    let task = tokio::spawn(run_dispatch(setup, ScannerSource::Listen(listener), stop));
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .map_err(setup_failed)?;
    let mut scanner = HandScanner::new(stream);
    let scanned = scan_all(&mut scanner, &order, &ssccs).await;
    let _ = stop_tx.send(true);
    let stats = task.await?;
    scanned?;
    let shipment_id = store
        .dispatch_order(&order)
        .await?
        .shipment_id
        .ok_or_else(|| CommissioningError::Dispatch(format!("order {order} was not filled")))?;
    Ok(Some(DockShipment {
        order,
        shipment: store.shipment(shipment_id).await?,
        scans: stats.scans,
    }))
}

/// The order, every label, `SHIP`; the first `BAD` answer is the error.
async fn scan_all(
    scanner: &mut HandScanner<tokio::net::TcpStream>,
    order: &str,
    ssccs: &[String],
) -> Result<(), CommissioningError> {
    let failed = |e: tracemark_sim::scanner::ScannerError| {
        CommissioningError::Dispatch(format!("the simulated scanner: {e}"))
    };
    let mut replies = vec![scanner.command(order).await.map_err(failed)?];
    for sscc in ssccs {
        replies.push(scanner.scan_label(sscc).await.map_err(failed)?);
    }
    replies.push(scanner.command("SHIP").await.map_err(failed)?);
    match replies.into_iter().find(|reply| !reply.starts_with("OK ")) {
        Some(bad) => Err(CommissioningError::Dispatch(bad)),
        None => Ok(()),
    }
}
