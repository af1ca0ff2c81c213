//! Master data: the producer and the products (each with its serial counter and serial key).

use sqlx::any::AnyRow;

use super::audit::{begin, finish};
use super::{Db, get};
use crate::{
    Actor, Grade, Producer, Product, Scheme, SerialAlphabet, StoreError, format_pack_sizes, now,
    parse_pack_sizes,
};

pub(crate) async fn set_producer(db: &Db, actor: &Actor, p: &Producer) -> Result<(), StoreError> {
    let (mut tx, head) = begin(db).await?;
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

pub(crate) async fn producer(db: &Db) -> Result<Option<Producer>, StoreError> {
    const WHAT: &str = "read the producer";
    let row = sqlx::query(
        "SELECT name, uscc, address, contact, business_licence FROM producer WHERE id = 1",
    )
    .fetch_optional(&db.pool)
    .await
    .map_err(StoreError::db(WHAT))?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(Producer {
        name: get(&row, "name", WHAT)?,
        uscc: get(&row, "uscc", WHAT)?,
        address: get(&row, "address", WHAT)?,
        contact: get(&row, "contact", WHAT)?,
        business_licence: get(&row, "business_licence", WHAT)?,
    }))
}

const PRODUCT_COLUMNS: &str = "id, scheme, key, name, category, model, mandatory_standard, \
    licence_no, ccc_cert_no, warranty_months, retention_years, serial_alphabet, serial_length, \
    pack_sizes, min_grade";

fn product_from_row(row: &AnyRow) -> Result<Product, StoreError> {
    const WHAT: &str = "read a product";
    let to_u32 = |v: i64, what: &str| {
        u32::try_from(v).map_err(|_| StoreError::corrupt(format!("product {what} {v}")))
    };
    let warranty: Option<i64> = get(row, "warranty_months", WHAT)?;
    let alphabet: String = get(row, "serial_alphabet", WHAT)?;
    let min_grade: String = get(row, "min_grade", WHAT)?;
    Ok(Product {
        id: get(row, "id", WHAT)?,
        scheme: get::<String>(row, "scheme", WHAT)?.parse()?,
        key: get(row, "key", WHAT)?,
        name: get(row, "name", WHAT)?,
        category: get(row, "category", WHAT)?,
        model: get(row, "model", WHAT)?,
        mandatory_standard: get(row, "mandatory_standard", WHAT)?,
        licence_no: get(row, "licence_no", WHAT)?,
        ccc_cert_no: get(row, "ccc_cert_no", WHAT)?,
        warranty_months: warranty.map(|w| to_u32(w, "warranty")).transpose()?,
        retention_years: to_u32(get(row, "retention_years", WHAT)?, "retention")?,
        serial_alphabet: SerialAlphabet::from_name(&alphabet)
            .map_err(|e| StoreError::corrupt(format!("product serial alphabet: {e}")))?,
        serial_length: to_u32(get(row, "serial_length", WHAT)?, "serial length")?,
        pack_sizes: parse_pack_sizes(&get::<String>(row, "pack_sizes", WHAT)?)?,
        min_grade: Grade::parse_minimum(&min_grade)
            .map_err(|e| StoreError::corrupt(format!("product {e}")))?,
    })
}

pub(crate) async fn add_product(db: &Db, actor: &Actor, p: &Product) -> Result<(), StoreError> {
    let (mut tx, head) = begin(db).await?;
    let existing =
        sqlx::query("SELECT id, key FROM products WHERE id = $1 OR (scheme = $2 AND key = $3)")
            .bind(&p.id)
            .bind(p.scheme.as_str())
            .bind(&p.key)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::db("look for an existing product"))?;
    if let Some(row) = existing {
        const WHAT: &str = "look for an existing product";
        let id: String = get(&row, "id", WHAT)?;
        let key: String = get(&row, "key", WHAT)?;
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
        .map_err(StoreError::db(format!(
            "create the serial counter of {}",
            p.id
        )))?;
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

pub(crate) async fn product(db: &Db, id: &str) -> Result<Option<Product>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {PRODUCT_COLUMNS} FROM products WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&db.pool)
    .await
    .map_err(StoreError::db(format!("read product {id}")))?;
    row.as_ref().map(product_from_row).transpose()
}

pub(crate) async fn products(db: &Db) -> Result<Vec<Product>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {PRODUCT_COLUMNS} FROM products ORDER BY id"
    ))
    .fetch_all(&db.pool)
    .await
    .map_err(StoreError::db("list products"))?;
    rows.iter().map(product_from_row).collect()
}

/// The product with key `key` in `scheme` and its serial key (hex), if any.
pub(crate) async fn product_key_of(
    db: &Db,
    scheme: Scheme,
    key: &str,
) -> Result<Option<(Product, String)>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {PRODUCT_COLUMNS}, k.key_hex AS key_hex FROM products \
         JOIN product_keys AS k ON k.product_id = products.id \
         WHERE products.scheme = $1 AND products.key = $2"
    ))
    .bind(scheme.as_str())
    .bind(key)
    .fetch_optional(&db.pool)
    .await
    .map_err(StoreError::db(format!("read the {scheme} product {key}")))?;
    let Some(row) = row else { return Ok(None) };
    let key_hex: String = get(&row, "key_hex", "read a serial key")?;
    Ok(Some((product_from_row(&row)?, key_hex)))
}
