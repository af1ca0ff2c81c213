//! Codes outside the line: allocation for a printer that is not driven by tracemark (a label run
//! printed elsewhere), a manual state change with its reason, and one code's record.

use tracemark_store::{
    Actor, Allocation, CodeRecord, CodeState, MAX_ALLOCATION, Product, RejectReason, Store,
    Transition,
};

use super::AppError;

/// Checks an allocation of `count` codes of `product` in transactions of `chunk`, for `batch`,
/// before anything is written anywhere (the caller's output file included).
pub async fn check_allocation(
    store: &Store,
    product: &str,
    batch: Option<i64>,
    count: u64,
    chunk: u64,
) -> Result<Product, AppError> {
    if count == 0 {
        return Err(AppError::input("count", "must be at least 1"));
    }
    if chunk == 0 || chunk > MAX_ALLOCATION {
        return Err(AppError::input(
            "chunk",
            format!("must be between 1 and {MAX_ALLOCATION}"),
        ));
    }
    let product = store.product(product).await?;
    if let Some(batch) = batch {
        store.batch(batch).await?;
    }
    Ok(product)
}

/// Issues `count` new codes of `product` (one transaction), optionally for a batch.
pub async fn allocate(
    store: &Store,
    actor: &Actor,
    product: &str,
    count: u64,
    batch: Option<i64>,
) -> Result<Allocation, AppError> {
    Ok(store
        .with_actor(actor.clone())
        .allocate(product, count, batch)
        .await?)
}

/// Moves every code in `codes` to `to` (with `reason` for `rejected`), all or none.
pub async fn set_state(
    store: &Store,
    actor: &Actor,
    codes: &[String],
    to: &str,
    reason: Option<&str>,
) -> Result<CodeState, AppError> {
    let to: CodeState = to.parse()?;
    let reason: Option<RejectReason> = reason.map(str::parse).transpose()?;
    let changes: Vec<Transition> = codes
        .iter()
        .map(|code| Transition {
            code: code.clone(),
            to,
            reason,
            read: None,
        })
        .collect();
    store
        .with_actor(actor.clone())
        .transition_all(&changes)
        .await?;
    Ok(to)
}

/// One code's record: product, counter, batch, state, reason and last read.
pub async fn show(store: &Store, code: &str) -> Result<CodeRecord, AppError> {
    Ok(store.code(code).await?)
}
