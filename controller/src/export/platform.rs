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

use tokio::io::AsyncWrite;
use tracemark_store::export::{ExportCode, ExportContext, ExportPackage};
use tracemark_store::{PackageLevel, Store};

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
    /// The end: the flow records (none until shipping exists, SPEC §10) and the close.
    fn end(&self, out: &mut Vec<u8>);
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
/// "state","parent"}], "codes": [{"code","state","reason","package"}], "flow": []}`.
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
        out.extend_from_slice(b"},\"fields\":[");
        for (i, field) in header.fields.iter().enumerate() {
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
        out.extend_from_slice(b"],\"trace_code_public\":true,\"packages\":[");
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

    fn end(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"],\"flow\":[]}\n");
    }
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
            for package in &page {
                format.package(&mut sink.buffer, level, package, packages);
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
        for code in &page {
            format.code(&mut sink.buffer, code, codes);
            codes += 1;
            if code.state == tracemark_store::CodeState::Destroyed {
                destroyed += 1;
            }
        }
        sink.maybe_flush().await?;
        sink.report(codes, total.max(codes));
    }
    format.end(&mut sink.buffer);
    summary.units = codes;
    summary.packages = packages;
    summary.destroyed = destroyed;
    Ok(())
}
