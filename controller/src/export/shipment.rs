//! A shipment's own document (docs/shipping.md "What upload sends"): a shipment is delivered to
//! every upload target once, as closed batches are, in the target's format — EPCIS 2.0 (the one
//! shipping event) or the platform payload's flow section alone. Deterministic: a shipment never
//! changes once recorded, and the document's creation date is when it was recorded.

use tokio::io::AsyncWrite;
use tracemark_store::{FlowField, Store};

use super::events::{self, EventBuilder};
use super::platform::{FlowRecord, PlatformFormat, TracemarkPlatform};
use super::{ExportError, ExportFormat, ExportSummary, Sink, json, rules, xml};

/// Writes shipment `shipment` in `format` to `out` (flushed, not shut down).
pub async fn write_shipment<W>(
    store: &Store,
    shipment: i64,
    format: ExportFormat,
    out: W,
) -> Result<ExportSummary, ExportError>
where
    W: AsyncWrite + Unpin,
{
    let shipped = store.shipment(shipment).await?;
    let batches = store.shipment_batches(shipment).await?;
    let Some(&first) = batches.first() else {
        return Err(ExportError::data(
            format!("shipment {shipment}"),
            "holds no package",
        ));
    };
    // The events' locations and identifiers are the producer's, the same from any batch of the
    // shipment: its event is the one the batches' documents hold (the same eventID).
    let context = store.export_context(first).await?;
    let mut sink = Sink::new(out, |_| {});
    let mut summary = ExportSummary {
        batch: first,
        shipments: 1,
        ..ExportSummary::default()
    };
    match format {
        ExportFormat::EpcisJson | ExportFormat::EpcisXml => {
            let event = EventBuilder::new(&context)?.shipping(&shipped)?;
            if let Err(reason) = rules::check_event(&event) {
                return Err(ExportError::Rule {
                    event_id: event.event_id,
                    reason,
                });
            }
            let created = events::event_time(&shipped.recorded_at)?;
            if format == ExportFormat::EpcisJson {
                json::header(&mut sink.buffer, &created);
                json::event(&mut sink.buffer, &event, true);
                json::footer(&mut sink.buffer);
            } else {
                xml::header(&mut sink.buffer, &created);
                xml::event(&mut sink.buffer, &event)?;
                xml::footer(&mut sink.buffer);
            }
            summary.events = 1;
        }
        ExportFormat::Platform => {
            // A field is public only where every product of the shipment makes it public.
            let mut public = FlowField::ALL.to_vec();
            for batch in &batches {
                let product = store.batch(*batch).await?.product_id;
                let chosen = store.flow_disclosure(&product).await?;
                public.retain(|field| chosen.contains(field));
            }
            TracemarkPlatform.shipment(&mut sink.buffer, &FlowRecord::new(&shipped, &public));
        }
    }
    sink.flush().await?;
    summary.bytes = sink.bytes;
    Ok(summary)
}
