//! One delivery, from its bytes to its answer: the order of the checks is the contract a sender
//! meets (SPEC §6), and each refusal names what is wrong.
//!
//! 1. the fault drawn for the request (500, 503 with `Retry-After`, 429, a reset: nothing else
//!    happens; slow: a delay, then on as usual);
//! 2. the Standard Webhooks signature over the bytes received — 401 and nothing stored;
//! 3. `Idempotency-Key` (an RFC 8941 string, the same uuid as `webhook-id`) — 400;
//! 4. `Content-Type` and `Content-Encoding` (identity or gzip) — 415; a broken gzip stream — 400;
//! 5. the key seen before: the same document replays the first answer, another one is 422;
//! 6. the document valid for its type — 400 with the reasons;
//! 7. the commit (on disk first with `--dir`), then 200 with a receipt.
//!
//! A reset after the commit answers nothing at all though the document is stored: the sender
//! must retry with the same key and body and get the replayed answer.

use std::io::Read as _;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::json;
use sha2::Digest as _;

use super::Shared;
use super::dedupe::{self, Seen};
use super::faults::FaultKind;
use super::signature::WebhookHeaders;
use super::store::Accepted;
use super::validate::BodyKind;

/// What the server does with a request.
#[derive(Debug)]
pub(super) enum Outcome {
    /// Answer this.
    Answer(Answer),
    /// Reset the connection instead of answering.
    Reset,
}

/// An HTTP answer with a JSON body.
#[derive(Debug, Clone)]
pub(super) struct Answer {
    pub(super) status: StatusCode,
    pub(super) body: serde_json::Value,
    /// `Retry-After`, seconds.
    pub(super) retry_after: Option<u32>,
    /// A replay of the answer to an earlier request with the same key.
    pub(super) replayed: bool,
}

impl Answer {
    pub(super) fn refuse(status: StatusCode, error: impl Into<String>) -> Self {
        Answer {
            status,
            body: json!({ "error": error.into() }),
            retry_after: None,
            replayed: false,
        }
    }

    pub(super) fn replay(record: &Accepted) -> Self {
        Answer {
            status: StatusCode::from_u16(record.status).unwrap_or(StatusCode::OK),
            body: record.answer.clone(),
            retry_after: None,
            replayed: true,
        }
    }

    fn other_body(key: &str) -> Self {
        Answer::refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "Idempotency-Key {key:?} was accepted with another document; a key names one document (SPEC §6)"
            ),
        )
    }
}

/// Handles one request whose whole body is `body`.
pub(super) async fn receive(shared: &Arc<Shared>, headers: &HeaderMap, body: Bytes) -> Outcome {
    let fault = shared.draw_fault();
    match fault {
        Some(FaultKind::InternalError) => {
            let answer = Answer::refuse(StatusCode::INTERNAL_SERVER_ERROR, "injected fault: 500");
            return Outcome::Answer(answer);
        }
        Some(FaultKind::Unavailable) => {
            let mut answer = Answer::refuse(StatusCode::SERVICE_UNAVAILABLE, "injected fault: 503");
            answer.retry_after = Some(shared.settings.retry_after_secs);
            return Outcome::Answer(answer);
        }
        Some(FaultKind::TooManyRequests) => {
            let answer = Answer::refuse(StatusCode::TOO_MANY_REQUESTS, "injected fault: 429");
            return Outcome::Answer(answer);
        }
        Some(FaultKind::ResetBeforeCommit) => return Outcome::Reset,
        Some(FaultKind::Slow) => tokio::time::sleep(shared.settings.slow_delay).await,
        Some(FaultKind::ResetAfterCommit) | None => {}
    }
    let answer = match handle(shared, headers, body).await {
        Ok(answer) | Err(answer) => answer,
    };
    if fault == Some(FaultKind::ResetAfterCommit) {
        Outcome::Reset
    } else {
        Outcome::Answer(answer)
    }
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_secs() as i64)
        .unwrap_or(0)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

async fn handle(shared: &Arc<Shared>, headers: &HeaderMap, body: Bytes) -> Result<Answer, Answer> {
    let webhook = WebhookHeaders {
        id: header(headers, "webhook-id"),
        timestamp: header(headers, "webhook-timestamp"),
        signature: header(headers, "webhook-signature"),
    };
    shared
        .verifier
        .verify(&webhook, &body, now_unix())
        .map_err(|error| Answer::refuse(StatusCode::UNAUTHORIZED, error.to_string()))?;

    let key = headers.get("idempotency-key").ok_or_else(|| {
        Answer::refuse(
            StatusCode::BAD_REQUEST,
            "the Idempotency-Key header is missing (SPEC §6)",
        )
    })?;
    let key = dedupe::parse_idempotency_key(key.as_bytes())
        .map_err(|error| Answer::refuse(StatusCode::BAD_REQUEST, error.to_string()))?;
    let webhook_id = webhook.id.unwrap_or_default().to_owned();
    if key != webhook_id {
        return Err(Answer::refuse(
            StatusCode::BAD_REQUEST,
            format!(
                "Idempotency-Key {key:?} and webhook-id {webhook_id:?} differ; SPEC §6 sends one uuid in both"
            ),
        ));
    }

    let content_type = header(headers, "content-type").unwrap_or("(none)");
    let kind = BodyKind::from_content_type(content_type).ok_or_else(|| {
        Answer::refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "Content-Type {content_type:?}: the receiver takes application/ld+json, application/xml or application/json"
            ),
        )
    })?;
    let gzip = match header(headers, "content-encoding").map(str::trim) {
        None | Some("identity") => false,
        Some(coding) if coding.eq_ignore_ascii_case("gzip") => true,
        Some(other) => {
            return Err(Answer::refuse(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("Content-Encoding {other:?}: the receiver takes gzip or none"),
            ));
        }
    };
    let limit = shared.settings.max_body_bytes;
    let document = if gzip {
        Bytes::from(blocking(move || gunzip(&body, limit)).await??)
    } else {
        body
    };
    let body_sha256 = hex::encode(sha2::Sha256::digest(&document));

    let seen = {
        let store = shared.lock_store();
        let stored = store.get(&key);
        match dedupe::decide(
            stored.map(|record| record.body_sha256.as_str()),
            &body_sha256,
        ) {
            Seen::Replay => return Ok(shared.replayed(stored)),
            seen => seen,
        }
    };
    if seen == Seen::OtherBody {
        return Err(Answer::other_body(&key));
    }

    let validator = shared.validator.clone();
    let checked = document.clone();
    let facts = blocking(move || validator.check(kind, &checked))
        .await?
        .map_err(|invalid| Answer {
            body: json!({ "error": invalid.reason, "details": invalid.details }),
            ..Answer::refuse(StatusCode::BAD_REQUEST, "")
        })?;

    let shared_for_commit = shared.clone();
    blocking(move || {
        let shared = shared_for_commit;
        let mut store = shared.lock_store();
        // Decided again under the lock: a concurrent request with the key may have committed.
        let stored = store.get(&key);
        match dedupe::decide(
            stored.map(|record| record.body_sha256.as_str()),
            &body_sha256,
        ) {
            Seen::Replay => return Ok(shared.replayed(stored)),
            Seen::OtherBody => return Err(Answer::other_body(&key)),
            Seen::New => {}
        }
        let receipt = format!(
            "rcpt-{}",
            &hex::encode(sha2::Sha256::digest(key.as_bytes()))[..16]
        );
        let answer = json!({
            "receipt": receipt,
            "idempotency_key": key,
            "batch_id": facts.batch_id,
            "events": facts.events,
            "document_sha256": body_sha256,
        });
        let record = Accepted {
            key,
            webhook_id,
            body_sha256,
            batch_id: facts.batch_id,
            events: facts.events,
            content_type: kind.content_type().to_owned(),
            gzip,
            accepted_at_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|since| since.as_millis() as u64)
                .unwrap_or(0),
            receipt,
            status: StatusCode::OK.as_u16(),
            answer: answer.clone(),
        };
        store.commit(record, document).map_err(|error| {
            tracing::error!(%error, "cannot store an accepted document");
            Answer::refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot store the document: {error}"),
            )
        })?;
        shared.accepted_count.send_replace(store.list().len());
        Ok(Answer {
            status: StatusCode::OK,
            body: answer,
            retry_after: None,
            replayed: false,
        })
    })
    .await?
}

/// Runs CPU or disk work off the async workers; a panic in it is a 500, not a dead server.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Answer> {
    tokio::task::spawn_blocking(work).await.map_err(|error| {
        Answer::refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the receiver failed: {error}"),
        )
    })
}

/// Inflates a gzip body (every member, RFC 1952 §2.2), refusing one that inflates past `limit`.
fn gunzip(body: &[u8], limit: usize) -> Result<Vec<u8>, Answer> {
    let mut inflated = Vec::new();
    flate2::read::MultiGzDecoder::new(body)
        .take(limit as u64 + 1)
        .read_to_end(&mut inflated)
        .map_err(|error| {
            Answer::refuse(
                StatusCode::BAD_REQUEST,
                format!("Content-Encoding gzip: the body is not a whole gzip stream: {error}"),
            )
        })?;
    if inflated.len() > limit {
        return Err(Answer::refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body inflates to more than {limit} bytes"),
        ));
    }
    Ok(inflated)
}
