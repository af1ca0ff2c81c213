//! `/api/v1/uploads` and `/api/v1/upload-targets` (SPEC §6): the outbox's deliveries, a retry
//! of a failed one, and the targets closed batches go to, through [`crate::app::uploads`] (the
//! functions `tracemark upload …` calls). A target holds the paths of its key files, never key
//! material, so no answer carries a secret.

use std::path::PathBuf;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tracemark_store::upload::{Delivery, UploadFormat, UploadTarget};
use utoipa::ToSchema;

use crate::app::AppError;
use crate::app::page::{Page, PageRequest};
use crate::app::uploads::{self, NewTarget};
use crate::http::auth::Caller;
use crate::http::problem::{ApiError, ApiJson, Problem};
use crate::http::state::ApiState;

/// A target to add (as `tracemark upload target add` takes it).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTargetRequest {
    /// Its unique name.
    pub name: String,
    /// `http://…` or `https://…`.
    pub url: String,
    /// `epcis-json`, `epcis-xml` or `platform`.
    pub format: String,
    /// A file on the controller holding the Standard Webhooks secret (`whsec_<base64>`).
    #[schema(value_type = Option<String>)]
    pub secret_file: Option<PathBuf>,
    /// A file on the controller holding the Ed25519 key (`whsk_<base64>`).
    #[schema(value_type = Option<String>)]
    pub ed25519_key_file: Option<PathBuf>,
    /// A PEM file on the controller of the CA certificates trusted for `https://`.
    #[schema(value_type = Option<String>)]
    pub ca_file: Option<PathBuf>,
    /// Send bodies with `Content-Encoding: gzip`.
    #[serde(default)]
    pub gzip: bool,
}

/// A removed target.
#[derive(Debug, Serialize, ToSchema)]
pub struct RemovedTarget {
    /// Its name.
    pub name: String,
    /// Its pending deliveries, now failed.
    pub failed_deliveries: u64,
}

/// Every delivery, by batch and target.
#[utoipa::path(
    get,
    path = "/api/v1/uploads",
    operation_id = "list_deliveries",
    tag = "uploads",
    params(PageRequest),
    responses(
        (status = 200, description = "A page of deliveries", body = Page<Delivery>),
        (status = 400, description = "A bad page", body = Problem),
    )
)]
pub async fn deliveries(
    State(state): State<ApiState>,
    Query(page): Query<PageRequest>,
) -> Result<axum::Json<Page<Delivery>>, ApiError> {
    Ok(axum::Json(
        page.slice(uploads::status(&state.store).await?)?,
    ))
}

/// Puts a failed delivery back to pending: the same uuid, the same body.
#[utoipa::path(
    post,
    path = "/api/v1/uploads/{batch}/{target}/retry",
    operation_id = "retry_delivery",
    tag = "uploads",
    params(
        ("batch" = i64, Path, description = "The batch number"),
        ("target" = String, Path, description = "The target's name"),
    ),
    responses(
        (status = 200, description = "Pending again", body = Delivery),
        (status = 400, description = "Not a failed delivery", body = Problem),
        (status = 404, description = "No such delivery", body = Problem),
    )
)]
pub async fn retry(
    State(state): State<ApiState>,
    caller: Caller,
    Path((batch, target)): Path<(i64, String)>,
) -> Result<axum::Json<Delivery>, ApiError> {
    let actor = caller.actor;
    Ok(axum::Json(
        uploads::retry(&state.store, &actor, batch, &target).await?,
    ))
}

/// Every target, by name.
#[utoipa::path(
    get,
    path = "/api/v1/upload-targets",
    operation_id = "list_upload_targets",
    tag = "uploads",
    responses((status = 200, description = "The targets", body = [UploadTarget]))
)]
pub async fn targets(
    State(state): State<ApiState>,
) -> Result<axum::Json<Vec<UploadTarget>>, ApiError> {
    Ok(axum::Json(uploads::list_targets(&state.store).await?))
}

/// Adds a target after checking its files (the keys parse, the CA file holds certificates);
/// batches closed from now on go to it.
#[utoipa::path(
    post,
    path = "/api/v1/upload-targets",
    operation_id = "add_upload_target",
    tag = "uploads",
    request_body = NewTargetRequest,
    responses(
        (status = 201, description = "Added", body = UploadTarget),
        (status = 400, description = "A field is invalid", body = Problem),
    )
)]
pub async fn add_target(
    State(state): State<ApiState>,
    caller: Caller,
    ApiJson(request): ApiJson<NewTargetRequest>,
) -> Result<(StatusCode, axum::Json<UploadTarget>), ApiError> {
    let format: UploadFormat = request.format.parse().map_err(AppError::from)?;
    let actor = caller.actor;
    let target = uploads::add_target(
        &state.store,
        &actor,
        NewTarget {
            name: request.name,
            url: request.url,
            format,
            secret_file: request.secret_file,
            ed25519_key_file: request.ed25519_key_file,
            ca_file: request.ca_file,
            gzip: request.gzip,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(target)))
}

/// Removes a target; its pending deliveries fail (its delivered ones stay as history).
#[utoipa::path(
    delete,
    path = "/api/v1/upload-targets/{name}",
    operation_id = "remove_upload_target",
    tag = "uploads",
    params(("name" = String, Path, description = "The target's name")),
    responses(
        (status = 200, description = "Removed", body = RemovedTarget),
        (status = 404, description = "No such target", body = Problem),
    )
)]
pub async fn remove_target(
    State(state): State<ApiState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<axum::Json<RemovedTarget>, ApiError> {
    let actor = caller.actor;
    let failed_deliveries = uploads::remove_target(&state.store, &actor, &name).await?;
    Ok(axum::Json(RemovedTarget {
        name,
        failed_deliveries,
    }))
}
