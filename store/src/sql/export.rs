//! The reads an export of a batch makes (EPCIS, platform payload; docs/upload.md), each a page
//! with a key to continue after, so an export of a million units never holds them all; and the
//! two master-data fields only the export uses (the plant's GLN, a product's company prefix
//! length).

use serde_json::json;
use sqlx::any::AnyRow;

use super::audit::{begin, finish};
use super::{Db, Dialect, get};
use crate::export::{ExportCode, ExportPackage, StateChange};
use crate::{Actor, CodeState, PackageLevel, PackageState, StoreError, now};

/// A connection of its own for an export's pages: detached from the pool (closed when the
/// export ends) and, on SQLite, with a small page cache. An export reads a batch once, in key
/// order, so the pool's 64 MiB cache per connection (kept for the line's hot pages) would only
/// grow the process by the size of the batch's pages (docs/performance.md "EPCIS export").
#[derive(Debug)]
pub(crate) struct Reader {
    conn: sqlx::AnyConnection,
    dialect: Dialect,
}

/// SQLite page cache of an export's connection (KiB, as `PRAGMA cache_size` takes a negative
/// size).
const READER_CACHE_KIB: i64 = 8 * 1024;

pub(crate) async fn reader(db: &Db) -> Result<Reader, StoreError> {
    let mut conn = db
        .pool
        .acquire()
        .await
        .map_err(StoreError::db("open a connection for the export"))?
        .detach();
    if db.dialect == Dialect::Sqlite {
        sqlx::query(&format!("PRAGMA cache_size = -{READER_CACHE_KIB}"))
            .execute(&mut conn)
            .await
            .map_err(StoreError::db("set the export's page cache"))?;
    }
    Ok(Reader {
        conn,
        dialect: db.dialect,
    })
}

/// Code states that mean the code was printed, i.e. commissioned (SPEC §3: every state reached
/// through `printed`). `reserved`, `sent` and `voided` codes were never on a product.
pub(crate) const COMMISSIONED: [CodeState; 8] = [
    CodeState::Printed,
    CodeState::Verified,
    CodeState::Rejected,
    CodeState::Packed,
    CodeState::Shipped,
    CodeState::Destroyed,
    CodeState::Released,
    CodeState::Sampled,
];

/// Package states whose content is final: closed, on a pallet or shipped.
const CONTENT_FINAL: [PackageState; 3] = [
    PackageState::Closed,
    PackageState::Palletised,
    PackageState::Shipped,
];

fn in_list<T>(items: &[T], text: impl Fn(&T) -> &'static str) -> String {
    items
        .iter()
        .map(|i| format!("'{}'", text(i)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The plant's GLN (`None` clears it).
pub(crate) async fn set_gln(db: &Db, actor: &Actor, gln: Option<&str>) -> Result<(), StoreError> {
    let (mut tx, head) = begin(db).await?;
    let updated = sqlx::query("UPDATE producer SET gln = $1, updated_at = $2 WHERE id = 1")
        .bind(gln)
        .bind(now())
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("store the GLN"))?
        .rows_affected();
    if updated == 0 {
        return Err(StoreError::invalid(
            "producer",
            "not set: tracemark producer set --name … first",
        ));
    }
    finish(
        tx,
        actor,
        head,
        "producer.gln",
        "producer",
        json!({ "gln": gln }),
    )
    .await
}

pub(crate) async fn gln(db: &Db) -> Result<Option<String>, StoreError> {
    const WHAT: &str = "read the GLN";
    let row = sqlx::query("SELECT gln FROM producer WHERE id = 1")
        .fetch_optional(&db.pool)
        .await
        .map_err(StoreError::db(WHAT))?;
    match row {
        Some(row) => get(&row, "gln", WHAT),
        None => Ok(None),
    }
}

/// A product's GS1 company prefix length (`None` clears it).
pub(crate) async fn set_prefix_length(
    db: &Db,
    actor: &Actor,
    product: &str,
    length: Option<u8>,
) -> Result<(), StoreError> {
    let (mut tx, head) = begin(db).await?;
    let updated = sqlx::query("UPDATE products SET gs1_company_prefix_length = $1 WHERE id = $2")
        .bind(length.map(i64::from))
        .bind(product)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("store the company prefix length"))?
        .rows_affected();
    if updated == 0 {
        return Err(StoreError::NotFound {
            what: "product",
            id: product.to_owned(),
        });
    }
    let detail = json!({ "gs1_company_prefix_length": length });
    finish(tx, actor, head, "product.prefix_length", product, detail).await
}

pub(crate) async fn prefix_length(db: &Db, product: &str) -> Result<Option<u8>, StoreError> {
    const WHAT: &str = "read the company prefix length";
    let row = sqlx::query("SELECT gs1_company_prefix_length AS l FROM products WHERE id = $1")
        .bind(product)
        .fetch_optional(&db.pool)
        .await
        .map_err(StoreError::db(WHAT))?;
    let Some(row) = row else { return Ok(None) };
    get::<Option<i64>>(&row, "l", WHAT)?
        .map(|l| u8::try_from(l).map_err(|_| StoreError::corrupt(format!("prefix length {l}"))))
        .transpose()
}

/// The sequence number of the event that created batch `batch` (`None`: purged).
pub(crate) async fn batch_created_seq(db: &Db, batch: i64) -> Result<Option<i64>, StoreError> {
    const WHAT: &str = "find the batch's creation event";
    let row = sqlx::query(
        "SELECT MIN(seq) AS seq FROM events WHERE kind = 'batch.create' AND subject = $1",
    )
    .bind(format!("batch:{batch}"))
    .fetch_one(&db.pool)
    .await
    .map_err(StoreError::db(WHAT))?;
    get(&row, "seq", WHAT)
}

/// The event that closed batch `batch` (its last `batch.state` event; closed is final), if it
/// is in the log.
pub(crate) async fn batch_closed_seq(db: &Db, batch: i64) -> Result<Option<i64>, StoreError> {
    const WHAT: &str = "find the batch's close event";
    let row = sqlx::query(
        "SELECT MAX(seq) AS seq FROM events WHERE kind = 'batch.state' AND subject = $1",
    )
    .bind(format!("batch:{batch}"))
    .fetch_one(&db.pool)
    .await
    .map_err(StoreError::db(WHAT))?;
    get(&row, "seq", WHAT)
}

/// How many codes of the batch were commissioned.
pub(crate) async fn commissioned_count(db: &Db, batch: i64) -> Result<i64, StoreError> {
    const WHAT: &str = "count the commissioned codes";
    let row = sqlx::query(&format!(
        "SELECT COUNT(*) AS n FROM codes WHERE batch_id = $1 AND state IN ({})",
        in_list(&COMMISSIONED, |s| s.as_str())
    ))
    .bind(batch)
    .fetch_one(&db.pool)
    .await
    .map_err(StoreError::db(WHAT))?;
    get(&row, "n", WHAT)
}

/// `codes.transition` events in `(after, through]` that printed some code, at most `limit`, in
/// order: (seq, at, detail).
pub(crate) async fn printing_events(
    reader: &mut Reader,
    after: i64,
    through: i64,
    limit: i64,
) -> Result<Vec<(i64, String, String)>, StoreError> {
    const WHAT: &str = "read the events that printed codes";
    // The detail's bytes are fixed (store::sql::codes::transition_detail), so the text test
    // leaves out every event without a `printed` run before any JSON is parsed.
    let rows = sqlx::query(
        "SELECT seq, at, detail FROM events WHERE kind = 'codes.transition' \
         AND seq > $1 AND seq <= $2 AND detail LIKE '%\"to\":\"printed\"%' \
         ORDER BY seq LIMIT $3",
    )
    .bind(after)
    .bind(through)
    .bind(limit)
    .fetch_all(&mut reader.conn)
    .await
    .map_err(StoreError::db(WHAT))?;
    rows.iter()
        .map(|r| {
            Ok((
                get(r, "seq", WHAT)?,
                get(r, "at", WHAT)?,
                get(r, "detail", WHAT)?,
            ))
        })
        .collect()
}

/// Of `counters` of `product`, those whose code belongs to `batch`.
pub(crate) async fn counters_of_batch(
    reader: &mut Reader,
    product: &str,
    batch: i64,
    counters: &[i64],
) -> Result<Vec<i64>, StoreError> {
    const WHAT: &str = "check which printed codes belong to the batch";
    let rows = sqlx::query(&format!(
        "SELECT counter FROM codes WHERE product_id = $1 AND batch_id = $2 AND {}",
        reader.dialect.counter_in_json(3)
    ))
    .bind(product)
    .bind(batch)
    .bind(serde_json::to_string(counters).unwrap_or_default())
    .fetch_all(&mut reader.conn)
    .await
    .map_err(StoreError::db(WHAT))?;
    rows.iter().map(|r| get(r, "counter", WHAT)).collect()
}

/// Destroyed codes of the batch after `after` = (event seq, counter), in that order, at most
/// `limit`, each with the time of the event that destroyed it (destroyed is final, so the
/// code's last event is that one; `None` when the event was purged).
pub(crate) async fn destroyed_page(
    reader: &mut Reader,
    batch: i64,
    after: (i64, i64),
    limit: i64,
) -> Result<Vec<StateChange>, StoreError> {
    const WHAT: &str = "read the destroyed codes";
    let rows = sqlx::query(
        "SELECT c.code AS code, c.counter AS counter, c.last_event AS seq, e.at AS at \
         FROM codes c LEFT JOIN events e ON e.seq = c.last_event \
         WHERE c.batch_id = $1 AND c.state = $2 \
         AND (c.last_event > $3 OR (c.last_event = $3 AND c.counter > $4)) \
         ORDER BY c.last_event, c.counter LIMIT $5",
    )
    .bind(batch)
    .bind(CodeState::Destroyed.as_str())
    .bind(after.0)
    .bind(after.1)
    .bind(limit)
    .fetch_all(&mut reader.conn)
    .await
    .map_err(StoreError::db(WHAT))?;
    rows.iter()
        .map(|r| {
            Ok(StateChange {
                code: get(r, "code", WHAT)?,
                counter: get(r, "counter", WHAT)?,
                seq: get(r, "seq", WHAT)?,
                at: get(r, "at", WHAT)?,
            })
        })
        .collect()
}

/// Packages of the batch at `level` after SSCC `after`, in SSCC order, at most `limit`, with
/// their children (units of a carton, cartons of a pallet) in text order. Voided packages
/// (never used) are left out.
pub(crate) async fn packages_page(
    reader: &mut Reader,
    batch: i64,
    level: PackageLevel,
    after: &str,
    limit: i64,
) -> Result<Vec<ExportPackage>, StoreError> {
    const WHAT: &str = "read the batch's packages";
    let rows = sqlx::query(
        "SELECT sscc, state, parent_sscc, created_at, closed_at, shipment_id FROM packages \
         WHERE batch_id = $1 AND level = $2 AND sscc > $3 AND state <> $4 \
         ORDER BY sscc LIMIT $5",
    )
    .bind(batch)
    .bind(level.as_str())
    .bind(after)
    .bind(PackageState::Voided.as_str())
    .bind(limit)
    .fetch_all(&mut reader.conn)
    .await
    .map_err(StoreError::db(WHAT))?;
    let mut packages = rows
        .iter()
        .map(|r| package_row(r, WHAT))
        .collect::<Result<Vec<_>, _>>()?;
    if packages.is_empty() {
        return Ok(packages);
    }
    let ssccs: Vec<&str> = packages.iter().map(|p| p.sscc.as_str()).collect();
    let ssccs = serde_json::to_string(&ssccs).unwrap_or_default();
    let children = match level {
        PackageLevel::Carton => format!(
            "SELECT package_sscc AS parent, code AS child FROM codes WHERE {} \
             ORDER BY package_sscc, code",
            reader.dialect.text_in_json("package_sscc", 1)
        ),
        PackageLevel::Pallet => format!(
            "SELECT parent_sscc AS parent, sscc AS child FROM packages WHERE {} \
             ORDER BY parent_sscc, sscc",
            reader.dialect.text_in_json("parent_sscc", 1)
        ),
    };
    let rows = sqlx::query(&children)
        .bind(ssccs)
        .fetch_all(&mut reader.conn)
        .await
        .map_err(StoreError::db("read the packages' children"))?;
    // Both lists are in SSCC order: one merge.
    let mut index = 0;
    for row in &rows {
        let parent: String = get(row, "parent", WHAT)?;
        while packages.get(index).is_some_and(|p| p.sscc < parent) {
            index += 1;
        }
        if let Some(package) = packages.get_mut(index).filter(|p| p.sscc == parent) {
            package.children.push(get(row, "child", WHAT)?);
        }
    }
    Ok(packages)
}

fn package_row(row: &AnyRow, what: &str) -> Result<ExportPackage, StoreError> {
    let state: PackageState = get::<String>(row, "state", what)?.parse()?;
    Ok(ExportPackage {
        sscc: get(row, "sscc", what)?,
        content_final: CONTENT_FINAL.contains(&state),
        state,
        parent: get(row, "parent_sscc", what)?,
        created_at: get(row, "created_at", what)?,
        closed_at: get(row, "closed_at", what)?,
        shipment: get(row, "shipment_id", what)?,
        children: Vec::new(),
    })
}

/// Codes of the batch after counter `after`, in counter order, at most `limit`, with their
/// final state, reject reason and carton.
pub(crate) async fn codes_page(
    reader: &mut Reader,
    batch: i64,
    after: i64,
    limit: i64,
) -> Result<Vec<ExportCode>, StoreError> {
    const WHAT: &str = "read the batch's codes";
    let rows = sqlx::query(
        "SELECT c.counter AS counter, c.code AS code, c.state AS state, c.reason AS reason, \
         c.package_sscc AS package_sscc, p.shipment_id AS shipment_id FROM codes c \
         LEFT JOIN packages p ON p.sscc = c.package_sscc \
         WHERE c.batch_id = $1 AND c.counter > $2 ORDER BY c.counter LIMIT $3",
    )
    .bind(batch)
    .bind(after)
    .bind(limit)
    .fetch_all(&mut reader.conn)
    .await
    .map_err(StoreError::db(WHAT))?;
    rows.iter()
        .map(|r| {
            Ok(ExportCode {
                counter: get(r, "counter", WHAT)?,
                code: get(r, "code", WHAT)?,
                state: get::<String>(r, "state", WHAT)?.parse()?,
                reason: get::<Option<String>>(r, "reason", WHAT)?
                    .map(|r| r.parse())
                    .transpose()?,
                package: get(r, "package_sscc", WHAT)?,
                shipment: get(r, "shipment_id", WHAT)?,
            })
        })
        .collect()
}
