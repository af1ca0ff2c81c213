//! The delivery loop: every due delivery attempted, its outcome recorded, until nothing is
//! pending (`--once`) or until shut down.

use std::future::Future;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tracemark_store::upload::AttemptRecord;
use tracemark_store::{Store, StoreError};

use super::deliver::{self, SenderConfig, Sent};
use super::retry::{self, Decision, Reply};
use super::{Delivery, UploadError};

/// How often a waiting loop looks for newly closed batches.
const POLL: Duration = Duration::from_secs(5);

/// Due deliveries read per round.
const ROUND: i64 = 16;

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunReport {
    /// POSTs made (or attempts that could not be made).
    pub attempts: u64,
    /// Deliveries the receiver took.
    pub delivered: Vec<Settled>,
    /// Deliveries that failed for good.
    pub failed: Vec<Settled>,
}

/// One delivery settled in a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Settled {
    /// The batch.
    pub batch_id: i64,
    /// A shipment's own document (docs/shipping.md): the shipment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipment_id: Option<i64>,
    /// The target.
    pub target: String,
    /// The key.
    pub uuid: String,
    /// Why it failed (failed only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Delivers until nothing is pending (`once`), or until `shutdown` completes. A store failure
/// ends the run with the error (what was recorded stays recorded).
pub async fn run(
    store: &Store,
    config: &SenderConfig,
    once: bool,
    shutdown: impl Future<Output = ()>,
) -> Result<RunReport, UploadError> {
    let mut report = RunReport::default();
    tokio::pin!(shutdown);
    loop {
        let work = async {
            deliver_due(store, config, &mut report).await?;
            store.next_delivery_due().await.map_err(UploadError::from)
        };
        let next = tokio::select! {
            next = work => next?,
            () = &mut shutdown => return Ok(report),
        };
        let wait = match next {
            None if once => return Ok(report),
            None => POLL,
            Some(due) => {
                let now = retry::unix_ms(SystemTime::now());
                let until = Duration::from_millis(u64::try_from(due - now).unwrap_or(0));
                if once { until } else { until.min(POLL) }
            }
        };
        if wait > Duration::ZERO {
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = &mut shutdown => return Ok(report),
            }
        }
    }
}

/// Attempts every delivery due now once.
pub async fn deliver_due(
    store: &Store,
    config: &SenderConfig,
    report: &mut RunReport,
) -> Result<(), UploadError> {
    loop {
        let now = retry::unix_ms(SystemTime::now());
        let due = store.due_deliveries(now, ROUND).await?;
        if due.is_empty() {
            return Ok(());
        }
        for delivery in &due {
            report.attempts += 1;
            let record = attempt(store, config, delivery).await?;
            store.record_delivery_attempt(delivery.id, &record).await?;
            let settled = |error: Option<String>| Settled {
                batch_id: delivery.batch_id,
                shipment_id: delivery.shipment_id,
                target: delivery.target.clone(),
                uuid: delivery.uuid.clone(),
                error,
            };
            match &record {
                AttemptRecord::Delivered { .. } => {
                    tracing::info!(batch = delivery.batch_id, shipment = delivery.shipment_id, target = %delivery.target, "delivered");
                    report.delivered.push(settled(None));
                    let path = deliver::spool_path(config, delivery);
                    if let Err(error) = tokio::fs::remove_file(&path).await {
                        tracing::warn!(path = %path.display(), %error, "spool file not removed");
                    }
                }
                AttemptRecord::Failed { error, .. } => {
                    // SPEC §6: a permanent refusal is an alarm for a person.
                    tracing::error!(batch = delivery.batch_id, target = %delivery.target, %error, "delivery failed; `tracemark upload retry` once fixed");
                    report.failed.push(settled(Some(error.clone())));
                }
                AttemptRecord::Retry { error, at_ms, .. } => {
                    tracing::warn!(batch = delivery.batch_id, target = %delivery.target, %error, at_ms, "delivery will be retried");
                }
            }
        }
    }
}

/// One attempt of `delivery`, as the record to store. Only a store failure is an error.
async fn attempt(
    store: &Store,
    config: &SenderConfig,
    delivery: &Delivery,
) -> Result<AttemptRecord, UploadError> {
    let attempt_no = u32::try_from(delivery.attempts + 1).unwrap_or(u32::MAX);
    let now = SystemTime::now();
    let jitter: f64 = rand::random();
    let local_retry = |error: String| AttemptRecord::Retry {
        at_ms: match retry::decide(
            &Reply::Network(&error),
            attempt_no,
            now,
            &config.backoff,
            jitter,
        ) {
            Decision::RetryAt(at) => retry::unix_ms(at),
            _ => retry::unix_ms(now),
        },
        status: None,
        error,
        reply: None,
    };
    let failed = |error: String| AttemptRecord::Failed {
        status: None,
        error,
        reply: None,
    };
    let target = match store.upload_target(&delivery.target).await {
        Ok(target) => target,
        Err(StoreError::NotFound { .. }) => return Ok(failed("target removed".to_owned())),
        Err(error) => return Err(error.into()),
    };
    let prepared = async {
        let keys = deliver::read_keys(&target)?;
        let client = deliver::client(&target, config)?;
        let body = deliver::prepare_body(store, config, delivery).await?;
        Ok::<_, UploadError>((keys, client, body))
    };
    let (keys, client, body) = match prepared.await {
        Ok(ready) => ready,
        Err(error @ (UploadError::Target { .. } | UploadError::BodyChanged { .. })) => {
            return Ok(failed(error.to_string()));
        }
        Err(UploadError::Store(error)) => return Err(error.into()),
        Err(error) => return Ok(local_retry(error.to_string())),
    };
    let sent = match deliver::post(&client, &target, &keys, delivery, &body, &config.progress).await
    {
        Ok(sent) => sent,
        Err(error) => return Ok(local_retry(error.to_string())),
    };
    let (reply, status, text, error) = match &sent {
        Sent::Answer {
            status,
            retry_after,
            reply,
        } => (
            Reply::Status {
                status: *status,
                retry_after: retry_after.as_deref(),
            },
            Some(i64::from(*status)),
            Some(reply.clone()),
            format!("the receiver answered {status}"),
        ),
        Sent::Network(error) => (Reply::Network(error), None, None, error.clone()),
    };
    Ok(
        match retry::decide(
            &reply,
            attempt_no,
            SystemTime::now(),
            &config.backoff,
            jitter,
        ) {
            Decision::Delivered => AttemptRecord::Delivered {
                status: status.unwrap_or(200),
                reply: text.unwrap_or_default(),
            },
            Decision::RetryAt(at) => AttemptRecord::Retry {
                at_ms: retry::unix_ms(at),
                status,
                error,
                reply: text,
            },
            Decision::Failed(reason) => AttemptRecord::Failed {
                status,
                error: reason,
                reply: text,
            },
        },
    )
}
