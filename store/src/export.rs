//! What an export of a batch reads (EPCIS 2.0, the platform payload; docs/upload.md), page by
//! page, so memory does not grow with the batch.
//!
//! Times come from the audit log, the record of when each state change happened (seed 003
//! §8.4): a unit's commissioning is the event that recorded it `printed`, found by walking the
//! batch's part of the log in order ([`Store::commissioned_page`]); a destruction is the code's
//! last event (destroyed is final); a package's SSCC is commissioned when it was allocated and
//! its aggregation is complete when it was closed.

use std::collections::HashSet;

use serde::Deserialize;

use crate::sql::export as q;
use crate::{
    Batch, CodeState, PackageLevel, PackageState, Producer, Product, RejectReason, SsccCoding,
    Store, StoreError,
};

/// What an export of one batch needs besides its codes: read once, before the first page.
#[derive(Debug, Clone)]
pub struct ExportContext {
    /// The batch.
    pub batch: Batch,
    /// Its product.
    pub product: Product,
    /// The producer, when set.
    pub producer: Option<Producer>,
    /// The producer's GS1 company prefix and SSCC extension digit, when set.
    pub sscc_coding: Option<SsccCoding>,
    /// The plant's GLN, when set.
    pub gln: Option<String>,
    /// The product's GS1 company prefix length, when set.
    pub prefix_length: Option<u8>,
    /// The event that created the batch: the log walk starts there.
    pub first_seq: i64,
    /// The chain head when the export started: the walk stops there, so every page reads the
    /// same history.
    pub through_seq: i64,
    /// Codes of the batch that were commissioned (printed).
    pub commissioned: i64,
    /// The document's cut for shipments (docs/shipping.md "What upload sends"): the event that
    /// closed the batch, else `through_seq`. Shipments recorded after it are not in the batch's
    /// document, which so stays the same bytes once the batch is closed; they travel in
    /// documents of their own.
    pub shipments_through: i64,
    /// The product's flow fields that are public (SPEC §1: the producer decides).
    pub flow_public: Vec<crate::FlowField>,
}

/// Codes that changed state in one event: the commissioning of printed units, or a destruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommissionGroup {
    /// The event's sequence number.
    pub seq: i64,
    /// When (RFC 3339, UTC).
    pub at: String,
    /// The codes of the batch printed in it, in the event's order.
    pub codes: Vec<String>,
}

/// One code's last state change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChange {
    /// The code text.
    pub code: String,
    /// Its counter (the key of the page after it).
    pub counter: i64,
    /// The event that made the change.
    pub seq: i64,
    /// When, if the event is still in the log (RFC 3339, UTC).
    pub at: Option<String>,
}

/// A package as an export sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportPackage {
    /// Its SSCC.
    pub sscc: String,
    /// Its state.
    pub state: PackageState,
    /// The pallet a carton is on.
    pub parent: Option<String>,
    /// Whether its content is final (closed, palletised, shipped).
    pub content_final: bool,
    /// When its SSCC was allocated (RFC 3339, UTC).
    pub created_at: String,
    /// When it was (last) closed.
    pub closed_at: Option<String>,
    /// Its units (a carton) or cartons (a pallet).
    pub children: Vec<String>,
    /// The shipment that shipped it.
    pub shipment: Option<i64>,
}

/// A code of the batch with its final state (the platform payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportCode {
    /// Its counter (the key of the page after it).
    pub counter: i64,
    /// The code text.
    pub code: String,
    /// Its state.
    pub state: CodeState,
    /// Why it was rejected, if it was.
    pub reason: Option<RejectReason>,
    /// Its carton, if packed.
    pub package: Option<String>,
    /// The shipment of its carton, if shipped.
    pub shipment: Option<i64>,
}

/// Checks a GS1 company prefix length for EPC URNs: 6 to 12 digits (GS1 EPC Tag Data Standard
/// §7.1).
pub fn check_prefix_length(length: u8) -> Result<(), StoreError> {
    if tracemark_codes::gs1::epc::COMPANY_PREFIX_LENGTHS.contains(&usize::from(length)) {
        Ok(())
    } else {
        Err(StoreError::invalid(
            "gs1_company_prefix_length",
            format!("{length} is not between 6 and 12 (GS1 EPC Tag Data Standard §7.1)"),
        ))
    }
}

/// Where a log walk continues: after this event seq, and how many events to read next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogCursor {
    /// The last event read.
    pub after: i64,
    limit: i64,
}

/// Codes a log page aims at: an event's detail holds up to a whole group commit (50,000
/// changes), so the number of events per page adapts to keep a page near this many codes.
const PAGE_CODES: usize = 20_000;

impl LogCursor {
    /// A walk starting at the batch's creation.
    pub fn start(context: &ExportContext) -> LogCursor {
        // One event first: a group commit may hold 50,000 codes, and the limit doubles while
        // pages stay small.
        LogCursor {
            after: context.first_seq - 1,
            limit: 1,
        }
    }
}

/// The part of a `codes.transition` detail the walk reads (`store::sql::codes`).
#[derive(Deserialize)]
struct TransitionDetail<'a> {
    #[serde(borrow)]
    changes: Vec<Run<'a>>,
}

#[derive(Deserialize)]
struct Run<'a> {
    #[serde(borrow)]
    to: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    codes: Vec<std::borrow::Cow<'a, str>>,
}

/// The reads of one export, on a connection of its own (see `sql::export::Reader`).
#[derive(Debug)]
pub struct ExportReader {
    store: Store,
    reader: q::Reader,
}

impl Store {
    /// A reader for an export's pages; its connection closes when it is dropped.
    pub async fn export_reader(&self) -> Result<ExportReader, StoreError> {
        Ok(ExportReader {
            store: self.clone(),
            reader: q::reader(&self.db).await?,
        })
    }

    /// Reads what an export of batch `batch` needs; refuses when the log no longer holds the
    /// batch's history (a retention purge removed it).
    pub async fn export_context(&self, batch: i64) -> Result<ExportContext, StoreError> {
        let batch = self.batch(batch).await?;
        let product = self.product(&batch.product_id).await?;
        let first_seq = q::batch_created_seq(&self.db, batch.id)
            .await?
            .ok_or_else(|| {
                StoreError::invalid(
                    "batch",
                    format!(
                        "the audit log no longer holds the history of batch {} (purged): \
                         its events' times are unknown",
                        batch.id
                    ),
                )
            })?;
        let (through_seq, _) = self.audit_head().await?;
        let shipments_through = match batch.state {
            crate::BatchState::Closed => q::batch_closed_seq(&self.db, batch.id)
                .await?
                .unwrap_or(through_seq)
                .min(through_seq),
            _ => through_seq,
        };
        Ok(ExportContext {
            flow_public: crate::sql::shipments::disclosure(&self.db, &product.id).await?,
            shipments_through,
            producer: self.producer().await?,
            sscc_coding: self.sscc_coding().await?,
            gln: q::gln(&self.db).await?,
            prefix_length: q::prefix_length(&self.db, &product.id).await?,
            commissioned: q::commissioned_count(&self.db, batch.id).await?,
            first_seq,
            through_seq,
            batch,
            product,
        })
    }

    /// Sets (or with `None` clears) the plant's Global Location Number (13 digits, valid check
    /// digit).
    pub async fn set_gln(&self, gln: Option<&str>) -> Result<(), StoreError> {
        if let Some(gln) = gln {
            tracemark_codes::gs1::epc::validate_gln(gln)
                .map_err(|e| StoreError::invalid("gln", e))?;
        }
        q::set_gln(&self.db, &self.actor, gln).await
    }

    /// The plant's GLN, when set.
    pub async fn gln(&self) -> Result<Option<String>, StoreError> {
        q::gln(&self.db).await
    }

    /// Sets (or clears) the length of the GS1 company prefix inside product `product`'s GTIN
    /// (6 to 12, GS1 EPC Tag Data Standard §7.1).
    pub async fn set_company_prefix_length(
        &self,
        product: &str,
        length: Option<u8>,
    ) -> Result<(), StoreError> {
        if let Some(length) = length {
            check_prefix_length(length)?;
        }
        q::set_prefix_length(&self.db, &self.actor, product, length).await
    }

    /// The product's GS1 company prefix length, when set.
    pub async fn company_prefix_length(&self, product: &str) -> Result<Option<u8>, StoreError> {
        q::prefix_length(&self.db, product).await
    }
}

impl ExportReader {
    /// The next events of the batch's log that printed codes of the batch, from `cursor`:
    /// the groups (empty when the walk is done) and where to continue.
    pub async fn commissioned_page(
        &mut self,
        context: &ExportContext,
        cursor: LogCursor,
    ) -> Result<(Vec<CommissionGroup>, LogCursor), StoreError> {
        let events = q::printing_events(
            &mut self.reader,
            cursor.after,
            context.through_seq,
            cursor.limit,
        )
        .await?;
        let Some(last) = events.last().map(|e| e.0) else {
            return Ok((Vec::new(), cursor));
        };
        let mut printed: Vec<(i64, &str, Vec<&str>)> = Vec::with_capacity(events.len());
        let mut details = Vec::with_capacity(events.len());
        for (seq, _, detail) in &events {
            let parsed: TransitionDetail<'_> = serde_json::from_str(detail).map_err(|e| {
                StoreError::corrupt(format!("event {seq}: codes.transition detail: {e}"))
            })?;
            details.push((*seq, parsed));
        }
        for ((seq, parsed), (_, at, _)) in details.iter().zip(&events) {
            let codes: Vec<&str> = parsed
                .changes
                .iter()
                .filter(|run| run.to == "printed")
                .flat_map(|run| run.codes.iter().map(|c| c.as_ref()))
                .collect();
            printed.push((*seq, at.as_str(), codes));
        }
        let all: Vec<&str> = printed.iter().flat_map(|p| p.2.iter().copied()).collect();
        let located = self.store.locator.locate(&self.store, &all).await?;
        let ours: Vec<i64> = located
            .values()
            .filter(|(product, _)| *product == context.product.id)
            .map(|(_, counter)| *counter)
            .collect();
        let mut members: HashSet<i64> = HashSet::with_capacity(ours.len());
        for chunk in ours.chunks(10_000) {
            members.extend(
                q::counters_of_batch(
                    &mut self.reader,
                    &context.product.id,
                    context.batch.id,
                    chunk,
                )
                .await?,
            );
        }
        let is_member = |code: &str| {
            located
                .get(code)
                .is_some_and(|(p, c)| *p == context.product.id && members.contains(c))
        };
        let groups = printed
            .into_iter()
            .filter_map(|(seq, at, codes)| {
                let codes: Vec<String> = codes
                    .into_iter()
                    .filter(|c| is_member(c))
                    .map(str::to_owned)
                    .collect();
                (!codes.is_empty()).then(|| CommissionGroup {
                    seq,
                    at: at.to_owned(),
                    codes,
                })
            })
            .collect();
        let limit = if all.len() > PAGE_CODES {
            (cursor.limit / 2).max(1)
        } else if all.len() < PAGE_CODES / 4 {
            (cursor.limit * 2).min(4096)
        } else {
            cursor.limit
        };
        Ok((groups, LogCursor { after: last, limit }))
    }

    /// Destroyed codes of the batch after `after` = (event seq, counter), at most `limit`,
    /// in the order they were destroyed.
    pub async fn destroyed_page(
        &mut self,
        batch: i64,
        after: (i64, i64),
        limit: i64,
    ) -> Result<Vec<StateChange>, StoreError> {
        q::destroyed_page(&mut self.reader, batch, after, limit).await
    }

    /// Packages of the batch at `level` after SSCC `after` (`""`: from the first), at most
    /// `limit`, with their children; voided ones left out.
    pub async fn export_packages_page(
        &mut self,
        batch: i64,
        level: PackageLevel,
        after: &str,
        limit: i64,
    ) -> Result<Vec<ExportPackage>, StoreError> {
        q::packages_page(&mut self.reader, batch, level, after, limit).await
    }

    /// The shipments holding packages of the batch of `context`, recorded up to its
    /// `shipments_through`, by id.
    pub async fn export_shipments(
        &mut self,
        context: &ExportContext,
    ) -> Result<Vec<crate::Shipment>, StoreError> {
        crate::sql::shipments::of_batch(&self.store.db, context.batch.id, context.shipments_through)
            .await
    }

    /// Codes of the batch after counter `after` (`-1`: from the first), in counter order, at
    /// most `limit`.
    pub async fn export_codes_page(
        &mut self,
        batch: i64,
        after: i64,
        limit: i64,
    ) -> Result<Vec<ExportCode>, StoreError> {
        q::codes_page(&mut self.reader, batch, after, limit).await
    }
}
