//! `/api/v1/lines`: the lines this process runs (`tracemark run --http`, `demo --http`), as
//! they are now, and as a stream of server-sent events (the WHATWG HTML Living Standard
//! §9.2, `text/event-stream`) for the HMI and a plant dashboard.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde_json::json;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::app::AppError;
use crate::app::page::{Page, PageRequest};
use crate::commissioning::LiveView;
use crate::http::problem::{ApiError, Problem};
use crate::http::state::ApiState;

/// The shortest time between two `state` events of one stream: a line publishes up to ten
/// views a second, and two hundred browsers each sent every one would cost the process that
/// runs the line; four a second is as fast as a person reads a counter.
pub const EVENT_PERIOD: Duration = Duration::from_millis(250);

/// How often an idle stream sends a keep-alive comment, so proxies and browsers keep it open.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The live lines, by line id.
#[utoipa::path(
    get,
    path = "/api/v1/lines",
    operation_id = "list_lines",
    tag = "lines",
    params(PageRequest),
    responses(
        (status = 200, description = "A page of the lines this process runs, as they are now",
         body = Page<LiveView>),
        (status = 400, description = "A bad page", body = Problem),
    )
)]
pub async fn list(
    State(state): State<ApiState>,
    Query(page): Query<PageRequest>,
) -> Result<axum::Json<Page<LiveView>>, ApiError> {
    Ok(axum::Json(page.slice(state.lines.views())?))
}

/// One live line as it is now.
#[utoipa::path(
    get,
    path = "/api/v1/lines/{id}",
    operation_id = "get_line",
    tag = "lines",
    params(("id" = String, Path, description = "The line id")),
    responses(
        (status = 200, description = "The line", body = LiveView),
        (status = 404, description = "This process runs no such line", body = Problem),
    )
)]
pub async fn get(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<axum::Json<LiveView>, ApiError> {
    Ok(axum::Json(watch_of(&state, id)?.borrow().clone()))
}

/// A live line's state, counts and alarms as server-sent events: `state` (the line, as
/// `get_line` answers) on connecting and then on every change, at most four a second (the
/// latest view; those in between are skipped); `alarm` (`{"line_id", "alarm"}`) when the alarm
/// text changes; a keep-alive comment every 15 s. The stream ends when the line's process
/// stops publishing.
#[utoipa::path(
    get,
    path = "/api/v1/lines/{id}/events",
    operation_id = "line_events",
    tag = "lines",
    params(("id" = String, Path, description = "The line id")),
    responses(
        (status = 200, description = "`text/event-stream`: events `state` and `alarm`",
         content_type = "text/event-stream", body = String),
        (status = 404, description = "This process runs no such line", body = Problem),
    )
)]
pub async fn events(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let view = watch_of(&state, id)?.clone();
    let stream = futures_util::stream::unfold(LineEvents::new(view), |mut events| async move {
        events
            .next()
            .await
            .map(|event| (Ok::<_, Infallible>(event), events))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

fn watch_of(state: &ApiState, id: String) -> Result<&watch::Receiver<LiveView>, AppError> {
    state
        .lines
        .get(&id)
        .ok_or(AppError::NotFound { what: "line", id })
}

/// One client's events of one line.
#[derive(Debug)]
struct LineEvents {
    view: watch::Receiver<LiveView>,
    /// When the next `state` event may go (none sent yet: at once).
    next_at: Option<Instant>,
    /// The alarm last told.
    alarm: Option<String>,
    /// Events made and not yet sent.
    ready: VecDeque<Event>,
}

impl LineEvents {
    fn new(view: watch::Receiver<LiveView>) -> LineEvents {
        LineEvents {
            view,
            next_at: None,
            alarm: None,
            ready: VecDeque::new(),
        }
    }

    /// The next event; `None` when the line is gone.
    async fn next(&mut self) -> Option<Event> {
        if let Some(event) = self.ready.pop_front() {
            return Some(event);
        }
        let view = match self.next_at {
            // On connecting: the view as it is, whatever was published before.
            None => {
                let view = self.view.borrow_and_update().clone();
                self.alarm.clone_from(&view.line.alarm);
                view
            }
            Some(at) => {
                tokio::time::sleep_until(at).await;
                // Err: the publisher is gone and its last view was sent already.
                self.view.changed().await.ok()?;
                let view = self.view.borrow_and_update().clone();
                if view.line.alarm != self.alarm {
                    self.alarm.clone_from(&view.line.alarm);
                    self.ready.push_back(alarm_event(&view));
                }
                view
            }
        };
        self.next_at = Some(Instant::now() + EVENT_PERIOD);
        self.ready.push_back(state_event(&view));
        self.ready.pop_front()
    }
}

fn state_event(view: &LiveView) -> Event {
    json_event("state", view)
}

fn alarm_event(view: &LiveView) -> Event {
    json_event(
        "alarm",
        &json!({"line_id": view.line_id, "alarm": view.line.alarm}),
    )
}

fn json_event(name: &str, data: &impl serde::Serialize) -> Event {
    Event::default()
        .event(name)
        .json_data(data)
        // A view is plain data: serialising it does not fail; should it, the client sees why.
        .unwrap_or_else(|e| Event::default().comment(format!("unserialisable {name}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The guard against a hung test; the stream's own pace is [`EVENT_PERIOD`].
    const GUARD: Duration = Duration::from_secs(10);

    async fn next(events: &mut LineEvents) -> Option<Event> {
        tokio::time::timeout(GUARD, events.next())
            .await
            .expect("an event within the guard")
    }

    fn text(event: &Event) -> String {
        format!("{event:?}")
    }

    #[tokio::test]
    async fn a_stream_tells_the_state_then_changes_and_alarms_coalesced() {
        let (line, view) = watch::channel(LiveView::new("line-1", 7, false, 100));
        let mut events = LineEvents::new(view);
        let first = next(&mut events).await.expect("the state on connecting");
        assert!(text(&first).contains("state"), "{first:?}");
        // Three changes before the stream may speak again: one state, the latest.
        for printed in 1..=3 {
            line.send_modify(|view| view.line.printed = printed);
        }
        line.send_modify(|view| view.line.alarm = Some("too many rejects in a row".into()));
        let started = Instant::now();
        let alarm = next(&mut events).await.expect("the alarm");
        assert!(
            started.elapsed() + Duration::from_millis(5) >= EVENT_PERIOD,
            "paced"
        );
        assert!(text(&alarm).contains("too many rejects"), "{alarm:?}");
        let state = next(&mut events).await.expect("the state");
        assert!(text(&state).contains(r#"\"printed\":3"#), "{state:?}");
        drop(line);
        assert!(next(&mut events).await.is_none(), "the line is gone");
    }
}
