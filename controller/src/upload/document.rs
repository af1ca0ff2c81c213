//! The body of a delivery: the batch's (or the shipment's) document in the target's format,
//! written by the export
//! (`crate::export`, issue 15 items 1 and 2) — streamed and deterministic, so the same batch
//! always gives the same bytes (a re-rendered spool file must match its recorded sha256).

use tokio::io::AsyncWrite;
use tracemark_store::Store;

use super::{Delivery, DeliveryProgress, ProgressHook, UploadError, UploadFormat};
use crate::export::shipment::write_shipment;
use crate::export::{ExportFormat, write_batch_with_progress};

/// Writes the document `delivery` carries — its batch, or its shipment (docs/shipping.md) — in
/// its format to `out` (flushed, not shut down), reporting its progress to `progress`.
pub async fn write_document(
    store: &Store,
    delivery: &Delivery,
    out: &mut (impl AsyncWrite + Unpin + Send),
    progress: &ProgressHook,
) -> Result<(), UploadError> {
    let batch = delivery.batch_id;
    let format = match delivery.format {
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
    let written = match delivery.shipment_id {
        Some(shipment) => write_shipment(store, shipment, format, out).await,
        None => write_batch_with_progress(store, batch, format, out, report).await,
    };
    written.map(drop).map_err(|e| UploadError::Render {
        batch,
        reason: match delivery.shipment_id {
            Some(shipment) => format!("shipment {shipment}: {e}"),
            None => e.to_string(),
        },
    })
}
