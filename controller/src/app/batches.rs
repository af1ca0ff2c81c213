//! Batches: registering one, its life cycle (created → running ⇄ paused → closed, SPEC §3) and
//! its reconciliation.

use serde::Serialize;
use tracemark_store::reconcile::{PackageReconciliation, Reconciliation};
use tracemark_store::report::BatchTally;
use tracemark_store::{Actor, Batch, BatchState, NewBatch, Store};

use super::AppError;
use super::page::{Page, PageRequest};

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

/// A page of the batches, newest first, read as one page from the store (a plant keeps years
/// of batches; the API's and the HMI's lists read only what they show).
pub async fn list_page(store: &Store, request: PageRequest) -> Result<Page<Batch>, AppError> {
    let (offset, limit) = request.offset_limit()?;
    let (items, total) = store.batches_page(offset, limit).await?;
    request.of(items, total)
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

/// [`report`] of batch `id` from a tally the caller already made (the batch report counts
/// every code once for this and its charts): the same figures, from the same rules.
pub async fn report_of_tally(
    store: &Store,
    id: i64,
    tally: &BatchTally,
) -> Result<BatchReport, AppError> {
    Ok(BatchReport {
        batch: store.batch(id).await?,
        reconciliation: Reconciliation::from_counts(&tally.counts),
        packages: store.package_reconciliation_of(id, tally).await?,
    })
}

/// QA releases batch `id` (SPEC §8): it must be closed and balanced — every code and package
/// accounted for (SPEC §3) — and not released yet (409 otherwise); and the releasing user must
/// not be the one who started it (four eyes; 403). Who released it, and when, goes on the batch
/// and into the audit chain.
pub async fn release(store: &Store, actor: &Actor, id: i64) -> Result<Batch, AppError> {
    let BatchReport {
        batch,
        reconciliation,
        packages,
    } = report(store, id).await?;
    if !actor.is_identified() {
        return Err(AppError::Forbidden(format!(
            "a batch release needs a named user, and none could be found (user {:?})",
            Actor::UNKNOWN_USER
        )));
    }
    if let Some(by) = &batch.released_by {
        return Err(AppError::Conflict {
            field: "released",
            reason: format!(
                "batch {id} was released by {by} at {}",
                batch.released_at.as_deref().unwrap_or("?")
            ),
        });
    }
    if batch.state != BatchState::Closed {
        return Err(AppError::Conflict {
            field: "state",
            reason: format!(
                "batch {id} is {}: only a closed batch is released",
                batch.state
            ),
        });
    }
    let problems: Vec<String> = reconciliation
        .problems
        .into_iter()
        .chain(packages.problems)
        .collect();
    if !reconciliation.balanced || !packages.balanced {
        return Err(AppError::Conflict {
            field: "reconciliation",
            reason: format!(
                "batch {id} does not balance: {}",
                if problems.is_empty() {
                    "see tracemark batch report".to_owned()
                } else {
                    problems.join("; ")
                }
            ),
        });
    }
    if store.batch_starter(id).await?.as_deref() == Some(actor.user.as_str()) {
        return Err(AppError::Forbidden(format!(
            "{} started batch {id}: another QA user must release it (four eyes, SPEC §8)",
            actor.user
        )));
    }
    store
        .with_actor(actor.clone())
        .release_batch(id)
        .await
        .map_err(|err| match err {
            // Released by someone else between the check and the write.
            tracemark_store::StoreError::Invalid {
                field: "released",
                reason,
            } => AppError::Conflict {
                field: "released",
                reason,
            },
            other => other.into(),
        })
}
