//! `/api/v1/shipments`: closed pallets and cartons shipped to a buyer with their flow record,
//! and the shipments recorded (issue 17 item 2; docs/shipping.md), through
//! [`crate::app::shipping`] (the functions `tracemark ship` calls); `/api/v1/dispatch-orders`:
//! the orders the dispatch station ships, through [`crate::app::dispatch`].

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use tracemark_store::{DispatchOrder, NewDispatchOrder, NewShipment, Shipment};
use utoipa::ToSchema;

use crate::app::page::{Page, PageRequest};
use crate::app::{dispatch, shipping};
use crate::http::auth::Caller;
use crate::http::problem::{ApiError, ApiJson, Problem};
use crate::http::state::ApiState;

/// A shipment to record.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipmentRequest {
    /// The pallets and cartons shipped (SSCCs, 18 digits): closed, every unit in them packed.
    pub ssccs: Vec<String>,
    /// 购方名称.
    pub buyer_name: String,
    /// 购方地址.
    pub buyer_address: String,
    /// 购方联系方式.
    pub buyer_contact: String,
    /// 销售时间, RFC 3339; default now.
    #[serde(default)]
    pub sale_time: Option<String>,
    /// The buyer's order (the EPCIS bizTransaction, type `po`).
    #[serde(default)]
    pub order_ref: Option<String>,
}

/// The shipments, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/shipments",
    operation_id = "list_shipments",
    tag = "shipping",
    params(PageRequest),
    responses(
        (status = 200, description = "A page of shipments", body = Page<Shipment>),
        (status = 400, description = "A bad page", body = Problem),
    )
)]
pub async fn list(
    State(state): State<ApiState>,
    Query(page): Query<PageRequest>,
) -> Result<axum::Json<Page<Shipment>>, ApiError> {
    Ok(axum::Json(shipping::list_page(&state.store, page).await?))
}

/// Ships closed pallets and cartons (and the units in them) to a buyer, with one flow record;
/// all or nothing.
#[utoipa::path(
    post,
    path = "/api/v1/shipments",
    operation_id = "create_shipment",
    tag = "shipping",
    request_body = ShipmentRequest,
    responses(
        (status = 201, description = "Shipped", body = Shipment),
        (status = 400, description = "A field is invalid", body = Problem),
        (status = 409, description = "Refused: every SSCC with its reason", body = Problem),
    )
)]
pub async fn create(
    State(state): State<ApiState>,
    caller: Caller,
    ApiJson(request): ApiJson<ShipmentRequest>,
) -> Result<(StatusCode, axum::Json<Shipment>), ApiError> {
    let shipment = NewShipment {
        ssccs: request.ssccs,
        sale_time: request.sale_time,
        buyer_name: request.buyer_name,
        buyer_address: request.buyer_address,
        buyer_contact: request.buyer_contact,
        order_ref: request.order_ref,
    };
    let shipped = shipping::ship(&state.store, &caller.actor, &shipment).await?;
    Ok((StatusCode::CREATED, axum::Json(shipped)))
}

/// A dispatch order to record (docs/shipping.md "The dispatch station").
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DispatchOrderRequest {
    /// The order's reference, as printed on the pick list (unique).
    pub order_ref: String,
    /// 购方名称.
    pub buyer_name: String,
    /// 购方地址.
    pub buyer_address: String,
    /// 购方联系方式.
    pub buyer_contact: String,
}

/// Which dispatch orders to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderFilter {
    /// Only the orders no shipment has filled yet.
    #[serde(default)]
    pub open: bool,
}

/// The dispatch orders, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/dispatch-orders",
    operation_id = "list_dispatch_orders",
    tag = "shipping",
    params(PageRequest, OrderFilter),
    responses(
        (status = 200, description = "A page of dispatch orders", body = Page<DispatchOrder>),
        (status = 400, description = "A bad page", body = Problem),
    )
)]
pub async fn list_orders(
    State(state): State<ApiState>,
    Query(page): Query<PageRequest>,
    Query(filter): Query<OrderFilter>,
) -> Result<axum::Json<Page<DispatchOrder>>, ApiError> {
    Ok(axum::Json(
        dispatch::orders_page(&state.store, filter.open, page).await?,
    ))
}

/// One dispatch order, with the shipment that filled it.
#[utoipa::path(
    get,
    path = "/api/v1/dispatch-orders/{order_ref}",
    operation_id = "get_dispatch_order",
    tag = "shipping",
    params(("order_ref" = String, Path, description = "The order's reference")),
    responses(
        (status = 200, description = "The order", body = DispatchOrder),
        (status = 404, description = "No such order", body = Problem),
    )
)]
pub async fn get_order(
    State(state): State<ApiState>,
    Path(order_ref): Path<String>,
) -> Result<axum::Json<DispatchOrder>, ApiError> {
    Ok(axum::Json(dispatch::order(&state.store, &order_ref).await?))
}

/// Records a dispatch order: the buyer of what the dispatch station will ship under its
/// reference. A reference recorded before is refused.
#[utoipa::path(
    post,
    path = "/api/v1/dispatch-orders",
    operation_id = "create_dispatch_order",
    tag = "shipping",
    request_body = DispatchOrderRequest,
    responses(
        (status = 201, description = "Recorded", body = DispatchOrder),
        (status = 400, description = "A field is invalid, or the reference exists", body = Problem),
    )
)]
pub async fn create_order(
    State(state): State<ApiState>,
    caller: Caller,
    ApiJson(request): ApiJson<DispatchOrderRequest>,
) -> Result<(StatusCode, axum::Json<DispatchOrder>), ApiError> {
    let order = NewDispatchOrder {
        order_ref: request.order_ref,
        buyer_name: request.buyer_name,
        buyer_address: request.buyer_address,
        buyer_contact: request.buyer_contact,
    };
    let added = dispatch::add_order(&state.store, &caller.actor, &order).await?;
    Ok((StatusCode::CREATED, axum::Json(added)))
}
