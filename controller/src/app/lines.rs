//! Which batch a line produces: the one named, the line's open batch (`run` resumes it), or —
//! for the demo and a simulation — a new one of the line's product.

use tracemark_store::{Actor, Batch, BatchState, NewBatch, Product, Store};

use super::AppError;

/// The oldest batch of line `line` (and of `product`, when given) that is running or paused, if
/// any: a line finishes the batch it started first.
pub async fn open_batch(
    store: &Store,
    line: &str,
    product: Option<&str>,
) -> Result<Option<Batch>, AppError> {
    Ok(store.open_batch_of_line(line, product).await?)
}

/// The batch `run` produces on line `line`: `batch` when given, else the line's open batch.
pub async fn batch_to_run(
    store: &Store,
    line: &str,
    batch: Option<i64>,
) -> Result<Batch, AppError> {
    if let Some(id) = batch {
        return Ok(store.batch(id).await?);
    }
    open_batch(store, line, None).await?.ok_or_else(|| {
        AppError::input(
            "--batch",
            format!(
                "line {line:?} has no running or paused batch: start one with \
                 `tracemark batch start ID` or name it"
            ),
        )
    })
}

/// The line's open batch of `product` (a restart resumes it), or a new running batch of `units`
/// made today, lot `<line>-<n>`.
pub async fn resume_or_start_batch(
    store: &Store,
    actor: &Actor,
    product: &Product,
    line: &str,
    units: u64,
) -> Result<Batch, AppError> {
    if let Some(batch) = open_batch(store, line, Some(&product.id)).await? {
        return Ok(batch);
    }
    let store = store.with_actor(actor.clone());
    let today = time::OffsetDateTime::now_utc().date();
    let lot = format!("{line}-{}", store.batch_count().await? + 1);
    let batch = store
        .create_batch(&NewBatch {
            product_id: product.id.clone(),
            lot,
            quantity: i64::try_from(units).unwrap_or(i64::MAX),
            production_date: today.to_string(),
            expiry_date: None,
            line: Some(line.to_owned()),
        })
        .await?;
    Ok(store.set_batch_state(batch.id, BatchState::Running).await?)
}
