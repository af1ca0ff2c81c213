//! The upload outbox (SPEC §6 "Delivery", issue 15 item 3; docs/upload.md "Delivery"): the
//! targets closed batches go to, and one delivery per closed batch and target, enqueued in the
//! transaction that closes the batch. The runtime that sends them is `tracemark::upload`; this
//! module only keeps their state, every change in the audit chain.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::Serialize;

use crate::{Store, StoreError, sql};

/// The longest receiver reply kept with a delivery (bytes of UTF-8, cut at a character).
pub const MAX_REPLY_BYTES: usize = 2048;

/// What a target receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum UploadFormat {
    /// EPCIS 2.0 JSON-LD.
    EpcisJson,
    /// EPCIS 2.0 XML.
    EpcisXml,
    /// The traceability platform payload (SPEC §6).
    Platform,
}

impl UploadFormat {
    /// Every format, in the order the CLI lists them.
    pub const ALL: [UploadFormat; 3] = [
        UploadFormat::EpcisJson,
        UploadFormat::EpcisXml,
        UploadFormat::Platform,
    ];

    /// The stored and command-line name.
    pub const fn as_str(self) -> &'static str {
        match self {
            UploadFormat::EpcisJson => "epcis-json",
            UploadFormat::EpcisXml => "epcis-xml",
            UploadFormat::Platform => "platform",
        }
    }

    /// The `Content-Type` of its body (SPEC §6).
    pub const fn content_type(self) -> &'static str {
        match self {
            UploadFormat::EpcisJson => "application/ld+json",
            UploadFormat::EpcisXml => "application/xml",
            UploadFormat::Platform => "application/json",
        }
    }
}

impl fmt::Display for UploadFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for UploadFormat {
    type Err = StoreError;

    fn from_str(text: &str) -> Result<Self, StoreError> {
        UploadFormat::ALL
            .into_iter()
            .find(|format| format.as_str() == text)
            .ok_or_else(|| {
                StoreError::invalid(
                    "format",
                    format!("{text:?} is not one of epcis-json, epcis-xml, platform"),
                )
            })
    }
}

/// Where closed batches are delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadTarget {
    /// Its unique name.
    pub name: String,
    /// The URL each delivery is POSTed to (`http://` or `https://`).
    pub url: String,
    /// What it receives.
    pub format: UploadFormat,
    /// The file holding the Standard Webhooks secret (`whsec_<base64>`).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub secret_file: Option<PathBuf>,
    /// The file holding the Ed25519 signing key (`whsk_<base64 of the 32-byte seed>`).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub ed25519_key_file: Option<PathBuf>,
    /// A PEM file of the CA certificates trusted for `https://` (default: the system's).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub ca_file: Option<PathBuf>,
    /// Whether bodies are sent `Content-Encoding: gzip`.
    pub gzip: bool,
    /// When it was added (RFC 3339); ignored by [`Store::add_upload_target`].
    pub created_at: String,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Not delivered yet: due at `next_attempt_at_ms`.
    Pending,
    /// The receiver has it (2xx, or 409: it had it already).
    Delivered,
    /// Refused for good (another 4xx, a body that changed, a removed target): a person must
    /// look and `upload retry`.
    Failed,
}

impl DeliveryState {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }
}

impl FromStr for DeliveryState {
    type Err = StoreError;

    fn from_str(text: &str) -> Result<Self, StoreError> {
        match text {
            "pending" => Ok(DeliveryState::Pending),
            "delivered" => Ok(DeliveryState::Delivered),
            "failed" => Ok(DeliveryState::Failed),
            other => Err(StoreError::Corrupt(format!(
                "upload_delivery.state {other:?}"
            ))),
        }
    }
}

/// What a delivery carries: a closed batch, or a shipment (its own document,
/// docs/shipping.md "What upload sends").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliverySubject {
    /// A batch's document.
    Batch(i64),
    /// A shipment's document.
    Shipment(i64),
}

impl fmt::Display for DeliverySubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeliverySubject::Batch(id) => write!(f, "batch {id}"),
            DeliverySubject::Shipment(id) => write!(f, "shipment {id}"),
        }
    }
}

/// One closed batch (or one shipment) to one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Delivery {
    /// Its row id.
    pub id: i64,
    /// The batch (of a shipment's delivery: the batch of its first package).
    pub batch_id: i64,
    /// A shipment's delivery: the shipment, whose own document it carries.
    pub shipment_id: Option<i64>,
    /// The target's name.
    pub target: String,
    /// The `Idempotency-Key` and `webhook-id`: fixed at enqueue, never changed.
    pub uuid: String,
    /// The format, copied from the target at enqueue.
    pub format: UploadFormat,
    /// Whether the body is gzip-encoded, copied from the target at enqueue.
    pub gzip: bool,
    /// Where it stands.
    pub state: DeliveryState,
    /// POSTs made so far.
    pub attempts: i64,
    /// When the next attempt is due (unix milliseconds; pending only).
    pub next_attempt_at_ms: i64,
    /// Why the last attempt did not deliver.
    pub last_error: Option<String>,
    /// The receiver's last HTTP status.
    pub last_status: Option<i64>,
    /// The receiver's last reply body (truncated to [`MAX_REPLY_BYTES`]).
    pub last_reply: Option<String>,
    /// SHA-256 (hex) of the body as sent, recorded once before the first POST.
    pub body_sha256: Option<String>,
    /// Its length in bytes.
    pub body_bytes: Option<i64>,
    /// When it was enqueued (the batch's close).
    pub enqueued_at: String,
    /// When the receiver took it.
    pub delivered_at: Option<String>,
}

/// What one POST of a delivery came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptRecord {
    /// Delivered.
    Delivered {
        /// The receiver's status.
        status: i64,
        /// Its reply (truncated by the store).
        reply: String,
    },
    /// Not delivered; try again at `at_ms`.
    Retry {
        /// Unix milliseconds.
        at_ms: i64,
        /// The receiver's status, if it answered.
        status: Option<i64>,
        /// Why.
        error: String,
        /// Its reply, if any.
        reply: Option<String>,
    },
    /// Refused for good.
    Failed {
        /// The receiver's status, if it answered.
        status: Option<i64>,
        /// Why.
        error: String,
        /// Its reply, if any.
        reply: Option<String>,
    },
}

/// `text` cut to at most [`MAX_REPLY_BYTES`] bytes at a character boundary.
pub(crate) fn truncate_reply(text: &str) -> String {
    if text.len() <= MAX_REPLY_BYTES {
        return text.to_owned();
    }
    let mut end = MAX_REPLY_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

impl Delivery {
    /// What it carries.
    pub fn subject(&self) -> DeliverySubject {
        match self.shipment_id {
            Some(id) => DeliverySubject::Shipment(id),
            None => DeliverySubject::Batch(self.batch_id),
        }
    }
}

impl Store {
    /// Adds a target. Batches closed from now on are delivered to it too (not those closed
    /// before). One `upload.target_added` event.
    pub async fn add_upload_target(
        &self,
        target: &UploadTarget,
    ) -> Result<UploadTarget, StoreError> {
        if target.name.trim().is_empty() || target.name.len() > 64 {
            return Err(StoreError::invalid(
                "name",
                "a target name is 1 to 64 characters",
            ));
        }
        if !(target.url.starts_with("http://") || target.url.starts_with("https://")) {
            return Err(StoreError::invalid(
                "url",
                format!("{:?} must start with http:// or https://", target.url),
            ));
        }
        sql::upload::add_target(&self.db, &self.actor, target).await?;
        self.upload_target(&target.name).await
    }

    /// The target `name`.
    pub async fn upload_target(&self, name: &str) -> Result<UploadTarget, StoreError> {
        sql::upload::target(&self.db, name)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: "upload target",
                id: name.to_owned(),
            })
    }

    /// Every target, by name.
    pub async fn upload_targets(&self) -> Result<Vec<UploadTarget>, StoreError> {
        sql::upload::targets(&self.db).await
    }

    /// Removes a target; its pending deliveries fail (`target removed`) and stay as history.
    /// Returns how many failed. One `upload.target_removed` event.
    pub async fn remove_upload_target(&self, name: &str) -> Result<u64, StoreError> {
        sql::upload::remove_target(&self.db, &self.actor, name).await
    }

    /// Every delivery, by batch and target.
    pub async fn deliveries(&self) -> Result<Vec<Delivery>, StoreError> {
        sql::upload::deliveries(&self.db, None).await
    }

    /// The deliveries of batch `batch_id`'s own document, by target.
    pub async fn batch_deliveries(&self, batch_id: i64) -> Result<Vec<Delivery>, StoreError> {
        sql::upload::deliveries_of_batch(&self.db, batch_id, false).await
    }

    /// The deliveries of the shipments that carry units of batch `batch_id` (any of its
    /// cartons or pallets), by shipment and target: each shipment is its own document
    /// (docs/shipping.md "What upload sends").
    pub async fn batch_shipment_deliveries(
        &self,
        batch_id: i64,
    ) -> Result<Vec<Delivery>, StoreError> {
        sql::upload::deliveries_of_batch(&self.db, batch_id, true).await
    }

    /// The delivery of `batch_id` to `target`.
    pub async fn delivery(&self, batch_id: i64, target: &str) -> Result<Delivery, StoreError> {
        sql::upload::delivery(&self.db, batch_id, target)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: "delivery",
                id: format!("batch {batch_id} to {target}"),
            })
    }

    /// Pending deliveries due at `now_ms` (unix milliseconds), earliest first, at most `limit`.
    pub async fn due_deliveries(
        &self,
        now_ms: i64,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError> {
        sql::upload::deliveries(&self.db, Some((now_ms, limit))).await
    }

    /// When the earliest pending delivery is due (unix milliseconds), if any is pending.
    pub async fn next_delivery_due(&self) -> Result<Option<i64>, StoreError> {
        sql::upload::next_due(&self.db).await
    }

    /// Records the body of a pending delivery, rendered once: its SHA-256 (hex) and length.
    /// Recorded once; a later call with another hash is refused (the body never changes).
    /// One `upload.rendered` event the first time.
    pub async fn record_delivery_body(
        &self,
        id: i64,
        sha256: &str,
        bytes: i64,
    ) -> Result<(), StoreError> {
        sql::upload::record_body(&self.db, &self.actor, id, sha256, bytes).await
    }

    /// Records one POST of the pending delivery `id` and what it came to. A delivery that is
    /// no longer pending (another sender delivered it, a target removed) is left as it is.
    /// One `upload.attempt` event.
    pub async fn record_delivery_attempt(
        &self,
        id: i64,
        record: &AttemptRecord,
    ) -> Result<(), StoreError> {
        sql::upload::record_attempt(&self.db, &self.actor, id, record).await
    }

    /// Puts the failed delivery of `batch_id` to `target` back to pending, due now, with the
    /// same uuid (and body). One `upload.retry` event.
    pub async fn retry_delivery(
        &self,
        batch_id: i64,
        target: &str,
    ) -> Result<Delivery, StoreError> {
        sql::upload::retry(
            &self.db,
            &self.actor,
            DeliverySubject::Batch(batch_id),
            target,
        )
        .await?;
        self.delivery(batch_id, target).await
    }

    /// Puts the failed delivery of shipment `shipment` to `target` back to pending, due now,
    /// with the same uuid (and body). One `upload.retry` event.
    pub async fn retry_shipment_delivery(
        &self,
        shipment: i64,
        target: &str,
    ) -> Result<Delivery, StoreError> {
        sql::upload::retry(
            &self.db,
            &self.actor,
            DeliverySubject::Shipment(shipment),
            target,
        )
        .await?;
        self.deliveries()
            .await?
            .into_iter()
            .find(|d| d.shipment_id == Some(shipment) && d.target == target)
            .ok_or_else(|| StoreError::NotFound {
                what: "delivery",
                id: format!("shipment {shipment} to {target}"),
            })
    }
}
