//! The body of a delivery: the batch's document in the target's format, written by the export
//! (`crate::export`, issue 15 items 1 and 2) — streamed and deterministic, so the same batch
//! always gives the same bytes (a re-rendered spool file must match its recorded sha256).

use tokio::io::AsyncWrite;
use tracemark_store::Store;

use super::{UploadError, UploadFormat};
use crate::export::{ExportFormat, write_batch};

/// Writes the document of `batch` in `format` to `out` (flushed, not shut down).
pub async fn write_document(
    store: &Store,
    batch: i64,
    format: UploadFormat,
    out: &mut (impl AsyncWrite + Unpin + Send),
) -> Result<(), UploadError> {
    let format = match format {
        UploadFormat::EpcisJson => ExportFormat::EpcisJson,
        UploadFormat::EpcisXml => ExportFormat::EpcisXml,
        UploadFormat::Platform => ExportFormat::Platform,
    };
    write_batch(store, batch, format, out)
        .await
        .map(drop)
        .map_err(|e| UploadError::Render {
            batch,
            reason: e.to_string(),
        })
}
