//! The integrator's page (`/integrator`, SPEC §8): the line configs this server knows with
//! their validation errors, each device's state, and a probe per device with every step's
//! round trip. Every logged-in user sees the devices (the API's `list_devices` is for every
//! role); the configs' text and errors and the probe buttons only an integrator, as the API's
//! `list_line_configs` and `probe_device` allow. The probe is the page's script calling the
//! API (`/hmi/integrator.js`).

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;

use super::{Chrome, page_user, render};
use crate::app::line_configs::{self, ConfigCheck, DeviceState, LineRun};
use crate::app::permissions::INTEGRATE;
use crate::http::state::ApiState;

const JS: &str = include_str!("assets/integrator.js");

/// A device and the key of the words for its line's run.
struct DeviceRow {
    d: DeviceState,
    run: &'static str,
}

#[derive(askama::Template)]
#[template(path = "hmi/integrator.html")]
struct IntegratorPage {
    c: Chrome,
    /// The user may see the configs and probe (the integrator role).
    integrate: bool,
    /// The server was given any config.
    any_config: bool,
    configs: Vec<ConfigCheck>,
    devices: Vec<DeviceRow>,
}

/// The page, every config read and validated again now.
pub(super) async fn page(State(state): State<ApiState>, jar: CookieJar) -> Response {
    let user = match page_user(&state, &jar).await {
        Ok(user) => user,
        Err(to_login) => return to_login,
    };
    let integrate = INTEGRATE.contains(&user.role);
    let live = state.lines.views();
    let checks = line_configs::check_all(&state.configs, &live);
    let devices = checks
        .iter()
        .flat_map(|check| check.devices.iter().cloned())
        .map(|d| DeviceRow {
            run: match d.line {
                LineRun::NotRunning => "device_not_running",
                LineRun::Running => "device_line_running",
                LineRun::Finished => "device_run_ended",
            },
            d,
        })
        .collect();
    render(&IntegratorPage {
        c: Chrome::new(&user, "integrator"),
        integrate,
        any_config: !checks.is_empty(),
        // Text and errors are the integrator's (`list_line_configs`): others see devices only.
        configs: if integrate { checks } else { Vec::new() },
        devices,
    })
}

/// The page's script.
pub(super) async fn js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        JS,
    )
}
