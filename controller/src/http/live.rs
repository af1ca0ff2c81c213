//! The live line (`tracemark demo --http`, `tracemark run --http … --line-page`): a page for a
//! person at the line, and its figures as JSON for the page to poll. Read-only: nothing on the
//! line can be changed from here. The same views are in the API for logged-in users
//! (`/api/v1/lines`, with server-sent events: [`super::api::lines`]) and in `/metrics`.
//!
//! - `GET /live` — the line page (counts, marker state, alarm, rejects by reason as a chart);
//!   it polls `/api/line` twice a second.
//! - `GET /api/line` — the first line's [`LiveView`] as JSON.
//!
//! These two answer without a login (they are not API operations, as the OpenAPI document is
//! not): they show a line's counters only, the figures a screen at the line shows anyone
//! standing there. A server serves them only when asked to ([`super::server::LiveOptions`]).

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Json, Response};
use axum::routing::get;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

pub use crate::commissioning::LiveView;
use crate::line::LineStats;

use super::state::LiveLines;

const PAGE: &str = include_str!("page.html");

/// How often a line runtime's counters are taken into its view at most: the runtime publishes
/// after every event (thousands a second), the page and the API need a few a second.
pub const FOLLOW_PERIOD: Duration = Duration::from_millis(100);

/// The page at `/live` and the first line's view at `/api/line`, without login.
pub fn page_routes(lines: LiveLines) -> Router {
    Router::new()
        .route("/live", get(page))
        .route("/api/line", get(first_line))
        .with_state(lines)
}

async fn page() -> Html<&'static str> {
    Html(PAGE)
}

async fn first_line(State(lines): State<LiveLines>) -> Response {
    match lines.first() {
        Some(view) => Json(view.borrow().clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Keeps `view` up to date with a line runtime's counters (`tracemark run`), at most every
/// [`FOLLOW_PERIOD`], until the runtime has published its last figures.
pub async fn follow_runtime(mut stats: watch::Receiver<LineStats>, view: watch::Sender<LiveView>) {
    let mut pace = tokio::time::interval(FOLLOW_PERIOD);
    pace.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        pace.tick().await;
        // Err: the runtime ended and its last figures were taken already.
        if stats.changed().await.is_err() {
            return;
        }
        let latest = stats.borrow_and_update().clone();
        view.send_if_modified(|view| view.observe_runtime(&latest));
    }
}
