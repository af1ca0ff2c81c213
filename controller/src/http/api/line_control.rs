//! `/api/v1/lines/{id}/{pause,resume,stop,acknowledge}`: an operator's commands to a line this
//! process runs (SPEC §8; `app::line_control`). Each answers once the line has carried the
//! command out, with where the line is then; a command the line's state refuses is a 409 that
//! changed nothing.

use axum::extract::{Path, State};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::app::AppError;
use crate::app::line_control::{self, RunningLine};
use crate::http::auth::Caller;
use crate::http::problem::{ApiError, ApiJson, Problem};
use crate::http::state::ApiState;
use crate::line::{LineCommand, LineMode};

/// Why the operator pauses or stops the line.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    /// In the operator's words, one line of at most 200 characters (it goes into the audit
    /// chain with their name).
    pub reason: String,
}

fn running(state: &ApiState, id: String) -> Result<RunningLine<'_>, AppError> {
    state
        .lines
        .running(&id)
        .ok_or(AppError::NotFound { what: "line", id })
}

/// Pauses the line: the belt is held (the PLC's line stop), the stack light amber, the batch
/// paused; the units on the belt stay tracked.
#[utoipa::path(
    post,
    path = "/api/v1/lines/{id}/pause",
    operation_id = "pause_line",
    tag = "lines",
    params(("id" = String, Path, description = "The line id")),
    request_body = Reason,
    responses(
        (status = 200, description = "The line is paused", body = LineMode),
        (status = 400, description = "No reason, or too long", body = Problem),
        (status = 404, description = "This process runs no such line", body = Problem),
        (status = 409, description = "The line is stopping", body = Problem),
    )
)]
pub async fn pause(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Reason>,
) -> Result<axum::Json<LineMode>, ApiError> {
    let line = running(&state, id)?;
    let command = LineCommand::Pause {
        reason: body.reason,
    };
    let mode = line_control::command(&state.store, &caller.actor, line, command).await?;
    Ok(axum::Json(mode))
}

/// Lets a paused line run again, the batch running.
#[utoipa::path(
    post,
    path = "/api/v1/lines/{id}/resume",
    operation_id = "resume_line",
    tag = "lines",
    params(("id" = String, Path, description = "The line id")),
    responses(
        (status = 200, description = "The line runs", body = LineMode),
        (status = 404, description = "This process runs no such line", body = Problem),
        (status = 409, description = "Not paused, or an alarm holds the line", body = Problem),
    )
)]
pub async fn resume(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<LineMode>, ApiError> {
    let line = running(&state, id)?;
    let mode =
        line_control::command(&state.store, &caller.actor, line, LineCommand::Resume).await?;
    Ok(axum::Json(mode))
}

/// Ends the line's run: printing stops, the belt drains past the gate, unprinted codes are
/// voided (as Ctrl-C on `tracemark run`). The batch stays open for closing.
#[utoipa::path(
    post,
    path = "/api/v1/lines/{id}/stop",
    operation_id = "stop_line",
    tag = "lines",
    params(("id" = String, Path, description = "The line id")),
    request_body = Reason,
    responses(
        (status = 200, description = "The line is stopping", body = LineMode),
        (status = 400, description = "No reason, or too long", body = Problem),
        (status = 404, description = "This process runs no such line", body = Problem),
        (status = 409, description = "The run has ended", body = Problem),
    )
)]
pub async fn stop(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Reason>,
) -> Result<axum::Json<LineMode>, ApiError> {
    let line = running(&state, id)?;
    let command = LineCommand::Stop {
        reason: body.reason,
    };
    let mode = line_control::command(&state.store, &caller.actor, line, command).await?;
    Ok(axum::Json(mode))
}

/// Acknowledges the alarm that stopped the line: the marker is restarted if it can be, then the
/// belt runs (unless the line is paused).
#[utoipa::path(
    post,
    path = "/api/v1/lines/{id}/acknowledge",
    operation_id = "acknowledge_line_alarm",
    tag = "lines",
    params(("id" = String, Path, description = "The line id")),
    responses(
        (status = 200, description = "Acknowledged: the line restarts", body = LineMode),
        (status = 404, description = "This process runs no such line", body = Problem),
        (status = 409, description = "No alarm holds the line", body = Problem),
    )
)]
pub async fn acknowledge(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<LineMode>, ApiError> {
    let line = running(&state, id)?;
    let command = LineCommand::Acknowledge;
    let mode = line_control::command(&state.store, &caller.actor, line, command).await?;
    Ok(axum::Json(mode))
}
