//! Serial allocation: blocks reserved with one atomic counter update, codes issued from them,
//! and the counts that prove no counter was lost or used twice (docs/store.md, "Allocation").

use serde_json::json;
use sqlx::{Any, Transaction};

use super::audit::{Head, begin, finish};
use super::{Db, Dialect, get};
use crate::model::max_issuable;
use crate::serial::{SerialIssuer, key_from_hex};
use crate::{Actor, Allocation, Block, IssuedCounts, Product, StoreError, now};

/// Advances the product's counter by `n` (one atomic statement: concurrent controllers get
/// disjoint blocks) and records the block, all of it issued or none of it.
async fn reserve(
    tx: &mut Transaction<'static, Any>,
    actor: &Actor,
    head: &Head,
    product: &Product,
    n: i64,
    issue_all: bool,
) -> Result<Block, StoreError> {
    let end: i64 = sqlx::query_scalar(
        "UPDATE serial_counters SET next_counter = next_counter + $1 \
         WHERE product_id = $2 RETURNING next_counter",
    )
    .bind(n)
    .bind(&product.id)
    .fetch_one(&mut **tx)
    .await
    .map_err(StoreError::db(format!(
        "reserve {n} serials of {}",
        product.id
    )))?;
    let first = end - n;
    // The store never issues so many serials that a guess would hit one with probability
    // ≥ 1/10,000 (`max_issuable`); the FF1 space itself is far larger.
    let limit = max_issuable(product.serial_alphabet, product.serial_length);
    if end > limit {
        return Err(StoreError::invalid(
            "count",
            format!(
                "product {} may issue {} more serials of {limit} (guess probability must stay \
                 below 1/10,000; lengthen its serials to issue more)",
                product.id,
                (limit - first).max(0)
            ),
        ));
    }
    let issued_end = if issue_all { end } else { first };
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO serial_blocks (product_id, first_counter, end_counter, issued_end, owner, \
         reserved_at, event_seq) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(&product.id)
    .bind(first)
    .bind(end)
    .bind(issued_end)
    .bind(&actor.device)
    .bind(now())
    .bind(head.seq)
    .fetch_one(&mut **tx)
    .await
    .map_err(StoreError::db(format!(
        "record serial block {first}..{end}"
    )))?;
    Ok(Block {
        id,
        product_id: product.id.clone(),
        first_counter: first,
        end_counter: end,
        issued_end,
        owner: actor.device.clone(),
    })
}

/// Where the serials of a range of codes come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Serials {
    /// The transaction has moved the block's issued end over them already.
    Taken,
    /// The insert's statement moves it first: from where the range starts, and not past the
    /// block's end. If the block's issued end does not stand there, nothing is inserted and
    /// the range is refused (it is not this controller's, or issued already).
    ToTake,
}

/// The issuer of `product`, with its serial key read in `tx`.
async fn issuer_in(
    tx: &mut Transaction<'static, Any>,
    product: &Product,
) -> Result<SerialIssuer, StoreError> {
    let key_hex: Option<String> =
        sqlx::query_scalar("SELECT key_hex FROM product_keys WHERE product_id = $1")
            .bind(&product.id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(StoreError::db(format!(
                "read the serial key of {}",
                product.id
            )))?;
    let key_hex = key_hex
        .ok_or_else(|| StoreError::Corrupt(format!("product {} has no serial key", product.id)))?;
    SerialIssuer::new(product.clone(), &key_from_hex(&product.id, &key_hex)?)
}

/// Inserts the codes of counters `first..end` (state `reserved`) made by `issuer`, in one
/// statement that also takes their serials from the block when `serials` says so: one round
/// trip a range.
pub(super) async fn insert_codes(
    tx: &mut Transaction<'static, Any>,
    head: &Head,
    issuer: &SerialIssuer,
    block_id: i64,
    (first, end): (i64, i64),
    batch: Option<i64>,
    serials: Serials,
) -> Result<Allocation, StoreError> {
    let product = issuer.product();
    let (serial_texts, codes) = issuer.codes(first, end)?;
    // Rows go in counter order, so the primary key grows at its end (there is no index on the
    // code text: crate::locate).
    let codes_json = serde_json::to_string(&codes).unwrap_or_default();
    let dialect = head.dialect;
    let insert = insert_sql(dialect, serials);
    let mut query = sqlx::query(&insert)
        .bind(&product.id)
        .bind(first)
        .bind(batch)
        .bind(block_id)
        .bind(head.seq)
        .bind(&codes_json);
    if serials == Serials::ToTake {
        query = query.bind(end);
    }
    // Taking the serials, a range issued before is not the block's next: its update moves
    // nothing, and its rows (the issued end standing at its end) meet the codes' primary key.
    let not_next = || {
        StoreError::invalid(
            "issue",
            format!(
                "serials {first}..{end} of {} are not the next of block {block_id} (not this \
                 controller's, issued already, or beyond its end)",
                product.id
            ),
        )
    };
    let inserted = query
        .execute(&mut **tx)
        .await
        .map_err(|e| {
            let twice = e
                .as_database_error()
                .is_some_and(|d| d.is_unique_violation());
            match (twice, serials) {
                (true, Serials::ToTake) => not_next(),
                (true, Serials::Taken) => StoreError::corrupt(format!(
                    "a code of {} counters {first}..{end} already exists; refusing to issue \
                     it twice",
                    product.id
                )),
                (false, _) => {
                    StoreError::db(format!("insert codes {first}..{end} of {}", product.id))(e)
                }
            }
        })?
        .rows_affected();
    // SQLite counts the block's update with the rows (sqlx sums a query's statements).
    let moved = u64::from(serials == Serials::ToTake && dialect == Dialect::Sqlite);
    if serials == Serials::ToTake && inserted != codes.len() as u64 + moved {
        return Err(not_next());
    }
    Ok(Allocation {
        block_id,
        first_counter: first,
        serials: serial_texts,
        codes,
    })
}

/// The statement of [`insert_codes`]: `$1` product, `$2` first counter, `$3` batch, `$4`
/// block, `$5` event, `$6` the code texts (a JSON array, in counter order), `$7` (taking the
/// serials only) end counter.
/// Taking the serials, the rows are inserted only if the block's issued end stands at the
/// range's end afterwards: moved there by the update — or already there, when the range was
/// issued before, and then the codes' primary key refuses them.
fn insert_sql(dialect: Dialect, serials: Serials) -> String {
    const TAKE: &str = "UPDATE serial_blocks SET issued_end = $7 \
         WHERE id = $4 AND product_id = $1 AND issued_end = $2 AND $7 <= end_counter";
    const COLUMNS: &str =
        "INSERT INTO codes (product_id, counter, code, batch_id, block_id, state, last_event)";
    match (dialect, serials) {
        (Dialect::Postgres, Serials::Taken) => format!(
            "{COLUMNS} SELECT $1, $2 + u.ord - 1, u.code, $3, $4, 'reserved', $5 \
             FROM json_array_elements_text($6::json) WITH ORDINALITY AS u(code, ord)"
        ),
        (Dialect::Postgres, Serials::ToTake) => format!(
            "WITH moved AS ({TAKE} RETURNING id) \
             {COLUMNS} SELECT $1, $2 + u.ord - 1, u.code, $3, $4, 'reserved', $5 \
             FROM json_array_elements_text($6::json) WITH ORDINALITY AS u(code, ord) \
             WHERE EXISTS (SELECT 1 FROM moved)"
        ),
        (Dialect::Sqlite, Serials::Taken) => format!(
            "{COLUMNS} SELECT $1, $2 + j.key, j.value, $3, $4, 'reserved', $5 \
             FROM json_each($6) AS j"
        ),
        (Dialect::Sqlite, Serials::ToTake) => format!(
            "{TAKE}; {COLUMNS} SELECT $1, $2 + j.key, j.value, $3, $4, 'reserved', $5 \
             FROM json_each($6) AS j \
             WHERE EXISTS (SELECT 1 FROM serial_blocks WHERE id = $4 AND issued_end = $7)"
        ),
    }
}

/// The detail of a `codes.allocate` or `codes.issue` event. Its bytes are hashed into the
/// chain: keep the keys and their order.
fn allocation_detail(a: &Allocation, block: &Block, batch: Option<i64>) -> serde_json::Value {
    use sha2::Digest;
    let digest = hex::encode(sha2::Sha256::digest(a.codes.join("\n").as_bytes()));
    json!({
        "block": block.id, "block_range": [block.first_counter, block.end_counter],
        "first_counter": a.first_counter, "count": a.codes.len(), "batch": batch,
        "first_code": a.codes.first(), "codes_sha256": digest,
    })
}

/// Reserves a block of `count` counters and issues a code for each (see `Store::allocate`).
pub(crate) async fn allocate(
    db: &Db,
    actor: &Actor,
    product: &Product,
    count: u64,
    batch: Option<i64>,
) -> Result<Allocation, StoreError> {
    let n = i64::try_from(count).map_err(|_| StoreError::invalid("count", "too large"))?;
    let (mut tx, head) = begin(db).await?;
    let block = reserve(&mut tx, actor, &head, product, n, true).await?;
    let range = (block.first_counter, block.end_counter);
    let issuer = issuer_in(&mut tx, product).await?;
    let allocation = insert_codes(
        &mut tx,
        &head,
        &issuer,
        block.id,
        range,
        batch,
        Serials::Taken,
    )
    .await?;
    let detail = allocation_detail(&allocation, &block, batch);
    finish(tx, actor, head, "codes.allocate", &product.id, detail).await?;
    Ok(allocation)
}

/// Reserves a block of `size` counters for the actor's device, issuing none of them yet.
pub(crate) async fn reserve_block(
    db: &Db,
    actor: &Actor,
    product: &Product,
    size: u64,
) -> Result<Block, StoreError> {
    let n = i64::try_from(size).map_err(|_| StoreError::invalid("size", "too large"))?;
    let (mut tx, head) = begin(db).await?;
    let block = reserve(&mut tx, actor, &head, product, n, false).await?;
    let detail = json!({
        "block": block.id, "first_counter": block.first_counter,
        "end_counter": block.end_counter, "owner": block.owner,
    });
    finish(tx, actor, head, "serials.reserve", &product.id, detail).await?;
    Ok(block)
}

/// Issues the next `count` codes of block `block_id`.
pub(crate) async fn issue_from_block(
    db: &Db,
    actor: &Actor,
    product: &Product,
    block_id: i64,
    count: u64,
    batch: Option<i64>,
) -> Result<Allocation, StoreError> {
    const WHAT: &str = "read a serial block";
    let n = i64::try_from(count).map_err(|_| StoreError::invalid("count", "too large"))?;
    let (mut tx, head) = begin(db).await?;
    let row = sqlx::query(
        "UPDATE serial_blocks SET issued_end = issued_end + $1 \
         WHERE id = $2 AND product_id = $3 AND issued_end + $1 <= end_counter \
         RETURNING first_counter, end_counter, issued_end, owner",
    )
    .bind(n)
    .bind(block_id)
    .bind(&product.id)
    .fetch_optional(&mut *tx)
    .await
    .map_err(StoreError::db(format!(
        "take {n} serials from block {block_id}"
    )))?;
    let Some(row) = row else {
        return Err(StoreError::invalid(
            "count",
            format!(
                "block {block_id} of {} has fewer than {n} serials left",
                product.id
            ),
        ));
    };
    let block = Block {
        id: block_id,
        product_id: product.id.clone(),
        first_counter: get(&row, "first_counter", WHAT)?,
        end_counter: get(&row, "end_counter", WHAT)?,
        issued_end: get(&row, "issued_end", WHAT)?,
        owner: get(&row, "owner", WHAT)?,
    };
    let range = (block.issued_end - n, block.issued_end);
    let issuer = issuer_in(&mut tx, product).await?;
    let allocation = insert_codes(
        &mut tx,
        &head,
        &issuer,
        block_id,
        range,
        batch,
        Serials::Taken,
    )
    .await?;
    let detail = allocation_detail(&allocation, &block, batch);
    finish(tx, actor, head, "codes.issue", &product.id, detail).await?;
    Ok(allocation)
}

/// Advances every product's serial counter by `gap`; returns (product, next counter) by
/// product.
pub(crate) async fn skip_counters(
    db: &Db,
    actor: &Actor,
    gap: i64,
    why: &str,
) -> Result<Vec<(String, i64)>, StoreError> {
    const WHAT: &str = "read a serial counter";
    let (mut tx, head) = begin(db).await?;
    let rows = sqlx::query(
        "UPDATE serial_counters SET next_counter = next_counter + $1 \
         RETURNING product_id, next_counter",
    )
    .bind(gap)
    .fetch_all(&mut *tx)
    .await
    .map_err(StoreError::db(format!(
        "advance every serial counter by {gap}"
    )))?;
    let mut moved = rows
        .iter()
        .map(|row| {
            Ok((
                get(row, "product_id", WHAT)?,
                get(row, "next_counter", WHAT)?,
            ))
        })
        .collect::<Result<Vec<(String, i64)>, StoreError>>()?;
    moved.sort();
    let detail = json!({ "gap": gap, "why": why, "next_counters": moved });
    finish(tx, actor, head, "counters.skip", "serial_counters", detail).await?;
    Ok(moved)
}

/// Codes, issued and reserved serials, and the next counter of a product.
pub(crate) async fn issued_counts(db: &Db, product_id: &str) -> Result<IssuedCounts, StoreError> {
    const WHAT: &str = "read the issued counts";
    // One statement, so one snapshot: a transaction committing meanwhile is seen entirely or
    // not at all, and the figures always agree.
    let row = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM codes WHERE product_id = $1) AS codes, \
         (SELECT CAST(SUM(issued_end - first_counter) AS BIGINT) FROM serial_blocks \
          WHERE product_id = $1) AS issued, \
         (SELECT CAST(SUM(end_counter - first_counter) AS BIGINT) FROM serial_blocks \
          WHERE product_id = $1) AS reserved, \
         (SELECT next_counter FROM serial_counters WHERE product_id = $1) AS next_counter",
    )
    .bind(product_id)
    .fetch_one(&db.pool)
    .await
    .map_err(StoreError::db(format!(
        "count the codes and blocks of {product_id}"
    )))?;
    Ok(IssuedCounts {
        codes: get(&row, "codes", WHAT)?,
        issued: get::<Option<i64>>(&row, "issued", WHAT)?.unwrap_or(0),
        reserved: get::<Option<i64>>(&row, "reserved", WHAT)?.unwrap_or(0),
        next_counter: get::<Option<i64>>(&row, "next_counter", WHAT)?.unwrap_or(0),
    })
}
