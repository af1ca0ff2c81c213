//! The upload outbox (`store::upload`): targets and deliveries.

use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};
use time::OffsetDateTime;

use super::audit::{begin, finish};
use super::{Db, get};
use crate::upload::{AttemptRecord, Delivery, DeliverySubject, UploadTarget, truncate_reply};
use crate::{Actor, StoreError, now};

type Tx = Transaction<'static, Any>;

const TARGET_COLUMNS: &str =
    "name, url, format, secret_file, ed25519_key_file, ca_file, gzip, created_at";

const DELIVERY_COLUMNS: &str = "id, batch_id, target, uuid, format, gzip, state, attempts, \
    next_attempt_at, last_error, last_status, last_reply, body_sha256, body_bytes, enqueued_at, \
    delivered_at, shipment_id";

/// Now, unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

fn target_from_row(row: &AnyRow) -> Result<UploadTarget, StoreError> {
    const WHAT: &str = "read an upload target";
    let path = |name: &str| -> Result<Option<std::path::PathBuf>, StoreError> {
        Ok(get::<Option<String>>(row, name, WHAT)?.map(Into::into))
    };
    Ok(UploadTarget {
        name: get(row, "name", WHAT)?,
        url: get(row, "url", WHAT)?,
        format: get::<String>(row, "format", WHAT)?.parse()?,
        secret_file: path("secret_file")?,
        ed25519_key_file: path("ed25519_key_file")?,
        ca_file: path("ca_file")?,
        gzip: get::<i64>(row, "gzip", WHAT)? != 0,
        created_at: get(row, "created_at", WHAT)?,
    })
}

fn delivery_from_row(row: &AnyRow) -> Result<Delivery, StoreError> {
    const WHAT: &str = "read an upload delivery";
    Ok(Delivery {
        id: get(row, "id", WHAT)?,
        batch_id: get(row, "batch_id", WHAT)?,
        shipment_id: get(row, "shipment_id", WHAT)?,
        target: get(row, "target", WHAT)?,
        uuid: get(row, "uuid", WHAT)?,
        format: get::<String>(row, "format", WHAT)?.parse()?,
        gzip: get::<i64>(row, "gzip", WHAT)? != 0,
        state: get::<String>(row, "state", WHAT)?.parse()?,
        attempts: get(row, "attempts", WHAT)?,
        next_attempt_at_ms: get(row, "next_attempt_at", WHAT)?,
        last_error: get(row, "last_error", WHAT)?,
        last_status: get(row, "last_status", WHAT)?,
        last_reply: get(row, "last_reply", WHAT)?,
        body_sha256: get(row, "body_sha256", WHAT)?,
        body_bytes: get(row, "body_bytes", WHAT)?,
        enqueued_at: get(row, "enqueued_at", WHAT)?,
        delivered_at: get(row, "delivered_at", WHAT)?,
    })
}

fn path_text(path: Option<&std::path::PathBuf>) -> Option<String> {
    path.map(|p| p.display().to_string())
}

pub(crate) async fn add_target(
    db: &Db,
    actor: &Actor,
    target: &UploadTarget,
) -> Result<(), StoreError> {
    let (mut tx, head) = begin(db).await?;
    let exists = sqlx::query("SELECT name FROM upload_target WHERE name = $1")
        .bind(&target.name)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::db("read the upload targets"))?;
    if exists.is_some() {
        return Err(StoreError::invalid(
            "name",
            format!("upload target {:?} exists already", target.name),
        ));
    }
    sqlx::query(&format!(
        "INSERT INTO upload_target ({TARGET_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    ))
    .bind(&target.name)
    .bind(&target.url)
    .bind(target.format.as_str())
    .bind(path_text(target.secret_file.as_ref()))
    .bind(path_text(target.ed25519_key_file.as_ref()))
    .bind(path_text(target.ca_file.as_ref()))
    .bind(i64::from(target.gzip))
    .bind(now())
    .execute(&mut *tx)
    .await
    .map_err(StoreError::db(format!("add upload target {}", target.name)))?;
    let detail = json!({
        "name": target.name, "url": target.url, "format": target.format.as_str(),
        "secret_file": path_text(target.secret_file.as_ref()),
        "ed25519_key_file": path_text(target.ed25519_key_file.as_ref()),
        "ca_file": path_text(target.ca_file.as_ref()), "gzip": target.gzip,
    });
    let subject = format!("upload_target:{}", target.name);
    finish(tx, actor, head, "upload.target_added", &subject, detail).await
}

pub(crate) async fn target(db: &Db, name: &str) -> Result<Option<UploadTarget>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {TARGET_COLUMNS} FROM upload_target WHERE name = $1"
    ))
    .bind(name)
    .fetch_optional(&db.pool)
    .await
    .map_err(StoreError::db(format!("read upload target {name}")))?;
    row.as_ref().map(target_from_row).transpose()
}

pub(crate) async fn targets(db: &Db) -> Result<Vec<UploadTarget>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {TARGET_COLUMNS} FROM upload_target ORDER BY name"
    ))
    .fetch_all(&db.pool)
    .await
    .map_err(StoreError::db("read the upload targets"))?;
    rows.iter().map(target_from_row).collect()
}

pub(crate) async fn remove_target(db: &Db, actor: &Actor, name: &str) -> Result<u64, StoreError> {
    let (mut tx, head) = begin(db).await?;
    let removed = sqlx::query("DELETE FROM upload_target WHERE name = $1")
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(format!("remove upload target {name}")))?
        .rows_affected();
    if removed == 0 {
        return Err(StoreError::NotFound {
            what: "upload target",
            id: name.to_owned(),
        });
    }
    let failed = sqlx::query(
        "UPDATE upload_delivery SET state = 'failed', last_error = 'target removed' \
         WHERE target = $1 AND state = 'pending'",
    )
    .bind(name)
    .execute(&mut *tx)
    .await
    .map_err(StoreError::db(format!(
        "fail the pending deliveries to {name}"
    )))?
    .rows_affected();
    let detail = json!({ "name": name, "pending_failed": failed });
    let subject = format!("upload_target:{name}");
    finish(tx, actor, head, "upload.target_removed", &subject, detail).await?;
    Ok(failed)
}

/// Enqueues one delivery of `batch_id` per target, inside the transaction closing the batch
/// (SPEC §6: the outbox and the close commit together or not at all). Returns the targets.
pub(crate) async fn enqueue_batch(tx: &mut Tx, batch_id: i64) -> Result<Vec<String>, StoreError> {
    enqueue(tx, batch_id, None).await
}

/// Enqueues one delivery of shipment `shipment` (its own document, docs/shipping.md) per
/// target, inside the transaction recording it; `batch_id` is the batch of its first package.
pub(crate) async fn enqueue_shipment(
    tx: &mut Tx,
    shipment: i64,
    batch_id: i64,
) -> Result<Vec<String>, StoreError> {
    enqueue(tx, batch_id, Some(shipment)).await
}

async fn enqueue(
    tx: &mut Tx,
    batch_id: i64,
    shipment: Option<i64>,
) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {TARGET_COLUMNS} FROM upload_target ORDER BY name"
    ))
    .fetch_all(&mut **tx)
    .await
    .map_err(StoreError::db("read the upload targets"))?;
    let targets: Vec<UploadTarget> = rows.iter().map(target_from_row).collect::<Result<_, _>>()?;
    let (enqueued_at, due) = (now(), now_ms());
    for target in &targets {
        // The uuid is the Idempotency-Key and webhook-id of every attempt (SPEC §6).
        let uuid = uuid::Uuid::new_v4().to_string();
        // The conflict targets name the partial unique indexes of migration 0020.
        let conflict = match shipment {
            None => "ON CONFLICT (batch_id, target) WHERE shipment_id IS NULL DO NOTHING",
            Some(_) => "ON CONFLICT (shipment_id, target) WHERE shipment_id IS NOT NULL DO NOTHING",
        };
        sqlx::query(&format!(
            "INSERT INTO upload_delivery (batch_id, target, uuid, format, gzip, state, attempts, \
             next_attempt_at, enqueued_at, shipment_id) \
             VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $7, $8) {conflict}"
        ))
        .bind(batch_id)
        .bind(&target.name)
        .bind(&uuid)
        .bind(target.format.as_str())
        .bind(i64::from(target.gzip))
        .bind(due)
        .bind(&enqueued_at)
        .bind(shipment)
        .execute(&mut **tx)
        .await
        .map_err(StoreError::db(format!(
            "enqueue batch {batch_id} for upload target {}",
            target.name
        )))?;
    }
    Ok(targets.into_iter().map(|t| t.name).collect())
}

/// Every delivery (`due`: `None`), or the pending ones due at `(now_ms, limit)`.
pub(crate) async fn deliveries(
    db: &Db,
    due: Option<(i64, i64)>,
) -> Result<Vec<Delivery>, StoreError> {
    let rows = match due {
        None => {
            sqlx::query(&format!(
                "SELECT {DELIVERY_COLUMNS} FROM upload_delivery ORDER BY batch_id, target"
            ))
            .fetch_all(&db.pool)
            .await
        }
        Some((now_ms, limit)) => {
            sqlx::query(&format!(
                "SELECT {DELIVERY_COLUMNS} FROM upload_delivery \
                 WHERE state = 'pending' AND next_attempt_at <= $1 \
                 ORDER BY next_attempt_at, id LIMIT $2"
            ))
            .bind(now_ms)
            .bind(limit)
            .fetch_all(&db.pool)
            .await
        }
    }
    .map_err(StoreError::db("read the upload deliveries"))?;
    rows.iter().map(delivery_from_row).collect()
}

/// The deliveries of batch `batch_id`'s own document (`shipment`: false), or those of the
/// shipments that carry any of its packages (`shipment`: true; a shipment's delivery keeps in
/// `batch_id` only its first package's batch, so a shipment of two batches is found from the
/// packages), by target (and shipment).
pub(crate) async fn deliveries_of_batch(
    db: &Db,
    batch_id: i64,
    shipment: bool,
) -> Result<Vec<Delivery>, StoreError> {
    let statement = if shipment {
        format!(
            "SELECT {DELIVERY_COLUMNS} FROM upload_delivery WHERE shipment_id IN \
             (SELECT shipment_id FROM packages WHERE batch_id = $1 AND shipment_id IS NOT NULL) \
             ORDER BY shipment_id, target"
        )
    } else {
        format!(
            "SELECT {DELIVERY_COLUMNS} FROM upload_delivery \
             WHERE batch_id = $1 AND shipment_id IS NULL ORDER BY target"
        )
    };
    let rows = sqlx::query(&statement)
        .bind(batch_id)
        .fetch_all(&db.pool)
        .await
        .map_err(StoreError::db(format!(
            "read the upload deliveries of batch {batch_id}"
        )))?;
    rows.iter().map(delivery_from_row).collect()
}

pub(crate) async fn delivery(
    db: &Db,
    batch_id: i64,
    target: &str,
) -> Result<Option<Delivery>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM upload_delivery WHERE batch_id = $1 AND target = $2 \
         AND shipment_id IS NULL"
    ))
    .bind(batch_id)
    .bind(target)
    .fetch_optional(&db.pool)
    .await
    .map_err(StoreError::db(format!(
        "read the delivery of batch {batch_id} to {target}"
    )))?;
    row.as_ref().map(delivery_from_row).transpose()
}

async fn delivery_in(tx: &mut Tx, id: i64) -> Result<Delivery, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM upload_delivery WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
    .map_err(StoreError::db(format!("read delivery {id}")))?;
    row.as_ref()
        .map(delivery_from_row)
        .transpose()?
        .ok_or_else(|| StoreError::NotFound {
            what: "delivery",
            id: id.to_string(),
        })
}

pub(crate) async fn next_due(db: &Db) -> Result<Option<i64>, StoreError> {
    let row = sqlx::query(
        "SELECT MIN(next_attempt_at) AS due FROM upload_delivery WHERE state = 'pending'",
    )
    .fetch_one(&db.pool)
    .await
    .map_err(StoreError::db("read when the next delivery is due"))?;
    get(&row, "due", "read when the next delivery is due")
}

pub(crate) async fn record_body(
    db: &Db,
    actor: &Actor,
    id: i64,
    sha256: &str,
    bytes: i64,
) -> Result<(), StoreError> {
    let (mut tx, head) = begin(db).await?;
    let delivery = delivery_in(&mut tx, id).await?;
    match &delivery.body_sha256 {
        Some(recorded) if recorded == sha256 => return Ok(()), // rolled back: nothing to write
        Some(recorded) => {
            return Err(StoreError::invalid(
                "body",
                format!(
                    "delivery {id} (batch {} to {}) has body sha256 {recorded}, not {sha256}",
                    delivery.batch_id, delivery.target
                ),
            ));
        }
        None => {}
    }
    sqlx::query("UPDATE upload_delivery SET body_sha256 = $1, body_bytes = $2 WHERE id = $3")
        .bind(sha256)
        .bind(bytes)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(format!("record the body of delivery {id}")))?;
    let detail = json!({
        "batch": delivery.batch_id, "target": delivery.target, "uuid": delivery.uuid,
        "body_sha256": sha256, "body_bytes": bytes,
    });
    let subject = format!("batch:{}", delivery.batch_id);
    finish(tx, actor, head, "upload.rendered", &subject, detail).await
}

pub(crate) async fn record_attempt(
    db: &Db,
    actor: &Actor,
    id: i64,
    record: &AttemptRecord,
) -> Result<(), StoreError> {
    let (mut tx, head) = begin(db).await?;
    let delivery = delivery_in(&mut tx, id).await?;
    if delivery.state != crate::upload::DeliveryState::Pending {
        return Ok(()); // rolled back: someone else settled it
    }
    let (state, status, error, reply, next, delivered_at) = match record {
        AttemptRecord::Delivered { status, reply } => (
            "delivered",
            Some(*status),
            None,
            Some(reply.as_str()),
            delivery.next_attempt_at_ms,
            Some(now()),
        ),
        AttemptRecord::Retry {
            at_ms,
            status,
            error,
            reply,
        } => (
            "pending",
            *status,
            Some(error.as_str()),
            reply.as_deref(),
            *at_ms,
            None,
        ),
        AttemptRecord::Failed {
            status,
            error,
            reply,
        } => (
            "failed",
            *status,
            Some(error.as_str()),
            reply.as_deref(),
            delivery.next_attempt_at_ms,
            None,
        ),
    };
    let reply = reply.map(truncate_reply);
    sqlx::query(
        "UPDATE upload_delivery SET state = $1, attempts = attempts + 1, last_status = $2, \
         last_error = $3, last_reply = $4, next_attempt_at = $5, delivered_at = $6 WHERE id = $7",
    )
    .bind(state)
    .bind(status)
    .bind(error)
    .bind(&reply)
    .bind(next)
    .bind(&delivered_at)
    .bind(id)
    .execute(&mut *tx)
    .await
    .map_err(StoreError::db(format!(
        "record an attempt of delivery {id}"
    )))?;
    let detail = json!({
        "batch": delivery.batch_id, "target": delivery.target, "uuid": delivery.uuid,
        "attempt": delivery.attempts + 1, "state": state, "status": status, "error": error,
        "next_attempt_at_ms": (state == "pending").then_some(next),
    });
    let subject = format!("batch:{}", delivery.batch_id);
    finish(tx, actor, head, "upload.attempt", &subject, detail).await
}

pub(crate) async fn retry(
    db: &Db,
    actor: &Actor,
    subject: DeliverySubject,
    target: &str,
) -> Result<(), StoreError> {
    let (mut tx, head) = begin(db).await?;
    let (filter, id) = match subject {
        DeliverySubject::Batch(id) => ("batch_id = $1 AND shipment_id IS NULL", id),
        DeliverySubject::Shipment(id) => ("shipment_id = $1", id),
    };
    let row = sqlx::query(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM upload_delivery WHERE {filter} AND target = $2"
    ))
    .bind(id)
    .bind(target)
    .fetch_optional(&mut *tx)
    .await
    .map_err(StoreError::db(format!(
        "read the delivery of {subject} to {target}"
    )))?;
    let Some(delivery) = row.as_ref().map(delivery_from_row).transpose()? else {
        return Err(StoreError::NotFound {
            what: "delivery",
            id: format!("{subject} to {target}"),
        });
    };
    if delivery.state != crate::upload::DeliveryState::Failed {
        return Err(StoreError::invalid(
            "state",
            format!(
                "the delivery of {subject} to {target} is {}, not failed",
                delivery.state.as_str()
            ),
        ));
    }
    let exists = sqlx::query("SELECT name FROM upload_target WHERE name = $1")
        .bind(target)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::db("read the upload targets"))?;
    if exists.is_none() {
        return Err(StoreError::invalid(
            "target",
            format!("upload target {target:?} was removed; add it again first"),
        ));
    }
    sqlx::query("UPDATE upload_delivery SET state = 'pending', next_attempt_at = $1 WHERE id = $2")
        .bind(now_ms())
        .bind(delivery.id)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(format!(
            "put the delivery of {subject} to {target} back to pending"
        )))?;
    let mut detail = json!({
        "batch": delivery.batch_id, "target": target, "uuid": delivery.uuid,
        "attempts": delivery.attempts, "last_error": delivery.last_error,
    });
    if let DeliverySubject::Shipment(id) = subject {
        detail["shipment"] = json!(id);
    }
    finish(
        tx,
        actor,
        head,
        "upload.retry",
        &format!("batch:{}", delivery.batch_id),
        detail,
    )
    .await
}
