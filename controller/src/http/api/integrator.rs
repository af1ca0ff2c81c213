//! `/api/v1/line-configs` and `/api/v1/devices` (SPEC §8, the integrator's job): the line
//! configs this server was given with their validation errors, each device's state, and a
//! probe of one device with every step's round trip — through [`crate::app::line_configs`],
//! the same validation as `tracemark config validate` and the same probe as `tracemark driver
//! probe`.

use axum::extract::{Path, Query, State};

use crate::app::AppError;
use crate::app::line_configs::{self, ConfigCheck, DeviceState, ProbeRequest};
use crate::app::page::{Page, PageRequest};
use crate::http::problem::{ApiError, ApiJson, Problem};
use crate::http::state::ApiState;
use crate::probe::Report;

/// The line configs this server shows (`serve --config`, the config of `run --http` and `demo
/// --http`), each read and validated again now: its text, every error with its key path, its
/// devices and their states.
#[utoipa::path(
    get,
    path = "/api/v1/line-configs",
    operation_id = "list_line_configs",
    tag = "integrator",
    params(PageRequest),
    responses(
        (status = 200, description = "A page of the configs, validated now",
         body = Page<ConfigCheck>),
        (status = 400, description = "A bad page", body = Problem),
    )
)]
pub async fn configs(
    State(state): State<ApiState>,
    Query(page): Query<PageRequest>,
) -> Result<axum::Json<Page<ConfigCheck>>, ApiError> {
    let live = state.lines.views();
    Ok(axum::Json(
        page.slice(line_configs::check_all(&state.configs, &live))?,
    ))
}

/// Every marker and PLC of the valid configs, with its state: live from the line when this
/// process runs it (the marker's state in words, the line's alarm), otherwise `not_running`.
#[utoipa::path(
    get,
    path = "/api/v1/devices",
    operation_id = "list_devices",
    tag = "integrator",
    params(PageRequest),
    responses(
        (status = 200, description = "A page of the devices", body = Page<DeviceState>),
        (status = 400, description = "A bad page", body = Problem),
    )
)]
pub async fn devices(
    State(state): State<ApiState>,
    Query(page): Query<PageRequest>,
) -> Result<axum::Json<Page<DeviceState>>, ApiError> {
    let live = state.lines.views();
    Ok(axum::Json(page.slice(line_configs::device_states(
        &state.configs,
        &live,
    ))?))
}

/// Probes one device as `tracemark driver probe --json` does: a marker is connected, read,
/// stopped, given the test code, read again and cleared (nothing prints; it is left stopped);
/// a PLC is polled once and nothing written. The answer is the probe's report, each step with
/// its round trip in `ms`; a device that fails a step is still a 200 with `ok: false`, the
/// error and a hint. Refused with 409: a marker of a line this process is running now, a config
/// with errors, a device being probed already.
#[utoipa::path(
    post,
    path = "/api/v1/line-configs/{config}/devices/{device}/probe",
    operation_id = "probe_device",
    tag = "integrator",
    params(
        ("config" = usize, Path, description = "The config's index in `list_line_configs`"),
        ("device" = String, Path,
         description = "`markers.NAME`, `plcs.NAME`, or a name only one table has"),
    ),
    request_body = ProbeRequest,
    responses(
        (status = 200, description = "The probe's report: `device`, `kind`, `transport`, \
         `steps` (each `step`, `ok`, `ms`, `detail`, `error`, `hint`), `ok`, `error`, `hint`",
         body = Object),
        (status = 400, description = "A bad timeout, code or device name", body = Problem),
        (status = 404, description = "No such config", body = Problem),
        (status = 409, description = "The marker's line is running, the config has errors, or \
         the device is being probed already", body = Problem),
    )
)]
pub async fn probe(
    State(state): State<ApiState>,
    Path((config, device)): Path<(String, String)>,
    ApiJson(request): ApiJson<ProbeRequest>,
) -> Result<axum::Json<Report>, ApiError> {
    // Parsed here rather than by the extractor, so a bad index is a problem naming `config`.
    let index: usize = config.parse().map_err(|_| {
        AppError::input(
            "config",
            format!("{config:?} is not a config's index (0, 1, …)"),
        )
    })?;
    let live = state.lines.views();
    Ok(axum::Json(
        line_configs::probe(&state.configs, &live, index, &device, &request).await?,
    ))
}
