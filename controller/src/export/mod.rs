//! Exports of a batch: the EPCIS 2.0 document (JSON-LD or XML) and the traceability platform
//! payload (SPEC §6; docs/upload.md).
//!
//! The rules live without I/O: [`events`] maps store rows to EPCIS events, [`event_hash`]
//! computes their CBV 2.0 §8.9.2 IDs, [`json`] and [`xml`] write them, [`platform`] writes the
//! platform payload behind [`platform::PlatformFormat`], and [`rules`] checks a document for
//! what the schemas leave out. [`write_batch`] drives them over the store's pages.
//!
//! Streamed: the header is written first, then the events as each page is read (a page is at
//! most some 20,000 identifiers, [`PAGE`], [`PACKAGE_PAGE`]), through a buffer flushed at [`FLUSH_BYTES`]; memory
//! does not grow with the batch. Deterministic: the same batch state gives the same bytes (no
//! clock, no map order: pages are read in key order and the creation date is the batch's
//! close), because a delivery is retried byte-identical.

pub mod event_hash;
pub mod events;
pub mod json;
pub mod platform;
pub mod rules;
pub mod shipment;
pub mod xml;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tracemark_store::export::{ExportContext, LogCursor};
use tracemark_store::{PackageLevel, Store, StoreError};

use events::{EpcisEvent, EventBuilder};

/// Rows read per page (destroyed codes, platform codes).
pub const PAGE: i64 = 5_000;

/// Packages read per page: each comes with its children (a carton of 100 units, a pallet of
/// 40 cartons), so a page stays near 20,000 identifiers.
pub const PACKAGE_PAGE: i64 = 200;

/// The buffer is written out when it holds this much.
pub const FLUSH_BYTES: usize = 256 * 1024;

/// What to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// EPCIS 2.0 JSON-LD, EPCs as Digital Link URIs.
    EpcisJson,
    /// EPCIS 2.0 XML, EPCs as EPC URNs.
    EpcisXml,
    /// The traceability platform payload ([`platform::TracemarkPlatform`]).
    Platform,
}

impl ExportFormat {
    /// The media type of the document (the `Content-Type` of a delivery, SPEC §6).
    pub const fn content_type(self) -> &'static str {
        match self {
            ExportFormat::EpcisJson => "application/ld+json",
            ExportFormat::EpcisXml => "application/xml",
            ExportFormat::Platform => "application/json",
        }
    }
}

/// What an export wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExportSummary {
    /// The batch.
    pub batch: i64,
    /// EPCIS events written (0 for the platform payload).
    pub events: u64,
    /// Commissioned units (EPCIS) or codes listed (platform).
    pub units: u64,
    /// Packages (cartons and pallets, voided ones left out).
    pub packages: u64,
    /// Destroyed codes.
    pub destroyed: u64,
    /// Shipments of the batch's packages in the document (docs/shipping.md).
    pub shipments: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// How far an export is, for a progress bar: units (or codes) written of `total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportProgress {
    /// Done.
    pub done: u64,
    /// Expected.
    pub total: u64,
}

/// How an export failed. Whatever was written before is no whole document.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading the store failed (or the batch does not exist).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing the document failed.
    #[error("write the export: {0}")]
    Io(#[from] std::io::Error),
    /// A stored value cannot be expressed in the document.
    #[error("{what}: {reason}")]
    Data {
        /// The value.
        what: String,
        /// Why.
        reason: String,
    },
    /// The audit log does not account for every commissioned code of the batch.
    #[error(
        "batch {batch}: the audit log shows {found} of its {expected} commissioned codes being \
         printed (events purged or edited?); run tracemark audit verify"
    )]
    Incomplete {
        /// The batch.
        batch: i64,
        /// Printed codes found in the log.
        found: u64,
        /// Commissioned codes in the batch.
        expected: u64,
    },
    /// An event breaks a rule the schemas leave out (a defect of this export).
    #[error("event {event_id}: {reason}")]
    Rule {
        /// The event.
        event_id: String,
        /// The rule.
        reason: String,
    },
}

impl ExportError {
    /// A value that cannot be expressed.
    pub fn data(what: impl Into<String>, reason: impl std::fmt::Display) -> ExportError {
        ExportError::Data {
            what: what.into(),
            reason: reason.to_string(),
        }
    }
}

/// Writes batch `batch` in `format` to `out`, streamed; see the module doc. The writer is
/// flushed, not shut down.
pub async fn write_batch<W>(
    store: &Store,
    batch: i64,
    format: ExportFormat,
    out: W,
) -> Result<ExportSummary, ExportError>
where
    W: AsyncWrite + Unpin,
{
    write_batch_with_progress(store, batch, format, out, |_| {}).await
}

/// [`write_batch`], calling `progress` after every page.
pub async fn write_batch_with_progress<W, P>(
    store: &Store,
    batch: i64,
    format: ExportFormat,
    out: W,
    progress: P,
) -> Result<ExportSummary, ExportError>
where
    W: AsyncWrite + Unpin,
    P: FnMut(ExportProgress),
{
    let context = store.export_context(batch).await?;
    let mut sink = Sink::new(out, progress);
    let mut summary = ExportSummary {
        batch,
        ..ExportSummary::default()
    };
    match format {
        ExportFormat::EpcisJson | ExportFormat::EpcisXml => {
            let syntax = if format == ExportFormat::EpcisJson {
                Syntax::Json
            } else {
                Syntax::Xml
            };
            write_epcis(store, &context, syntax, &mut sink, &mut summary).await?;
        }
        ExportFormat::Platform => {
            platform::write(
                store,
                &context,
                &platform::TracemarkPlatform,
                &mut sink,
                &mut summary,
            )
            .await?;
        }
    }
    sink.flush().await?;
    summary.bytes = sink.bytes;
    Ok(summary)
}

/// Writes the platform payload of batch `batch` in a provider's own `format` (docs/upload.md:
/// the real interface comes from the operator), streamed like [`write_batch`].
pub async fn write_platform<W>(
    store: &Store,
    batch: i64,
    format: &dyn platform::PlatformFormat,
    out: W,
) -> Result<ExportSummary, ExportError>
where
    W: AsyncWrite + Unpin,
{
    let context = store.export_context(batch).await?;
    let mut sink = Sink::new(out, |_| {});
    let mut summary = ExportSummary {
        batch,
        ..ExportSummary::default()
    };
    platform::write(store, &context, format, &mut sink, &mut summary).await?;
    sink.flush().await?;
    summary.bytes = sink.bytes;
    Ok(summary)
}

/// Where a document goes: a buffer written out when full.
#[derive(Debug)]
pub(crate) struct Sink<W, P> {
    out: W,
    pub(crate) buffer: Vec<u8>,
    bytes: u64,
    progress: P,
}

impl<W: AsyncWrite + Unpin, P: FnMut(ExportProgress)> Sink<W, P> {
    fn new(out: W, progress: P) -> Self {
        Sink {
            out,
            buffer: Vec::with_capacity(FLUSH_BYTES + 64 * 1024),
            bytes: 0,
            progress,
        }
    }

    /// Writes the buffer out once it is full.
    pub(crate) async fn maybe_flush(&mut self) -> Result<(), ExportError> {
        if self.buffer.len() >= FLUSH_BYTES {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), ExportError> {
        self.out.write_all(&self.buffer).await?;
        self.bytes += self.buffer.len() as u64;
        self.buffer.clear();
        self.out.flush().await?;
        Ok(())
    }

    pub(crate) fn report(&mut self, done: u64, total: u64) {
        (self.progress)(ExportProgress { done, total });
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Syntax {
    Json,
    Xml,
}

/// The document's creation date: the batch's close (or creation, while it is open), so the
/// same batch state gives the same bytes.
fn creation_date(context: &ExportContext) -> Result<String, ExportError> {
    let batch = &context.batch;
    events::event_time(batch.closed_at.as_deref().unwrap_or(&batch.created_at))
}

async fn write_epcis<W, P>(
    store: &Store,
    context: &ExportContext,
    syntax: Syntax,
    sink: &mut Sink<W, P>,
    summary: &mut ExportSummary,
) -> Result<(), ExportError>
where
    W: AsyncWrite + Unpin,
    P: FnMut(ExportProgress),
{
    let builder = EventBuilder::new(context)?;
    let created = creation_date(context)?;
    let mut reader = store.export_reader().await?;
    match syntax {
        Syntax::Json => json::header(&mut sink.buffer, &created),
        Syntax::Xml => xml::header(&mut sink.buffer, &created),
    }
    let total = u64::try_from(context.commissioned).unwrap_or(0);
    let mut emit = |sink: &mut Sink<W, P>, event: EpcisEvent| -> Result<(), ExportError> {
        if let Err(reason) = rules::check_event(&event) {
            return Err(ExportError::Rule {
                event_id: event.event_id,
                reason,
            });
        }
        match syntax {
            Syntax::Json => json::event(&mut sink.buffer, &event, summary.events == 0),
            Syntax::Xml => xml::event(&mut sink.buffer, &event)?,
        }
        summary.events += 1;
        Ok(())
    };

    // 1. Units: commissioned when printed, in the order the log recorded them.
    let mut units = 0u64;
    let mut cursor = LogCursor::start(context);
    loop {
        let (groups, next) = reader.commissioned_page(context, cursor).await?;
        if next.after == cursor.after {
            break;
        }
        for group in groups {
            units += group.codes.len() as u64;
            for event in builder.unit_commissioning(&group.at, &group.codes)? {
                emit(sink, event)?;
            }
        }
        sink.maybe_flush().await?;
        sink.report(units, total);
        cursor = next;
    }
    if units != total {
        return Err(ExportError::Incomplete {
            batch: context.batch.id,
            found: units,
            expected: total,
        });
    }

    // 2. Packages, cartons then pallets: each SSCC's commissioning, then its packing.
    let mut packages = 0u64;
    for level in [PackageLevel::Carton, PackageLevel::Pallet] {
        let mut after = String::new();
        loop {
            let page = reader
                .export_packages_page(context.batch.id, level, &after, PACKAGE_PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            after = last.sscc.clone();
            for mut package in page {
                // Children in byte order on both databases (PostgreSQL may collate text
                // otherwise).
                package.children.sort_unstable();
                packages += 1;
                emit(sink, builder.sscc_commissioning(&package)?)?;
                if let Some(event) = builder.aggregation(&package, level == PackageLevel::Carton)? {
                    emit(sink, event)?;
                }
            }
            sink.maybe_flush().await?;
        }
    }

    // 3. Destroyed codes, one event per QA action that destroyed them.
    let mut destroyed = 0u64;
    let mut after = (-1, -1);
    let mut pending: Option<(i64, String, Vec<String>)> = None;
    loop {
        let page = reader.destroyed_page(context.batch.id, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = (last.seq, last.counter);
        for change in page {
            let at = change.at.ok_or_else(|| {
                ExportError::data(
                    &change.code,
                    format!("the event {} that destroyed it was purged", change.seq),
                )
            })?;
            destroyed += 1;
            match &mut pending {
                Some((seq, _, codes))
                    if *seq == change.seq && codes.len() < events::MAX_EPCS_PER_EVENT =>
                {
                    codes.push(change.code)
                }
                _ => {
                    if let Some((_, at, codes)) = pending.take() {
                        for event in builder.destruction(&at, &codes)? {
                            emit(sink, event)?;
                        }
                    }
                    pending = Some((change.seq, at, vec![change.code]));
                }
            }
        }
        sink.maybe_flush().await?;
    }
    if let Some((_, at, codes)) = pending.take() {
        for event in builder.destruction(&at, &codes)? {
            emit(sink, event)?;
        }
    }
    // 4. Shipments of the batch's packages, up to the document's cut (a closed batch: its
    // close; docs/shipping.md "What upload sends"), one shipping event each.
    let shipments = reader.export_shipments(context).await?;
    for shipment in &shipments {
        emit(sink, builder.shipping(shipment)?)?;
    }
    summary.shipments = shipments.len() as u64;
    match syntax {
        Syntax::Json => json::footer(&mut sink.buffer),
        Syntax::Xml => xml::footer(&mut sink.buffer),
    }
    summary.units = units;
    summary.packages = packages;
    summary.destroyed = destroyed;
    Ok(())
}
