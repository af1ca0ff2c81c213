//! `/api/v1/shipments`: closed pallets and cartons shipped to a buyer with their flow record,
//! and the shipments recorded (issue 17 item 2; docs/shipping.md), through
//! [`crate::app::shipping`] (the functions `tracemark ship` calls).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use tracemark_store::{NewShipment, Shipment};
use utoipa::ToSchema;

use crate::app::page::{Page, PageRequest};
use crate::app::shipping;
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
