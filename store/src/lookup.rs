//! What the public code lookup reads and writes (issue 17; SPEC §9; migration 0019): a
//! product's documents with the producer's disclosure choice, one issued code with its batch
//! and scan count, and scan counts added in batches.
//!
//! The rule of what is public lives in the controller (`app::lookup`); the store only hands
//! over rows. Scans are not in the audit chain: a scan reads, it changes nothing the producer
//! recorded (seed 003 §8.4 logs changes).

use serde::Serialize;

use crate::sql::audit::{begin, finish};
use crate::sql::get;
use crate::{CodeState, Scheme, Store, StoreError, now, sql};

/// A product's documents (SPEC §1 data fields; seed 003 table 3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProductDocuments {
    /// 出厂检验报告或型式检验报告: text or a URL.
    pub inspection_report: Option<String>,
    /// Whether the producer discloses the inspection report (default: no; table 3 leaves it to
    /// the producer).
    pub inspection_report_public: bool,
    /// 使用说明书或警示说明: a URL; public when set.
    pub manual: Option<String>,
}

/// An issued code as the public lookup needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupRow {
    /// The product.
    pub product_id: String,
    /// The serial counter (the row's key).
    pub counter: i64,
    /// The code text (GS1 HRI).
    pub code: String,
    /// The serial inside the code.
    pub serial: String,
    /// Its state.
    pub state: CodeState,
    /// The batch's lot, production date and expiry date, when it has a batch.
    pub lot: Option<String>,
    /// 生产日期.
    pub production_date: Option<String>,
    /// The expiry date, if the batch has one.
    pub expiry_date: Option<String>,
    /// Made by `simulate` or `demo`, not by production.
    pub simulated: bool,
    /// The carton the unit is in (its SSCC), when packed: leads to its shipment.
    pub package: Option<String>,
    /// Scans written so far (not those still in memory).
    pub scans: i64,
    /// The first written scan (RFC 3339).
    pub first_scan_at: Option<String>,
    /// The last written scan (RFC 3339): tells which batch of counts the row already holds.
    pub last_scan_at: Option<String>,
}

/// Scans of one code to add: `scans` more, the first at `first_at`, the last at `last_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanCount {
    /// The product.
    pub product_id: String,
    /// The serial counter.
    pub counter: i64,
    /// How many scans.
    pub scans: i64,
    /// The first of them (RFC 3339).
    pub first_at: String,
    /// The last of them (RFC 3339).
    pub last_at: String,
}

impl Store {
    /// The documents of product `id`.
    pub async fn product_documents(&self, id: &str) -> Result<ProductDocuments, StoreError> {
        const WHAT: &str = "read a product's documents";
        let row = sqlx::query(
            "SELECT inspection_report, inspection_report_public, manual FROM products \
             WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.db.pool)
        .await
        .map_err(StoreError::db(WHAT))?
        .ok_or_else(|| StoreError::NotFound {
            what: "product",
            id: id.to_owned(),
        })?;
        Ok(ProductDocuments {
            inspection_report: get(&row, "inspection_report", WHAT)?,
            inspection_report_public: get::<i64>(&row, "inspection_report_public", WHAT)? != 0,
            manual: get(&row, "manual", WHAT)?,
        })
    }

    /// Sets the documents of product `id` (an event `product.documents` in the audit chain).
    pub async fn set_product_documents(
        &self,
        id: &str,
        documents: &ProductDocuments,
    ) -> Result<(), StoreError> {
        let (mut tx, head) = begin(&self.db).await?;
        let done = sqlx::query(
            "UPDATE products SET inspection_report = $1, inspection_report_public = $2, \
             manual = $3 WHERE id = $4",
        )
        .bind(&documents.inspection_report)
        .bind(i64::from(documents.inspection_report_public))
        .bind(&documents.manual)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(format!("store the documents of {id}")))?;
        if done.rows_affected() == 0 {
            // Dropping `tx` rolls back: the head is not advanced.
            return Err(StoreError::NotFound {
                what: "product",
                id: id.to_owned(),
            });
        }
        let detail = serde_json::to_value(documents).unwrap_or_default();
        finish(tx, &self.actor, head, "product.documents", id, detail).await
    }

    /// The code with text `code`, if this store issued it (any state).
    pub async fn lookup_code(&self, code: &str) -> Result<Option<LookupRow>, StoreError> {
        const WHAT: &str = "look a code up";
        let located = self.locator.locate(self, &[code]).await?;
        let Some((product_id, counter)) = located.get(code) else {
            return Ok(None);
        };
        let Some(parts) = Scheme::parts_of(code) else {
            return Ok(None);
        };
        let row = sqlx::query(
            "SELECT c.code, c.state, c.package_sscc, b.lot, b.production_date, b.expiry_date, b.simulated, \
             s.scans, s.first_at, s.last_at FROM codes c \
             LEFT JOIN batches b ON b.id = c.batch_id \
             LEFT JOIN code_scans s ON s.product_id = c.product_id AND s.counter = c.counter \
             WHERE c.product_id = $1 AND c.counter = $2",
        )
        .bind(product_id)
        .bind(counter)
        .fetch_optional(&self.db.pool)
        .await
        .map_err(StoreError::db(WHAT))?;
        let Some(row) = row else { return Ok(None) };
        // The row of that counter holds exactly this text, or this text is no code here (a
        // forged serial that decrypts to a real counter).
        if get::<String>(&row, "code", WHAT)? != code {
            return Ok(None);
        }
        Ok(Some(LookupRow {
            product_id: product_id.clone(),
            counter: *counter,
            code: code.to_owned(),
            serial: parts.serial,
            state: get::<String>(&row, "state", WHAT)?.parse()?,
            lot: get(&row, "lot", WHAT)?,
            production_date: get(&row, "production_date", WHAT)?,
            expiry_date: get(&row, "expiry_date", WHAT)?,
            simulated: get::<Option<i64>>(&row, "simulated", WHAT)?.unwrap_or(0) != 0,
            package: get(&row, "package_sscc", WHAT)?,
            scans: get::<Option<i64>>(&row, "scans", WHAT)?.unwrap_or(0),
            first_scan_at: get(&row, "first_at", WHAT)?,
            last_scan_at: get(&row, "last_at", WHAT)?,
        }))
    }

    /// Adds scan counts, all in one transaction: a code's count grows, its first scan stays,
    /// its last moves. The counts go as JSON arrays of [`SCANS_PER_STATEMENT`] codes, one
    /// statement each: a statement per code made a flush of a busy second thousands of round
    /// trips to PostgreSQL, taken from the lookups' own connections (docs/performance.md
    /// "Public lookup (issue 17)").
    pub async fn add_scans(&self, scans: &[ScanCount]) -> Result<(), StoreError> {
        if scans.is_empty() {
            return Ok(());
        }
        const WHAT: &str = "add scan counts";
        let rows = match self.db.dialect {
            sql::Dialect::Postgres => {
                "SELECT x.product_id, x.counter, x.scans, x.first_at, x.last_at \
                 FROM json_to_recordset($1::json) AS x(product_id text, counter bigint, \
                 scans bigint, first_at text, last_at text)"
            }
            // `WHERE true`: SQLite's grammar needs it before an upsert's ON CONFLICT.
            sql::Dialect::Sqlite => {
                "SELECT json_extract(value, '$.product_id'), json_extract(value, '$.counter'), \
                 json_extract(value, '$.scans'), json_extract(value, '$.first_at'), \
                 json_extract(value, '$.last_at') FROM json_each($1) WHERE true"
            }
        };
        let statement = format!(
            "INSERT INTO code_scans (product_id, counter, scans, first_at, last_at) {rows} \
             ON CONFLICT (product_id, counter) DO UPDATE \
             SET scans = code_scans.scans + excluded.scans, last_at = excluded.last_at"
        );
        let mut tx = self.db.pool.begin().await.map_err(StoreError::db(WHAT))?;
        for chunk in scans.chunks(SCANS_PER_STATEMENT) {
            let json = serde_json::to_string(chunk)
                .map_err(|e| StoreError::corrupt(format!("scan counts as JSON: {e}")))?;
            sqlx::query(&statement)
                .bind(json)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db(WHAT))?;
        }
        tx.commit().await.map_err(StoreError::db(WHAT))
    }
}

/// Codes per statement of [`Store::add_scans`]: a few hundred kilobytes of JSON.
pub const SCANS_PER_STATEMENT: usize = 2_000;

/// Now, as the store writes times (RFC 3339, UTC).
pub fn timestamp() -> String {
    now()
}
