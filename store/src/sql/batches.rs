//! Batches: registering them, their state (SPEC §3) and their codes' counts.

use serde_json::json;
use sqlx::any::AnyRow;

use super::audit::{begin, finish};
use super::{Db, get};
use crate::{Actor, Batch, BatchState, CodeState, NewBatch, StoreError, now};

const BATCH_COLUMNS: &str = "id, product_id, lot, quantity, production_date, expiry_date, line, \
    state, created_at, closed_at, simulated, started_by, released_by, released_at";

fn batch_from_row(row: &AnyRow) -> Result<Batch, StoreError> {
    const WHAT: &str = "read a batch";
    Ok(Batch {
        id: get(row, "id", WHAT)?,
        product_id: get(row, "product_id", WHAT)?,
        lot: get(row, "lot", WHAT)?,
        quantity: get(row, "quantity", WHAT)?,
        production_date: get(row, "production_date", WHAT)?,
        expiry_date: get(row, "expiry_date", WHAT)?,
        line: get(row, "line", WHAT)?,
        state: get::<String>(row, "state", WHAT)?.parse()?,
        created_at: get(row, "created_at", WHAT)?,
        closed_at: get(row, "closed_at", WHAT)?,
        simulated: get::<i64>(row, "simulated", WHAT)? != 0,
        started_by: get(row, "started_by", WHAT)?,
        released_by: get(row, "released_by", WHAT)?,
        released_at: get(row, "released_at", WHAT)?,
    })
}

pub(crate) async fn create_batch(
    db: &Db,
    actor: &Actor,
    b: &NewBatch,
) -> Result<Batch, StoreError> {
    let (mut tx, head) = begin(db).await?;
    let existing: Option<i64> =
        sqlx::query_scalar("SELECT id FROM batches WHERE product_id = $1 AND lot = $2")
            .bind(&b.product_id)
            .bind(&b.lot)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::db("look for an existing batch"))?;
    if let Some(id) = existing {
        return Err(StoreError::invalid(
            "lot",
            format!(
                "lot {} of product {} already exists (batch {id})",
                b.lot, b.product_id
            ),
        ));
    }
    let row = sqlx::query(&format!(
        "INSERT INTO batches (product_id, lot, quantity, production_date, expiry_date, line, \
         state, created_at, simulated) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         RETURNING {BATCH_COLUMNS}"
    ))
    .bind(&b.product_id)
    .bind(&b.lot)
    .bind(b.quantity)
    .bind(&b.production_date)
    .bind(&b.expiry_date)
    .bind(&b.line)
    .bind(BatchState::Created.as_str())
    .bind(now())
    .bind(i64::from(b.simulated))
    .fetch_one(&mut *tx)
    .await
    .map_err(StoreError::db(format!("insert batch {}", b.lot)))?;
    let batch = batch_from_row(&row)?;
    let detail = serde_json::to_value(&batch).unwrap_or_default();
    let subject = format!("batch:{}", batch.id);
    finish(tx, actor, head, "batch.create", &subject, detail).await?;
    Ok(batch)
}

pub(crate) async fn batch(db: &Db, id: i64) -> Result<Option<Batch>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {BATCH_COLUMNS} FROM batches WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&db.pool)
    .await
    .map_err(StoreError::db(format!("read batch {id}")))?;
    row.as_ref().map(batch_from_row).transpose()
}

pub(crate) async fn batches(db: &Db) -> Result<Vec<Batch>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {BATCH_COLUMNS} FROM batches ORDER BY id DESC"
    ))
    .fetch_all(&db.pool)
    .await
    .map_err(StoreError::db("list batches"))?;
    rows.iter().map(batch_from_row).collect()
}

/// At most `limit` batches, newest first, after skipping `offset`; and how many there are.
pub(crate) async fn batches_page(
    db: &Db,
    offset: i64,
    limit: i64,
) -> Result<(Vec<Batch>, i64), StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {BATCH_COLUMNS} FROM batches ORDER BY id DESC LIMIT $1 OFFSET $2"
    ))
    .bind(limit)
    .bind(offset)
    .fetch_all(&db.pool)
    .await
    .map_err(StoreError::db("list a page of batches"))?;
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM batches")
        .fetch_one(&db.pool)
        .await
        .map_err(StoreError::db("count batches"))?;
    Ok((
        rows.iter().map(batch_from_row).collect::<Result<_, _>>()?,
        total,
    ))
}

/// The oldest running or paused batch of `line` (of `product`, when given).
pub(crate) async fn open_batch_of_line(
    db: &Db,
    line: &str,
    product: Option<&str>,
) -> Result<Option<Batch>, StoreError> {
    let of_product = if product.is_some() {
        " AND product_id = $4"
    } else {
        ""
    };
    let query = format!(
        "SELECT {BATCH_COLUMNS} FROM batches WHERE line = $1 AND state IN ($2, $3){of_product} \
         ORDER BY id LIMIT 1"
    );
    let mut query = sqlx::query(&query)
        .bind(line)
        .bind(BatchState::Running.as_str())
        .bind(BatchState::Paused.as_str());
    if let Some(product) = product {
        query = query.bind(product);
    }
    let row = query
        .fetch_optional(&db.pool)
        .await
        .map_err(StoreError::db(format!(
            "find the open batch of line {line}"
        )))?;
    row.as_ref().map(batch_from_row).transpose()
}

/// How many batches the store has.
pub(crate) async fn batch_count(db: &Db) -> Result<i64, StoreError> {
    sqlx::query_scalar("SELECT COUNT(*) FROM batches")
        .fetch_one(&db.pool)
        .await
        .map_err(StoreError::db("count batches"))
}

/// How many batches the plant made (not marked simulated).
pub(crate) async fn production_batch_count(db: &Db) -> Result<i64, StoreError> {
    sqlx::query_scalar("SELECT COUNT(*) FROM batches WHERE simulated = 0")
        .fetch_one(&db.pool)
        .await
        .map_err(StoreError::db("count production batches"))
}

/// Moves a batch to `to`; closing voids its codes that were never printed (SPEC §3).
pub(crate) async fn set_batch_state(
    db: &Db,
    actor: &Actor,
    id: i64,
    to: BatchState,
) -> Result<Batch, StoreError> {
    let (mut tx, head) = begin(db).await?;
    let row = sqlx::query(&format!(
        "SELECT {BATCH_COLUMNS} FROM batches WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await
    .map_err(StoreError::db(format!("read batch {id}")))?;
    let Some(row) = row else {
        return Err(StoreError::NotFound {
            what: "batch",
            id: id.to_string(),
        });
    };
    let from = batch_from_row(&row)?.state;
    if !from.can_become(to) {
        return Err(StoreError::invalid(
            "state",
            format!("batch {id} cannot go from {from} to {to}"),
        ));
    }
    if from == BatchState::Created && to == BatchState::Running {
        // SPEC §8 four eyes: whoever starts the batch may not release it.
        sqlx::query("UPDATE batches SET started_by = $1 WHERE id = $2")
            .bind(&actor.user)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(format!("record who started batch {id}")))?;
    }
    let closed_at = (to == BatchState::Closed).then(now);
    sqlx::query("UPDATE batches SET state = $1, closed_at = $2 WHERE id = $3")
        .bind(to.as_str())
        .bind(&closed_at)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(format!("update batch {id}")))?;
    let mut voided = 0;
    if to == BatchState::Closed {
        // SPEC §3: codes never printed are voided when the batch closes.
        voided = sqlx::query(
            "UPDATE codes SET state = 'voided', last_event = $1 \
             WHERE batch_id = $2 AND state IN ('reserved', 'sent')",
        )
        .bind(head.seq)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(format!(
            "void the unprinted codes of batch {id}"
        )))?
        .rows_affected();
    }
    let mut uploads = Vec::new();
    if to == BatchState::Closed {
        // SPEC §6: one delivery per upload target, in the transaction that closes the batch.
        uploads = super::upload::enqueue_batch(&mut tx, id).await?;
    }
    let mut detail = json!({ "from": from.as_str(), "to": to.as_str(), "voided": voided });
    if !uploads.is_empty() {
        detail["uploads"] = json!(uploads);
    }
    let subject = format!("batch:{id}");
    finish(tx, actor, head, "batch.state", &subject, detail).await?;
    batch(db, id).await?.ok_or_else(|| StoreError::NotFound {
        what: "batch",
        id: id.to_string(),
    })
}

/// Records the release of closed batch `id` by `actor` (SPEC §8); the caller checked the
/// rules (`tracemark::app::batches::release`). Refused when the batch is not closed or was
/// released already, checked again here inside the transaction so two releases at once cannot
/// both succeed.
pub(crate) async fn release_batch(db: &Db, actor: &Actor, id: i64) -> Result<Batch, StoreError> {
    let (mut tx, head) = begin(db).await?;
    let released_at = now();
    let updated = sqlx::query(
        "UPDATE batches SET released_by = $1, released_at = $2 \
         WHERE id = $3 AND state = $4 AND released_at IS NULL",
    )
    .bind(&actor.user)
    .bind(&released_at)
    .bind(id)
    .bind(BatchState::Closed.as_str())
    .execute(&mut *tx)
    .await
    .map_err(StoreError::db(format!("release batch {id}")))?
    .rows_affected();
    if updated == 0 {
        return Err(StoreError::invalid(
            "released",
            format!("batch {id} is not closed, or was released already"),
        ));
    }
    let subject = format!("batch:{id}");
    let detail = json!({ "released_at": released_at });
    finish(tx, actor, head, "batch.release", &subject, detail).await?;
    batch(db, id).await?.ok_or_else(|| StoreError::NotFound {
        what: "batch",
        id: id.to_string(),
    })
}

/// The user of the first event that set batch `id` running from created (the audit chain's
/// answer for a batch started before `started_by` was recorded); `None` when the chain has no
/// such event (never started, or purged).
pub(crate) async fn starter_from_events(db: &Db, id: i64) -> Result<Option<String>, StoreError> {
    let rows = sqlx::query(
        "SELECT actor_user, detail FROM events WHERE kind = 'batch.state' AND subject = $1 \
         ORDER BY seq",
    )
    .bind(format!("batch:{id}"))
    .fetch_all(&db.pool)
    .await
    .map_err(StoreError::db(format!("read the events of batch {id}")))?;
    for row in &rows {
        let detail: String = get(row, "detail", "read an event")?;
        let detail: serde_json::Value = serde_json::from_str(&detail).unwrap_or_default();
        if detail["from"] == BatchState::Created.as_str()
            && detail["to"] == BatchState::Running.as_str()
        {
            return Ok(Some(get(row, "actor_user", "read an event")?));
        }
    }
    Ok(None)
}

/// Code counts of a batch in the states QA settles (rejected, destroyed, released): from the
/// partial index on those states (migration 0017), so the count costs the batch's rejects, not
/// its codes.
pub(crate) async fn reject_counts(db: &Db, id: i64) -> Result<Vec<(CodeState, i64)>, StoreError> {
    const WHAT: &str = "count the rejects of a batch";
    let rows = sqlx::query(&format!(
        "SELECT c.state AS state, COUNT(*) AS n FROM codes c \
         WHERE c.batch_id = $1 AND {} GROUP BY c.state",
        super::codes::REJECT_STATES
    ))
    .bind(id)
    .fetch_all(&db.pool)
    .await
    .map_err(StoreError::db(format!("count the rejects of batch {id}")))?;
    rows.iter()
        .map(|row| {
            Ok((
                get::<String>(row, "state", WHAT)?.parse()?,
                get(row, "n", WHAT)?,
            ))
        })
        .collect()
}

/// How a pass over every code of a batch reads them.
///
/// On SQLite through `codes_batch` (0003) each code costs a descent of the primary key from the
/// index entry: a million-unit batch reads a million times from the root. A batch's codes are
/// allocated in blocks of consecutive counters, so when its codes fill most of one counter range
/// of one product, reading that range of the primary key in order and keeping the batch's rows
/// is about three times cheaper (docs/performance.md "Batch report (issue 17)"). Batches
/// allocated in turns with others of the same product spread wider: those keep the index.
/// PostgreSQL's planner chooses for itself (a bitmap scan of the index reads the heap in order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BatchCodes {
    /// `codes_batch`, the batch's index entries.
    ByIndex,
    /// The primary key's range `(product_id, lo..=hi)`, the rows of other batches skipped.
    ByRange {
        product_id: String,
        lo: i64,
        hi: i64,
    },
}

/// A range read is chosen while at most this many rows are read per row of the batch.
const RANGE_SPREAD: i64 = 2;

impl BatchCodes {
    /// How to read the codes of batch `id` (an index-only count on SQLite, nothing on
    /// PostgreSQL).
    pub(crate) async fn of(db: &Db, id: i64) -> Result<BatchCodes, StoreError> {
        const WHAT: &str = "find the counter range of a batch";
        if db.dialect != super::Dialect::Sqlite {
            return Ok(BatchCodes::ByIndex);
        }
        // Covered by `codes_batch` (its entries hold the key `product_id, counter`), in index
        // order: no table row is read.
        let rows = sqlx::query(
            "SELECT product_id, COUNT(*) AS n, MIN(counter) AS lo, MAX(counter) AS hi \
             FROM codes WHERE batch_id = $1 GROUP BY product_id",
        )
        .bind(id)
        .fetch_all(&db.pool)
        .await
        .map_err(StoreError::db(format!(
            "find the counter range of batch {id}"
        )))?;
        let [row] = rows.as_slice() else {
            // No code, or (never made by the store) codes of two products.
            return Ok(BatchCodes::ByIndex);
        };
        let n: i64 = get(row, "n", WHAT)?;
        let lo: i64 = get(row, "lo", WHAT)?;
        let hi: i64 = get(row, "hi", WHAT)?;
        if hi.saturating_sub(lo).saturating_add(1) > n.saturating_mul(RANGE_SPREAD) {
            return Ok(BatchCodes::ByIndex);
        }
        Ok(BatchCodes::ByRange {
            product_id: get(row, "product_id", WHAT)?,
            lo,
            hi,
        })
    }

    /// The SQL condition selecting the batch's codes (alias `c`); the batch's id is bound at
    /// `$1`, and the range (when one is read) at `$first`, `$first + 1` and `$first + 2`
    /// ([`BatchCodes::bind`]).
    pub(crate) fn filter(&self, first: u32) -> String {
        match self {
            BatchCodes::ByIndex => "c.batch_id = $1".to_owned(),
            // `+c.batch_id`: an expression, not a column, so SQLite does not take `codes_batch`
            // for this term and reads the primary key's range.
            BatchCodes::ByRange { .. } => format!(
                "c.product_id = ${first} AND c.counter >= ${} AND c.counter <= ${} \
                 AND +c.batch_id = $1",
                first + 1,
                first + 2
            ),
        }
    }

    /// Binds the range's parameters after those bound before (see [`BatchCodes::filter`]).
    pub(crate) fn bind<'q>(
        &'q self,
        query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        match self {
            BatchCodes::ByIndex => query,
            BatchCodes::ByRange { product_id, lo, hi } => {
                query.bind(product_id.as_str()).bind(*lo).bind(*hi)
            }
        }
    }
}

/// Code counts of a batch per state.
pub(crate) async fn batch_counts(db: &Db, id: i64) -> Result<Vec<(CodeState, i64)>, StoreError> {
    const WHAT: &str = "count the codes of a batch";
    let codes = BatchCodes::of(db, id).await?;
    let statement = format!(
        "SELECT c.state AS state, COUNT(*) AS n FROM codes c WHERE {} GROUP BY c.state",
        codes.filter(2)
    );
    let rows = codes
        .bind(sqlx::query(&statement).bind(id))
        .fetch_all(&db.pool)
        .await
        .map_err(StoreError::db(format!("count the codes of batch {id}")))?;
    rows.iter()
        .map(|row| {
            Ok((
                get::<String>(row, "state", WHAT)?.parse()?,
                get(row, "n", WHAT)?,
            ))
        })
        .collect()
}

pub(crate) async fn record_line_command(
    db: &Db,
    actor: &Actor,
    line_id: &str,
    batch: i64,
    verb: &str,
    reason: Option<&str>,
) -> Result<(), StoreError> {
    let (tx, head) = begin(db).await?;
    let detail = json!({ "batch": batch, "reason": reason });
    let subject = format!("line:{line_id}");
    finish(tx, actor, head, &format!("line.{verb}"), &subject, detail).await
}
