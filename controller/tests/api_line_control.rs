//! An operator's commands to a running line through the API (issue 16; SPEC §8), on both
//! stores, against a stand-in line that answers as the line's core would: a pause with its
//! reason reaches the line, pauses the batch and goes into the audit chain with the user; a
//! missing reason is a 400 naming `reason` and reaches nothing; QA gets 403; a command the line
//! refuses is a 409 that changes nothing; the batch's own pause goes through the line, and the
//! batch cannot be closed while the line produces it. The belt itself stopping is proven on the
//! whole line (`tests/tests/line_control.rs`).

#[macro_use]
mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tracemark::app::audit;
use tracemark::app::users::{self, Role};
use tracemark::http::server::{HttpServer, LiveOptions, ServeOptions};
use tracemark::http::{LiveLines, LiveView};
use tracemark::line::{ControlError, ControlInbox, LineCommand, LineMode, line_control};
use tracemark_store::{BatchState, Store};

const PASSWORD: &str = "correct horse battery";
/// Guard against a hung test; never a synchronisation point.
const GUARD: Duration = Duration::from_secs(20);

/// A stand-in for the line's core: holds a pause, refuses a resume of a running line, and
/// reports every command it was handed.
fn stand_in(mut inbox: ControlInbox) -> mpsc::UnboundedReceiver<LineCommand> {
    let (seen_tx, seen) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut mode = LineMode::default();
        while let Some((command, answer)) = inbox.next().await {
            let _ = seen_tx.send(command.clone());
            let result = match command {
                LineCommand::Pause { reason } => {
                    mode.paused = Some(reason);
                    Ok(mode.clone())
                }
                LineCommand::Resume if mode.paused.is_none() => {
                    Err(ControlError::Refused("the line is not paused".to_owned()))
                }
                LineCommand::Resume => {
                    mode.paused = None;
                    Ok(mode.clone())
                }
                LineCommand::Acknowledge => {
                    Err(ControlError::Refused("no alarm holds the line".to_owned()))
                }
                LineCommand::Stop { .. } => {
                    mode.stopping = true;
                    Ok(mode.clone())
                }
            };
            answer.send(result);
        }
    });
    seen
}

async fn token(store: &Store, name: &str, role: Role) -> String {
    users::add_user(store, &actor(), name, role, PASSWORD)
        .await
        .expect("add a user");
    users::create_token(store, &actor(), name, None)
        .await
        .expect("a token")
        .token
}

/// The audit events of kind `kind`.
async fn events_of(store: &Store, kind: &str) -> Vec<tracemark_store::Event> {
    audit::events(store, 0, 1000)
        .await
        .expect("the audit chain")
        .events
        .into_iter()
        .filter(|e| e.kind == kind)
        .collect()
}

async fn post(base: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("an answer");
    let status = response.status().as_u16();
    let value = response.json().await.unwrap_or(Value::Null);
    (status, value)
}

async fn operators_command_the_line_and_the_chain_says_who_and_why(store: Store) {
    store
        .add_product(&product("p", "09506000134352"))
        .await
        .expect("a product");
    let batch = running_batch(&store, "p", 100).await;
    let operator = token(&store, "li.wei", Role::Operator).await;
    let qa = token(&store, "zhang.qa", Role::Qa).await;
    let (_line, view) = watch::channel(LiveView::new("line-1", batch.id, false, 100));
    let (control, inbox) = line_control();
    let mut seen = stand_in(inbox);
    let server = HttpServer::start_live(
        store.clone(),
        ServeOptions {
            addr: "127.0.0.1:0".parse().expect("an address"),
            tls: None,
        },
        LiveOptions {
            lines: LiveLines::none().with_control("line-1", view, control),
            ..LiveOptions::default()
        },
    )
    .await
    .expect("serve");
    let base = server.url();

    // No reason: 400 naming it, nothing reaches the line.
    let (status, problem) = post(
        &base,
        "/api/v1/lines/line-1/pause",
        &operator,
        Some(json!({"reason": "  "})),
    )
    .await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["field"], "reason", "{problem}");
    // QA may not pause the line.
    let (status, _) = post(
        &base,
        "/api/v1/lines/line-1/pause",
        &qa,
        Some(json!({"reason": "mine"})),
    )
    .await;
    assert_eq!(status, 403);
    assert!(seen.try_recv().is_err(), "nothing reached the line");
    assert!(events_of(&store, "line.paused").await.is_empty());

    // The operator pauses: the line, the batch, the chain.
    let (status, mode) = post(
        &base,
        "/api/v1/lines/line-1/pause",
        &operator,
        Some(json!({"reason": "ink change"})),
    )
    .await;
    assert_eq!(status, 200, "{mode}");
    assert_eq!(mode["paused"], "ink change");
    let handed = tokio::time::timeout(GUARD, seen.recv())
        .await
        .expect("in time");
    assert_eq!(
        handed,
        Some(LineCommand::Pause {
            reason: "ink change".into()
        })
    );
    assert_eq!(
        store.batch(batch.id).await.expect("the batch").state,
        BatchState::Paused
    );
    let paused = events_of(&store, "line.paused").await;
    assert_eq!(paused.len(), 1);
    assert_eq!(paused[0].user, "li.wei");
    assert_eq!(paused[0].subject, "line:line-1");
    let detail: Value = serde_json::from_str(&paused[0].detail).expect("JSON detail");
    assert_eq!(detail, json!({"batch": batch.id, "reason": "ink change"}));

    // The line refuses an acknowledgement with no alarm: 409, nothing changes.
    let head = store.audit_head().await.expect("the head");
    let (status, problem) = post(&base, "/api/v1/lines/line-1/acknowledge", &operator, None).await;
    assert_eq!(status, 409, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("no alarm holds the line")),
        "{problem}"
    );
    assert_eq!(store.audit_head().await.expect("the head"), head);
    seen.recv()
        .await
        .expect("the acknowledgement was handed over");

    // Resume: the line and the batch run again.
    let (status, mode) = post(&base, "/api/v1/lines/line-1/resume", &operator, None).await;
    assert_eq!(status, 200, "{mode}");
    assert_eq!(mode["paused"], Value::Null);
    assert_eq!(seen.recv().await, Some(LineCommand::Resume));
    assert_eq!(
        store.batch(batch.id).await.expect("the batch").state,
        BatchState::Running
    );

    // The batch's own pause goes through the line, with the reason given or one of its own.
    let (status, answer) = post(
        &base,
        &format!("/api/v1/batches/{}/state", batch.id),
        &operator,
        Some(json!({"state": "paused"})),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["state"], "paused");
    assert_eq!(
        seen.recv().await,
        Some(LineCommand::Pause {
            reason: format!("batch {} paused", batch.id)
        })
    );
    // A batch the line produces is not closed under it.
    let (status, problem) = post(
        &base,
        &format!("/api/v1/batches/{}/state", batch.id),
        &operator,
        Some(json!({"state": "closed"})),
    )
    .await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(
        store.batch(batch.id).await.expect("the batch").state,
        BatchState::Paused
    );

    // Stop with a reason; an unknown line is a 404.
    let (status, mode) = post(
        &base,
        "/api/v1/lines/line-1/stop",
        &operator,
        Some(json!({"reason": "end of shift"})),
    )
    .await;
    assert_eq!(status, 200, "{mode}");
    assert_eq!(mode["stopping"], true);
    let stopped = events_of(&store, "line.stopped").await;
    assert_eq!(stopped.len(), 1);
    assert!(stopped[0].detail.contains("end of shift"));
    let (status, _) = post(&base, "/api/v1/lines/line-9/resume", &operator, None).await;
    assert_eq!(status, 404);
    assert!(
        audit::verify(&store)
            .await
            .expect("verify")
            .first_bad
            .is_none(),
        "the chain verifies"
    );
}

both!(operators_command_the_line_and_the_chain_says_who_and_why);
