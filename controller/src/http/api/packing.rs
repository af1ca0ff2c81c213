//! `/api/v1/…` packing (SPEC §3a, issue 14): a batch's cartons and pallets, one package with
//! its contents, and carton rework (add, remove, replace, unpack, close, reopen, void) through
//! [`crate::app::packing`] (the functions `tracemark pack …` calls). Labels need the line's
//! printer and stay with `tracemark pack label`.

use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use tracemark_store::{Package, PackageContents};
use utoipa::ToSchema;

use crate::app::packing::{self, PackageList};
use crate::http::auth::Caller;
use crate::http::problem::{ApiError, ApiJson, Problem};
use crate::http::state::ApiState;

/// Items to put into or take out of a package.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemsRequest {
    /// Unit codes (HRI) for a carton, carton SSCCs for a pallet; all or none.
    pub codes: Vec<String>,
}

/// A packed unit to swap for a verified one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceRequest {
    /// The packed unit (HRI), in this carton.
    pub old: String,
    /// The verified unit (HRI) that takes its place.
    pub new: String,
}

/// An item taken out, and the package it left.
#[derive(Debug, Serialize, ToSchema)]
pub struct RemovedItem {
    /// The unit code or carton SSCC.
    pub item: String,
    /// The package it left.
    pub from: String,
}

/// How many children an unpack took out.
#[derive(Debug, Serialize, ToSchema)]
pub struct Unpacked {
    /// The package, now empty.
    pub sscc: String,
    /// Children taken out.
    pub removed: usize,
}

/// The path parameter every package operation takes.
type Sscc = Path<String>;

/// A batch's pallets and cartons, and whether they balance.
#[utoipa::path(
    get,
    path = "/api/v1/batches/{id}/packages",
    operation_id = "list_packages",
    tag = "packing",
    params(("id" = i64, Path, description = "The batch number")),
    responses(
        (status = 200, description = "The packages", body = PackageList),
        (status = 404, description = "No such batch", body = Problem),
    )
)]
pub async fn list(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> Result<axum::Json<PackageList>, ApiError> {
    Ok(axum::Json(packing::list(&state.store, id).await?))
}

/// A package and what is in it: a pallet's cartons with their units, a carton's units.
#[utoipa::path(
    get,
    path = "/api/v1/packages/{sscc}",
    operation_id = "get_package",
    tag = "packing",
    params(("sscc" = String, Path, description = "The SSCC, 18 digits")),
    responses(
        (status = 200, description = "The package", body = PackageContents),
        (status = 404, description = "No such package", body = Problem),
    )
)]
pub async fn get(
    State(state): State<ApiState>,
    Path(sscc): Sscc,
) -> Result<axum::Json<PackageContents>, ApiError> {
    Ok(axum::Json(packing::show(&state.store, &sscc).await?))
}

/// Puts units into the carton, or closed cartons onto the pallet; all or none.
#[utoipa::path(
    post,
    path = "/api/v1/packages/{sscc}/add",
    operation_id = "pack_add",
    tag = "packing",
    params(("sscc" = String, Path, description = "The SSCC, 18 digits")),
    request_body = ItemsRequest,
    responses(
        (status = 200, description = "The package", body = Package),
        (status = 400, description = "A field is invalid", body = Problem),
        (status = 404, description = "No such package", body = Problem),
        (status = 409, description = "Refused: every offending item with its reason", body = Problem),
    )
)]
pub async fn add(
    State(state): State<ApiState>,
    caller: Caller,
    Path(sscc): Sscc,
    ApiJson(request): ApiJson<ItemsRequest>,
) -> Result<axum::Json<Package>, ApiError> {
    let actor = caller.actor;
    Ok(axum::Json(
        packing::add(&state.store, &actor, &sscc, &request.codes).await?,
    ))
}

/// Takes units out of the (open) carton, or cartons off the (open) pallet; all or none.
#[utoipa::path(
    post,
    path = "/api/v1/packages/{sscc}/remove",
    operation_id = "pack_remove",
    tag = "packing",
    params(("sscc" = String, Path, description = "The SSCC, 18 digits")),
    request_body = ItemsRequest,
    responses(
        (status = 200, description = "Each item and the package it left", body = [RemovedItem]),
        (status = 400, description = "A field is invalid", body = Problem),
        (status = 404, description = "No such package or code", body = Problem),
        (status = 409, description = "Refused: an item elsewhere, a closed package", body = Problem),
    )
)]
pub async fn remove(
    State(state): State<ApiState>,
    caller: Caller,
    Path(sscc): Sscc,
    ApiJson(request): ApiJson<ItemsRequest>,
) -> Result<axum::Json<Vec<RemovedItem>>, ApiError> {
    let actor = caller.actor;
    let removed = packing::remove_from(&state.store, &actor, &sscc, &request.codes).await?;
    Ok(axum::Json(
        removed
            .into_iter()
            .map(|(item, from)| RemovedItem { item, from })
            .collect(),
    ))
}

/// Replaces a packed unit of the (open) carton by a verified unit, in one transaction.
#[utoipa::path(
    post,
    path = "/api/v1/packages/{sscc}/replace",
    operation_id = "pack_replace",
    tag = "packing",
    params(("sscc" = String, Path, description = "The carton's SSCC, 18 digits")),
    request_body = ReplaceRequest,
    responses(
        (status = 200, description = "The carton", body = Package),
        (status = 400, description = "A field is invalid", body = Problem),
        (status = 404, description = "No such package or code", body = Problem),
        (status = 409, description = "Refused", body = Problem),
    )
)]
pub async fn replace(
    State(state): State<ApiState>,
    caller: Caller,
    Path(sscc): Sscc,
    ApiJson(request): ApiJson<ReplaceRequest>,
) -> Result<axum::Json<Package>, ApiError> {
    let actor = caller.actor;
    Ok(axum::Json(
        packing::replace_in(&state.store, &actor, &sscc, &request.old, &request.new).await?,
    ))
}

/// Takes every child out of the open package.
#[utoipa::path(
    post,
    path = "/api/v1/packages/{sscc}/unpack",
    operation_id = "pack_unpack",
    tag = "packing",
    params(("sscc" = String, Path, description = "The SSCC, 18 digits")),
    responses(
        (status = 200, description = "Unpacked", body = Unpacked),
        (status = 404, description = "No such package", body = Problem),
        (status = 409, description = "Refused (a closed package: reopen it first)", body = Problem),
    )
)]
pub async fn unpack(
    State(state): State<ApiState>,
    caller: Caller,
    Path(sscc): Sscc,
) -> Result<axum::Json<Unpacked>, ApiError> {
    let actor = caller.actor;
    let removed = packing::unpack(&state.store, &actor, &sscc).await?;
    Ok(axum::Json(Unpacked { sscc, removed }))
}

/// Closes the package; under its capacity it is closed short (flagged in the reports).
#[utoipa::path(
    post,
    path = "/api/v1/packages/{sscc}/close",
    operation_id = "pack_close",
    tag = "packing",
    params(("sscc" = String, Path, description = "The SSCC, 18 digits")),
    responses(
        (status = 200, description = "Closed", body = Package),
        (status = 404, description = "No such package", body = Problem),
        (status = 409, description = "Refused (its state, or an out-of-date label)", body = Problem),
    )
)]
pub async fn close(
    State(state): State<ApiState>,
    caller: Caller,
    Path(sscc): Sscc,
) -> Result<axum::Json<Package>, ApiError> {
    let actor = caller.actor;
    Ok(axum::Json(
        packing::close(&state.store, &actor, &sscc).await?,
    ))
}

/// Reopens the closed package for rework.
#[utoipa::path(
    post,
    path = "/api/v1/packages/{sscc}/reopen",
    operation_id = "pack_reopen",
    tag = "packing",
    params(("sscc" = String, Path, description = "The SSCC, 18 digits")),
    responses(
        (status = 200, description = "Reopened", body = Package),
        (status = 404, description = "No such package", body = Problem),
        (status = 409, description = "Refused by its state", body = Problem),
    )
)]
pub async fn reopen(
    State(state): State<ApiState>,
    caller: Caller,
    Path(sscc): Sscc,
) -> Result<axum::Json<Package>, ApiError> {
    let actor = caller.actor;
    Ok(axum::Json(
        packing::reopen(&state.store, &actor, &sscc).await?,
    ))
}

/// Voids the empty, unused package (its SSCC is never issued again).
#[utoipa::path(
    post,
    path = "/api/v1/packages/{sscc}/void",
    operation_id = "pack_void",
    tag = "packing",
    params(("sscc" = String, Path, description = "The SSCC, 18 digits")),
    responses(
        (status = 200, description = "Voided", body = Package),
        (status = 404, description = "No such package", body = Problem),
        (status = 409, description = "Refused by its state", body = Problem),
    )
)]
pub async fn void(
    State(state): State<ApiState>,
    caller: Caller,
    Path(sscc): Sscc,
) -> Result<axum::Json<Package>, ApiError> {
    let actor = caller.actor;
    Ok(axum::Json(
        packing::void(&state.store, &actor, &sscc).await?,
    ))
}
