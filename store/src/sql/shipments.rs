//! Shipments and the flow disclosure (see `crate::shipment` for the design).
//!
//! [`ship`] is one transaction started by [`begin`], which takes the write lock (the audit head)
//! before anything is read: the checks see exactly what they change. A refused shipment returns
//! before any write and drops the transaction (a rollback: the head does not move).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::json;
use sqlx::any::AnyRow;

use super::audit::{begin, finish};
use super::packages::{Tx, package_in};
use super::{Db, get};
use crate::package::Package;
use crate::shipment::{FlowField, NewShipment, ShipProblem, ShipRefusal, Shipment};
use crate::{Actor, CodeState, PackageLevel, PackageState, StoreError, now};

/// The flow record columns of `shipments`.
const COLUMNS: &str = "id, sale_time, buyer_name, buyer_address, buyer_contact, order_ref, \
    quantity, event_seq, recorded_at";

/// Why `package` may not ship, given the SSCCs named (`None`: it may).
fn problem(package: &Package, named: &HashSet<&str>) -> Option<ShipProblem> {
    if package.state == PackageState::Shipped {
        return Some(ShipProblem::Shipped(package.shipment_id));
    }
    if let Some(pallet) = &package.parent {
        return Some(if named.contains(pallet.as_str()) {
            ShipProblem::InNamedPallet(pallet.clone())
        } else {
            ShipProblem::OnPallet(pallet.clone())
        });
    }
    if package.state != PackageState::Closed {
        return Some(ShipProblem::NotClosed(package.state));
    }
    if package.children_count == 0 {
        return Some(ShipProblem::Empty);
    }
    None
}

/// Records `shipment` (validated); returns its id. With `dry_run`, only checks: the
/// transaction is dropped (rolled back) after the checks and `None` is returned — the dispatch
/// station answers each scan with exactly what the shipment would refuse.
pub(crate) async fn ship(
    db: &Db,
    actor: &Actor,
    shipment: &NewShipment,
    dry_run: bool,
) -> Result<Option<i64>, StoreError> {
    const WHAT: &str = "read the packages to ship";
    let (mut tx, head) = begin(db).await?;
    let named: HashSet<&str> = shipment.ssccs.iter().map(String::as_str).collect();
    let mut seen = HashSet::new();
    let mut refusals = Vec::new();
    // Named package → the cartons it ships (itself, or a pallet's cartons).
    let mut accepted: BTreeMap<String, Vec<String>> = BTreeMap::new();
    // The batch of the first package named: a shipment's delivery is listed under it.
    let mut first_batch = None;
    for sscc in &shipment.ssccs {
        let found = if !seen.insert(sscc.as_str()) {
            Err(ShipProblem::ListedTwice)
        } else {
            match package_in(&mut tx, sscc).await {
                Ok(package) => match problem(&package, &named) {
                    Some(problem) => Err(problem),
                    None => Ok(package),
                },
                Err(StoreError::NotFound { .. }) => Err(ShipProblem::Unknown),
                Err(other) => return Err(other),
            }
        };
        match found {
            Ok(package) => {
                let cartons = match package.level {
                    PackageLevel::Carton => vec![package.sscc.clone()],
                    PackageLevel::Pallet => sqlx::query_scalar(
                        "SELECT sscc FROM packages WHERE parent_sscc = $1 ORDER BY sscc",
                    )
                    .bind(&package.sscc)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(StoreError::db(WHAT))?,
                };
                first_batch.get_or_insert(package.batch_id);
                accepted.insert(package.sscc, cartons);
            }
            Err(problem) => refusals.push(ShipRefusal {
                sscc: sscc.clone(),
                problem,
            }),
        }
    }
    // Every unit inside must be packed (SPEC §3: `packed → shipped`); the cartons of a
    // pallet must be on it (palletised), which the links guarantee.
    let cartons: Vec<&str> = accepted.values().flatten().map(String::as_str).collect();
    let carton_list = serde_json::to_string(&cartons).unwrap_or_default();
    let rows = sqlx::query(&format!(
        "SELECT code, state, package_sscc FROM codes WHERE {} AND state <> $2 \
         ORDER BY package_sscc, code",
        db.dialect.text_in_json("package_sscc", 1)
    ))
    .bind(&carton_list)
    .bind(CodeState::Packed.as_str())
    .fetch_all(&mut *tx)
    .await
    .map_err(StoreError::db("read the units to ship"))?;
    let mut bad_units: HashMap<String, Vec<(String, CodeState)>> = HashMap::new();
    for row in &rows {
        let carton: String = get(row, "package_sscc", WHAT)?;
        bad_units.entry(carton).or_default().push((
            get(row, "code", WHAT)?,
            get::<String>(row, "state", WHAT)?.parse()?,
        ));
    }
    if !bad_units.is_empty() {
        for (named, cartons) in &accepted {
            let units: Vec<(String, CodeState)> = cartons
                .iter()
                .filter_map(|c| bad_units.get(c))
                .flatten()
                .cloned()
                .collect();
            if !units.is_empty() {
                refusals.push(ShipRefusal {
                    sscc: named.clone(),
                    problem: ShipProblem::Units(units),
                });
            }
        }
    }
    if !refusals.is_empty() {
        // In the order given, as the operator named them.
        let order: HashMap<&str, usize> = shipment
            .ssccs
            .iter()
            .enumerate()
            .rev()
            .map(|(i, s)| (s.as_str(), i))
            .collect();
        refusals.sort_by_key(|r| order.get(r.sscc.as_str()).copied().unwrap_or(usize::MAX));
        return Err(StoreError::ShipRefused { refusals });
    }
    if dry_run {
        return Ok(None);
    }
    let quantity: i64 = sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM codes WHERE {}",
        db.dialect.text_in_json("package_sscc", 1)
    ))
    .bind(&carton_list)
    .fetch_one(&mut *tx)
    .await
    .map_err(StoreError::db("count the units to ship"))?;
    let recorded_at = now();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO shipments (sale_time, buyer_name, buyer_address, buyer_contact, order_ref, \
         quantity, event_seq, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(&shipment.sale_time)
    .bind(&shipment.buyer_name)
    .bind(&shipment.buyer_address)
    .bind(&shipment.buyer_contact)
    .bind(&shipment.order_ref)
    .bind(quantity)
    .bind(head.seq)
    .bind(&recorded_at)
    .fetch_one(&mut *tx)
    .await
    .map_err(StoreError::db("record the shipment"))?;
    // The dispatch order it fills, if one is open under its reference (docs/shipping.md "The
    // dispatch station"): filled once, by the first shipment that names it.
    let order_filled = match &shipment.order_ref {
        Some(order) => {
            sqlx::query(
                "UPDATE dispatch_orders SET shipment_id = $1 \
                 WHERE order_ref = $2 AND shipment_id IS NULL",
            )
            .bind(id)
            .bind(order)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("fill the dispatch order"))?
            .rows_affected()
                == 1
        }
        None => false,
    };
    let mut packages: Vec<&str> = accepted.keys().map(String::as_str).collect();
    for (named, cartons) in &accepted {
        packages.extend(cartons.iter().map(String::as_str).filter(|c| c != named));
    }
    set_shipped(&mut tx, db, id, &packages, &carton_list, quantity, head.seq).await?;
    let ssccs: Vec<&str> = accepted.keys().map(String::as_str).collect();
    // The shipment's own document goes to every upload target, enqueued with it (SPEC §6: the
    // outbox and the record commit together or not at all).
    let uploads = match first_batch {
        Some(batch) => super::upload::enqueue_shipment(&mut tx, id, batch).await?,
        None => Vec::new(),
    };
    let detail = json!({
        "shipment": id,
        "sale_time": shipment.sale_time,
        "buyer_name": shipment.buyer_name,
        "buyer_address": shipment.buyer_address,
        "buyer_contact": shipment.buyer_contact,
        "order": shipment.order_ref,
        "order_filled": order_filled,
        "quantity": quantity,
        "ssccs": ssccs,
        "packages": packages,
        "uploads": uploads,
    });
    finish(
        tx,
        actor,
        head,
        "shipment.ship",
        &format!("shipment:{id}"),
        detail,
    )
    .await?;
    Ok(Some(id))
}

/// Marks the packages and the units in `cartons` (a JSON list) shipped, checking every row
/// moved.
async fn set_shipped(
    tx: &mut Tx,
    db: &Db,
    id: i64,
    packages: &[&str],
    cartons: &str,
    units: i64,
    seq: i64,
) -> Result<(), StoreError> {
    let moved = sqlx::query(&format!(
        "UPDATE packages SET state = $1, shipment_id = $2, last_event = $3 WHERE {}",
        db.dialect.text_in_json("sscc", 4)
    ))
    .bind(PackageState::Shipped.as_str())
    .bind(id)
    .bind(seq)
    .bind(serde_json::to_string(packages).unwrap_or_default())
    .execute(&mut **tx)
    .await
    .map_err(StoreError::db("mark the packages shipped"))?
    .rows_affected();
    if moved != packages.len() as u64 {
        return Err(StoreError::corrupt(format!(
            "{moved} of {} packages changed while shipping them",
            packages.len()
        )));
    }
    let moved = sqlx::query(&format!(
        "UPDATE codes SET state = $1, last_event = $2 WHERE {} AND state = $4",
        db.dialect.text_in_json("package_sscc", 3)
    ))
    .bind(CodeState::Shipped.as_str())
    .bind(seq)
    .bind(cartons)
    .bind(CodeState::Packed.as_str())
    .execute(&mut **tx)
    .await
    .map_err(StoreError::db("mark the units shipped"))?
    .rows_affected();
    if i64::try_from(moved).ok() != Some(units) {
        return Err(StoreError::corrupt(format!(
            "{moved} of {units} units changed while shipping them"
        )));
    }
    Ok(())
}

fn shipment_from_row(row: &AnyRow) -> Result<Shipment, StoreError> {
    const WHAT: &str = "read a shipment";
    Ok(Shipment {
        id: get(row, "id", WHAT)?,
        sale_time: get(row, "sale_time", WHAT)?,
        buyer_name: get(row, "buyer_name", WHAT)?,
        buyer_address: get(row, "buyer_address", WHAT)?,
        buyer_contact: get(row, "buyer_contact", WHAT)?,
        quantity: get(row, "quantity", WHAT)?,
        order_ref: get(row, "order_ref", WHAT)?,
        ssccs: Vec::new(),
        packages: 0,
        event_seq: get(row, "event_seq", WHAT)?,
        recorded_at: get(row, "recorded_at", WHAT)?,
    })
}

/// Fills in the SSCCs named (packages of the shipment on no pallet) and the package count.
async fn with_packages<'e, E>(
    executor: E,
    mut shipments: Vec<Shipment>,
) -> Result<Vec<Shipment>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any> + Copy,
{
    for shipment in &mut shipments {
        let rows = sqlx::query(
            "SELECT sscc, parent_sscc FROM packages WHERE shipment_id = $1 ORDER BY sscc",
        )
        .bind(shipment.id)
        .fetch_all(executor)
        .await
        .map_err(StoreError::db("read a shipment's packages"))?;
        shipment.packages = rows.len() as i64;
        for row in &rows {
            if get::<Option<String>>(row, "parent_sscc", "read a shipment's packages")?.is_none() {
                shipment
                    .ssccs
                    .push(get(row, "sscc", "read a shipment's packages")?);
            }
        }
    }
    Ok(shipments)
}

pub(crate) async fn shipment(db: &Db, id: i64) -> Result<Option<Shipment>, StoreError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM shipments WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.pool)
        .await
        .map_err(StoreError::db(format!("read shipment {id}")))?;
    let Some(row) = row else { return Ok(None) };
    let shipments = with_packages(&db.pool, vec![shipment_from_row(&row)?]).await?;
    Ok(shipments.into_iter().next())
}

pub(crate) async fn page(
    db: &Db,
    offset: i64,
    limit: i64,
) -> Result<(Vec<Shipment>, i64), StoreError> {
    const WHAT: &str = "list the shipments";
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM shipments ORDER BY id DESC LIMIT $1 OFFSET $2"
    ))
    .bind(limit)
    .bind(offset)
    .fetch_all(&db.pool)
    .await
    .map_err(StoreError::db(WHAT))?;
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM shipments")
        .fetch_one(&db.pool)
        .await
        .map_err(StoreError::db(WHAT))?;
    let shipments = rows
        .iter()
        .map(shipment_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((with_packages(&db.pool, shipments).await?, total))
}

/// The shipments holding packages of batch `batch`, recorded by event `through_seq`, by id.
pub(crate) async fn of_batch(
    db: &Db,
    batch: i64,
    through_seq: i64,
) -> Result<Vec<Shipment>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM shipments WHERE event_seq <= $2 AND id IN \
         (SELECT shipment_id FROM packages WHERE batch_id = $1 AND shipment_id IS NOT NULL) \
         ORDER BY id"
    ))
    .bind(batch)
    .bind(through_seq)
    .fetch_all(&db.pool)
    .await
    .map_err(StoreError::db(format!(
        "read the shipments of batch {batch}"
    )))?;
    let shipments = rows
        .iter()
        .map(shipment_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    with_packages(&db.pool, shipments).await
}

pub(crate) async fn batches(db: &Db, id: i64) -> Result<Vec<i64>, StoreError> {
    sqlx::query_scalar(
        "SELECT DISTINCT batch_id FROM packages WHERE shipment_id = $1 ORDER BY batch_id",
    )
    .bind(id)
    .fetch_all(&db.pool)
    .await
    .map_err(StoreError::db(format!("read the batches of shipment {id}")))
}

pub(crate) async fn set_disclosure(
    db: &Db,
    actor: &Actor,
    product: &str,
    public: &[FlowField],
) -> Result<(), StoreError> {
    let (mut tx, head) = begin(db).await?;
    let flag = |field: FlowField| i64::from(public.contains(&field));
    sqlx::query(
        "INSERT INTO product_flow_disclosure (product_id, sale_time, buyer_name, buyer_address, \
         buyer_contact, quantity, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (product_id) DO UPDATE SET sale_time = excluded.sale_time, \
         buyer_name = excluded.buyer_name, buyer_address = excluded.buyer_address, \
         buyer_contact = excluded.buyer_contact, quantity = excluded.quantity, \
         updated_at = excluded.updated_at",
    )
    .bind(product)
    .bind(flag(FlowField::SaleTime))
    .bind(flag(FlowField::BuyerName))
    .bind(flag(FlowField::BuyerAddress))
    .bind(flag(FlowField::BuyerContact))
    .bind(flag(FlowField::Quantity))
    .bind(now())
    .execute(&mut *tx)
    .await
    .map_err(StoreError::db(format!(
        "store the flow disclosure of {product}"
    )))?;
    let names: Vec<&str> = public.iter().map(|f| f.as_str()).collect();
    let detail = json!({ "product": product, "public": names });
    finish(tx, actor, head, "product.flow_public", product, detail).await
}

pub(crate) async fn disclosure(db: &Db, product: &str) -> Result<Vec<FlowField>, StoreError> {
    const WHAT: &str = "read the flow disclosure";
    let row = sqlx::query(
        "SELECT sale_time, buyer_name, buyer_address, buyer_contact, quantity \
         FROM product_flow_disclosure WHERE product_id = $1",
    )
    .bind(product)
    .fetch_optional(&db.pool)
    .await
    .map_err(StoreError::db(WHAT))?;
    let Some(row) = row else {
        return Ok(Vec::new());
    };
    let mut public = Vec::new();
    for field in FlowField::ALL {
        if get::<i64>(&row, field.as_str(), WHAT)? != 0 {
            public.push(field);
        }
    }
    Ok(public)
}
