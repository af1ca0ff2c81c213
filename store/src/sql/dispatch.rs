//! Dispatch orders (see `crate::dispatch` for the design). An order is written in one
//! transaction with its `dispatch.order` event; the shipment that fills it sets its
//! `shipment_id` in the shipment's own transaction (`shipments::ship`).

use serde_json::json;
use sqlx::any::AnyRow;

use super::audit::{begin, finish};
use super::{Db, get};
use crate::dispatch::{DispatchOrder, NewDispatchOrder};
use crate::{Actor, StoreError, now};

const COLUMNS: &str =
    "order_ref, buyer_name, buyer_address, buyer_contact, created_at, shipment_id";

pub(crate) async fn add(
    db: &Db,
    actor: &Actor,
    order: &NewDispatchOrder,
) -> Result<(), StoreError> {
    let (mut tx, head) = begin(db).await?;
    let exists = sqlx::query("SELECT order_ref FROM dispatch_orders WHERE order_ref = $1")
        .bind(&order.order_ref)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::db("read the dispatch orders"))?;
    if exists.is_some() {
        return Err(StoreError::invalid(
            "order",
            format!("dispatch order {:?} exists already", order.order_ref),
        ));
    }
    sqlx::query(
        "INSERT INTO dispatch_orders (order_ref, buyer_name, buyer_address, buyer_contact, \
         created_at, event_seq) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&order.order_ref)
    .bind(&order.buyer_name)
    .bind(&order.buyer_address)
    .bind(&order.buyer_contact)
    .bind(now())
    .bind(head.seq)
    .execute(&mut *tx)
    .await
    .map_err(StoreError::db(format!(
        "record dispatch order {}",
        order.order_ref
    )))?;
    let detail = json!({
        "order": order.order_ref,
        "buyer_name": order.buyer_name,
        "buyer_address": order.buyer_address,
        "buyer_contact": order.buyer_contact,
    });
    let subject = format!("order:{}", order.order_ref);
    finish(tx, actor, head, "dispatch.order", &subject, detail).await
}

fn order_from_row(row: &AnyRow) -> Result<DispatchOrder, StoreError> {
    const WHAT: &str = "read a dispatch order";
    Ok(DispatchOrder {
        order_ref: get(row, "order_ref", WHAT)?,
        buyer_name: get(row, "buyer_name", WHAT)?,
        buyer_address: get(row, "buyer_address", WHAT)?,
        buyer_contact: get(row, "buyer_contact", WHAT)?,
        created_at: get(row, "created_at", WHAT)?,
        shipment_id: get(row, "shipment_id", WHAT)?,
    })
}

pub(crate) async fn get_order(
    db: &Db,
    order_ref: &str,
) -> Result<Option<DispatchOrder>, StoreError> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM dispatch_orders WHERE order_ref = $1"
    ))
    .bind(order_ref)
    .fetch_optional(&db.pool)
    .await
    .map_err(StoreError::db(format!("read dispatch order {order_ref}")))?
    .as_ref()
    .map(order_from_row)
    .transpose()
}

pub(crate) async fn page(
    db: &Db,
    open_only: bool,
    offset: i64,
    limit: i64,
) -> Result<(Vec<DispatchOrder>, i64), StoreError> {
    const WHAT: &str = "list the dispatch orders";
    let filter = if open_only {
        "WHERE shipment_id IS NULL"
    } else {
        ""
    };
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM dispatch_orders {filter} \
         ORDER BY created_at DESC, order_ref LIMIT $1 OFFSET $2"
    ))
    .bind(limit)
    .bind(offset)
    .fetch_all(&db.pool)
    .await
    .map_err(StoreError::db(WHAT))?;
    let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM dispatch_orders {filter}"))
        .fetch_one(&db.pool)
        .await
        .map_err(StoreError::db(WHAT))?;
    let orders = rows
        .iter()
        .map(order_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((orders, total))
}
