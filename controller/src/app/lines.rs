//! Which batch a line produces: the one named, the line's open batch (`run` resumes it), or —
//! for the demo and a simulation — a new one of the line's product.

use tracemark_store::{Actor, Batch, BatchState, NewBatch, Product, Store};

use super::AppError;

/// Who a line controller's writes are recorded as: `actor`'s user on the device
/// `<program>@<line>` — `line@cable-3` for `tracemark run`, `simulate@cable-3` and `demo@demo`
/// for a simulation — as the line's stations are `packing@<line>` and `dispatch@<line>`.
/// Several controllers share one store (docs/plant.md "Many controllers on one PostgreSQL"):
/// the owner of every serial block and the device of every event name the line that wrote it,
/// whichever host it runs on and however many lines run there.
pub fn controller_actor(actor: &Actor, program: &str, line: &str) -> Actor {
    actor.on_device(&format!("{program}@{line}"))
}

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

/// May `simulate` or `demo` write into this store? A store that holds batches the plant made
/// is a production store: a simulation there would put twin-made batches, rejects and QA
/// dispositions into its audit chain for good, so it is refused unless the user asks for it
/// (`allow_production`). Without `--db` the commands use a scratch store of their own.
pub async fn check_simulation_store(store: &Store, allow_production: bool) -> Result<(), AppError> {
    let production = store.production_batch_count().await?;
    if production > 0 && !allow_production {
        return Err(AppError::input(
            "--db",
            format!(
                "{} holds {production} production batch{}: a simulation would write twin-made \
                 batches and QA dispositions into its audit chain for good. Run without --db (a \
                 scratch store of its own), or pass --allow-production-store to mark the \
                 simulated batch and write it there anyway",
                store.url(),
                if production == 1 { "" } else { "es" }
            ),
        ));
    }
    Ok(())
}

/// The batch a simulation (`simulate`, `demo`) produces on line `line`: the line's open
/// simulated batch of `product` (a restart resumes it), or a new running batch of `units` made
/// today, lot `<line>-<n>`, marked simulated. A line that has a production batch open is
/// refused: the twin must not produce into the plant's batch.
pub async fn resume_or_start_simulated_batch(
    store: &Store,
    actor: &Actor,
    product: &Product,
    line: &str,
    units: u64,
) -> Result<Batch, AppError> {
    if let Some(batch) = open_batch(store, line, Some(&product.id)).await? {
        if batch.simulated {
            return Ok(batch);
        }
        return Err(AppError::Conflict {
            field: "line",
            reason: format!(
                "line {line:?} has production batch {} ({}) open: a simulation does not \
                 produce into it; pause or close it, or simulate under another line id",
                batch.id, batch.lot
            ),
        });
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
            simulated: true,
        })
        .await?;
    Ok(store.set_batch_state(batch.id, BatchState::Running).await?)
}
