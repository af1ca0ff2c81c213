//! Live lines in the API (issue 16) on both stores, with a line whose view the test drives
//! through its watch: `/api/v1/lines` and `/api/v1/lines/{id}` answer a logged-in user with
//! the view as it is; the line's server-sent events give its state on connecting and again
//! after a change, and an `alarm` event when the alarm changes; `/metrics` is the Prometheus
//! text format with the line's counters and the upload outbox, behind a bearer token; the
//! line page and `/api/line` answer without login when asked for.

#[macro_use]
mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use serde_json::Value;
use tokio::sync::watch;
use tracemark::app::users::{self, Role};
use tracemark::app::{batches, uploads};
use tracemark::http::server::{HttpServer, LiveOptions, ServeOptions};
use tracemark::http::{LiveLines, LiveView};
use tracemark_store::upload::UploadFormat;
use tracemark_store::{BatchState, Store};

/// Guard against a hung test; never a synchronisation point.
const GUARD: Duration = Duration::from_secs(20);
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

async fn serve(store: Store, view: watch::Receiver<LiveView>, public_page: bool) -> HttpServer {
    HttpServer::start_live(
        store,
        ServeOptions {
            addr: "127.0.0.1:0".parse().expect("an address"),
            tls: None,
        },
        LiveOptions {
            lines: LiveLines::none().with("line-1", view),
            public_page,
            ..LiveOptions::default()
        },
    )
    .await
    .expect("serve")
}

/// A QA user (any role reads) and a bearer token of theirs.
async fn token(store: &Store) -> String {
    users::add_user(store, &actor(), "viewer", Role::Qa, "correct horse battery")
        .await
        .expect("add a user");
    users::create_token(store, &actor(), "viewer", None)
        .await
        .expect("make a token")
        .token
}

/// An upload target `erp` and a closed batch: one delivery pending in the outbox.
async fn pending_delivery(store: &Store, dir: &Path) {
    let secret = dir.join("erp.secret");
    std::fs::write(&secret, SECRET).expect("write the secret");
    uploads::add_target(
        store,
        &actor(),
        uploads::NewTarget {
            name: "erp".into(),
            // Nothing delivers in this test: the delivery stays pending.
            url: "http://127.0.0.1:9/epcis".into(),
            format: UploadFormat::EpcisJson,
            secret_file: Some(secret),
            ed25519_key_file: None,
            ca_file: None,
            gzip: false,
        },
    )
    .await
    .expect("add the target");
    store
        .add_product(&product("p", "09506000134352"))
        .await
        .expect("add the product");
    let batch = running_batch(store, "p", 10).await;
    batches::set_state(store, &actor(), batch.id, BatchState::Closed)
        .await
        .expect("close the batch");
}

fn line_view() -> LiveView {
    LiveView::new("line-1", 7, false, 100)
}

/// One server-sent event: its name and its data as JSON.
#[derive(Debug)]
struct Event {
    name: String,
    data: Value,
}

/// Reads server-sent events off a response body (WHATWG HTML §9.2.6: fields up to a blank
/// line; comments, the keep-alives, start with `:`).
struct Events<S> {
    body: S,
    text: String,
}

impl<S, B> Events<S>
where
    S: futures_util::Stream<Item = reqwest::Result<B>> + Unpin,
    B: AsRef<[u8]>,
{
    async fn next(&mut self) -> Event {
        loop {
            if let Some(end) = self.text.find("\n\n") {
                let block: String = self.text.drain(..end + 2).collect();
                let mut name = String::from("message");
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("event:") {
                        name = value.trim().to_owned();
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data.push_str(value.trim_start());
                    }
                }
                if data.is_empty() {
                    continue; // a keep-alive comment
                }
                let data = serde_json::from_str(&data).expect("JSON data");
                return Event { name, data };
            }
            let chunk = tokio::time::timeout(GUARD, self.body.next())
                .await
                .expect("an event within the guard")
                .expect("the stream goes on")
                .expect("a chunk");
            self.text
                .push_str(std::str::from_utf8(chunk.as_ref()).expect("UTF-8"));
        }
    }
}

async fn a_logged_in_user_sees_the_lines_and_follows_their_events(store: Store) {
    let (line, view) = watch::channel(line_view());
    let token = token(&store).await;
    let server = serve(store, view, false).await;
    let base = server.url();
    let client = reqwest::Client::new();

    let response = client
        .get(format!("{base}/api/v1/lines"))
        .send()
        .await
        .expect("a response");
    assert_eq!(response.status().as_u16(), 401, "the lines need a login");
    let lines: Value = client
        .get(format!("{base}/api/v1/lines"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("a response")
        .json()
        .await
        .expect("JSON");
    assert_eq!(lines["total"], 1, "{lines}");
    assert_eq!(lines["items"][0]["line_id"], "line-1", "{lines}");
    assert_eq!(lines["items"][0]["batch"], 7, "{lines}");

    line.send_modify(|view| {
        view.line.printed = 3;
    });
    let one: Value = client
        .get(format!("{base}/api/v1/lines/line-1"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("a response")
        .json()
        .await
        .expect("JSON");
    assert_eq!(one["line"]["printed"], 3, "{one}");
    let response = client
        .get(format!("{base}/api/v1/lines/line-2"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("a response");
    assert_eq!(response.status().as_u16(), 404);
    let problem: Value = response.json().await.expect("a problem");
    assert_eq!(problem["field"], "line", "{problem}");

    // The events: the state on connecting, then the new counts after a change.
    let response = client
        .get(format!("{base}/api/v1/lines/line-1/events"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("a response");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    let mut events = Events {
        body: response.bytes_stream(),
        text: String::new(),
    };
    let first = events.next().await;
    assert_eq!(first.name, "state", "{first:?}");
    assert_eq!(first.data["line"]["printed"], 3, "{first:?}");
    line.send_modify(|view| {
        view.line.printed = 5;
        view.line.verified = 4;
        view.line.alarm = Some("marker faulted: ink out".into());
        view.stopped = true;
    });
    let alarm = events.next().await;
    assert_eq!(alarm.name, "alarm", "{alarm:?}");
    assert_eq!(alarm.data["alarm"], "marker faulted: ink out", "{alarm:?}");
    assert_eq!(alarm.data["line_id"], "line-1", "{alarm:?}");
    let state = events.next().await;
    assert_eq!(state.name, "state", "{state:?}");
    assert_eq!(state.data["line"]["printed"], 5, "{state:?}");
    assert_eq!(state.data["line"]["verified"], 4, "{state:?}");
    assert_eq!(state.data["stopped"], true, "{state:?}");
}
both!(a_logged_in_user_sees_the_lines_and_follows_their_events);

async fn metrics_are_prometheus_text_behind_a_bearer_token(store: Store) {
    let dir = tempdir();
    pending_delivery(&store, dir.path()).await;
    let (line, view) = watch::channel(line_view());
    line.send_modify(|view| {
        view.line.printed = 12;
        view.line.rejected.insert("no_read".into(), 2);
        view.line.marker = "connected".into();
    });
    let token = token(&store).await;
    let server = serve(store, view, false).await;
    let base = server.url();
    let client = reqwest::Client::new();

    let response = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("a response");
    assert_eq!(response.status().as_u16(), 401, "metrics need a token");
    let response = client
        .get(format!("{base}/metrics"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("a response");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = response.text().await.expect("text");
    let lines: Vec<&str> = text.lines().collect();
    for expected in [
        "# TYPE tracemark_line_printed_total counter",
        "tracemark_line_printed_total{line=\"line-1\"} 12",
        "tracemark_line_rejected_total{line=\"line-1\",reason=\"no_read\"} 2",
        "tracemark_device_state{line=\"line-1\",device=\"marker\",state=\"connected\"} 1",
        "# TYPE tracemark_upload_outbox gauge",
        "tracemark_upload_outbox{target=\"erp\",state=\"pending\"} 1",
        "tracemark_upload_outbox{target=\"erp\",state=\"failed\"} 0",
        "tracemark_batches{state=\"closed\"} 1",
    ] {
        assert!(lines.contains(&expected), "{expected:?} not in\n{text}");
    }
    // Every sample line parses as `name{labels} value`.
    for sample in lines.iter().filter(|l| !l.starts_with('#')) {
        let (series, value) = sample.rsplit_once(' ').expect("name and value");
        assert!(value.parse::<f64>().is_ok(), "{sample}");
        assert!(series.starts_with("tracemark_"), "{sample}");
    }
}
both!(metrics_are_prometheus_text_behind_a_bearer_token);

/// Needs no user: the public page and the login the rest needs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_line_page_needs_no_login_and_the_rest_does() {
    let dir = tempdir();
    let store = open(&sqlite_url(dir.path())).await;
    let (line, view) = watch::channel(line_view());
    let server = serve(store.clone(), view, true).await;
    let base = server.url();
    let client = reqwest::Client::new();
    line.send_modify(|view| view.line.verified = 9);
    let page = client
        .get(format!("{base}/live"))
        .send()
        .await
        .expect("GET /live")
        .text()
        .await
        .expect("the page");
    assert!(page.contains("/api/line"), "{page}");
    let view: Value = client
        .get(format!("{base}/api/line"))
        .send()
        .await
        .expect("GET /api/line")
        .json()
        .await
        .expect("JSON");
    assert_eq!(view["line"]["verified"], 9, "{view}");
    for path in [
        "/api/v1/lines",
        "/api/v1/lines/line-1",
        "/api/v1/lines/line-1/events",
        "/metrics",
    ] {
        let response = client
            .get(format!("{base}{path}"))
            .send()
            .await
            .expect("a response");
        assert_eq!(response.status().as_u16(), 401, "{path}");
    }
    drop(server);

    // Without the page: `/` is no route.
    let (_line, view) = watch::channel(line_view());
    let server = serve(store, view, false).await;
    let response = client
        .get(format!("{}/api/line", server.url()))
        .send()
        .await
        .expect("a response");
    assert_eq!(response.status().as_u16(), 404);
}
