//! Copying a whole store between the two dialects: a PostgreSQL backup is a consistent snapshot
//! copied into an SQLite file (the same file format as an SQLite backup, readable anywhere), and
//! a restore into PostgreSQL copies such a file into an empty database.
//!
//! Both schemas have the same tables and columns (one schema, two dialects); rows travel in
//! chunks as JSON arrays, expanded on the target by `json_each` (SQLite) or `json_to_recordset`
//! (PostgreSQL), inside one target transaction — a failed copy leaves nothing behind.

use futures_util::TryStreamExt;
use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Connection};

use super::StoreError;
use super::sql::{Dialect, audit, get};

/// Column types: everything in the store is a 64-bit integer or text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Text,
}

use Kind::{Int, Text};

/// One table to copy: its columns, the order rows are read in, and whether PostgreSQL
/// generates its `id` (identity columns need `OVERRIDING SYSTEM VALUE` and a sequence reset).
#[derive(Debug)]
struct Table {
    name: &'static str,
    columns: &'static [(&'static str, Kind)],
    order_by: &'static str,
    identity: bool,
}

/// Every table but `audit_head` (one row, written last) and `_sqlx_migrations` (each target
/// has its own), parents before children.
const TABLES: &[Table] = &[
    Table {
        name: "producer",
        columns: &[
            ("id", Int),
            ("name", Text),
            ("uscc", Text),
            ("address", Text),
            ("contact", Text),
            ("business_licence", Text),
            ("updated_at", Text),
            ("gs1_company_prefix", Text),
            ("sscc_extension_digit", Int),
            ("gln", Text),
        ],
        order_by: "id",
        identity: false,
    },
    Table {
        name: "products",
        columns: &[
            ("id", Text),
            ("scheme", Text),
            ("key", Text),
            ("name", Text),
            ("category", Text),
            ("model", Text),
            ("mandatory_standard", Text),
            ("licence_no", Text),
            ("ccc_cert_no", Text),
            ("warranty_months", Int),
            ("retention_years", Int),
            ("serial_alphabet", Text),
            ("serial_length", Int),
            ("created_at", Text),
            ("pack_sizes", Text),
            ("min_grade", Text),
            ("gs1_company_prefix_length", Int),
            ("inspection_report", Text),
            ("inspection_report_public", Int),
            ("manual", Text),
        ],
        order_by: "id",
        identity: false,
    },
    Table {
        name: "product_keys",
        columns: &[
            ("product_id", Text),
            ("key_hex", Text),
            ("key_id", Text),
            ("created_at", Text),
        ],
        order_by: "product_id",
        identity: false,
    },
    Table {
        name: "serial_counters",
        columns: &[("product_id", Text), ("next_counter", Int)],
        order_by: "product_id",
        identity: false,
    },
    Table {
        name: "serial_blocks",
        columns: &[
            ("id", Int),
            ("product_id", Text),
            ("first_counter", Int),
            ("end_counter", Int),
            ("owner", Text),
            ("reserved_at", Text),
            ("event_seq", Int),
            ("issued_end", Int),
        ],
        order_by: "id",
        identity: true,
    },
    // What each controller's edge journal has applied (issue 18): a store moved or restored
    // keeps skipping what it already holds.
    Table {
        name: "journal_marks",
        columns: &[
            ("journal_id", Text),
            ("issues_through", Int),
            ("changes_through", Int),
            ("at", Text),
        ],
        order_by: "journal_id",
        identity: false,
    },
    Table {
        name: "batches",
        columns: &[
            ("id", Int),
            ("product_id", Text),
            ("lot", Text),
            ("quantity", Int),
            ("production_date", Text),
            ("expiry_date", Text),
            ("line", Text),
            ("state", Text),
            ("created_at", Text),
            ("closed_at", Text),
            ("simulated", Int),
            ("started_by", Text),
            ("released_by", Text),
            ("released_at", Text),
        ],
        order_by: "id",
        identity: true,
    },
    Table {
        name: "sscc_counter",
        columns: &[
            ("company_prefix", Text),
            ("extension_digit", Int),
            ("next_reference", Int),
        ],
        order_by: "company_prefix, extension_digit",
        identity: false,
    },
    // Before packages: a shipped package names its shipment.
    Table {
        name: "shipments",
        columns: &[
            ("id", Int),
            ("sale_time", Text),
            ("buyer_name", Text),
            ("buyer_address", Text),
            ("buyer_contact", Text),
            ("order_ref", Text),
            ("quantity", Int),
            ("event_seq", Int),
            ("recorded_at", Text),
        ],
        order_by: "id",
        identity: true,
    },
    // After shipments: a filled order names its shipment.
    Table {
        name: "dispatch_orders",
        columns: &[
            ("order_ref", Text),
            ("buyer_name", Text),
            ("buyer_address", Text),
            ("buyer_contact", Text),
            ("created_at", Text),
            ("event_seq", Int),
            ("shipment_id", Int),
        ],
        order_by: "order_ref",
        identity: false,
    },
    Table {
        name: "product_flow_disclosure",
        columns: &[
            ("product_id", Text),
            ("sale_time", Int),
            ("buyer_name", Int),
            ("buyer_address", Int),
            ("buyer_contact", Int),
            ("quantity", Int),
            ("updated_at", Text),
        ],
        order_by: "product_id",
        identity: false,
    },
    // Pallets before cartons ('pallet' > 'carton'): a carton names its pallet.
    Table {
        name: "packages",
        columns: &[
            ("sscc", Text),
            ("level", Text),
            ("batch_id", Int),
            ("capacity", Int),
            ("state", Text),
            ("parent_sscc", Text),
            ("short", Int),
            ("created_at", Text),
            ("closed_at", Text),
            ("last_event", Int),
            ("label_count", Int),
            ("shipment_id", Int),
        ],
        order_by: "level DESC, sscc",
        identity: false,
    },
    Table {
        name: "codes",
        columns: &[
            ("product_id", Text),
            ("counter", Int),
            ("code", Text),
            ("batch_id", Int),
            ("block_id", Int),
            ("state", Text),
            ("reason", Text),
            ("last_event", Int),
            ("package_sscc", Text),
        ],
        order_by: "product_id, counter",
        identity: false,
    },
    Table {
        name: "code_reads",
        columns: &[
            ("product_id", Text),
            ("counter", Int),
            ("grade", Text),
            ("data", Text),
            ("event", Int),
            ("release_grade", Text),
            ("release_data", Text),
        ],
        order_by: "product_id, counter",
        identity: false,
    },
    Table {
        name: "code_scans",
        columns: &[
            ("product_id", Text),
            ("counter", Int),
            ("scans", Int),
            ("first_at", Text),
            ("last_at", Text),
        ],
        order_by: "product_id, counter",
        identity: false,
    },
    Table {
        name: "reject_images",
        columns: &[
            ("code", Text),
            ("reader", Text),
            ("seq", Int),
            ("path", Text),
            ("size", Int),
            ("sha256", Text),
            ("received_at", Text),
        ],
        order_by: "code",
        identity: false,
    },
    Table {
        name: "upload_target",
        columns: &[
            ("name", Text),
            ("url", Text),
            ("format", Text),
            ("secret_file", Text),
            ("ed25519_key_file", Text),
            ("ca_file", Text),
            ("gzip", Int),
            ("created_at", Text),
        ],
        order_by: "name",
        identity: false,
    },
    Table {
        name: "upload_delivery",
        columns: &[
            ("id", Int),
            ("batch_id", Int),
            ("target", Text),
            ("uuid", Text),
            ("format", Text),
            ("gzip", Int),
            ("state", Text),
            ("attempts", Int),
            ("next_attempt_at", Int),
            ("last_error", Text),
            ("last_status", Int),
            ("last_reply", Text),
            ("body_sha256", Text),
            ("body_bytes", Int),
            ("enqueued_at", Text),
            ("delivered_at", Text),
            ("shipment_id", Int),
        ],
        order_by: "id",
        identity: true,
    },
    Table {
        name: "users",
        columns: &[
            ("name", Text),
            ("role", Text),
            ("password_hash", Text),
            ("disabled", Int),
            ("language", Text),
            ("created_at", Text),
            ("updated_at", Text),
        ],
        order_by: "name",
        identity: false,
    },
    Table {
        name: "user_sessions",
        columns: &[
            ("secret_sha256", Text),
            ("user_name", Text),
            ("csrf", Text),
            ("created_at", Text),
            ("expires_at", Text),
        ],
        order_by: "secret_sha256",
        identity: false,
    },
    Table {
        name: "api_tokens",
        columns: &[
            ("id", Int),
            ("token_sha256", Text),
            ("user_name", Text),
            ("created_at", Text),
            ("expires_at", Text),
            ("revoked", Int),
        ],
        order_by: "id",
        identity: true,
    },
    Table {
        name: "events",
        columns: &[
            ("seq", Int),
            ("at", Text),
            ("actor_user", Text),
            ("actor_device", Text),
            ("kind", Text),
            ("subject", Text),
            ("detail", Text),
            ("prev_hash", Text),
            ("hash", Text),
        ],
        order_by: "seq",
        identity: false,
    },
    Table {
        name: "audit_checkpoints",
        columns: &[
            ("through_seq", Int),
            ("hash", Text),
            ("purged_before", Text),
            ("at", Text),
        ],
        order_by: "through_seq",
        identity: false,
    },
];

/// Refuses to copy when the SQLite side's schema has a table or column [`TABLES`] does not
/// list (a migration added it and this file was not updated): a backup must never drop data
/// silently.
async fn check_schema(conn: &mut AnyConnection) -> Result<(), StoreError> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         AND name NOT IN ('_sqlx_migrations', 'audit_head') ORDER BY name",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(StoreError::db("list the tables"))?;
    for name in tables {
        let Some(table) = TABLES.iter().find(|t| t.name == name) else {
            return Err(StoreError::corrupt(format!(
                "backup and restore do not know table {name}"
            )));
        };
        let columns: Vec<String> =
            sqlx::query_scalar("SELECT name FROM pragma_table_info($1) ORDER BY cid")
                .bind(&name)
                .fetch_all(&mut *conn)
                .await
                .map_err(StoreError::db(format!("list the columns of {name}")))?;
        let known: Vec<&str> = table.columns.iter().map(|(c, _)| *c).collect();
        if let Some(unknown) = columns.iter().find(|c| !known.contains(&c.as_str())) {
            return Err(StoreError::corrupt(format!(
                "backup and restore do not know column {name}.{unknown}"
            )));
        }
    }
    Ok(())
}

/// Rows per insert statement.
const CHUNK: usize = 5_000;

fn select(table: &Table) -> String {
    let columns: Vec<&str> = table.columns.iter().map(|(c, _)| *c).collect();
    format!(
        "SELECT {} FROM {} ORDER BY {}",
        columns.join(", "),
        table.name,
        table.order_by
    )
}

fn row_to_json(table: &Table, row: &AnyRow) -> Result<Value, StoreError> {
    let mut object = Map::new();
    for (column, kind) in table.columns {
        let context = format!("read {}.{column}", table.name);
        let value = match kind {
            Int => get::<Option<i64>>(row, column, &context)?.map_or(Value::Null, Value::from),
            Text => get::<Option<String>>(row, column, &context)?.map_or(Value::Null, Value::from),
        };
        object.insert((*column).to_owned(), value);
    }
    Ok(Value::Object(object))
}

/// The statement inserting a chunk of `table`'s rows, bound as one JSON array, on `target`.
fn insert(table: &Table, target: Dialect) -> String {
    let columns: Vec<&str> = table.columns.iter().map(|(c, _)| *c).collect();
    match target {
        Dialect::Sqlite => {
            let values: Vec<String> = columns
                .iter()
                .map(|c| format!("json_extract(value, '$.{c}')"))
                .collect();
            format!(
                "INSERT INTO {} ({}) SELECT {} FROM json_each($1)",
                table.name,
                columns.join(", "),
                values.join(", ")
            )
        }
        Dialect::Postgres => {
            let types: Vec<String> = table
                .columns
                .iter()
                .map(|(c, kind)| format!("{c} {}", if *kind == Int { "bigint" } else { "text" }))
                .collect();
            format!(
                "INSERT INTO {} ({cols}) {}SELECT {cols} FROM json_to_recordset($1::json) AS x({})",
                table.name,
                if table.identity {
                    "OVERRIDING SYSTEM VALUE "
                } else {
                    ""
                },
                types.join(", "),
                cols = columns.join(", "),
            )
        }
    }
}

/// Streams `table` from `source` into `target` in chunks of [`CHUNK`] rows; returns the number
/// of rows.
async fn copy_table(
    source: &mut AnyConnection,
    target: &mut AnyConnection,
    table: &Table,
    dialect: Dialect,
) -> Result<u64, StoreError> {
    let insert = insert(table, dialect);
    let select = select(table);
    let mut rows = sqlx::query(&select).fetch(source);
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut copied = 0u64;
    loop {
        let next = rows
            .try_next()
            .await
            .map_err(StoreError::db(format!("read {}", table.name)))?;
        if let Some(row) = &next {
            chunk.push(row_to_json(table, row)?);
        }
        if chunk.len() == CHUNK || (next.is_none() && !chunk.is_empty()) {
            copied += chunk.len() as u64;
            sqlx::query(&insert)
                .bind(Value::Array(std::mem::take(&mut chunk)).to_string())
                .execute(&mut *target)
                .await
                .map_err(StoreError::db(format!("write {}", table.name)))?;
        }
        if next.is_none() {
            break;
        }
    }
    Ok(copied)
}

/// Copies every table and the chain head from `source` into `target` (a freshly migrated,
/// empty store on `dialect`, inside the caller's transaction). Returns the rows copied.
async fn copy_store(
    source: &mut AnyConnection,
    target: &mut AnyConnection,
    dialect: Dialect,
) -> Result<u64, StoreError> {
    let mut copied = 0;
    for table in TABLES {
        copied += copy_table(source, target, table, dialect).await?;
        if table.identity && dialect == Dialect::Postgres {
            // The next generated id continues after the copied ones.
            let reset = format!(
                "SELECT setval(pg_get_serial_sequence('{0}', 'id'), \
                 COALESCE((SELECT MAX(id) FROM {0}), 0) + 1, false)",
                table.name
            );
            sqlx::query(&reset)
                .execute(&mut *target)
                .await
                .map_err(StoreError::db(format!("reset the ids of {}", table.name)))?;
        }
    }
    let (seq, hash) = audit::head(&mut *source).await?;
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(seq)
        .bind(&hash)
        .execute(&mut *target)
        .await
        .map_err(StoreError::db("write the audit head"))?;
    Ok(copied)
}

/// Copies every table of the PostgreSQL store at `source` into the freshly migrated, empty
/// SQLite store at `target`, reading one consistent snapshot. Returns the rows copied.
pub(super) async fn postgres_to_sqlite(
    source: &mut AnyConnection,
    target: &mut AnyConnection,
) -> Result<u64, StoreError> {
    check_schema(target).await?;
    let mut snapshot = source
        .begin()
        .await
        .map_err(StoreError::db("begin the snapshot"))?;
    // One snapshot for every table: the copy is what the store was at one instant.
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *snapshot)
        .await
        .map_err(StoreError::db("make the snapshot consistent"))?;
    let mut tx = target
        .begin()
        .await
        .map_err(StoreError::db("begin writing the backup"))?;
    let copied = copy_store(&mut snapshot, &mut tx, Dialect::Sqlite).await?;
    tx.commit()
        .await
        .map_err(StoreError::db("commit the backup"))?;
    snapshot
        .commit()
        .await
        .map_err(StoreError::db("end the snapshot"))?;
    Ok(copied)
}

/// Copies every table of the SQLite store at `source` into the freshly migrated, empty
/// PostgreSQL store at `target`, in one transaction. Returns the rows copied.
pub(super) async fn sqlite_to_postgres(
    source: &mut AnyConnection,
    target: &mut AnyConnection,
) -> Result<u64, StoreError> {
    check_schema(source).await?;
    let mut tx = target
        .begin()
        .await
        .map_err(StoreError::db("begin the restore"))?;
    let copied = copy_store(source, &mut tx, Dialect::Postgres).await?;
    tx.commit()
        .await
        .map_err(StoreError::db("commit the restore"))?;
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_name_every_column() {
        let codes = TABLES
            .iter()
            .find(|t| t.name == "codes")
            .expect("codes table");
        assert_eq!(
            select(codes),
            "SELECT product_id, counter, code, batch_id, block_id, state, reason, last_event, \
             package_sscc FROM codes ORDER BY product_id, counter"
        );
        assert!(insert(codes, Dialect::Sqlite).contains("json_extract(value, '$.last_event')"));
        let blocks = TABLES
            .iter()
            .find(|t| t.name == "serial_blocks")
            .expect("serial_blocks table");
        assert!(insert(blocks, Dialect::Postgres).contains("OVERRIDING SYSTEM VALUE"));
        assert!(insert(blocks, Dialect::Postgres).contains("issued_end bigint"));
    }
}
