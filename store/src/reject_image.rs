//! The camera's image of a rejected unit (SPEC §1 8.2: reject images as files; docs/
//! verification.md "Reject images"): the PNG is a file the controller wrote, this is the row
//! that maps the code to it, with its size and SHA-256 so the file can be proved unchanged.

use serde::Serialize;
use sqlx::Row;

use crate::{Store, StoreError};

/// Where the image of a rejected code is, and what it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RejectImage {
    /// The rejected code (HRI).
    pub code: String,
    /// The camera that sent the image.
    pub reader: String,
    /// The camera's sequence number of the read the unit was rejected on.
    pub seq: i64,
    /// The file, absolute.
    pub path: String,
    /// Its size in bytes.
    pub size: i64,
    /// SHA-256 of its content, lowercase hex.
    pub sha256: String,
    /// When it was received (RFC 3339, UTC).
    pub received_at: String,
}

impl Store {
    /// Records the image file of rejected code `image.code` (replacing an earlier row for the
    /// same code). Not an audit event: the code's rejection is; this is evidence attached to it.
    pub async fn put_reject_image(&self, image: &RejectImage) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO reject_images (code, reader, seq, path, size, sha256, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (code) DO UPDATE SET reader = excluded.reader, seq = excluded.seq, \
             path = excluded.path, size = excluded.size, sha256 = excluded.sha256, \
             received_at = excluded.received_at",
        )
        .bind(&image.code)
        .bind(&image.reader)
        .bind(image.seq)
        .bind(&image.path)
        .bind(image.size)
        .bind(&image.sha256)
        .bind(&image.received_at)
        .execute(&self.db.pool)
        .await
        .map_err(StoreError::db(format!(
            "record the reject image of {}",
            image.code
        )))?;
        Ok(())
    }

    /// The image recorded for code `code`, if any.
    pub async fn reject_image(&self, code: &str) -> Result<Option<RejectImage>, StoreError> {
        let what = || format!("read the reject image of {code}");
        let row = sqlx::query(
            "SELECT code, reader, seq, path, size, sha256, received_at FROM reject_images \
             WHERE code = $1",
        )
        .bind(code)
        .fetch_optional(&self.db.pool)
        .await
        .map_err(StoreError::db(what()))?;
        let Some(row) = row else { return Ok(None) };
        let text = |column: &str| -> Result<String, StoreError> {
            row.try_get(column).map_err(StoreError::db(what()))
        };
        let int = |column: &str| -> Result<i64, StoreError> {
            row.try_get(column).map_err(StoreError::db(what()))
        };
        Ok(Some(RejectImage {
            code: text("code")?,
            reader: text("reader")?,
            seq: int("seq")?,
            path: text("path")?,
            size: int("size")?,
            sha256: text("sha256")?,
            received_at: text("received_at")?,
        }))
    }

    /// The codes among `codes` that have an image recorded (for a page of rejects).
    pub async fn codes_with_reject_images(
        &self,
        codes: &[String],
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        let mut found = std::collections::HashSet::new();
        // Small chunks: one statement per page of rejects, within every database's limit
        // of parameters.
        for chunk in codes.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT code FROM reject_images WHERE code IN ({})",
                marks.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for code in chunk {
                query = query.bind(code);
            }
            let rows = query
                .fetch_all(&self.db.pool)
                .await
                .map_err(StoreError::db("read the reject images"))?;
            for row in rows {
                found.insert(
                    row.try_get::<String, _>("code")
                        .map_err(StoreError::db("read the reject images"))?,
                );
            }
        }
        Ok(found)
    }
}
