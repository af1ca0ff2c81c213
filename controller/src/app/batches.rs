//! Batches: registering one, its life cycle (created → running ⇄ paused → closed, SPEC §3) and
//! its reconciliation.

use serde::Serialize;
use tracemark_store::reconcile::{PackageReconciliation, Reconciliation};
use tracemark_store::{Actor, Batch, BatchState, NewBatch, Store};

use super::AppError;

/// Registers a batch (the lot must be new for the product).
pub async fn create(store: &Store, actor: &Actor, batch: &NewBatch) -> Result<Batch, AppError> {
    Ok(store.with_actor(actor.clone()).create_batch(batch).await?)
}

/// Moves a batch to `to`. Closing voids its codes that were never printed and first closes its
/// open packages: partial cartons and pallets are closed short (flagged in the report), empty
/// ones voided (docs/aggregation.md "At the end of a batch").
pub async fn set_state(
    store: &Store,
    actor: &Actor,
    id: i64,
    to: BatchState,
) -> Result<Batch, AppError> {
    if to == BatchState::Closed && store.batch(id).await?.state != BatchState::Closed {
        super::packing::close_open_packages(store, actor, id).await?;
    }
    Ok(store
        .with_actor(actor.clone())
        .set_batch_state(id, to)
        .await?)
}

/// Every batch, newest first.
pub async fn list(store: &Store) -> Result<Vec<Batch>, AppError> {
    Ok(store.batches().await?)
}

/// One batch.
pub async fn get(store: &Store, id: i64) -> Result<Batch, AppError> {
    Ok(store.batch(id).await?)
}

/// A batch and its reconciliation (SPEC §3): every code accounted for.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BatchReport {
    /// The batch.
    pub batch: Batch,
    /// Its codes by state, and whether they balance.
    pub reconciliation: Reconciliation,
    /// Its cartons and pallets, and whether they balance (issue 14 item 5).
    pub packages: PackageReconciliation,
}

/// The reconciliation report of batch `id`.
pub async fn report(store: &Store, id: i64) -> Result<BatchReport, AppError> {
    let batch = store.batch(id).await?;
    let counts = store.batch_counts(id).await?;
    Ok(BatchReport {
        batch,
        reconciliation: Reconciliation::from_counts(&counts),
        packages: store.package_reconciliation(id).await?,
    })
}
