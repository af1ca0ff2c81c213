//! The line's live view over HTTP (`tracemark demo --http ADDR`): a page for a person at the
//! line, and the same figures as JSON for a script or a plant dashboard. Read-only: nothing
//! on the line can be changed from here.
//!
//! - `GET /` — the operator page (counts, marker state, alarm, rejects by reason as a chart);
//!   it polls the JSON twice a second.
//! - `GET /api/line` — [`LiveView`] as JSON.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::response::{Html, Json};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use crate::commissioning::LiveView;

const PAGE: &str = include_str!("page.html");

/// A running server.
#[derive(Debug)]
pub struct LiveServer {
    /// Where it listens.
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl LiveServer {
    /// Binds `addr` (port 0: any free port) and serves `view` until stopped or dropped.
    pub async fn start(addr: SocketAddr, view: watch::Receiver<LiveView>) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let app = Router::new()
            .route("/", get(page))
            .route("/api/line", get(line))
            .with_state(view);
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "the live view server stopped");
            }
        });
        Ok(Self { addr, task })
    }

    /// Stops serving (as dropping it does).
    pub fn stop(self) {}
}

impl Drop for LiveServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn page() -> Html<&'static str> {
    Html(PAGE)
}

async fn line(State(view): State<watch::Receiver<LiveView>>) -> Json<LiveView> {
    Json(view.borrow().clone())
}
