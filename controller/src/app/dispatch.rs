//! Dispatch orders and the dispatch station's rules (issue 17 item 2; docs/shipping.md "The
//! dispatch station"). An order says who buys (the flow record's buyer, seed 000 annex 2
//! §一(三)); the ERP pushes it (`POST /api/v1/dispatch-orders`) or a clerk enters it
//! (`tracemark dispatch order`). At the dock the operator scans the order's reference, each
//! pallet's or carton's label, then `SHIP`: [`ship_order`] ships them with the order's buyer
//! through [`shipping::ship`], the one shipping rule, and the shipment fills the order.
//!
//! Each scan is checked by a dry run of the very shipment `SHIP` will make
//! ([`Store::check_ship`]), so the station refuses exactly what the shipment would, with the
//! same reason, and a refused scan writes nothing.

use tracemark_store::{
    Actor, DispatchOrder, NewDispatchOrder, NewShipment, Shipment, Store, StoreError,
};

use super::AppError;
use super::page::{Page, PageRequest};
use super::shipping;

/// Records dispatch order `order`; a reference recorded before is refused.
pub async fn add_order(
    store: &Store,
    actor: &Actor,
    order: &NewDispatchOrder,
) -> Result<DispatchOrder, AppError> {
    Ok(store
        .with_actor(actor.clone())
        .add_dispatch_order(order)
        .await?)
}

/// Dispatch order `order_ref`.
pub async fn order(store: &Store, order_ref: &str) -> Result<DispatchOrder, AppError> {
    Ok(store.dispatch_order(order_ref).await?)
}

/// A page of the dispatch orders (only the open ones with `open_only`), newest first.
pub async fn orders_page(
    store: &Store,
    open_only: bool,
    request: PageRequest,
) -> Result<Page<DispatchOrder>, AppError> {
    let (offset, limit) = request.offset_limit()?;
    let (items, total) = store.dispatch_orders_page(open_only, offset, limit).await?;
    request.of(items, total)
}

/// Order `order_ref` as the station's open order: `Ok(Err(reason))` when it cannot be (unknown,
/// or filled by a shipment already).
pub async fn open_at_station(
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
pub async fn check_scan(
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
pub async fn ship_order(
    store: &Store,
    actor: &Actor,
    order_ref: &str,
    ssccs: &[String],
) -> Result<Shipment, AppError> {
    let order = match open_at_station(store, order_ref).await? {
        Ok(order) => order,
        Err(reason) => {
            return Err(AppError::Conflict {
                field: "order",
                reason,
            });
        }
    };
    let shipment = NewShipment {
        ssccs: ssccs.to_vec(),
        sale_time: None,
        buyer_name: order.buyer_name,
        buyer_address: order.buyer_address,
        buyer_contact: order.buyer_contact,
        order_ref: Some(order.order_ref),
    };
    shipping::ship(store, actor, &shipment).await
}
