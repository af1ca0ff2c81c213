//! The body of a delivery: the batch's document in the target's format.
//!
//! This is the one place the delivery touches the export (issue 15 items 1 and 2). Until the
//! export is merged it writes a minimal valid document per format: an EPCIS 2.0 JSON-LD
//! `EPCISDocument` with an empty `eventList` (valid against `EPCIS-JSON-Schema.json`, which
//! sets no minimum), an EPCIS 2.0 XML document, and a platform JSON object. Everything is
//! derived from the stored batch, so the same batch always gives the same bytes; nothing else in
//! `upload/` depends on the content.

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tracemark_store::{Batch, Store};

use super::{UploadError, UploadFormat};

/// Writes the document of `batch` in `format` to `out` (not flushed beyond `out`'s own buffer).
pub async fn write_document(
    store: &Store,
    batch: i64,
    format: UploadFormat,
    out: &mut (impl AsyncWrite + Unpin + Send),
) -> Result<(), UploadError> {
    let batch = store.batch(batch).await?;
    let text = match format {
        UploadFormat::EpcisJson => epcis_json(&batch),
        UploadFormat::EpcisXml => epcis_xml(&batch),
        UploadFormat::Platform => platform_json(&batch),
    }
    .map_err(|reason| UploadError::Render {
        batch: batch.id,
        reason,
    })?;
    out.write_all(text.as_bytes())
        .await
        .map_err(|e| UploadError::Render {
            batch: batch.id,
            reason: e.to_string(),
        })
}

/// The document's creation date: when the batch closed (fixed, so re-rendering is identical).
fn creation_date(batch: &Batch) -> &str {
    batch.closed_at.as_deref().unwrap_or(&batch.created_at)
}

fn instance_identifier(batch: &Batch) -> String {
    format!("tracemark:batch:{}:{}", batch.id, batch.lot)
}

fn epcis_json(batch: &Batch) -> Result<String, String> {
    let document = serde_json::json!({
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": creation_date(batch),
        "instanceIdentifier": instance_identifier(batch),
        "epcisBody": { "eventList": [] },
    });
    serde_json::to_string(&document).map_err(|e| e.to_string())
}

fn epcis_xml(batch: &Batch) -> Result<String, String> {
    Ok(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <epcis:EPCISDocument xmlns:epcis=\"urn:epcglobal:epcis:xsd:2\" schemaVersion=\"2.0\" \
         creationDate=\"{}\"><EPCISBody><EventList/></EPCISBody></epcis:EPCISDocument>\n",
        xml_escape(creation_date(batch))
    ))
}

fn platform_json(batch: &Batch) -> Result<String, String> {
    let document = serde_json::json!({
        "batch_id": batch.id.to_string(),
        "lot": batch.lot,
        "product_id": batch.product_id,
        "production_date": batch.production_date,
        "expiry_date": batch.expiry_date,
        "closed_at": creation_date(batch),
    });
    serde_json::to_string(&document).map_err(|e| e.to_string())
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
