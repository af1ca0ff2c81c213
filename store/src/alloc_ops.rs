//! Serial allocation SQL: blocks reserved with one atomic counter update, codes issued from
//! them. Expanded by `ops.rs` into each dialect's module next to `store_ops!`, whose imports,
//! `PG` flag and `begin`/`finish` it uses.

macro_rules! alloc_ops {
    ($DB:ty) => {
        use crate::model::max_issuable;
        use crate::serial::{generator, gs1_code, key_from_hex};
        use crate::{Allocation, Block};

        /// Advances the product's counter by `n` (one atomic statement: concurrent controllers
        /// get disjoint blocks) and records the block, with `issued` of it already issued.
        async fn reserve(
            tx: &mut Transaction<'static, $DB>,
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
            .map_err(StoreError::db(format!("reserve {n} serials of {}", product.id)))?;
            let first = end - n;
            // The store never issues so many serials that a guess would hit one with
            // probability ≥ 1/10,000 (`max_issuable`); the FF1 space itself is far larger.
            let limit = max_issuable(product.serial_alphabet, product.serial_length);
            if end > limit {
                return Err(StoreError::invalid(
                    "count",
                    format!(
                        "product {} may issue {} more serials of {limit} (guess probability \
                         must stay below 1/10,000; lengthen its serials to issue more)",
                        product.id,
                        (limit - first).max(0)
                    ),
                ));
            }
            let issued_end = if issue_all { end } else { first };
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO serial_blocks (product_id, first_counter, end_counter, issued_end, \
                 owner, reserved_at, event_seq) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
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
            .map_err(StoreError::db(format!("record serial block {first}..{end}")))?;
            Ok(Block {
                id,
                product_id: product.id.clone(),
                first_counter: first,
                end_counter: end,
                issued_end,
                owner: actor.device.clone(),
            })
        }

        /// Inserts the codes of counters `first..end` (state `reserved`) in one statement.
        async fn insert_codes(
            tx: &mut Transaction<'static, $DB>,
            head: &Head,
            product: &Product,
            block_id: i64,
            (first, end): (i64, i64),
            batch: Option<i64>,
        ) -> Result<Allocation, StoreError> {
            let key_hex: Option<String> =
                sqlx::query_scalar("SELECT key_hex FROM product_keys WHERE product_id = $1")
                    .bind(&product.id)
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(StoreError::db(format!("read the serial key of {}", product.id)))?;
            let key_hex = key_hex.ok_or_else(|| {
                StoreError::Corrupt(format!("product {} has no serial key", product.id))
            })?;
            let serials_of = generator(product, &key_from_hex(&product.id, &key_hex)?)?;
            let count = usize::try_from(end - first).unwrap_or(0);
            let mut serials = Vec::with_capacity(count);
            let mut codes = Vec::with_capacity(count);
            for counter in first..end {
                let counter = u64::try_from(counter)
                    .map_err(|_| StoreError::Corrupt(format!("negative serial counter {counter}")))?;
                let serial = serials_of
                    .serial(counter)
                    .map_err(|e| StoreError::invalid("count", e.to_string()))?;
                codes.push(gs1_code(&product.key, &serial));
                serials.push(serial);
            }
            // Rows go in counter order, so the primary key grows at its end (there is no index
            // on the code text: crate::locate).
            let codes_json = serde_json::to_string(&codes).unwrap_or_default();
            let insert = if PG {
                "INSERT INTO codes (product_id, counter, code, batch_id, block_id, state, \
                 last_event) SELECT $1, $2 + u.ord - 1, u.code, $3, $4, 'reserved', $5 \
                 FROM json_array_elements_text($6::json) WITH ORDINALITY AS u(code, ord)"
            } else {
                "INSERT INTO codes (product_id, counter, code, batch_id, block_id, state, \
                 last_event) SELECT $1, $2 + j.key, j.value, $3, $4, 'reserved', $5 \
                 FROM json_each($6) AS j"
            };
            sqlx::query(insert)
                .bind(&product.id)
                .bind(first)
                .bind(batch)
                .bind(block_id)
                .bind(head.seq)
                .bind(&codes_json)
                .execute(&mut **tx)
                .await
                .map_err(|e| {
                    if e.as_database_error().is_some_and(|d| d.is_unique_violation()) {
                        StoreError::corrupt(format!(
                            "a code of {} counters {first}..{end} already exists; \
                             refusing to issue it twice",
                            product.id
                        ))
                    } else {
                        StoreError::db(format!("insert codes {first}..{end} of {}", product.id))(e)
                    }
                })?;
            Ok(Allocation { block_id, first_counter: first, serials, codes })
        }

        fn allocation_detail(a: &Allocation, block: &Block, batch: Option<i64>) -> serde_json::Value {
            use sha2::Digest;
            let digest = hex::encode(sha2::Sha256::digest(a.codes.join("\n").as_bytes()));
            json!({
                "block": block.id, "block_range": [block.first_counter, block.end_counter],
                "first_counter": a.first_counter, "count": a.codes.len(), "batch": batch,
                "first_code": a.codes.first(), "codes_sha256": digest,
            })
        }

        pub(crate) async fn allocate(
            pool: &Pool<$DB>,
            actor: &Actor,
            product: &Product,
            count: u64,
            batch: Option<i64>,
        ) -> Result<Allocation, StoreError> {
            let n = i64::try_from(count).map_err(|_| StoreError::invalid("count", "too large"))?;
            let (mut tx, head) = begin(pool).await?;
            let block = reserve(&mut tx, actor, &head, product, n, true).await?;
            let range = (block.first_counter, block.end_counter);
            let allocation = insert_codes(&mut tx, &head, product, block.id, range, batch).await?;
            let detail = allocation_detail(&allocation, &block, batch);
            finish(tx, actor, head, "codes.allocate", &product.id, detail).await?;
            Ok(allocation)
        }

        pub(crate) async fn reserve_block(
            pool: &Pool<$DB>,
            actor: &Actor,
            product: &Product,
            size: u64,
        ) -> Result<Block, StoreError> {
            let n = i64::try_from(size).map_err(|_| StoreError::invalid("size", "too large"))?;
            let (mut tx, head) = begin(pool).await?;
            let block = reserve(&mut tx, actor, &head, product, n, false).await?;
            let detail = json!({
                "block": block.id, "first_counter": block.first_counter,
                "end_counter": block.end_counter, "owner": block.owner,
            });
            finish(tx, actor, head, "serials.reserve", &product.id, detail).await?;
            Ok(block)
        }

        pub(crate) async fn issue_from_block(
            pool: &Pool<$DB>,
            actor: &Actor,
            product: &Product,
            block_id: i64,
            count: u64,
            batch: Option<i64>,
        ) -> Result<Allocation, StoreError> {
            let n = i64::try_from(count).map_err(|_| StoreError::invalid("count", "too large"))?;
            let (mut tx, head) = begin(pool).await?;
            let row: Option<(i64, i64, i64, String)> = sqlx::query_as(
                "UPDATE serial_blocks SET issued_end = issued_end + $1 \
                 WHERE id = $2 AND product_id = $3 AND issued_end + $1 <= end_counter \
                 RETURNING first_counter, end_counter, issued_end, owner",
            )
            .bind(n)
            .bind(block_id)
            .bind(&product.id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::db(format!("take {n} serials from block {block_id}")))?;
            let Some((first_counter, end_counter, issued_end, owner)) = row else {
                return Err(StoreError::invalid(
                    "count",
                    format!("block {block_id} of {} has fewer than {n} serials left", product.id),
                ));
            };
            let block = Block {
                id: block_id,
                product_id: product.id.clone(),
                first_counter,
                end_counter,
                issued_end,
                owner,
            };
            let range = (issued_end - n, issued_end);
            let allocation = insert_codes(&mut tx, &head, product, block_id, range, batch).await?;
            let detail = allocation_detail(&allocation, &block, batch);
            finish(tx, actor, head, "codes.issue", &product.id, detail).await?;
            Ok(allocation)
        }

    };
}
