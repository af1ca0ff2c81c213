//! One delivery to a target that lives only for one run (issue 15 item 5: the demo hands its
//! batch to an embedded receiver). The body, the signature, the POST and the retry decision
//! are the outbox's; nothing is written to the store, so no target and no delivery is left
//! behind for a later `upload run` to chase once the receiver is gone.

use std::time::{Duration, SystemTime};

use serde::Serialize;
use tracemark_store::Store;

use super::deliver::{self, SenderConfig, Sent};
use super::retry::{self, Decision, Reply};
use super::{Delivery, DeliveryState, UploadError, UploadTarget};

/// What the receiver took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunOnlyDelivery {
    /// The batch.
    pub batch_id: i64,
    /// The target's name.
    pub target: String,
    /// The `Idempotency-Key` and `webhook-id`, the same on every attempt.
    pub uuid: String,
    /// POSTs made.
    pub attempts: u32,
    /// The receiver's status.
    pub status: u16,
    /// The receiver's reply.
    pub reply: String,
    /// The body's length.
    pub bytes: u64,
    /// SHA-256 (hex) of the body.
    pub sha256: String,
}

/// Delivers batch `batch` to `target` once, retrying as the outbox does (back-off, Retry-After)
/// until delivered, refused for good ([`UploadError::Refused`]), or `give_up_after` has passed.
/// The spool file is removed either way.
pub async fn deliver(
    store: &Store,
    config: &SenderConfig,
    target: &UploadTarget,
    batch: i64,
    give_up_after: Duration,
) -> Result<RunOnlyDelivery, UploadError> {
    let delivery = delivery_for(target, batch, uuid::Uuid::new_v4().to_string());
    let body = deliver::spool_body(store, config, &delivery).await?;
    let outcome = attempts(config, target, &delivery, &body, give_up_after).await;
    if let Err(error) = tokio::fs::remove_file(&body.path).await {
        tracing::warn!(path = %body.path.display(), %error, "spool file not removed");
    }
    let (attempts, status, reply) = outcome?;
    Ok(RunOnlyDelivery {
        batch_id: batch,
        target: target.name.clone(),
        uuid: delivery.uuid,
        attempts,
        status,
        reply,
        bytes: body.bytes,
        sha256: body.sha256,
    })
}

/// A delivery of `batch` to `target` under `uuid` that is in no outbox: pending, never
/// attempted, its format and gzip setting the target's.
pub fn delivery_for(target: &UploadTarget, batch: i64, uuid: String) -> Delivery {
    Delivery {
        id: 0,
        batch_id: batch,
        shipment_id: None,
        target: target.name.clone(),
        uuid,
        format: target.format,
        gzip: target.gzip,
        state: DeliveryState::Pending,
        attempts: 0,
        next_attempt_at_ms: 0,
        last_error: None,
        last_status: None,
        last_reply: None,
        body_sha256: None,
        body_bytes: None,
        enqueued_at: String::new(),
        delivered_at: None,
    }
}

/// POSTs until the receiver settles it: the attempts made, the status and the reply.
async fn attempts(
    config: &SenderConfig,
    target: &UploadTarget,
    delivery: &Delivery,
    body: &deliver::Body,
    give_up_after: Duration,
) -> Result<(u32, u16, String), UploadError> {
    let keys = deliver::read_keys(target)?;
    let client = deliver::client(target, config)?;
    let give_up_at = SystemTime::now() + give_up_after;
    let refused = |reason: String| UploadError::Refused {
        batch: delivery.batch_id,
        target: target.name.clone(),
        reason,
    };
    let mut attempt_no = 0u32;
    loop {
        attempt_no += 1;
        let sent = deliver::post(&client, target, &keys, delivery, body, &config.progress).await?;
        let reply = match &sent {
            Sent::Answer {
                status,
                retry_after,
                ..
            } => Reply::Status {
                status: *status,
                retry_after: retry_after.as_deref(),
            },
            Sent::Network(error) => Reply::Network(error),
        };
        let now = SystemTime::now();
        match retry::decide(&reply, attempt_no, now, &config.backoff, rand::random()) {
            Decision::Delivered => {
                let (status, text) = match sent {
                    Sent::Answer { status, reply, .. } => (status, reply),
                    Sent::Network(_) => (200, String::new()),
                };
                return Ok((attempt_no, status, text));
            }
            Decision::Failed(reason) => return Err(refused(reason)),
            Decision::RetryAt(at) if at > give_up_at => {
                return Err(refused(format!(
                    "not delivered after {attempt_no} attempts in {} s; last: {}",
                    give_up_after.as_secs(),
                    describe(&sent)
                )));
            }
            Decision::RetryAt(at) => {
                tracing::warn!(batch = delivery.batch_id, target = %target.name, attempt_no, reply = %describe(&sent), "delivery will be retried");
                tokio::time::sleep(at.duration_since(now).unwrap_or_default()).await;
            }
        }
    }
}

fn describe(sent: &Sent) -> String {
    match sent {
        Sent::Answer { status, reply, .. } => format!("the receiver answered {status}: {reply}"),
        Sent::Network(error) => error.clone(),
    }
}
