//! Packages (SPEC §3a): SSCC allocation, reading packages, their states and the figures of
//! their reconciliation (the links are in `super::links`). See `crate::package` for the design.
//!
//! Every operation is one transaction started by [`begin`], which takes the write lock (the
//! audit head) before anything is read: the checks below see exactly what they change. A refused
//! request returns before any write and drops the transaction (a rollback: the head does not
//! move).

use std::collections::HashMap;

use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};

use super::audit::{Head, Writes, begin, finish, finish_with};
use super::{Db, get};
use crate::package::{Package, PackageContents, SsccCoding, not_found};
use crate::reconcile::PackageFigures;
use crate::{Actor, PackageLevel, PackageState, StoreError, now};

/// A writing transaction.
pub(crate) type Tx = Transaction<'static, Any>;

/// The first serial reference of a new (prefix, extension digit) counter.
const FIRST_REFERENCE: i64 = 1;

pub(crate) async fn set_sscc_coding(
    db: &Db,
    actor: &Actor,
    coding: &SsccCoding,
) -> Result<(), StoreError> {
    let (mut tx, head) = begin(db).await?;
    let updated = sqlx::query(
        "UPDATE producer SET gs1_company_prefix = $1, sscc_extension_digit = $2, \
         updated_at = $3 WHERE id = 1",
    )
    .bind(&coding.company_prefix)
    .bind(i64::from(coding.extension_digit))
    .bind(now())
    .execute(&mut *tx)
    .await
    .map_err(StoreError::db("store the GS1 company prefix"))?
    .rows_affected();
    if updated == 0 {
        return Err(StoreError::invalid(
            "producer",
            "not set: tracemark producer set --name … first",
        ));
    }
    let detail = json!({
        "gs1_company_prefix": coding.company_prefix,
        "sscc_extension_digit": coding.extension_digit,
    });
    finish(tx, actor, head, "producer.gs1", "producer", detail).await
}

pub(crate) async fn sscc_coding(db: &Db) -> Result<Option<SsccCoding>, StoreError> {
    let mut conn = db
        .pool
        .acquire()
        .await
        .map_err(StoreError::db("read the GS1 company prefix"))?;
    coding_in(&mut conn).await
}

async fn coding_in(conn: &mut sqlx::AnyConnection) -> Result<Option<SsccCoding>, StoreError> {
    const WHAT: &str = "read the GS1 company prefix";
    let row =
        sqlx::query("SELECT gs1_company_prefix, sscc_extension_digit FROM producer WHERE id = 1")
            .fetch_optional(&mut *conn)
            .await
            .map_err(StoreError::db(WHAT))?;
    row.as_ref()
        .map(coding_from_row)
        .transpose()
        .map(Option::flatten)
}

/// The SSCC coding of a row with the producer's `gs1_company_prefix` and
/// `sscc_extension_digit` (`None`: no company prefix).
fn coding_from_row(row: &AnyRow) -> Result<Option<SsccCoding>, StoreError> {
    const WHAT: &str = "read the GS1 company prefix";
    let Some(company_prefix) = get::<Option<String>>(row, "gs1_company_prefix", WHAT)? else {
        return Ok(None);
    };
    let digit: i64 = get(row, "sscc_extension_digit", WHAT)?;
    let extension_digit = u8::try_from(digit)
        .map_err(|_| StoreError::corrupt(format!("SSCC extension digit {digit}")))?;
    Ok(Some(SsccCoding {
        company_prefix,
        extension_digit,
    }))
}

/// Allocates the next SSCC and records the package, in one transaction (see the module docs
/// of `crate::package`). The answer is the package as the transaction made it.
pub(crate) async fn create(
    db: &Db,
    actor: &Actor,
    batch_id: i64,
    level: PackageLevel,
    capacity: i64,
) -> Result<Package, StoreError> {
    let (mut tx, head) = begin(db).await?;
    let created = create_in(&mut tx, &head, batch_id, level, capacity).await?;
    let subject = format!("package:{}", created.package.sscc);
    finish(tx, actor, head, "package.create", &subject, created.detail).await?;
    Ok(created.package)
}

/// A package recorded by [`create_in`]: the package as recorded, and its `package.create`
/// event's detail.
pub(crate) struct Created {
    pub(crate) package: Package,
    pub(crate) detail: serde_json::Value,
}

/// Allocates the next SSCC and records the package in `tx`, as the event `head` is for. The
/// batch and the producer's SSCC coding are read in one statement: a batch that is not there
/// is refused first, then a producer without a GS1 company prefix.
pub(crate) async fn create_in(
    tx: &mut Tx,
    head: &Head,
    batch_id: i64,
    level: PackageLevel,
    capacity: i64,
) -> Result<Created, StoreError> {
    const WHAT: &str = "advance the SSCC counter";
    let (product_id, coding) = batch_and_coding_in(tx, batch_id).await?;
    let Some(coding) = coding else {
        return Err(StoreError::invalid(
            "producer",
            "no GS1 company prefix: tracemark producer set --gs1-company-prefix DIGITS \
             (package codes of other schemes are a later step)",
        ));
    };
    let row = sqlx::query(
        "INSERT INTO sscc_counter (company_prefix, extension_digit, next_reference) \
         VALUES ($1, $2, $3) ON CONFLICT (company_prefix, extension_digit) \
         DO UPDATE SET next_reference = sscc_counter.next_reference + 1 \
         RETURNING next_reference",
    )
    .bind(&coding.company_prefix)
    .bind(i64::from(coding.extension_digit))
    .bind(FIRST_REFERENCE + 1)
    .fetch_one(&mut **tx)
    .await
    .map_err(StoreError::db(WHAT))?;
    let reference = get::<i64>(&row, "next_reference", WHAT)? - 1;
    let sscc = u64::try_from(reference)
        .map_err(|_| StoreError::corrupt(format!("SSCC reference {reference}")))
        .and_then(|r| {
            tracemark_codes::gs1::Sscc::new(coding.extension_digit, &coding.company_prefix, r)
                .map_err(|e| {
                    StoreError::invalid(
                        "sscc",
                        format!(
                            "the serial references of company prefix {} are used up: {e}",
                            coding.company_prefix
                        ),
                    )
                })
        })?
        .to_string();
    let created_at = now();
    sqlx::query(
        "INSERT INTO packages (sscc, level, batch_id, capacity, state, parent_sscc, short, \
         created_at, closed_at, last_event) VALUES ($1, $2, $3, $4, $5, NULL, 0, $6, NULL, $7)",
    )
    .bind(&sscc)
    .bind(level.as_str())
    .bind(batch_id)
    .bind(capacity)
    .bind(PackageState::Allocated.as_str())
    .bind(&created_at)
    .bind(head.seq)
    .execute(&mut **tx)
    .await
    .map_err(StoreError::db(format!("record package {sscc}")))?;
    let detail = json!({
        "sscc": sscc, "level": level.as_str(), "batch": batch_id, "capacity": capacity,
        "reference": reference,
    });
    // The row just inserted, as `package_from_row` would read it back: no children, no label,
    // no parent, no shipment yet.
    let package = Package {
        sscc,
        level,
        batch_id,
        product_id,
        capacity,
        state: PackageState::Allocated,
        parent: None,
        short: false,
        children_count: 0,
        created_at,
        closed_at: None,
        label_count: None,
        shipment_id: None,
    };
    Ok(Created { package, detail })
}

/// The product of batch `batch_id` and the producer's SSCC coding (`None`: no GS1 company
/// prefix), in one statement. A batch that is not there is not found.
async fn batch_and_coding_in(
    tx: &mut Tx,
    batch_id: i64,
) -> Result<(String, Option<SsccCoding>), StoreError> {
    const WHAT: &str = "read the batch and the GS1 company prefix";
    let row = sqlx::query(
        "SELECT b.product_id AS product_id, p.gs1_company_prefix AS gs1_company_prefix, \
         p.sscc_extension_digit AS sscc_extension_digit \
         FROM batches b LEFT JOIN producer p ON p.id = 1 WHERE b.id = $1",
    )
    .bind(batch_id)
    .fetch_optional(&mut **tx)
    .await
    .map_err(StoreError::db(WHAT))?;
    let Some(row) = row else {
        return Err(StoreError::NotFound {
            what: "batch",
            id: batch_id.to_string(),
        });
    };
    Ok((get(&row, "product_id", WHAT)?, coding_from_row(&row)?))
}

/// A package row with its product and its children counted.
const PACKAGE_SELECT: &str = "SELECT p.sscc AS sscc, p.level AS level, p.batch_id AS batch_id, \
    b.product_id AS product_id, p.capacity AS capacity, p.state AS state, \
    p.parent_sscc AS parent_sscc, p.short AS short, p.created_at AS created_at, \
    p.closed_at AS closed_at, p.label_count AS label_count, p.shipment_id AS shipment_id, \
    (SELECT COUNT(*) FROM codes c WHERE c.package_sscc = p.sscc) AS units, \
    (SELECT COUNT(*) FROM packages q WHERE q.parent_sscc = p.sscc) AS cartons \
    FROM packages p JOIN batches b ON b.id = p.batch_id";

fn package_from_row(row: &AnyRow) -> Result<Package, StoreError> {
    const WHAT: &str = "read a package";
    let units: i64 = get(row, "units", WHAT)?;
    let cartons: i64 = get(row, "cartons", WHAT)?;
    Ok(Package {
        sscc: get(row, "sscc", WHAT)?,
        level: get::<String>(row, "level", WHAT)?.parse()?,
        batch_id: get(row, "batch_id", WHAT)?,
        product_id: get(row, "product_id", WHAT)?,
        capacity: get(row, "capacity", WHAT)?,
        state: get::<String>(row, "state", WHAT)?.parse()?,
        parent: get(row, "parent_sscc", WHAT)?,
        short: get::<i64>(row, "short", WHAT)? != 0,
        children_count: units + cartons,
        created_at: get(row, "created_at", WHAT)?,
        closed_at: get(row, "closed_at", WHAT)?,
        label_count: get(row, "label_count", WHAT)?,
        shipment_id: get(row, "shipment_id", WHAT)?,
    })
}

pub(crate) async fn package(db: &Db, sscc: &str) -> Result<Option<Package>, StoreError> {
    let row = sqlx::query(&format!("{PACKAGE_SELECT} WHERE p.sscc = $1"))
        .bind(sscc)
        .fetch_optional(&db.pool)
        .await
        .map_err(StoreError::db(format!("read package {sscc}")))?;
    row.as_ref().map(package_from_row).transpose()
}

pub(crate) async fn package_in(tx: &mut Tx, sscc: &str) -> Result<Package, StoreError> {
    let row = sqlx::query(&format!("{PACKAGE_SELECT} WHERE p.sscc = $1"))
        .bind(sscc)
        .fetch_optional(&mut **tx)
        .await
        .map_err(StoreError::db(format!("read package {sscc}")))?;
    row.as_ref()
        .map(package_from_row)
        .transpose()?
        .ok_or_else(|| not_found(sscc))
}

/// The packages of `ssccs` that are there, by SSCC, read in `tx` in one statement.
pub(crate) async fn packages_in(
    tx: &mut Tx,
    db: &Db,
    ssccs: &[String],
) -> Result<HashMap<String, Package>, StoreError> {
    const WHAT: &str = "read packages";
    let rows = sqlx::query(&format!(
        "{PACKAGE_SELECT} WHERE {}",
        db.dialect.text_in_json("p.sscc", 1)
    ))
    .bind(serde_json::to_string(ssccs).map_err(|e| StoreError::invalid("sscc", e))?)
    .fetch_all(&mut **tx)
    .await
    .map_err(StoreError::db(WHAT))?;
    rows.iter()
        .map(|row| package_from_row(row).map(|p| (p.sscc.clone(), p)))
        .collect()
}

pub(crate) async fn of_batch(db: &Db, batch_id: i64) -> Result<Vec<Package>, StoreError> {
    let rows = sqlx::query(&format!(
        "{PACKAGE_SELECT} WHERE p.batch_id = $1 ORDER BY p.level DESC, p.sscc"
    ))
    .bind(batch_id)
    .fetch_all(&db.pool)
    .await
    .map_err(StoreError::db(format!(
        "list the packages of batch {batch_id}"
    )))?;
    rows.iter().map(package_from_row).collect()
}

/// The unit codes in carton `sscc`, in (product, counter) order.
pub(crate) async fn units_of(db: &Db, sscc: &str) -> Result<Vec<String>, StoreError> {
    sqlx::query_scalar(
        "SELECT code FROM codes WHERE package_sscc = $1 ORDER BY product_id, counter",
    )
    .bind(sscc)
    .fetch_all(&db.pool)
    .await
    .map_err(StoreError::db(format!("list the units of {sscc}")))
}

/// The cartons on pallet `sscc`, in SSCC order.
pub(crate) async fn cartons_of(db: &Db, sscc: &str) -> Result<Vec<String>, StoreError> {
    sqlx::query_scalar("SELECT sscc FROM packages WHERE parent_sscc = $1 ORDER BY sscc")
        .bind(sscc)
        .fetch_all(&db.pool)
        .await
        .map_err(StoreError::db(format!("list the cartons of {sscc}")))
}

/// A package with its cartons and their units.
pub(crate) async fn contents(db: &Db, package: Package) -> Result<PackageContents, StoreError> {
    match package.level {
        PackageLevel::Carton => Ok(PackageContents {
            units: units_of(db, &package.sscc).await?,
            package,
            cartons: Vec::new(),
        }),
        // Two reads whatever the pallet holds: its cartons, then all their units (a pallet
        // label counts them; a read a carton was two round trips each, issue 20).
        PackageLevel::Pallet => {
            let sscc = &package.sscc;
            let rows = sqlx::query(&format!(
                "{PACKAGE_SELECT} WHERE p.parent_sscc = $1 ORDER BY p.sscc"
            ))
            .bind(sscc)
            .fetch_all(&db.pool)
            .await
            .map_err(StoreError::db(format!("read the cartons of {sscc}")))?;
            let mut cartons = rows
                .iter()
                .map(|row| {
                    package_from_row(row).map(|carton| PackageContents {
                        package: carton,
                        cartons: Vec::new(),
                        units: Vec::new(),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let units: Vec<(String, String)> = sqlx::query_as(
                "SELECT package_sscc, code FROM codes WHERE package_sscc IN \
                 (SELECT sscc FROM packages WHERE parent_sscc = $1) \
                 ORDER BY product_id, counter",
            )
            .bind(sscc)
            .fetch_all(&db.pool)
            .await
            .map_err(StoreError::db(format!("list the units on {sscc}")))?;
            let mut of: HashMap<String, Vec<String>> = HashMap::new();
            for (carton, code) in units {
                of.entry(carton).or_default().push(code);
            }
            for carton in &mut cartons {
                carton.units = of.remove(&carton.package.sscc).unwrap_or_default();
            }
            Ok(PackageContents {
                package,
                cartons,
                units: Vec::new(),
            })
        }
    }
}

/// A package's state change (`Store::set_package_state`): the answer is the package as the
/// change leaves it (so the caller need not read it again: a round trip to the store each).
pub(crate) async fn set_state(
    db: &Db,
    actor: &Actor,
    sscc: &str,
    to: PackageState,
) -> Result<Package, StoreError> {
    let (mut tx, head) = begin(db).await?;
    let mut package = package_in(&mut tx, sscc).await?;
    let detail = moved(&mut package, to)?;
    let mut writes = Writes::default();
    store_state(&mut writes, &package, head.seq);
    let subject = format!("package:{sscc}");
    finish_with(tx, actor, head, "package.state", &subject, detail, writes).await?;
    Ok(package)
}

/// The rules of [`set_state`] for `package` going to `to`, applied to it in memory: the answer
/// is the `package.state` event's detail. [`store_state`] writes what it changed.
pub(crate) fn moved(
    package: &mut Package,
    to: PackageState,
) -> Result<serde_json::Value, StoreError> {
    let from = package.state;
    let (sscc, level, children) = (&package.sscc, package.level, package.children_count);
    if !from.can_become(to) {
        return Err(StoreError::invalid(
            "state",
            format!("{level} {sscc} cannot go from {from} to {to}"),
        ));
    }
    if to == PackageState::Closed && children == 0 {
        return Err(StoreError::invalid(
            "state",
            format!("{level} {sscc} is empty: void it instead"),
        ));
    }
    if to == PackageState::Voided && children > 0 {
        return Err(StoreError::invalid(
            "state",
            format!("{level} {sscc} holds {children}: unpack it first"),
        ));
    }
    // Closing records whether the package is short; other changes keep what it was.
    let short = if to == PackageState::Closed {
        children < package.capacity
    } else {
        package.short
    };
    let detail = json!({
        "sscc": sscc, "from": from.as_str(), "to": to.as_str(), "children": children,
        "short": short,
    });
    if to == PackageState::Closed {
        package.closed_at = Some(now());
    }
    package.short = short;
    package.state = to;
    Ok(detail)
}

/// Writes the state of `package` (its state, short, closed, label count) as [`moved`] and
/// the label's rules left it, changed last by the event `last_event`, with the transaction's
/// events ([`finish_with`]): one statement for any number of changes in one transaction.
pub(crate) fn store_state(writes: &mut Writes<'_>, package: &Package, last_event: i64) {
    let at = writes.next_arg();
    writes
        .statement(format!(
            "UPDATE packages SET state = ${at}, short = ${}, closed_at = ${}, \
             label_count = ${}, last_event = ${} WHERE sscc = ${}",
            at + 1,
            at + 2,
            at + 3,
            at + 4,
            at + 5
        ))
        .bind(package.state.as_str())
        .bind(i64::from(package.short))
        .bind(package.closed_at.clone())
        .bind(package.label_count)
        .bind(last_event)
        .bind(package.sscc.clone())
        .expect(
            1,
            format!("setting package {} to {}", package.sscc, package.state),
        );
}

/// What the package reconciliation of batch `batch_id` rests on, read in one transaction (one
/// snapshot on PostgreSQL; SQLite reads are serialised with writes anyway).
/// The package figures of batch `batch_id`. `code_links`: the codes' `packed_in_no_carton`
/// and `linked_not_packed` when the caller counted them already in its own pass over the
/// batch's codes (the batch report's [`crate::report::BatchTally`]); `None`: counted here.
pub(crate) async fn figures(
    db: &Db,
    batch_id: i64,
    code_links: Option<(i64, i64)>,
) -> Result<PackageFigures, StoreError> {
    const WHAT: &str = "count the packages of a batch";
    let mut tx = db.pool.begin().await.map_err(StoreError::db(WHAT))?;
    let rows = sqlx::query(
        "SELECT level, state, short, COUNT(*) AS n FROM packages WHERE batch_id = $1 \
         GROUP BY level, state, short",
    )
    .bind(batch_id)
    .fetch_all(&mut *tx)
    .await
    .map_err(StoreError::db(WHAT))?;
    let mut packages = Vec::new();
    for row in &rows {
        packages.push((
            get::<String>(row, "level", WHAT)?.parse()?,
            get::<String>(row, "state", WHAT)?.parse()?,
            get::<i64>(row, "short", WHAT)? != 0,
            get(row, "n", WHAT)?,
        ));
    }
    let mut count = async |sql: &str| -> Result<i64, StoreError> {
        sqlx::query_scalar(sql)
            .bind(batch_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::db(WHAT))
    };
    let figures =
        PackageFigures {
            packages,
            over_capacity: count(
                "SELECT COUNT(*) FROM packages p WHERE p.batch_id = $1 AND p.capacity < \
             (SELECT COUNT(*) FROM codes c WHERE c.package_sscc = p.sscc) \
             + (SELECT COUNT(*) FROM packages q WHERE q.parent_sscc = p.sscc)",
            )
            .await?,
            packed_in_no_carton: match code_links {
                Some((packed_in_no_carton, _)) => packed_in_no_carton,
                None => {
                    count(
                        "SELECT COUNT(*) FROM codes WHERE batch_id = $1 \
                     AND state IN ('packed', 'shipped') AND package_sscc IS NULL",
                    )
                    .await?
                }
            },
            linked_not_packed: match code_links {
                Some((_, linked_not_packed)) => linked_not_packed,
                None => count(
                    "SELECT COUNT(*) FROM codes WHERE batch_id = $1 AND package_sscc IS NOT NULL \
                     AND state NOT IN ('packed', 'shipped')",
                )
                .await?,
            },
            linked_to_no_carton: count(
                "SELECT COUNT(*) FROM codes c WHERE c.batch_id = $1 AND c.package_sscc IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM packages p WHERE p.sscc = c.package_sscc \
             AND p.level = 'carton')",
            )
            .await?,
            pallet_link_wrong: count(
                "SELECT COUNT(*) FROM packages p WHERE p.batch_id = $1 AND p.level = 'carton' AND (\
             (p.parent_sscc IS NULL AND p.state = 'palletised') \
             OR (p.parent_sscc IS NOT NULL AND p.state NOT IN ('palletised', 'shipped')) \
             OR (p.parent_sscc IS NOT NULL AND NOT EXISTS (SELECT 1 FROM packages q \
             WHERE q.sscc = p.parent_sscc AND q.level = 'pallet')))",
            )
            .await?,
        };
    tx.commit().await.map_err(StoreError::db(WHAT))?;
    Ok(figures)
}

/// SSCC serial references skipped after a restore, at most (see [`skip_references`]).
pub(crate) const RESTORE_REFERENCE_GAP: i64 = 1_000_000;

/// Advances every SSCC counter after a restore, so SSCCs issued after the snapshot was taken
/// (unknown to it) are never issued again: by [`RESTORE_REFERENCE_GAP`], or a tenth of the
/// prefix's reference space when that is smaller (a 10-digit prefix has 10^6 references; one
/// restore must not use them up). Returns the new next references; no event when there is no
/// counter yet.
pub(crate) async fn skip_references(
    db: &Db,
    actor: &Actor,
    why: &str,
) -> Result<Vec<(String, i64, i64)>, StoreError> {
    const WHAT: &str = "read the SSCC counters";
    let (mut tx, head) = begin(db).await?;
    let rows = sqlx::query(
        "SELECT company_prefix, extension_digit, next_reference FROM sscc_counter \
         ORDER BY company_prefix, extension_digit",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(StoreError::db(WHAT))?;
    let mut moved = Vec::new();
    for row in &rows {
        let prefix: String = get(row, "company_prefix", WHAT)?;
        let digit: i64 = get(row, "extension_digit", WHAT)?;
        let space = 10_i64.saturating_pow(16_u32.saturating_sub(prefix.len() as u32));
        let gap = RESTORE_REFERENCE_GAP.min(space / 10).max(1);
        let next: i64 = sqlx::query_scalar(
            "UPDATE sscc_counter SET next_reference = next_reference + $1 \
             WHERE company_prefix = $2 AND extension_digit = $3 RETURNING next_reference",
        )
        .bind(gap)
        .bind(&prefix)
        .bind(digit)
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::db("advance an SSCC counter"))?;
        moved.push((prefix, digit, next));
    }
    if moved.is_empty() {
        return Ok(moved);
    }
    let detail = json!({ "why": why, "next_references": moved });
    finish(tx, actor, head, "sscc.skip", "sscc_counter", detail).await?;
    Ok(moved)
}
