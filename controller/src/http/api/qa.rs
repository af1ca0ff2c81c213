//! `/api/v1/…` QA: a batch's rejects and their dispositions (SPEC §3: `rejected → destroyed |
//! released`, `verified → sampled`), through [`crate::app::qa`] (the functions `tracemark qa …`
//! calls), and the release of a whole batch ([`crate::app::batches::release`], `tracemark batch
//! release`). Each write is the acting user's decision, in the audit chain with their name.

use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use tracemark_store::{Batch, Grade};
use utoipa::{IntoParams, ToSchema};

use crate::app::batches;
use crate::app::page::PageRequest;
use crate::app::qa::{self, RejectsPage};
use crate::http::auth::Caller;
use crate::http::problem::{ApiError, ApiJson, Problem};
use crate::http::state::ApiState;

/// Which rejects to list, and which page.
#[derive(Debug, Clone, Copy, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RejectsQuery {
    /// Also list the rejects already destroyed or released, with who settled them and when.
    #[serde(default)]
    pub all: bool,
    /// The page's number, from 1.
    pub page: Option<u32>,
    /// Items per page, 1 to 500.
    pub per_page: Option<u32>,
}

/// Rejected units to record as destroyed.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DestroyRequest {
    /// The codes (HRI), all rejected; none is changed unless all can be.
    pub codes: Vec<String>,
}

/// How many units were destroyed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Destroyed {
    /// Units now destroyed.
    pub destroyed: usize,
}

/// A rejected unit to release after a manual re-scan.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRequest {
    /// The code (HRI) of the rejected unit.
    pub code: String,
    /// What the verification scanner read (any GS1 form, e.g. `]d2…`).
    pub scan: String,
    /// The grade the scanner gave (A–D, F, or 0–4).
    pub grade: String,
}

/// A released unit.
#[derive(Debug, Serialize, ToSchema)]
pub struct Released {
    /// The code.
    pub code: String,
    /// The re-scan's grade.
    pub grade: Grade,
}

/// A unit to take as a QA sample.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SampleRequest {
    /// The code (HRI) of a verified unit.
    pub code: String,
}

/// A sampled unit.
#[derive(Debug, Serialize, ToSchema)]
pub struct Sampled {
    /// The code, now `sampled`.
    pub code: String,
}

/// A batch's rejects QA still has to settle (with `all`, those settled too).
#[utoipa::path(
    get,
    path = "/api/v1/batches/{id}/rejects",
    operation_id = "list_rejects",
    tag = "qa",
    params(("id" = i64, Path, description = "The batch number"), RejectsQuery),
    responses(
        (status = 200, description = "The rejects", body = RejectsPage),
        (status = 400, description = "A bad page", body = Problem),
        (status = 404, description = "No such batch", body = Problem),
    )
)]
pub async fn rejects(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
    Query(query): Query<RejectsQuery>,
) -> Result<axum::Json<RejectsPage>, ApiError> {
    let page = PageRequest {
        page: query.page,
        per_page: query.per_page,
    };
    Ok(axum::Json(
        qa::rejects_page(&state.store, id, query.all, page).await?,
    ))
}

/// Records rejected units as destroyed, all or none; their reject reason and read stay.
#[utoipa::path(
    post,
    path = "/api/v1/qa/destroy",
    operation_id = "destroy_rejects",
    tag = "qa",
    request_body = DestroyRequest,
    responses(
        (status = 200, description = "Destroyed", body = Destroyed),
        (status = 400, description = "A field is invalid", body = Problem),
        (status = 404, description = "No such code", body = Problem),
        (status = 409, description = "A code is not rejected", body = Problem),
    )
)]
pub async fn destroy(
    State(state): State<ApiState>,
    caller: Caller,
    ApiJson(request): ApiJson<DestroyRequest>,
) -> Result<axum::Json<Destroyed>, ApiError> {
    let actor = caller.actor;
    let destroyed = qa::destroy(&state.store, &actor, &request.codes).await?;
    Ok(axum::Json(Destroyed { destroyed }))
}

/// Releases a rejected unit after a manual re-scan: only when the scan reads this very code at
/// the product's minimum grade or better.
#[utoipa::path(
    post,
    path = "/api/v1/qa/release",
    operation_id = "release_reject",
    tag = "qa",
    request_body = ReleaseRequest,
    responses(
        (status = 200, description = "Released", body = Released),
        (status = 400, description = "A field is invalid (the scan, the grade)", body = Problem),
        (status = 404, description = "No such code", body = Problem),
    )
)]
pub async fn release(
    State(state): State<ApiState>,
    caller: Caller,
    ApiJson(request): ApiJson<ReleaseRequest>,
) -> Result<axum::Json<Released>, ApiError> {
    let actor = caller.actor;
    let grade = qa::release(
        &state.store,
        &actor,
        &request.code,
        &request.scan,
        &request.grade,
    )
    .await?;
    Ok(axum::Json(Released {
        code: request.code,
        grade,
    }))
}

/// Takes a verified unit out of the line as a QA sample.
#[utoipa::path(
    post,
    path = "/api/v1/qa/sample",
    operation_id = "sample_unit",
    tag = "qa",
    request_body = SampleRequest,
    responses(
        (status = 200, description = "Sampled", body = Sampled),
        (status = 400, description = "A field is invalid", body = Problem),
        (status = 404, description = "No such code", body = Problem),
        (status = 409, description = "The unit is not verified", body = Problem),
    )
)]
pub async fn sample(
    State(state): State<ApiState>,
    caller: Caller,
    ApiJson(request): ApiJson<SampleRequest>,
) -> Result<axum::Json<Sampled>, ApiError> {
    let actor = caller.actor;
    qa::sample(&state.store, &actor, &request.code).await?;
    Ok(axum::Json(Sampled { code: request.code }))
}

/// Releases a closed, balanced batch (SPEC §8): never by the user who started it (four eyes).
/// The batch then names who released it and when.
#[utoipa::path(
    post,
    path = "/api/v1/batches/{id}/release",
    operation_id = "release_batch",
    tag = "qa",
    params(("id" = i64, Path, description = "The batch number")),
    responses(
        (status = 200, description = "Released", body = Batch),
        (status = 403, description = "The caller started this batch", body = Problem),
        (status = 404, description = "No such batch", body = Problem),
        (status = 409, description = "Not closed, not balanced, or released already", body = Problem),
    )
)]
pub async fn release_batch(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<axum::Json<Batch>, ApiError> {
    let actor = caller.actor;
    Ok(axum::Json(
        batches::release(&state.store, &actor, id).await?,
    ))
}
