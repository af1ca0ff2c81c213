//! The traceability platform payload (SPEC §6, §1): the batch's data fields with their keys and
//! public flags (seed 003 table 1 and table 3), its packages (the hierarchy), its codes with
//! their final states, and its flow records.
//!
//! Neither the national platform nor the platforms of the four schemes (GS1 China, Ecode,
//! digital identity codes, CCC) publish an interface: the operator gets it from the platform.
//! So the shape is an adapter, [`PlatformFormat`]: this module reads the store page by page and
//! hands each piece to the format, which only writes bytes. A provider's own format is one
//! file implementing the trait. [`TracemarkPlatform`] is tracemark's own JSON shape
//! (`tracemark.platform.v1`, docs/upload.md).

use std::collections::HashSet;

use tokio::io::AsyncWrite;
use tracemark_store::export::{ExportCode, ExportContext, ExportPackage};
use tracemark_store::{CodeState, FlowField, PackageLevel, PackageState, Shipment, Store};

use super::json::push_string;
use super::{ExportError, ExportProgress, ExportSummary, PACKAGE_PAGE, PAGE, Sink};

/// One data field of SPEC §1 with its value and its disclosure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The English key (`producer.name`).
    pub key: &'static str,
    /// The value; `None` where the store has none (an optional field not given).
    pub value: Option<String>,
    /// Whether it is public by default (seed 003 table 3).
    pub public: bool,
}

/// The batch as a platform sees it: who made what, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchHeader {
    /// The batch number.
    pub batch: i64,
    /// Its state (`closed`).
    pub state: String,
    /// Made by `simulate` or `demo`.
    pub simulated: bool,
    /// When it was closed (RFC 3339).
    pub closed_at: Option<String>,
    /// The scheme of its codes (`gs1`).
    pub scheme: String,
    /// The data fields, in SPEC §1 order.
    pub fields: Vec<Field>,
}

/// A platform's payload format: called in document order, each call appends bytes.
pub trait PlatformFormat: Send + Sync {
    /// The media type of the document.
    fn content_type(&self) -> &'static str;
    /// The opening: the batch and its fields.
    fn begin(&self, out: &mut Vec<u8>, header: &BatchHeader);
    /// One package; `index` counts from 0 over cartons and pallets.
    fn package(&self, out: &mut Vec<u8>, level: PackageLevel, package: &ExportPackage, index: u64);
    /// Between the packages and the codes.
    fn codes_begin(&self, out: &mut Vec<u8>);
    /// One code; `index` counts from 0.
    fn code(&self, out: &mut Vec<u8>, code: &ExportCode, index: u64);
    /// Between the codes and the flow records. By default nothing: a format without flow
    /// records.
    fn flow_begin(&self, _out: &mut Vec<u8>) {}
    /// One flow record (a shipment of the batch's packages, SPEC §10); `index` counts from 0.
    /// By default nothing.
    fn flow(&self, _out: &mut Vec<u8>, _record: &FlowRecord<'_>, _index: u64) {}
    /// The close.
    fn end(&self, out: &mut Vec<u8>);
    /// A shipment's own document: its flow record alone (docs/shipping.md). By default
    /// nothing.
    fn shipment(&self, _out: &mut Vec<u8>, _record: &FlowRecord<'_>) {}
}

/// A shipment as the payload's flow section holds it: the `flow.*` fields with the product's
/// disclosure (seed 000 annex 2 §一(三): the producer decides what is public).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRecord<'a> {
    /// The shipment.
    pub shipment: &'a Shipment,
    /// `flow.sale_time`, `flow.buyer_name`, `flow.buyer_address`, `flow.buyer_contact`,
    /// `flow.quantity`, each with its public flag.
    pub fields: Vec<Field>,
}

impl<'a> FlowRecord<'a> {
    /// The record of `shipment`, its fields public as `public` says.
    pub fn new(shipment: &'a Shipment, public: &[FlowField]) -> Self {
        let fields = FlowField::ALL
            .into_iter()
            .map(|field| Field {
                key: field.key(),
                value: Some(field.value(shipment)),
                public: public.contains(&field),
            })
            .collect();
        FlowRecord { shipment, fields }
    }
}

/// The batch's SPEC §1 fields from the context.
pub fn batch_header(context: &ExportContext) -> BatchHeader {
    let producer = context.producer.as_ref();
    let product = &context.product;
    let batch = &context.batch;
    let of = |value: Option<&String>| value.cloned();
    let field = |key, value: Option<String>| Field {
        key,
        value,
        public: true,
    };
    let fields = vec![
        field("producer.name", producer.map(|p| p.name.clone())),
        field("producer.uscc", producer.map(|p| p.uscc.clone())),
        field("producer.address", producer.map(|p| p.address.clone())),
        field("producer.contact", producer.map(|p| p.contact.clone())),
        field(
            "producer.business_licence",
            producer.map(|p| p.business_licence.clone()),
        ),
        field("product.name", Some(product.name.clone())),
        field("product.category", Some(product.category.clone())),
        field("product.model", Some(product.model.clone())),
        field(
            "product.production_date",
            Some(batch.production_date.clone()),
        ),
        field(
            "product.warranty",
            product.warranty_months.map(|m| format!("{m} months")),
        ),
        field("product.lot", Some(batch.lot.clone())),
        field(
            "product.mandatory_standard",
            Some(product.mandatory_standard.clone()),
        ),
        field("product.licence_no", of(product.licence_no.as_ref())),
        field("product.ccc_cert_no", of(product.ccc_cert_no.as_ref())),
        field("product.expiry_date", of(batch.expiry_date.as_ref())),
        field("product.gtin", Some(product.key.clone())),
    ];
    BatchHeader {
        batch: batch.id,
        state: batch.state.to_string(),
        simulated: batch.simulated,
        closed_at: batch.closed_at.clone(),
        scheme: product.scheme.to_string(),
        fields,
    }
}

/// tracemark's own platform JSON, `tracemark.platform.v1`:
/// `{"format", "batch", "fields": [{"key","value","public"}], "packages": [{"sscc","level",
/// "state","parent"}], "codes": [{"code","state","reason","package"}], "flow": [{"shipment",
/// "order","ssccs","fields": [{"key","value","public"}]}]}`.
/// Every code is `product.trace_code` (public).
#[derive(Debug, Clone, Copy, Default)]
pub struct TracemarkPlatform;

impl PlatformFormat for TracemarkPlatform {
    fn content_type(&self) -> &'static str {
        "application/json"
    }

    fn begin(&self, out: &mut Vec<u8>, header: &BatchHeader) {
        out.extend_from_slice(b"{\"format\":\"tracemark.platform.v1\",\"batch\":{\"id\":");
        out.extend_from_slice(header.batch.to_string().as_bytes());
        out.extend_from_slice(b",\"state\":");
        push_string(out, &header.state);
        out.extend_from_slice(b",\"simulated\":");
        out.extend_from_slice(if header.simulated { b"true" } else { b"false" });
        out.extend_from_slice(b",\"closed_at\":");
        push_optional(out, header.closed_at.as_deref());
        out.extend_from_slice(b",\"scheme\":");
        push_string(out, &header.scheme);
        out.extend_from_slice(b"},\"fields\":");
        push_fields(out, &header.fields);
        out.extend_from_slice(b",\"trace_code_public\":true,\"packages\":[");
    }

    fn package(&self, out: &mut Vec<u8>, level: PackageLevel, package: &ExportPackage, index: u64) {
        if index > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"sscc\":");
        push_string(out, &package.sscc);
        out.extend_from_slice(b",\"level\":");
        push_string(out, level.as_str());
        out.extend_from_slice(b",\"state\":");
        push_string(out, package.state.as_str());
        out.extend_from_slice(b",\"parent\":");
        push_optional(out, package.parent.as_deref());
        out.push(b'}');
    }

    fn codes_begin(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"],\"codes\":[");
    }

    fn code(&self, out: &mut Vec<u8>, code: &ExportCode, index: u64) {
        if index > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"code\":");
        push_string(out, &code.code);
        out.extend_from_slice(b",\"state\":");
        push_string(out, code.state.as_str());
        out.extend_from_slice(b",\"reason\":");
        push_optional(out, code.reason.map(|r| r.as_str()));
        out.extend_from_slice(b",\"package\":");
        push_optional(out, code.package.as_deref());
        out.push(b'}');
    }

    fn flow_begin(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"],\"flow\":[");
    }

    fn flow(&self, out: &mut Vec<u8>, record: &FlowRecord<'_>, index: u64) {
        if index > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"shipment\":");
        out.extend_from_slice(record.shipment.id.to_string().as_bytes());
        out.extend_from_slice(b",\"order\":");
        push_optional(out, record.shipment.order_ref.as_deref());
        out.extend_from_slice(b",\"ssccs\":[");
        for (i, sscc) in record.shipment.ssccs.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_string(out, sscc);
        }
        out.extend_from_slice(b"],\"fields\":");
        push_fields(out, &record.fields);
        out.push(b'}');
    }

    fn end(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"]}\n");
    }

    /// `{"format":"tracemark.platform.flow.v1","flow":[<record>]}`.
    fn shipment(&self, out: &mut Vec<u8>, record: &FlowRecord<'_>) {
        out.extend_from_slice(b"{\"format\":\"tracemark.platform.flow.v1\",\"flow\":[");
        self.flow(out, record, 0);
        self.end(out);
    }
}

/// `[{"key","value","public"}, …]`.
fn push_fields(out: &mut Vec<u8>, fields: &[Field]) {
    out.push(b'[');
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"key\":");
        push_string(out, field.key);
        out.extend_from_slice(b",\"value\":");
        push_optional(out, field.value.as_deref());
        out.extend_from_slice(b",\"public\":");
        out.extend_from_slice(if field.public { b"true" } else { b"false" });
        out.push(b'}');
    }
    out.push(b']');
}

/// A package shipped after the document's cut as it was before: a carton on a pallet
/// `palletised`, any other `closed` (the only states a package ships from).
fn before_shipping(mut package: ExportPackage) -> ExportPackage {
    package.state = if package.parent.is_some() {
        PackageState::Palletised
    } else {
        PackageState::Closed
    };
    package.shipment = None;
    package
}

fn push_optional(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        Some(value) => push_string(out, value),
        None => out.extend_from_slice(b"null"),
    }
}

/// Writes the payload of the batch of `context` in `format`, page by page.
pub(crate) async fn write<W, P>(
    store: &Store,
    context: &ExportContext,
    format: &dyn PlatformFormat,
    sink: &mut Sink<W, P>,
    summary: &mut ExportSummary,
) -> Result<(), ExportError>
where
    W: AsyncWrite + Unpin,
    P: FnMut(ExportProgress),
{
    let batch = context.batch.id;
    let mut reader = store.export_reader().await?;
    // The document's cut (docs/shipping.md "What upload sends"): a package or unit shipped
    // after it shows the state it had before, so a closed batch's payload stays the same bytes.
    let shipments = reader.export_shipments(context).await?;
    let in_cut: HashSet<i64> = shipments.iter().map(|s| s.id).collect();
    let after_cut = |shipment: Option<i64>| shipment.is_some_and(|id| !in_cut.contains(&id));
    format.begin(&mut sink.buffer, &batch_header(context));
    let mut packages = 0u64;
    for level in [PackageLevel::Carton, PackageLevel::Pallet] {
        let mut after = String::new();
        loop {
            let page = reader
                .export_packages_page(batch, level, &after, PACKAGE_PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            after = last.sscc.clone();
            for package in page {
                let package = if after_cut(package.shipment) {
                    before_shipping(package)
                } else {
                    package
                };
                format.package(&mut sink.buffer, level, &package, packages);
                packages += 1;
            }
            sink.maybe_flush().await?;
        }
    }
    format.codes_begin(&mut sink.buffer);
    let total = u64::try_from(context.batch.quantity).unwrap_or(0);
    let mut codes = 0u64;
    let mut destroyed = 0u64;
    let mut after = -1;
    loop {
        let page = reader.export_codes_page(batch, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.counter;
        for mut code in page {
            if code.state == CodeState::Shipped && after_cut(code.shipment) {
                code.state = CodeState::Packed;
                code.shipment = None;
            }
            let code = &code;
            format.code(&mut sink.buffer, code, codes);
            codes += 1;
            if code.state == CodeState::Destroyed {
                destroyed += 1;
            }
        }
        sink.maybe_flush().await?;
        sink.report(codes, total.max(codes));
    }
    format.flow_begin(&mut sink.buffer);
    for (index, shipment) in shipments.iter().enumerate() {
        let record = FlowRecord::new(shipment, &context.flow_public);
        format.flow(&mut sink.buffer, &record, index as u64);
    }
    format.end(&mut sink.buffer);
    summary.shipments = shipments.len() as u64;
    summary.units = codes;
    summary.packages = packages;
    summary.destroyed = destroyed;
    Ok(())
}
