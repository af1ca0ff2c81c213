//! What every request handler shares.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::watch;
use tracemark_store::Store;

use super::access::AccessTable;
use crate::app::line_configs::LineConfigs;
use crate::app::line_control::RunningLine;
use crate::app::users::LoginLimiter;
use crate::commissioning::LiveView;
use crate::line::LineControl;

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
/// the process that runs the line, and the line's control when the process takes operators'
/// commands for it. Cloning shares them.
#[derive(Debug, Clone, Default)]
pub struct LiveLines {
    lines: Arc<BTreeMap<String, LiveLine>>,
}

#[derive(Debug, Clone)]
struct LiveLine {
    view: watch::Receiver<LiveView>,
    control: Option<LineControl>,
}

impl LiveLines {
    /// No line (`tracemark serve`).
    pub fn none() -> LiveLines {
        LiveLines::default()
    }

    /// These lines and `view`'s, under `line_id` (a line already there is replaced); shown
    /// only, no commands.
    pub fn with(self, line_id: &str, view: watch::Receiver<LiveView>) -> LiveLines {
        self.insert(
            line_id,
            LiveLine {
                view,
                control: None,
            },
        )
    }

    /// These lines and `view`'s, under `line_id`, taking operators' commands through
    /// `control` (pause, resume, stop, acknowledge: `app::line_control`).
    pub fn with_control(
        self,
        line_id: &str,
        view: watch::Receiver<LiveView>,
        control: LineControl,
    ) -> LiveLines {
        self.insert(
            line_id,
            LiveLine {
                view,
                control: Some(control),
            },
        )
    }

    fn insert(self, line_id: &str, line: LiveLine) -> LiveLines {
        let mut lines = Arc::unwrap_or_clone(self.lines);
        lines.insert(line_id.to_owned(), line);
        LiveLines {
            lines: Arc::new(lines),
        }
    }

    /// The watch of line `line_id`.
    pub fn get(&self, line_id: &str) -> Option<&watch::Receiver<LiveView>> {
        self.lines.get(line_id).map(|line| &line.view)
    }

    /// Line `line_id` as a command reaches it, when this process takes commands for it.
    pub fn running(&self, line_id: &str) -> Option<RunningLine<'_>> {
        let (id, line) = self.lines.get_key_value(line_id)?;
        Some(RunningLine {
            line_id: id,
            batch: line.view.borrow().batch,
            control: line.control.as_ref()?,
        })
    }

    /// The line of this process producing batch `batch`, if one is and takes commands.
    pub fn running_batch(&self, batch: i64) -> Option<RunningLine<'_>> {
        self.lines
            .keys()
            .filter_map(|id| self.running(id))
            .find(|line| line.batch == batch)
    }

    /// The first line by id (the one the page at `/` shows).
    pub fn first(&self) -> Option<&watch::Receiver<LiveView>> {
        self.lines.values().next().map(|line| &line.view)
    }

    /// Every line's current view, by line id.
    pub fn views(&self) -> Vec<LiveView> {
        self.lines
            .values()
            .map(|line| line.view.borrow().clone())
            .collect()
    }

    /// Whether there is no line.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}
