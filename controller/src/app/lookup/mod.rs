//! The public code lookup (issue 17; SPEC §9 识码用码; seed 000 §二(一) "源头赋码, 识码用码";
//! docs/lookup.md): anyone scanning a unit's code gets the public fields of seed 003 table 3 and
//! the unit's state. The rule lives here — which fields are public, what state a code is in,
//! when a code counts as scanned unusually often — and the HTTP edge (`http::public`) only
//! translates requests and answers.
//!
//! - [`input`]: the forms a code arrives in (Digital Link, Ecode and digital-identity paths,
//!   raw scanner data).
//! - [`scans`]: scan counts gathered in memory, written in batches.
//! - [`limit`]: the per-client rate limit.
//! - [`linkset`]: the answer as an RFC 9264 linkset and the resolver's description
//!   (GS1-Conformant Resolver standard 1.x).
//!
//! What is public is decided field by field in [`PublicProduct::of`] and [`PublicProducer`]:
//! a field not copied there cannot reach any answer, whatever the edge serialises.

pub mod input;
pub mod limit;
pub mod linkset;
pub mod scans;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::Notify;
use tracemark_store::lookup::{LookupRow, ProductDocuments};
use tracemark_store::{CodeState, Producer, Product, Store};

pub use input::CodeQuery;

use super::AppError;
use super::shipping::PublicFlow;
use limit::RateLimiter;
use scans::ScanBook;
use tracemark_store::FlowField;

/// How the lookup behaves (`tracemark serve --lookup-…`; docs/lookup.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupSettings {
    /// A code scanned more than this many times is flagged "scanned unusually often".
    pub scan_alert: u64,
    /// Lookups a second per client at the steady rate (0: no limit).
    pub rate_per_second: u32,
    /// Lookups a client may make at once.
    pub burst: u32,
    /// The path prefix of digital-identity URLs this server answers (`/{prefix}/{serial}`).
    pub digital_identity_prefix: String,
    /// How long product and producer data are kept in memory (an edit shows after at most
    /// this long).
    pub cache_for: Duration,
    /// How often waiting scan counts are written.
    pub flush_every: Duration,
    /// The URL this lookup is reached at (`https://id.example.cn`), for the links of a
    /// linkset and the resolver description; `None`: the request's `Host`.
    pub public_url: Option<String>,
}

/// Default of [`LookupSettings::scan_alert`]: a unit is scanned by its seller and buyer a
/// few times; dozens of scans of one serial mean the code was copied.
pub const DEFAULT_SCAN_ALERT: u64 = 20;
/// Default of [`LookupSettings::rate_per_second`].
pub const DEFAULT_RATE_PER_SECOND: u32 = 10;
/// Default of [`LookupSettings::burst`].
pub const DEFAULT_BURST: u32 = 30;

impl Default for LookupSettings {
    fn default() -> Self {
        LookupSettings {
            scan_alert: DEFAULT_SCAN_ALERT,
            rate_per_second: DEFAULT_RATE_PER_SECOND,
            burst: DEFAULT_BURST,
            digital_identity_prefix: "di".into(),
            cache_for: Duration::from_secs(5),
            flush_every: Duration::from_secs(1),
            public_url: None,
        }
    }
}

/// A unit's state as the public sees it (SPEC §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Issued to a unit that left the line (printed, verified, packed, shipped, released
    /// after a re-check, or taken as a sample).
    Genuine,
    /// Issued, but the unit was destroyed, the code voided, or the unit rejected: no unit
    /// in circulation carries it.
    Invalid,
    /// Genuine, but scanned more than [`LookupSettings::scan_alert`] times: possibly a copy.
    ScannedOften,
    /// Made by `tracemark demo` or `simulate` (a test unit, not a product).
    Simulated,
}

/// Why a code is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InvalidBecause {
    /// QA destroyed the unit.
    Destroyed,
    /// The code was never printed (voided).
    Voided,
    /// The unit was rejected at the line and not released.
    Rejected,
}

/// The state of a code the store holds, before its scans are counted: `None` for a code that
/// never reached a unit (reserved or sent to a marker: not issued to anyone).
pub fn verdict_of(state: CodeState) -> Option<Result<(), InvalidBecause>> {
    match state {
        CodeState::Reserved | CodeState::Sent => None,
        CodeState::Destroyed => Some(Err(InvalidBecause::Destroyed)),
        CodeState::Voided => Some(Err(InvalidBecause::Voided)),
        CodeState::Rejected => Some(Err(InvalidBecause::Rejected)),
        CodeState::Printed
        | CodeState::Verified
        | CodeState::Packed
        | CodeState::Shipped
        | CodeState::Released
        | CodeState::Sampled => Some(Ok(())),
    }
}

/// How often a code was scanned (this scan included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanInfo {
    /// Scans so far.
    pub count: u64,
    /// The first (RFC 3339, UTC).
    pub first_at: String,
    /// More than this many is "scanned unusually often".
    pub alert_above: u64,
}

/// The producer's public fields (SPEC §1: all of them are public).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicProducer {
    /// 生产单位名称.
    pub name: String,
    /// 统一社会信用代码.
    pub uscc: String,
    /// 生产/注册地址.
    pub address: String,
    /// 联系方式.
    pub contact: String,
    /// 营业执照.
    pub business_licence: String,
}

impl From<&Producer> for PublicProducer {
    fn from(p: &Producer) -> Self {
        PublicProducer {
            name: p.name.clone(),
            uscc: p.uscc.clone(),
            address: p.address.clone(),
            contact: p.contact.clone(),
            business_licence: p.business_licence.clone(),
        }
    }
}

/// The unit's public product fields (SPEC §1 data fields, seed 003 table 3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicProduct {
    /// 追溯码 (GS1 HRI).
    pub trace_code: String,
    /// 产品名称.
    pub name: String,
    /// 产品类型.
    pub category: String,
    /// 规格型号.
    pub model: String,
    /// GTIN (GS1) or the scheme's product key.
    pub gtin: String,
    /// 生产日期.
    pub production_date: Option<String>,
    /// 质保期限, months.
    pub warranty_months: Option<u32>,
    /// 批次号.
    pub lot: Option<String>,
    /// 序号.
    pub serial: String,
    /// 执行强制性国家标准.
    pub mandatory_standard: String,
    /// 生产许可证号.
    pub licence_no: Option<String>,
    /// 强制性认证证书编号.
    pub ccc_cert_no: Option<String>,
    /// 使用说明书或警示说明 (URL).
    pub manual: Option<String>,
    /// 出厂检验报告或型式检验报告: only when the producer made it public.
    pub inspection_report: Option<String>,
}

impl PublicProduct {
    /// The public fields of `product` for the unit `row`; the inspection report only when the
    /// producer chose to publish it (table 3: "producer decides").
    pub fn of(product: &Product, documents: &ProductDocuments, row: &LookupRow) -> PublicProduct {
        PublicProduct {
            trace_code: row.code.clone(),
            name: product.name.clone(),
            category: product.category.clone(),
            model: product.model.clone(),
            gtin: product.key.clone(),
            production_date: row.production_date.clone(),
            warranty_months: product.warranty_months,
            lot: row.lot.clone(),
            serial: row.serial.clone(),
            mandatory_standard: product.mandatory_standard.clone(),
            licence_no: product.licence_no.clone(),
            ccc_cert_no: product.ccc_cert_no.clone(),
            manual: documents.manual.clone(),
            inspection_report: documents
                .inspection_report
                .clone()
                .filter(|_| documents.inspection_report_public),
        }
    }
}

/// The answer to a lookup of an issued code: everything in it is public.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LookupAnswer {
    /// The unit's state.
    pub state: Verdict,
    /// Why it is invalid, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalid_because: Option<InvalidBecause>,
    /// How often it was scanned.
    pub scans: ScanInfo,
    /// The producer (absent until `tracemark producer set`).
    pub producer: Option<PublicProducer>,
    /// The product.
    pub product: PublicProduct,
    /// The public fields of the shipment that took the unit away (seed 000 annex 2 §一(三)),
    /// when it was shipped and the producer publishes some ([`super::shipping::public_flow`]'s rule).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow: Option<PublicFlow>,
}

/// A product with its documents, as cached.
#[derive(Debug)]
struct ProductInfo {
    product: Product,
    documents: ProductDocuments,
    /// The flow fields the producer publishes for this product (none by default).
    flow_public: Vec<FlowField>,
}

/// Something kept for a while.
type Cached<T> = (Instant, T);

struct Inner {
    store: Store,
    settings: LookupSettings,
    products: Mutex<HashMap<String, Cached<Arc<ProductInfo>>>>,
    producer: Mutex<Option<Cached<Option<Arc<PublicProducer>>>>>,
    scans: ScanBook,
    wake_flusher: Arc<Notify>,
    limiter: RateLimiter,
}

/// The public lookup over a store: caches, scan counts and the rate limit. Cloning shares
/// them (the main listener and `--public-http` answer from one).
#[derive(Clone)]
pub struct Lookup {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Lookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lookup")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Caches only: a panic while holding one leaves an entry stale at worst.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Lookup {
    /// The lookup over `store`; inside a tokio runtime it starts the task that writes scan
    /// counts (it ends when the last clone is dropped; call [`Lookup::flush`] before that).
    pub fn new(store: Store, settings: LookupSettings) -> Lookup {
        let wake_flusher = Arc::new(Notify::new());
        let inner = Arc::new(Inner {
            limiter: RateLimiter::new(settings.rate_per_second, settings.burst),
            store,
            settings,
            products: Mutex::new(HashMap::new()),
            producer: Mutex::new(None),
            scans: ScanBook::default(),
            wake_flusher: wake_flusher.clone(),
        });
        if tokio::runtime::Handle::try_current().is_ok() {
            tokio::spawn(flusher(
                Arc::downgrade(&inner),
                wake_flusher,
                inner.settings.flush_every,
            ));
        }
        Lookup { inner }
    }

    /// The settings.
    pub fn settings(&self) -> &LookupSettings {
        &self.inner.settings
    }

    /// Takes one lookup of `client` (the rate limit), or [`AppError::RateLimited`].
    pub fn admit(&self, client: IpAddr) -> Result<(), AppError> {
        self.inner
            .limiter
            .check(client, Instant::now())
            .map_err(|wait| AppError::RateLimited {
                retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            })
    }

    /// Looks `query` up and, with `count`, counts the scan (a HEAD request only looks). A code
    /// this store did not issue to a unit, or a lot that is not the unit's, is
    /// [`AppError::NotFound`] naming only what was asked.
    pub async fn look_up(&self, query: &CodeQuery, count: bool) -> Result<LookupAnswer, AppError> {
        let not_issued = |text: &str| AppError::NotFound {
            what: "code",
            id: text.to_owned(),
        };
        let Some(text) = query.code_text() else {
            return Err(AppError::input(
                "serial",
                "a product-level link names no unit: the serial (21) is missing",
            ));
        };
        let row = self
            .inner
            .store
            .lookup_code(&text)
            .await?
            .ok_or_else(|| not_issued(&text))?;
        let Some(state) = verdict_of(row.state) else {
            return Err(not_issued(&text));
        };
        if let CodeQuery::Gs1 { lot: Some(lot), .. } = query {
            // A Digital Link may carry the lot (§4.5); a lot other than the unit's is not
            // this unit's code, whatever its serial.
            if row.lot.as_deref() != Some(lot.as_str()) {
                return Err(not_issued(&text));
            }
        }
        let scans = if count {
            self.count_scan(&row).await
        } else {
            self.peek_scans(&row)
        };
        let product = self.product(&row.product_id).await?;
        let producer = self.producer().await?;
        let (verdict, invalid_because) = match state {
            Err(because) => (Verdict::Invalid, Some(because)),
            Ok(()) if row.simulated => (Verdict::Simulated, None),
            Ok(()) if scans.count > scans.alert_above => (Verdict::ScannedOften, None),
            Ok(()) => (Verdict::Genuine, None),
        };
        Ok(LookupAnswer {
            state: verdict,
            invalid_because,
            scans,
            producer: producer.as_deref().cloned(),
            product: PublicProduct::of(&product.product, &product.documents, &row),
            flow: self.public_flow(&row, &product).await?,
        })
    }

    /// The public fields of the unit's shipment: only for a shipped unit of a product whose
    /// producer publishes some (the disclosure is cached with the product, so a lookup of an
    /// unshipped unit costs no query here).
    async fn public_flow(
        &self,
        row: &LookupRow,
        product: &ProductInfo,
    ) -> Result<Option<PublicFlow>, AppError> {
        if product.flow_public.is_empty() || row.state != CodeState::Shipped {
            return Ok(None);
        }
        let Some(carton) = row.package.as_deref() else {
            return Ok(None);
        };
        let Some(shipment) = self.inner.store.shipment_of_package(carton).await? else {
            return Ok(None);
        };
        let flow = PublicFlow::of(&shipment, &product.flow_public);
        Ok((!flow.is_empty()).then_some(flow))
    }

    /// Writes the waiting scan counts now (the server calls it when it shuts down).
    pub async fn flush(&self) -> Result<usize, AppError> {
        Ok(self.inner.scans.flush(&self.inner.store).await?)
    }

    /// Scans waiting to be written (codes).
    pub fn waiting_scans(&self) -> usize {
        self.inner.scans.len()
    }

    async fn count_scan(&self, row: &LookupRow) -> ScanInfo {
        let now = tracemark_store::lookup::timestamp();
        let (waiting, codes) = self.inner.scans.record(
            &row.product_id,
            row.counter,
            &now,
            row.last_scan_at.as_deref(),
        );
        if codes >= scans::MAX_PENDING {
            // Bounded memory: this scan waits for the flush the others are waiting for.
            if let Err(error) = self.flush().await {
                tracing::warn!(%error, "writing scan counts failed; they wait for the next flush");
            }
        } else if codes >= scans::FLUSH_AT {
            self.inner.wake_flusher.notify_one();
        }
        ScanInfo {
            count: u64::try_from(row.scans + waiting.scans).unwrap_or(0),
            first_at: row.first_scan_at.clone().unwrap_or(waiting.first_at),
            alert_above: self.inner.settings.scan_alert,
        }
    }

    fn peek_scans(&self, row: &LookupRow) -> ScanInfo {
        let waiting =
            self.inner
                .scans
                .peek(&row.product_id, row.counter, row.last_scan_at.as_deref());
        let (scans, first_at) = waiting.map_or((0, None), |w| (w.scans, Some(w.first_at)));
        ScanInfo {
            count: u64::try_from(row.scans + scans).unwrap_or(0),
            first_at: row.first_scan_at.clone().or(first_at).unwrap_or_default(),
            alert_above: self.inner.settings.scan_alert,
        }
    }

    async fn product(&self, id: &str) -> Result<Arc<ProductInfo>, AppError> {
        let fresh = |at: &Instant| at.elapsed() < self.inner.settings.cache_for;
        if let Some((at, info)) = lock(&self.inner.products).get(id)
            && fresh(at)
        {
            return Ok(info.clone());
        }
        let info = Arc::new(ProductInfo {
            product: self.inner.store.product(id).await?,
            documents: self.inner.store.product_documents(id).await?,
            flow_public: self.inner.store.flow_disclosure(id).await?,
        });
        lock(&self.inner.products).insert(id.to_owned(), (Instant::now(), info.clone()));
        Ok(info)
    }

    async fn producer(&self) -> Result<Option<Arc<PublicProducer>>, AppError> {
        if let Some((at, producer)) = lock(&self.inner.producer).as_ref()
            && at.elapsed() < self.inner.settings.cache_for
        {
            return Ok(producer.clone());
        }
        let producer = self
            .inner
            .store
            .producer()
            .await?
            .map(|p| Arc::new(PublicProducer::from(&p)));
        *lock(&self.inner.producer) = Some((Instant::now(), producer.clone()));
        Ok(producer)
    }
}

/// Writes waiting scan counts every `every`, or sooner when woken; ends with the lookup.
async fn flusher(inner: Weak<Inner>, wake: Arc<Notify>, every: Duration) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = wake.notified() => {}
        }
        let Some(inner) = inner.upgrade() else { return };
        if let Err(error) = inner.scans.flush(&inner.store).await {
            tracing::warn!(%error, "writing scan counts failed; they wait for the next flush");
        }
    }
}
