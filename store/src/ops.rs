//! The store's SQL, written once and compiled for each dialect.
//!
//! The `store_ops!` macro expands to one module per database with the same functions, so the
//! two stay identical except where `PG` selects dialect-specific SQL (JSON set expansion).
//! Positional parameters are written `$1`, which both SQLite and PostgreSQL accept.

/// The chain head taken at the start of a writing transaction.
#[derive(Debug)]
pub(super) struct Head {
    /// The sequence number of the event this transaction appends.
    pub(super) seq: i64,
    /// The hash of the event before it.
    pub(super) prev_hash: String,
}

macro_rules! store_ops {
    ($DB:ty, $Row:ty, $PG:expr) => {
        use std::collections::HashMap;

        use serde_json::json;
        use sqlx::{Pool, Row, Transaction};

        use crate::audit::Event;
        use crate::locate::Location;
        use crate::ops::Head;
        use crate::{
            Actor, format_pack_sizes, parse_pack_sizes, Batch, BatchState, CodeRecord, CodeState, NewBatch, Producer, RejectReason,
            IssuedCounts, Product, StoreError, Transition, now,
        };

        const PG: bool = $PG;

        /// SQL testing `counter` against the integers of a JSON array bound at parameter `n`, in
        /// a form each planner answers with the primary key (PostgreSQL: `= ANY` of an array,
        /// which never turns into a hash join over the whole table).
        fn counter_in_json(n: u32) -> String {
            if PG {
                format!(
                    "counter = ANY(ARRAY(SELECT json_array_elements_text(${n}::json)::bigint))"
                )
            } else {
                format!("counter IN (SELECT value FROM json_each(${n}))")
            }
        }

        /// The product with key `key` in `scheme` and its serial key (hex), if any.
        pub(crate) async fn product_key_of(
            pool: &Pool<$DB>,
            _actor: &Actor,
            scheme: crate::Scheme,
            key: &str,
        ) -> Result<Option<(Product, String)>, StoreError> {
            let row = sqlx::query(&format!(
                "SELECT {PRODUCT_COLUMNS}, k.key_hex FROM products \
                 JOIN product_keys AS k ON k.product_id = products.id \
                 WHERE products.scheme = $1 AND products.key = $2"
            ))
            .bind(scheme.as_str())
            .bind(key)
            .fetch_optional(pool)
            .await
            .map_err(StoreError::db(format!("read the {scheme} product {key}")))?;
            let Some(row) = row else { return Ok(None) };
            let key_hex: String = row.try_get(15).map_err(StoreError::db("read a serial key"))?;
            Ok(Some((product_from_row(&row)?, key_hex)))
        }

        /// Starts a writing transaction by advancing the chain head: this takes the write lock
        /// first (SQLite: no lock upgrade that could fail busy; PostgreSQL: the head's row lock
        /// orders appends from every controller).
        async fn begin(pool: &Pool<$DB>) -> Result<(Transaction<'static, $DB>, Head), StoreError> {
            let mut tx = pool.begin().await.map_err(StoreError::db("begin a transaction"))?;
            let row = sqlx::query(
                "UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash",
            )
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::db("advance the audit chain head"))?;
            let head = Head {
                seq: row.try_get(0).map_err(StoreError::db("read the audit head"))?,
                prev_hash: row.try_get(1).map_err(StoreError::db("read the audit head"))?,
            };
            Ok((tx, head))
        }

        /// Appends the transaction's event and moves the head's hash to it, then commits.
        async fn finish(
            mut tx: Transaction<'static, $DB>,
            actor: &Actor,
            head: Head,
            kind: &str,
            subject: &str,
            detail: serde_json::Value,
        ) -> Result<(), StoreError> {
            let mut event = Event {
                seq: head.seq,
                at: now(),
                user: actor.user.clone(),
                device: actor.device.clone(),
                kind: kind.to_owned(),
                subject: subject.to_owned(),
                detail: detail.to_string(),
                prev_hash: head.prev_hash,
                hash: String::new(),
            };
            event.hash = event.expected_hash();
            sqlx::query(
                "INSERT INTO events (seq, at, actor_user, actor_device, kind, subject, detail, \
                 prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(event.seq)
            .bind(&event.at)
            .bind(&event.user)
            .bind(&event.device)
            .bind(&event.kind)
            .bind(&event.subject)
            .bind(&event.detail)
            .bind(&event.prev_hash)
            .bind(&event.hash)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(format!("append event {}", event.seq)))?;
            sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
                .bind(&event.hash)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db("move the audit chain head"))?;
            tx.commit().await.map_err(StoreError::db(format!("commit {kind}")))?;
            tracing::debug!(seq = event.seq, kind, subject, "event appended");
            Ok(())
        }

        pub(crate) async fn set_producer(
            pool: &Pool<$DB>,
            actor: &Actor,
            p: &Producer,
        ) -> Result<(), StoreError> {
            let (mut tx, head) = begin(pool).await?;
            sqlx::query(
                "INSERT INTO producer (id, name, uscc, address, contact, business_licence, \
                 updated_at) VALUES (1, $1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (id) DO UPDATE SET name = $1, uscc = $2, address = $3, \
                 contact = $4, business_licence = $5, updated_at = $6",
            )
            .bind(&p.name)
            .bind(&p.uscc)
            .bind(&p.address)
            .bind(&p.contact)
            .bind(&p.business_licence)
            .bind(now())
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("store the producer"))?;
            let detail = serde_json::to_value(p).unwrap_or_default();
            finish(tx, actor, head, "producer.set", "producer", detail).await
        }

        pub(crate) async fn producer(
            pool: &Pool<$DB>,
            _actor: &Actor,
        ) -> Result<Option<Producer>, StoreError> {
            let row = sqlx::query(
                "SELECT name, uscc, address, contact, business_licence FROM producer WHERE id = 1",
            )
            .fetch_optional(pool)
            .await
            .map_err(StoreError::db("read the producer"))?;
            let Some(row) = row else { return Ok(None) };
            let get = |i: usize| -> Result<String, StoreError> {
                row.try_get(i).map_err(StoreError::db("read the producer"))
            };
            Ok(Some(Producer {
                name: get(0)?,
                uscc: get(1)?,
                address: get(2)?,
                contact: get(3)?,
                business_licence: get(4)?,
            }))
        }

        const PRODUCT_COLUMNS: &str = "id, scheme, key, name, category, model, \
            mandatory_standard, licence_no, ccc_cert_no, warranty_months, retention_years, \
            serial_alphabet, serial_length, pack_sizes, min_grade";

        fn product_from_row(row: &$Row) -> Result<Product, StoreError> {
            let map = StoreError::db("read a product");
            let to_u32 = |v: i64, what: &str| {
                u32::try_from(v).map_err(|_| StoreError::corrupt(format!("product {what} {v}")))
            };
            let warranty: Option<i64> = row.try_get(9).map_err(StoreError::db("read a product"))?;
            Ok(Product {
                id: row.try_get(0).map_err(StoreError::db("read a product"))?,
                scheme: row.try_get::<String, _>(1).map_err(StoreError::db("read a product"))?.parse()?,
                key: row.try_get(2).map_err(StoreError::db("read a product"))?,
                name: row.try_get(3).map_err(StoreError::db("read a product"))?,
                category: row.try_get(4).map_err(StoreError::db("read a product"))?,
                model: row.try_get(5).map_err(StoreError::db("read a product"))?,
                mandatory_standard: row.try_get(6).map_err(StoreError::db("read a product"))?,
                licence_no: row.try_get(7).map_err(StoreError::db("read a product"))?,
                ccc_cert_no: row.try_get(8).map_err(StoreError::db("read a product"))?,
                warranty_months: warranty.map(|w| to_u32(w, "warranty")).transpose()?,
                retention_years: to_u32(row.try_get(10).map_err(map)?, "retention")?,
                serial_alphabet: crate::SerialAlphabet::from_name(
                    &row.try_get::<String, _>(11).map_err(StoreError::db("read a product"))?,
                )
                .map_err(|e| StoreError::corrupt(format!("product serial alphabet: {e}")))?,
                serial_length: to_u32(
                    row.try_get(12).map_err(StoreError::db("read a product"))?,
                    "serial length",
                )?,
                pack_sizes: parse_pack_sizes(
                    &row.try_get::<String, _>(13).map_err(StoreError::db("read a product"))?,
                )?,
                min_grade: crate::Grade::parse_minimum(
                    &row.try_get::<String, _>(14).map_err(StoreError::db("read a product"))?,
                )
                .map_err(|e| StoreError::corrupt(format!("product {e}")))?,
            })
        }

        pub(crate) async fn add_product(
            pool: &Pool<$DB>,
            actor: &Actor,
            p: &Product,
        ) -> Result<(), StoreError> {
            let (mut tx, head) = begin(pool).await?;
            let existing: Option<(String, String)> =
                sqlx::query_as("SELECT id, key FROM products WHERE id = $1 OR (scheme = $2 AND key = $3)")
                    .bind(&p.id)
                    .bind(p.scheme.as_str())
                    .bind(&p.key)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(StoreError::db("look for an existing product"))?;
            if let Some((id, key)) = existing {
                // Dropping `tx` rolls back: the head is not advanced.
                return Err(if id == p.id {
                    StoreError::invalid("id", format!("product {id} already exists"))
                } else {
                    StoreError::invalid("gtin", format!("{key} is already product {id}"))
                });
            }
            sqlx::query(&format!(
                "INSERT INTO products ({PRODUCT_COLUMNS}, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
            ))
            .bind(&p.id)
            .bind(p.scheme.as_str())
            .bind(&p.key)
            .bind(&p.name)
            .bind(&p.category)
            .bind(&p.model)
            .bind(&p.mandatory_standard)
            .bind(&p.licence_no)
            .bind(&p.ccc_cert_no)
            .bind(p.warranty_months.map(i64::from))
            .bind(i64::from(p.retention_years))
            .bind(p.serial_alphabet.name())
            .bind(i64::from(p.serial_length))
            .bind(format_pack_sizes(&p.pack_sizes))
            .bind(p.min_grade.as_str())
            .bind(now())
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(format!("insert product {}", p.id)))?;
            sqlx::query("INSERT INTO serial_counters (product_id, next_counter) VALUES ($1, 0)")
                .bind(&p.id)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db(format!("create the serial counter of {}", p.id)))?;
            let key = crate::serial::new_key()?;
            let key_id = crate::serial::key_id(&key);
            sqlx::query(
                "INSERT INTO product_keys (product_id, key_hex, key_id, created_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(&p.id)
            .bind(hex::encode(key))
            .bind(&key_id)
            .bind(now())
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(format!("store the serial key of {}", p.id)))?;
            // The event names the key by its digest; the key itself never enters the log.
            let mut detail = serde_json::to_value(p).unwrap_or_default();
            if let Some(fields) = detail.as_object_mut() {
                fields.insert("serial_key_id".into(), key_id.into());
            }
            finish(tx, actor, head, "product.add", &p.id, detail).await
        }

        pub(crate) async fn product(
            pool: &Pool<$DB>,
            _actor: &Actor,
            id: &str,
        ) -> Result<Option<Product>, StoreError> {
            let row = sqlx::query(&format!("SELECT {PRODUCT_COLUMNS} FROM products WHERE id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(StoreError::db(format!("read product {id}")))?;
            row.as_ref().map(product_from_row).transpose()
        }

        pub(crate) async fn products(
            pool: &Pool<$DB>,
            _actor: &Actor,
        ) -> Result<Vec<Product>, StoreError> {
            let rows = sqlx::query(&format!("SELECT {PRODUCT_COLUMNS} FROM products ORDER BY id"))
                .fetch_all(pool)
                .await
                .map_err(StoreError::db("list products"))?;
            rows.iter().map(product_from_row).collect()
        }

        const BATCH_COLUMNS: &str = "id, product_id, lot, quantity, production_date, \
            expiry_date, line, state, created_at, closed_at";

        fn batch_from_row(row: &$Row) -> Result<Batch, StoreError> {
            let state: String = row.try_get(7).map_err(StoreError::db("read a batch"))?;
            Ok(Batch {
                id: row.try_get(0).map_err(StoreError::db("read a batch"))?,
                product_id: row.try_get(1).map_err(StoreError::db("read a batch"))?,
                lot: row.try_get(2).map_err(StoreError::db("read a batch"))?,
                quantity: row.try_get(3).map_err(StoreError::db("read a batch"))?,
                production_date: row.try_get(4).map_err(StoreError::db("read a batch"))?,
                expiry_date: row.try_get(5).map_err(StoreError::db("read a batch"))?,
                line: row.try_get(6).map_err(StoreError::db("read a batch"))?,
                state: state.parse()?,
                created_at: row.try_get(8).map_err(StoreError::db("read a batch"))?,
                closed_at: row.try_get(9).map_err(StoreError::db("read a batch"))?,
            })
        }

        pub(crate) async fn create_batch(
            pool: &Pool<$DB>,
            actor: &Actor,
            b: &NewBatch,
        ) -> Result<Batch, StoreError> {
            let (mut tx, head) = begin(pool).await?;
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
                    format!("lot {} of product {} already exists (batch {id})", b.lot, b.product_id),
                ));
            }
            let row = sqlx::query(&format!(
                "INSERT INTO batches (product_id, lot, quantity, production_date, expiry_date, \
                 line, state, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
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
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::db(format!("insert batch {}", b.lot)))?;
            let batch = batch_from_row(&row)?;
            let detail = serde_json::to_value(&batch).unwrap_or_default();
            let subject = format!("batch:{}", batch.id);
            finish(tx, actor, head, "batch.create", &subject, detail).await?;
            Ok(batch)
        }

        pub(crate) async fn batch(
            pool: &Pool<$DB>,
            _actor: &Actor,
            id: i64,
        ) -> Result<Option<Batch>, StoreError> {
            let row = sqlx::query(&format!("SELECT {BATCH_COLUMNS} FROM batches WHERE id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(StoreError::db(format!("read batch {id}")))?;
            row.as_ref().map(batch_from_row).transpose()
        }

        pub(crate) async fn batches(
            pool: &Pool<$DB>,
            _actor: &Actor,
        ) -> Result<Vec<Batch>, StoreError> {
            let rows =
                sqlx::query(&format!("SELECT {BATCH_COLUMNS} FROM batches ORDER BY id DESC"))
                    .fetch_all(pool)
                    .await
                    .map_err(StoreError::db("list batches"))?;
            rows.iter().map(batch_from_row).collect()
        }

        pub(crate) async fn set_batch_state(
            pool: &Pool<$DB>,
            actor: &Actor,
            id: i64,
            to: BatchState,
        ) -> Result<Batch, StoreError> {
            let (mut tx, head) = begin(pool).await?;
            let row = sqlx::query(&format!("SELECT {BATCH_COLUMNS} FROM batches WHERE id = $1"))
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::db(format!("read batch {id}")))?;
            let Some(row) = row else {
                return Err(StoreError::NotFound { what: "batch", id: id.to_string() });
            };
            let from = batch_from_row(&row)?.state;
            if !from.can_become(to) {
                return Err(StoreError::invalid(
                    "state",
                    format!("batch {id} cannot go from {from} to {to}"),
                ));
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
                .map_err(StoreError::db(format!("void the unprinted codes of batch {id}")))?
                .rows_affected();
            }
            let detail = json!({ "from": from.as_str(), "to": to.as_str(), "voided": voided });
            let subject = format!("batch:{id}");
            finish(tx, actor, head, "batch.state", &subject, detail).await?;
            batch(pool, actor, id)
                .await?
                .ok_or_else(|| StoreError::NotFound { what: "batch", id: id.to_string() })
        }

        pub(crate) async fn batch_counts(
            pool: &Pool<$DB>,
            _actor: &Actor,
            id: i64,
        ) -> Result<Vec<(CodeState, i64)>, StoreError> {
            let rows: Vec<(String, i64)> = sqlx::query_as(
                "SELECT state, COUNT(*) FROM codes WHERE batch_id = $1 GROUP BY state",
            )
            .bind(id)
            .fetch_all(pool)
            .await
            .map_err(StoreError::db(format!("count the codes of batch {id}")))?;
            rows.into_iter()
                .map(|(state, n)| Ok((state.parse()?, n)))
                .collect()
        }

        pub(crate) async fn transition(
            pool: &Pool<$DB>,
            actor: &Actor,
            changes: &[Transition],
            located: &HashMap<&str, Location>,
            all_or_nothing: bool,
        ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
            let (mut tx, head) = begin(pool).await?;
            // Rows by primary key, per product (crate::locate: no index on the text).
            let mut by_product: HashMap<&str, Vec<i64>> = HashMap::new();
            for (product, counter) in located.values() {
                by_product.entry(product.as_str()).or_default().push(*counter);
            }
            let mut states: HashMap<String, (CodeState, Option<RejectReason>)> = HashMap::new();
            for (product, counters) in &by_product {
                let rows: Vec<(String, String)> = sqlx::query_as(&format!(
                    "SELECT code, state FROM codes WHERE product_id = $1 AND {}",
                    counter_in_json(2)
                ))
                .bind(product)
                .bind(serde_json::to_string(counters).unwrap_or_default())
                .fetch_all(&mut *tx)
                .await
                .map_err(StoreError::db("read code states"))?;
                for (code, state) in rows {
                    // Only the very text asked for: a forged serial that decrypts to a real
                    // counter names another code, which is not taken for it.
                    if located.contains_key(code.as_str()) {
                        states.insert(code, (state.parse()?, None));
                    }
                }
            }
            let mut results = Vec::with_capacity(changes.len());
            let mut applied = Vec::new();
            for change in changes {
                let result = check(change, &mut states);
                if result.is_ok() {
                    applied.push(change);
                }
                results.push(result);
            }
            if applied.is_empty() || (all_or_nothing && applied.len() < changes.len()) {
                // Nothing valid: roll back, the chain head stays where it was.
                return Ok(results);
            }
            // One UPDATE per final (state, reason): codes changed twice in the group get their
            // last state.
            let mut groups: HashMap<(CodeState, Option<RejectReason>), Vec<&str>> = HashMap::new();
            for change in &applied {
                if let Some(last) = states.get(change.code.as_str()) {
                    groups.entry(last.clone()).or_default().push(change.code.as_str());
                }
            }
            for ((state, reason), mut codes) in groups {
                codes.sort_unstable();
                codes.dedup();
                let mut rows: HashMap<&str, Vec<i64>> = HashMap::new();
                for code in &codes {
                    if let Some((product, counter)) = located.get(code) {
                        rows.entry(product.as_str()).or_default().push(*counter);
                    }
                }
                let mut updated = 0;
                for (product, counters) in rows {
                    updated += sqlx::query(&format!(
                        "UPDATE codes SET state = $1, reason = $2, last_event = $3 \
                         WHERE product_id = $4 AND {}",
                        counter_in_json(5)
                    ))
                    .bind(state.as_str())
                    .bind(reason.map(RejectReason::as_str))
                    .bind(head.seq)
                    .bind(product)
                    .bind(serde_json::to_string(&counters).unwrap_or_default())
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::db(format!("set {} codes to {state}", codes.len())))?
                    .rows_affected();
                }
                if updated != codes.len() as u64 {
                    return Err(StoreError::corrupt(format!(
                        "{} of {} codes changed while setting them to {state}",
                        codes.len() as u64 - updated,
                        codes.len()
                    )));
                }
            }
            // The reads the decisions were made on, one row per code (the latest wins).
            for change in &applied {
                let (Some(read), Some((product, counter))) =
                    (&change.read, located.get(change.code.as_str()))
                else {
                    continue;
                };
                sqlx::query(
                    "INSERT INTO code_reads (product_id, counter, grade, data, event) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (product_id, counter) DO UPDATE \
                     SET grade = excluded.grade, data = excluded.data, event = excluded.event",
                )
                .bind(product)
                .bind(counter)
                .bind(read.grade.map(crate::Grade::as_str))
                .bind(&read.data)
                .bind(head.seq)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db(format!("record the read of {}", change.code)))?;
            }
            // Runs of consecutive changes with the same target, in order: compact for the hot
            // path (one run per group) and still exact when a code changes twice in a group.
            let mut runs: Vec<(CodeState, Option<RejectReason>, Vec<&str>)> = Vec::new();
            for c in &applied {
                match runs.last_mut() {
                    Some((to, reason, codes)) if *to == c.to && *reason == c.reason => {
                        codes.push(c.code.as_str())
                    }
                    _ => runs.push((c.to, c.reason, vec![c.code.as_str()])),
                }
            }
            let runs: Vec<serde_json::Value> = runs
                .into_iter()
                .map(|(to, reason, codes)| json!({ "to": to.as_str(), "reason": reason, "codes": codes }))
                .collect();
            let mut detail = json!({ "count": applied.len(), "changes": runs });
            // The reads go into the chained event too, so a changed read is a broken chain and
            // a later read (a release's re-scan) does not erase the one before.
            let reads: Vec<serde_json::Value> = applied
                .iter()
                .filter_map(|c| {
                    c.read
                        .as_ref()
                        .map(|r| json!({ "code": c.code, "grade": r.grade, "data": r.data }))
                })
                .collect();
            if !reads.is_empty() {
                detail["reads"] = reads.into();
            }
            finish(tx, actor, head, "codes.transition", "codes", detail).await?;
            Ok(results)
        }

        fn check(
            change: &Transition,
            states: &mut HashMap<String, (CodeState, Option<RejectReason>)>,
        ) -> Result<(), StoreError> {
            match (&change.reason, change.to) {
                (None, CodeState::Rejected) => {
                    return Err(StoreError::invalid("reason", "a rejected code needs a reason"))
                }
                (Some(_), to) if to != CodeState::Rejected => {
                    return Err(StoreError::invalid("reason", "only rejected codes have a reason"))
                }
                _ => {}
            }
            let Some(current) = states.get_mut(change.code.as_str()) else {
                return Err(StoreError::NotFound { what: "code", id: change.code.clone() });
            };
            if !current.0.can_become(change.to) {
                return Err(StoreError::Transition {
                    code: change.code.clone(),
                    from: current.0,
                    to: change.to,
                });
            }
            // Keep a reject reason through destroyed/released: it is why QA acted.
            let reason = change.reason.or(current.1);
            *current = (change.to, reason);
            Ok(())
        }

        pub(crate) async fn skip_counters(
            pool: &Pool<$DB>,
            actor: &Actor,
            gap: i64,
            why: &str,
        ) -> Result<Vec<(String, i64)>, StoreError> {
            let (mut tx, head) = begin(pool).await?;
            let mut moved: Vec<(String, i64)> = sqlx::query_as(
                "UPDATE serial_counters SET next_counter = next_counter + $1 \
                 RETURNING product_id, next_counter",
            )
            .bind(gap)
            .fetch_all(&mut *tx)
            .await
            .map_err(StoreError::db(format!("advance every serial counter by {gap}")))?;
            moved.sort();
            let detail = json!({ "gap": gap, "why": why, "next_counters": moved });
            finish(tx, actor, head, "counters.skip", "serial_counters", detail).await?;
            Ok(moved)
        }

        pub(crate) async fn code(
            pool: &Pool<$DB>,
            _actor: &Actor,
            code: &str,
            location: Option<&Location>,
        ) -> Result<Option<CodeRecord>, StoreError> {
            let Some((product, counter)) = location else {
                return Ok(None);
            };
            let row: Option<CodeRow> =
                sqlx::query_as(
                    "SELECT c.product_id, c.counter, c.code, c.batch_id, c.state, c.reason, \
                     r.grade, r.data FROM codes c LEFT JOIN code_reads r \
                     ON r.product_id = c.product_id AND r.counter = c.counter \
                     WHERE c.product_id = $1 AND c.counter = $2",
                )
                .bind(product)
                .bind(counter)
                .fetch_optional(pool)
                .await
                .map_err(StoreError::db(format!("read code {code}")))?;
            // The row of that counter holds exactly this text, or this text is no code here.
            row.filter(|r| r.2 == code).map(code_record).transpose()
        }

        /// A code row (`product_id, counter, code, batch_id, state, reason, grade, data`) as a
        /// record.
        fn code_record(
            (product_id, counter, code, batch_id, state, reason, grade, data): CodeRow,
        ) -> Result<CodeRecord, StoreError> {
            // The serial as the code's scheme defines it (tracemark_codes::scheme).
            let serial = crate::Scheme::parts_of(&code).map(|parts| parts.serial).unwrap_or_default();
            let reason = reason
                .map(|r| r.parse().map_err(|e| StoreError::corrupt(format!("code {code}: {e}"))))
                .transpose()?;
            Ok(CodeRecord {
                product_id,
                counter,
                code,
                serial,
                batch_id,
                state: state.parse()?,
                reason,
                grade: grade.as_deref().and_then(crate::Grade::parse),
                data,
            })
        }

        type CodeRow = (
            String,
            i64,
            String,
            Option<i64>,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
        );

        /// Codes of a batch in `state`, in counter order, at most `limit`.
        pub(crate) async fn codes_of_batch(
            pool: &Pool<$DB>,
            _actor: &Actor,
            batch: i64,
            state: CodeState,
            limit: i64,
        ) -> Result<Vec<CodeRecord>, StoreError> {
            let rows: Vec<CodeRow> =
                sqlx::query_as(
                    "SELECT c.product_id, c.counter, c.code, c.batch_id, c.state, c.reason, \
                     r.grade, r.data FROM codes c LEFT JOIN code_reads r \
                     ON r.product_id = c.product_id AND r.counter = c.counter \
                     WHERE c.batch_id = $1 AND c.state = $2 ORDER BY c.counter LIMIT $3",
                )
                .bind(batch)
                .bind(state.as_str())
                .bind(limit)
                .fetch_all(pool)
                .await
                .map_err(StoreError::db(format!("list the {state} codes of batch {batch}")))?;
            rows.into_iter().map(code_record).collect()
        }

        pub(crate) async fn issued_counts(
            pool: &Pool<$DB>,
            _actor: &Actor,
            product_id: &str,
        ) -> Result<IssuedCounts, StoreError> {
            // One statement, so one snapshot: a transaction committing meanwhile is seen
            // entirely or not at all, and the three figures always agree.
            let (codes, issued, reserved, next_counter): (i64, Option<i64>, Option<i64>, Option<i64>) =
                sqlx::query_as(
                    "SELECT (SELECT COUNT(*) FROM codes WHERE product_id = $1), \
                     (SELECT CAST(SUM(issued_end - first_counter) AS BIGINT) FROM serial_blocks \
                      WHERE product_id = $1), \
                     (SELECT CAST(SUM(end_counter - first_counter) AS BIGINT) FROM serial_blocks \
                      WHERE product_id = $1), \
                     (SELECT next_counter FROM serial_counters WHERE product_id = $1)",
                )
                .bind(product_id)
                .fetch_one(pool)
                .await
                .map_err(StoreError::db(format!("count the codes and blocks of {product_id}")))?;
            Ok(IssuedCounts {
                codes,
                issued: issued.unwrap_or(0),
                reserved: reserved.unwrap_or(0),
                next_counter: next_counter.unwrap_or(0),
            })
        }

        pub(crate) async fn events(
            pool: &Pool<$DB>,
            _actor: &Actor,
            after: i64,
            limit: i64,
        ) -> Result<Vec<Event>, StoreError> {
            let rows: Vec<(i64, String, String, String, String, String, String, String, String)> =
                sqlx::query_as(
                    "SELECT seq, at, actor_user, actor_device, kind, subject, detail, prev_hash, \
                     hash FROM events WHERE seq > $1 ORDER BY seq LIMIT $2",
                )
                .bind(after)
                .bind(limit)
                .fetch_all(pool)
                .await
                .map_err(StoreError::db(format!("read events after {after}")))?;
            Ok(rows
                .into_iter()
                .map(|(seq, at, user, device, kind, subject, detail, prev_hash, hash)| Event {
                    seq,
                    at,
                    user,
                    device,
                    kind,
                    subject,
                    detail,
                    prev_hash,
                    hash,
                })
                .collect())
        }

        pub(crate) async fn audit_head(
            pool: &Pool<$DB>,
            _actor: &Actor,
        ) -> Result<(i64, String), StoreError> {
            sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
                .fetch_one(pool)
                .await
                .map_err(StoreError::db("read the audit chain head"))
        }
    };
}

pub(super) mod sqlite {
    store_ops!(sqlx::Sqlite, sqlx::sqlite::SqliteRow, false);
    alloc_ops!(sqlx::Sqlite);
    purge_ops!(sqlx::Sqlite);
}

pub(super) mod postgres {
    store_ops!(sqlx::Postgres, sqlx::postgres::PgRow, true);
    alloc_ops!(sqlx::Postgres);
    purge_ops!(sqlx::Postgres);
}
