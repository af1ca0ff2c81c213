//! Exporting a batch (SPEC §6; docs/upload.md): the EPCIS 2.0 document (JSON-LD or XML) and
//! the traceability platform payload, streamed from the store by the `export` runtime. The
//! command line calls these; the delivery outbox calls [`crate::export::write_batch`] itself
//! with its request body as the writer.

use std::path::{Path, PathBuf};

use tokio::io::AsyncWrite;

use super::{AppError, Store};
use crate::export::{ExportError, write_batch_with_progress};
pub use crate::export::{ExportFormat, ExportProgress, ExportSummary};

impl From<ExportError> for AppError {
    fn from(err: ExportError) -> Self {
        match err {
            ExportError::Store(e) => e.into(),
            ExportError::Data { what, reason } => AppError::Input {
                field: what,
                reason,
            },
            e @ ExportError::Incomplete { .. } => AppError::Conflict {
                field: "batch",
                reason: e.to_string(),
            },
            e @ (ExportError::Io(_) | ExportError::Rule { .. }) => AppError::internal("export", e),
        }
    }
}

/// Writes batch `batch` in `format` to `out`, streamed; `progress` is called after each page.
pub async fn export_batch<W, P>(
    store: &Store,
    batch: i64,
    format: ExportFormat,
    out: W,
    progress: P,
) -> Result<ExportSummary, AppError>
where
    W: AsyncWrite + Unpin,
    P: FnMut(ExportProgress),
{
    Ok(write_batch_with_progress(store, batch, format, out, progress).await?)
}

/// Writes batch `batch` in `format` to the file `path`: into a temporary file beside it,
/// renamed over `path` only when the document is whole, so a failed export leaves no half
/// document where a reader would take it for one.
pub async fn export_batch_to_file<P>(
    store: &Store,
    batch: i64,
    format: ExportFormat,
    path: &Path,
    progress: P,
) -> Result<ExportSummary, AppError>
where
    P: FnMut(ExportProgress),
{
    let partial = partial_path(path);
    let file_error = |what: &str, e: std::io::Error| {
        AppError::internal(format!("{what} {}", partial.display()), e)
    };
    let mut file = tokio::fs::File::create(&partial)
        .await
        .map_err(|e| AppError::input("out", format!("{}: {e}", path.display())))?;
    let written = export_batch(store, batch, format, &mut file, progress).await;
    let summary = match written {
        Ok(summary) => summary,
        Err(e) => {
            drop(file);
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(e);
        }
    };
    file.sync_all().await.map_err(|e| file_error("sync", e))?;
    drop(file);
    tokio::fs::rename(&partial, path)
        .await
        .map_err(|e| file_error("rename", e))?;
    Ok(summary)
}

/// `FILE.partial` beside `FILE`.
fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}
