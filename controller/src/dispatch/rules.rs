//! The dispatch station's rules (docs/shipping.md "The dispatch station"): the order a scan
//! opens, whether a scanned package may join the shipment, and the shipment `SHIP` makes.
//!
//! Each scan is checked by a dry run of the very shipment `SHIP` will make
//! ([`Store::check_ship`]), so the station refuses exactly what the shipment would, with the
//! same reason, and a refused scan writes nothing. The shipment itself is the store's one
//! shipping rule (`Store::ship`, which `app::shipping::ship` calls too).

use tracemark_store::{Actor, DispatchOrder, NewShipment, Shipment, Store, StoreError};

/// Order `order_ref` as the station's open order: `Ok(Err(reason))` when it cannot be (unknown,
/// or filled by a shipment already).
pub(crate) async fn open_at_station(
    store: &Store,
    order_ref: &str,
) -> Result<Result<DispatchOrder, String>, StoreError> {
    match store.dispatch_order(order_ref).await {
        Ok(order) => Ok(match order.shipment_id {
            Some(id) => Err(format!("order {order_ref} was shipped (shipment {id})")),
            None => Ok(order),
        }),
        Err(StoreError::NotFound { .. }) => Ok(Err(format!(
            "no dispatch order {order_ref:?} (tracemark dispatch order, or the ERP's \
             POST /api/v1/dispatch-orders)"
        ))),
        Err(other) => Err(other),
    }
}

/// Whether package `sscc` may join the station's scans `scanned`, by a dry run of shipping
/// them all: `Ok(None)` if so, `Ok(Some(reason))` the shipment's refusal of `sscc`. A refusal
/// of an earlier scan only (shipped elsewhere since) does not refuse `sscc`: `SHIP` will
/// name it.
pub(crate) async fn check_scan(
    store: &Store,
    scanned: &[String],
    sscc: &str,
) -> Result<Option<String>, StoreError> {
    let mut all = scanned.to_vec();
    all.push(sscc.to_owned());
    match store.check_ship(&all).await {
        Ok(()) => Ok(None),
        Err(StoreError::ShipRefused { refusals }) => Ok(refusals
            .into_iter()
            .find(|r| r.sscc == sscc)
            .map(|r| r.problem.to_string())),
        Err(other) => Err(other),
    }
}

/// Ships `ssccs` to the buyer of open order `order_ref`, now, with the order as the
/// shipment's order reference (which fills it). An order shipped meanwhile is refused.
pub(crate) async fn ship_order(
    store: &Store,
    actor: &Actor,
    order_ref: &str,
    ssccs: &[String],
) -> Result<Shipment, String> {
    let order = open_at_station(store, order_ref)
        .await
        .map_err(|e| e.to_string())??;
    let shipment = NewShipment {
        ssccs: ssccs.to_vec(),
        sale_time: None,
        buyer_name: order.buyer_name,
        buyer_address: order.buyer_address,
        buyer_contact: order.buyer_contact,
        order_ref: Some(order.order_ref),
    };
    store
        .with_actor(actor.clone())
        .ship(&shipment)
        .await
        .map_err(|e| e.to_string())
}
