//! An operator pauses, resumes and stops a running line through the API (issue 16; SPEC §8),
//! on both stacks, on `tracemark demo --http`: the pause holds the twin's belt (its ground
//! truth says stopped) with the batch paused, the resume lets the count rise again, and the
//! stop with a reason ends the run early with every code accounted for (the twin's ground truth
//! agrees, no unit left before the gate); the audit chain holds each command with the operator
//! and the reason.

use std::time::Duration;

use serde_json::{Value, json};
use tracemark::app::audit;
use tracemark::app::users::{self, Role};
use tracemark_line_tests::common::actor;
use tracemark_line_tests::{Stack, one_line_at_a_time};
use tracemark_store::BatchState;

/// Two minutes at 3,000 a minute: far more than the test lets it make before its stop.
const UNITS: u64 = 6000;
/// Guard against a hung run; never a synchronisation point.
const GUARD: Duration = Duration::from_secs(60);

/// The line's `state` events, as views.
struct States {
    response: reqwest::Response,
    text: String,
}

impl States {
    async fn open(base: &str, line: &str, token: &str) -> States {
        let response = reqwest::Client::new()
            .get(format!("{base}api/v1/lines/{line}/events"))
            .bearer_auth(token)
            .send()
            .await
            .expect("the event stream");
        assert_eq!(response.status().as_u16(), 200);
        States {
            response,
            text: String::new(),
        }
    }

    /// The next `state` event's view.
    async fn next(&mut self) -> Value {
        loop {
            if let Some(end) = self.text.find("\n\n") {
                let event: String = self.text.drain(..end + 2).collect();
                if event.lines().any(|l| l == "event: state")
                    && let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: "))
                {
                    return serde_json::from_str(data).expect("a JSON view");
                }
                continue;
            }
            let chunk = self
                .response
                .chunk()
                .await
                .expect("a chunk")
                .expect("the stream goes on");
            self.text
                .push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
        }
    }

    /// The first view `until` accepts.
    async fn until(&mut self, what: &str, until: impl Fn(&Value) -> bool) -> Value {
        tokio::time::timeout(GUARD, async {
            loop {
                let view = self.next().await;
                if until(&view) {
                    return view;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no view with {what} within {GUARD:?}"))
    }
}

async fn command(base: &str, line: &str, verb: &str, token: &str, body: Option<Value>) -> Value {
    let mut request = reqwest::Client::new()
        .post(format!("{base}api/v1/lines/{line}/{verb}"))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("an answer");
    let status = response.status().as_u16();
    let answer: Value = response.json().await.expect("JSON");
    assert_eq!(status, 200, "{verb}: {answer}");
    answer
}

fn units(view: &Value) -> u64 {
    view["units_done"].as_u64().expect("units_done")
}

async fn an_operator_pauses_resumes_and_stops_the_line(stack: Stack) {
    let Some(site) = stack.site().await else {
        return;
    };
    let store = site.open().await;
    users::add_user(
        &store,
        &actor(),
        "li.wei",
        Role::Operator,
        "correct horse battery",
    )
    .await
    .expect("an operator");
    let token = users::create_token(&store, &actor(), "li.wei", Some(1))
        .await
        .expect("a token")
        .token;
    store.close().await;

    let demo = site
        .demo_with_http(&["--units", &UNITS.to_string(), "--speed", "3000"])
        .await;
    let mut child = demo.child;
    let base = demo.url;
    let lines: Value = reqwest::Client::new()
        .get(format!("{base}api/v1/lines"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("the lines")
        .json()
        .await
        .expect("JSON");
    let line = lines["items"][0]["line_id"]
        .as_str()
        .expect("the demo's line")
        .to_owned();
    let mut states = States::open(&base, &line, &token).await;
    states.until("units", |v| units(v) >= 50).await;

    // Pause: the twin's belt stops (its ground truth), the batch is paused.
    let mode = command(
        &base,
        &line,
        "pause",
        &token,
        Some(json!({"reason": "ink change"})),
    )
    .await;
    assert_eq!(mode["paused"], "ink change");
    let held = states
        .until("the belt held", |v| {
            v["stopped"] == true && v["line"]["paused"] == "ink change"
        })
        .await;
    let batch = held["batch"].as_i64().expect("the batch");
    let store = site.open().await;
    assert_eq!(
        store.batch(batch).await.expect("the batch").state,
        BatchState::Paused
    );

    // Resume: the belt runs and the count rises past where it stood.
    let at_pause = units(&held);
    command(&base, &line, "resume", &token, None).await;
    states
        .until("a rising count", |v| {
            v["stopped"] == false && units(v) > at_pause + 20
        })
        .await;
    assert_eq!(
        store.batch(batch).await.expect("the batch").state,
        BatchState::Running
    );

    // Stop with a reason: the run ends early, every code accounted for.
    let mode = command(
        &base,
        &line,
        "stop",
        &token,
        Some(json!({"reason": "end of shift"})),
    )
    .await;
    assert_eq!(mode["stopping"], true);
    // The run ends early; the demo keeps serving its view, now with the report.
    let ended = states
        .until("the run's report", |v| !v["report"].is_null())
        .await;
    let report = &ended["report"];
    assert!(
        report["units"].as_u64().is_some_and(|n| n < UNITS),
        "{report}"
    );
    for field in ["escapes", "duplicates", "unaccounted"] {
        assert_eq!(report[field], 0, "{field}: {report}");
    }
    assert_eq!(report["balanced"], true, "{report}");
    assert_eq!(report["disagreements"], json!([]), "{report}");
    let pid = child.id().expect("the demo serves until Ctrl-C");
    let _ = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status();
    let _ = tokio::time::timeout(GUARD, child.wait()).await;

    // The chain: who, what and why, in order.
    let events = audit::events(&store, 0, 10_000).await.expect("the chain");
    let commands: Vec<(String, String, Value)> = events
        .events
        .iter()
        .filter(|e| e.kind.starts_with("line."))
        .map(|e| {
            let detail: Value = serde_json::from_str(&e.detail).expect("JSON");
            (e.kind.clone(), e.user.clone(), detail["reason"].clone())
        })
        .collect();
    assert_eq!(
        commands,
        [
            ("line.paused".into(), "li.wei".into(), json!("ink change")),
            ("line.resumed".into(), "li.wei".into(), Value::Null),
            (
                "line.stopped".into(),
                "li.wei".into(),
                json!("end of shift")
            ),
        ]
    );
    assert!(
        audit::verify(&store)
            .await
            .expect("verify")
            .first_bad
            .is_none()
    );
    store.close().await;
    site.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_pauses_resumes_and_stops_the_line_embedded() {
    let _line = one_line_at_a_time().await;
    an_operator_pauses_resumes_and_stops_the_line(Stack::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_pauses_resumes_and_stops_the_line_plant() {
    let _line = one_line_at_a_time().await;
    an_operator_pauses_resumes_and_stops_the_line(Stack::Plant).await;
}
