//! `/api/v1/batches`: the batches, their life cycle and reconciliation, through
//! [`crate::app::batches`] (the same functions `tracemark batch …` calls).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use tracemark_store::{Batch, BatchState, NewBatch};
use utoipa::ToSchema;

use crate::app::batches::{self, BatchReport};
use crate::app::line_control;
use crate::app::page::{Page, PageRequest};
use crate::http::auth::Caller;
use crate::http::problem::{ApiError, ApiJson, Problem};
use crate::http::state::ApiState;

/// A batch to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBatchRequest {
    /// The product (its id in the master data).
    pub product_id: String,
    /// 批次号, GS1 AI (10): up to 20 characters of GS1 set 82.
    pub lot: String,
    /// Planned number of units.
    pub quantity: i64,
    /// 生产日期, `YYYY-MM-DD`.
    pub production_date: String,
    /// Expiry date, `YYYY-MM-DD`.
    pub expiry_date: Option<String>,
    /// The line that produces it.
    pub line: Option<String>,
}

/// A batch's next state.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StateChange {
    /// `running` (start, resume), `paused` or `closed`.
    pub state: BatchState,
    /// Why, for a pause of a batch a line of this process is producing (the line is paused
    /// with it; `POST /api/v1/lines/{id}/pause`). At most 200 characters.
    #[serde(default)]
    pub reason: Option<String>,
}

/// The batches, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/batches",
    operation_id = "list_batches",
    tag = "batches",
    params(PageRequest),
    responses(
        (status = 200, description = "A page of batches", body = Page<Batch>),
        (status = 400, description = "A bad page", body = Problem),
    )
)]
pub async fn list(
    State(state): State<ApiState>,
    Query(page): Query<PageRequest>,
) -> Result<axum::Json<Page<Batch>>, ApiError> {
    Ok(axum::Json(batches::list_page(&state.store, page).await?))
}

/// One batch.
#[utoipa::path(
    get,
    path = "/api/v1/batches/{id}",
    operation_id = "get_batch",
    tag = "batches",
    params(("id" = i64, Path, description = "The batch number")),
    responses(
        (status = 200, description = "The batch", body = Batch),
        (status = 404, description = "No such batch", body = Problem),
    )
)]
pub async fn get(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> Result<axum::Json<Batch>, ApiError> {
    Ok(axum::Json(batches::get(&state.store, id).await?))
}

/// A batch and its reconciliation: every code and package accounted for (SPEC §3).
#[utoipa::path(
    get,
    path = "/api/v1/batches/{id}/report",
    operation_id = "batch_report",
    tag = "batches",
    params(("id" = i64, Path, description = "The batch number")),
    responses(
        (status = 200, description = "The report", body = BatchReport),
        (status = 404, description = "No such batch", body = Problem),
    )
)]
pub async fn report(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> Result<axum::Json<BatchReport>, ApiError> {
    Ok(axum::Json(batches::report(&state.store, id).await?))
}

/// Registers a batch.
#[utoipa::path(
    post,
    path = "/api/v1/batches",
    operation_id = "create_batch",
    tag = "batches",
    request_body = NewBatchRequest,
    responses(
        (status = 201, description = "Registered", body = Batch),
        (status = 400, description = "A field is invalid", body = Problem),
        (status = 404, description = "No such product", body = Problem),
    )
)]
pub async fn create(
    State(state): State<ApiState>,
    caller: Caller,
    ApiJson(request): ApiJson<NewBatchRequest>,
) -> Result<(StatusCode, axum::Json<Batch>), ApiError> {
    let batch = NewBatch {
        product_id: request.product_id,
        lot: request.lot,
        quantity: request.quantity,
        production_date: request.production_date,
        expiry_date: request.expiry_date,
        line: request.line,
        simulated: false,
    };
    let actor = caller.actor;
    let created = batches::create(&state.store, &actor, &batch).await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

/// Starts, pauses, resumes or closes a batch (closing voids its unprinted codes and closes its
/// open packages short). A batch a line of this process is producing pauses and resumes with
/// its line, and is closed only once the line has stopped (409).
#[utoipa::path(
    post,
    path = "/api/v1/batches/{id}/state",
    operation_id = "set_batch_state",
    tag = "batches",
    params(("id" = i64, Path, description = "The batch number")),
    request_body = StateChange,
    responses(
        (status = 200, description = "The batch in its new state", body = Batch),
        (status = 400, description = "A field is invalid", body = Problem),
        (status = 404, description = "No such batch", body = Problem),
        (status = 409, description = "The batch cannot go to that state", body = Problem),
    )
)]
pub async fn set_state(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(change): ApiJson<StateChange>,
) -> Result<axum::Json<Batch>, ApiError> {
    let running = state.lines.running_batch(id);
    let batch = line_control::set_batch_state(
        &state.store,
        &caller.actor,
        running,
        id,
        change.state,
        change.reason.as_deref(),
    )
    .await?;
    Ok(axum::Json(batch))
}
