//! The body of a delivery: the batch's document in the target's format, written by the export
//! (`crate::export`, issue 15 items 1 and 2) — streamed and deterministic, so the same batch
//! always gives the same bytes (a re-rendered spool file must match its recorded sha256).

use tokio::io::AsyncWrite;
use tracemark_store::Store;

use super::{DeliveryProgress, ProgressHook, UploadError, UploadFormat};
use crate::export::{ExportFormat, write_batch_with_progress};

/// Writes the document of `batch` in `format` to `out` (flushed, not shut down), reporting
/// its progress to `progress`.
pub async fn write_document(
    store: &Store,
    batch: i64,
    format: UploadFormat,
    out: &mut (impl AsyncWrite + Unpin + Send),
    progress: &ProgressHook,
) -> Result<(), UploadError> {
    let format = match format {
        UploadFormat::EpcisJson => ExportFormat::EpcisJson,
        UploadFormat::EpcisXml => ExportFormat::EpcisXml,
        UploadFormat::Platform => ExportFormat::Platform,
    };
    let report = |p: crate::export::ExportProgress| {
        progress.report(DeliveryProgress::Rendering {
            batch,
            done: p.done,
            total: p.total,
        });
    };
    write_batch_with_progress(store, batch, format, out, report)
        .await
        .map(drop)
        .map_err(|e| UploadError::Render {
            batch,
            reason: e.to_string(),
        })
}
