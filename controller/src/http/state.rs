//! What every request handler shares.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::watch;
use tracemark_store::Store;

use super::access::AccessTable;
use crate::app::line_configs::LineConfigs;
use crate::app::users::LoginLimiter;
use crate::commissioning::LiveView;

/// The server's shared state.
#[derive(Debug, Clone)]
pub struct ApiState {
    /// The store.
    pub store: Store,
    /// Failed logins, per user name and client.
    pub limiter: Arc<LoginLimiter>,
    /// Each route's access (from the OpenAPI document).
    pub access: Arc<AccessTable>,
    /// Served over TLS: cookies are `Secure`.
    pub tls: bool,
    /// The lines this process runs (`run --http`, `demo --http`); none for `serve`.
    pub lines: LiveLines,
    /// The line config files it shows the integrator (`serve --config`, `run`, `demo`).
    pub configs: LineConfigs,
}

/// The live lines a server shows, by line id: each a watch of its [`LiveView`], published by
/// the process that runs the line. Cloning shares them.
#[derive(Debug, Clone, Default)]
pub struct LiveLines {
    lines: Arc<BTreeMap<String, watch::Receiver<LiveView>>>,
}

impl LiveLines {
    /// No line (`tracemark serve`).
    pub fn none() -> LiveLines {
        LiveLines::default()
    }

    /// These lines and `view`'s, under `line_id` (a line already there is replaced).
    pub fn with(self, line_id: &str, view: watch::Receiver<LiveView>) -> LiveLines {
        let mut lines = Arc::unwrap_or_clone(self.lines);
        lines.insert(line_id.to_owned(), view);
        LiveLines {
            lines: Arc::new(lines),
        }
    }

    /// The watch of line `line_id`.
    pub fn get(&self, line_id: &str) -> Option<&watch::Receiver<LiveView>> {
        self.lines.get(line_id)
    }

    /// The first line by id (the one the page at `/` shows).
    pub fn first(&self) -> Option<&watch::Receiver<LiveView>> {
        self.lines.values().next()
    }

    /// Every line's current view, by line id.
    pub fn views(&self) -> Vec<LiveView> {
        self.lines
            .values()
            .map(|view| view.borrow().clone())
            .collect()
    }

    /// Whether there is no line.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}
