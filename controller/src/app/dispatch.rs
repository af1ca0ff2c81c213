//! Dispatch orders (issue 17 item 2; docs/shipping.md "The dispatch station"). An order says
//! who buys (the flow record's buyer, seed 000 annex 2 §一(三)); the ERP pushes it (`POST
//! /api/v1/dispatch-orders`) or a clerk enters it (`tracemark dispatch order`). At the dock the
//! operator scans the order's reference, each pallet's or carton's label, then `SHIP`: the
//! station (`crate::dispatch`, its rules in `dispatch/rules.rs`) ships them with the order's
//! buyer, and the shipment fills the order.

use tracemark_store::{Actor, DispatchOrder, NewDispatchOrder, Store};

use super::AppError;
use super::page::{Page, PageRequest};

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
