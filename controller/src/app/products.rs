//! Master data: the producer and its products (SPEC §1, seed 003 table 1).
//!
//! A product arrives as a [`ProductDraft`] — the fields as a person or a file writes them, from
//! `product add`, `product import` or (later) the API — and becomes a typed, validated
//! [`Product`] here, with the defaults applied in this one place.

use serde::Deserialize;
use tracemark_store::model::{
    DEFAULT_MIN_GRADE, DEFAULT_RETENTION_YEARS, DEFAULT_SERIAL_ALPHABET, DEFAULT_SERIAL_LENGTH,
};
use tracemark_store::{
    Actor, Grade, Producer, Product, Scheme, SerialAlphabet, Store, StoreError, parse_pack_sizes,
};

use super::AppError;

/// A product as written: every field text, optional ones with the documented defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductDraft {
    /// Short identifier (`A-Z a-z 0-9 - _ .`, 1–64).
    pub id: String,
    /// The GTIN (8, 12, 13 or 14 digits with check digit).
    pub gtin: String,
    /// 产品名称.
    pub name: String,
    /// 产品类型.
    #[serde(default)]
    pub category: String,
    /// 规格型号.
    #[serde(default)]
    pub model: String,
    /// 执行强制性国家标准.
    #[serde(default)]
    pub standard: String,
    /// 生产许可证号.
    #[serde(default)]
    pub licence: Option<String>,
    /// 强制性认证证书编号 (CCC).
    #[serde(default)]
    pub ccc: Option<String>,
    /// 质保期限 in months.
    #[serde(default)]
    pub warranty_months: Option<u32>,
    /// Default 3 (seed 000: records kept at least 3 years).
    #[serde(default)]
    pub retention_years: Option<u32>,
    /// `digits` (default), `safe` or `crockford32`.
    #[serde(default)]
    pub serial_alphabet: Option<String>,
    /// Default 12.
    #[serde(default)]
    pub serial_length: Option<u32>,
    /// Units per package level, innermost first: `10,40`. Default none.
    #[serde(default)]
    pub pack_sizes: Option<String>,
    /// Lowest accepted print grade, `A`–`D`. Default `C`.
    #[serde(default)]
    pub min_grade: Option<String>,
}

impl ProductDraft {
    /// The typed product, defaults applied; the first problem names its field.
    pub fn into_product(self) -> Result<Product, AppError> {
        let given = |v: Option<String>| v.filter(|s| !s.is_empty());
        let serial_alphabet = match given(self.serial_alphabet) {
            Some(name) => SerialAlphabet::from_name(&name)
                .map_err(|e| AppError::input("serial_alphabet", e))?,
            None => DEFAULT_SERIAL_ALPHABET,
        };
        let min_grade = match given(self.min_grade) {
            Some(text) => Grade::parse_minimum(&text)?,
            None => DEFAULT_MIN_GRADE,
        };
        let mut product = Product {
            id: self.id,
            scheme: Scheme::Gs1,
            key: self.gtin,
            name: self.name,
            category: self.category,
            model: self.model,
            mandatory_standard: self.standard,
            licence_no: given(self.licence),
            ccc_cert_no: given(self.ccc),
            warranty_months: self.warranty_months,
            retention_years: self.retention_years.unwrap_or(DEFAULT_RETENTION_YEARS),
            serial_alphabet,
            serial_length: self.serial_length.unwrap_or(DEFAULT_SERIAL_LENGTH),
            pack_sizes: parse_pack_sizes(self.pack_sizes.as_deref().unwrap_or(""))?,
            min_grade,
        };
        product.validate()?;
        Ok(product)
    }
}

/// Adds one product (and its serial key and counter).
pub async fn add(store: &Store, actor: &Actor, draft: ProductDraft) -> Result<Product, AppError> {
    let product = draft.into_product()?;
    Ok(store
        .with_actor(actor.clone())
        .add_product(&product)
        .await?)
}

/// Adds many products, all or none: every draft is checked first (fields, and clashes with the
/// store and with each other) and every problem is reported, prefixed with where it is
/// (`product[2] (helmet).gtin: …`).
pub async fn import(
    store: &Store,
    actor: &Actor,
    drafts: Vec<ProductDraft>,
) -> Result<usize, AppError> {
    let existing = store.products().await?;
    let mut problems = Vec::new();
    let mut products: Vec<Product> = Vec::new();
    for (i, draft) in drafts.into_iter().enumerate() {
        let at = format!("product[{i}] ({})", draft.id);
        let product = match draft.into_product() {
            Ok(product) => product,
            Err(err) => {
                problems.push(format!("{at}.{err}"));
                continue;
            }
        };
        let clash = existing
            .iter()
            .chain(&products)
            .find(|p| p.id == product.id || (p.scheme == product.scheme && p.key == product.key));
        match clash {
            Some(p) if p.id == product.id => {
                problems.push(format!("{at}.id: product {} already exists", p.id));
            }
            Some(p) => problems.push(format!("{at}.gtin: {} is already product {}", p.key, p.id)),
            None => products.push(product),
        }
    }
    if !problems.is_empty() {
        return Err(AppError::input(
            "file",
            format!("nothing imported: {}", problems.join("; ")),
        ));
    }
    let store = store.with_actor(actor.clone());
    for product in &products {
        store.add_product(product).await?;
    }
    Ok(products.len())
}

/// Every product, by id.
pub async fn list(store: &Store) -> Result<Vec<Product>, AppError> {
    Ok(store.products().await?)
}

/// One product.
pub async fn get(store: &Store, id: &str) -> Result<Product, AppError> {
    Ok(store.product(id).await?)
}

/// The product `id`, created as `make()` describes it when the store does not have it (the demo
/// and a simulation bring their own product). Several controllers may start on one store at
/// once (docs/plant.md "Many controllers on one PostgreSQL"): when another adds `id` between
/// this one's look and its add, the add is refused and the product the other added is taken.
pub async fn get_or_add(
    store: &Store,
    actor: &Actor,
    id: &str,
    make: impl FnOnce() -> Product,
) -> Result<Product, AppError> {
    match store.product(id).await {
        Ok(product) => Ok(product),
        Err(StoreError::NotFound { .. }) => {
            match store.with_actor(actor.clone()).add_product(&make()).await {
                Ok(product) => Ok(product),
                Err(refused) => match store.product(id).await {
                    Ok(product) => Ok(product),
                    Err(_) => Err(refused.into()),
                },
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Sets the producer's master data.
pub async fn set_producer(
    store: &Store,
    actor: &Actor,
    producer: &Producer,
) -> Result<(), AppError> {
    Ok(store
        .with_actor(actor.clone())
        .set_producer(producer)
        .await?)
}

/// Sets the producer's GS1 company prefix (4–12 digits) and SSCC extension digit (0–9), which
/// its cartons' and pallets' SSCCs are built with.
pub async fn set_sscc_coding(
    store: &Store,
    actor: &Actor,
    company_prefix: &str,
    extension_digit: u8,
) -> Result<(), AppError> {
    let coding = tracemark_store::SsccCoding {
        company_prefix: company_prefix.to_owned(),
        extension_digit,
    };
    Ok(store
        .with_actor(actor.clone())
        .set_sscc_coding(&coding)
        .await?)
}

/// Sets (or with `None` clears) the plant's Global Location Number, the EPCIS bizLocation
/// (docs/upload.md).
pub async fn set_gln(store: &Store, actor: &Actor, gln: Option<&str>) -> Result<(), AppError> {
    Ok(store.with_actor(actor.clone()).set_gln(gln).await?)
}

/// Adds a product with the length (6–12) of the GS1 company prefix inside its GTIN; a length
/// out of range is refused before anything is written.
pub async fn add_with_prefix_length(
    store: &Store,
    actor: &Actor,
    draft: ProductDraft,
    length: u8,
) -> Result<Product, AppError> {
    tracemark_store::export::check_prefix_length(length)?;
    let product = add(store, actor, draft).await?;
    set_company_prefix_length(store, actor, &product.id, length).await?;
    Ok(product)
}

/// Sets the length (6–12) of the GS1 company prefix inside a product's GTIN, which its EPC
/// URNs need (GS1 EPC Tag Data Standard §7.1).
pub async fn set_company_prefix_length(
    store: &Store,
    actor: &Actor,
    product: &str,
    length: u8,
) -> Result<(), AppError> {
    Ok(store
        .with_actor(actor.clone())
        .set_company_prefix_length(product, Some(length))
        .await?)
}

/// The producer, or an input error saying how to set it.
pub async fn producer(store: &Store) -> Result<Producer, AppError> {
    store
        .producer()
        .await?
        .ok_or_else(|| AppError::input("producer", "not set (tracemark producer set)"))
}

/// A change to a product's documents (issue 17; SPEC §1 data fields): each `None` keeps what
/// is stored; `Some("")` clears a text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocumentsChange {
    /// 出厂检验报告或型式检验报告: text or an http(s) URL.
    pub inspection_report: Option<String>,
    /// Whether the public lookup shows the inspection report (table 3: the producer decides;
    /// private until they say so).
    pub inspection_report_public: Option<bool>,
    /// 使用说明书或警示说明: an http(s) URL.
    pub manual: Option<String>,
}

/// The longest document text or URL taken.
pub const MAX_DOCUMENT_LEN: usize = 2_000;

/// Changes the documents of product `id` (in the audit chain); the documents as now stored.
pub async fn set_documents(
    store: &Store,
    actor: &Actor,
    id: &str,
    change: DocumentsChange,
) -> Result<tracemark_store::lookup::ProductDocuments, AppError> {
    let mut documents = store.product_documents(id).await?;
    let text = |field: &str, value: String, url: bool| -> Result<Option<String>, AppError> {
        let value = value.trim().to_owned();
        if value.is_empty() {
            return Ok(None);
        }
        if value.chars().count() > MAX_DOCUMENT_LEN {
            return Err(AppError::input(
                field,
                format!("at most {MAX_DOCUMENT_LEN} characters"),
            ));
        }
        if url && !super::lookup::linkset::is_url(&value) {
            return Err(AppError::input(
                field,
                format!("{value:?} is not an http:// or https:// URL"),
            ));
        }
        Ok(Some(value))
    };
    if let Some(report) = change.inspection_report {
        documents.inspection_report = text("inspection_report", report, false)?;
    }
    if let Some(manual) = change.manual {
        documents.manual = text("manual", manual, true)?;
    }
    if let Some(public) = change.inspection_report_public {
        documents.inspection_report_public = public;
    }
    store
        .with_actor(actor.clone())
        .set_product_documents(id, &documents)
        .await?;
    Ok(documents)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commissioning::demo_product;

    async fn scratch_store(dir: &std::path::Path) -> Store {
        let url = format!("sqlite://{}", dir.join("t.db").display());
        let actor = Actor {
            user: "tester".into(),
            device: "test".into(),
        };
        Store::open(&url, actor).await.expect("open")
    }

    /// Two controllers starting on one store at once: the other adds the product between this
    /// one's look and its add. This one takes the other's product instead of failing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_product_another_controller_adds_meanwhile_is_taken() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = scratch_store(dir.path()).await;
        let other = store.clone();
        let actor = store.actor().clone();
        let make = || {
            // The other controller's add, between the look and the add (a test may block here:
            // the runtime has a second worker).
            tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current()
                    .block_on(other.add_product(&demo_product("widget-c", Grade::B)))
            })
            .expect("the other controller adds it");
            demo_product("widget-c", Grade::C)
        };
        let product = get_or_add(&store, &actor, "widget-c", make)
            .await
            .expect("the product the other added");
        assert_eq!(
            product.min_grade,
            Grade::B,
            "the other controller's product"
        );
        assert_eq!(store.products().await.expect("products").len(), 1);
    }

    /// Any other refusal of the add is still an error: here another product holds the GTIN.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_add_refused_for_another_reason_fails() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = scratch_store(dir.path()).await;
        let actor = store.actor().clone();
        store
            .add_product(&demo_product("demo-widget", Grade::C))
            .await
            .expect("add");
        let same_gtin = || Product {
            id: "widget-d".into(),
            ..demo_product("demo-widget", Grade::C)
        };
        let error = get_or_add(&store, &actor, "widget-d", same_gtin)
            .await
            .expect_err("the GTIN is taken");
        assert!(
            error.to_string().contains("already product demo-widget"),
            "{error}"
        );
    }
}
