//! What a package's label says, from the store: the SSCC, and for a package of one trade item
//! (every package of a batch is) the content — the product's GTIN, the units' count, the
//! batch's lot and dates (GS1 Logistic Label Guideline; `tracemark_codes::gs1::LogisticLabel`).

use tracemark_codes::gs1::{Content, Gtin, LogisticLabel, Sscc};
use tracemark_drivers::zpl::logistic::LabelData;
use tracemark_store::{Batch, Package, PackageLevel, Product, Scheme, Store};

use super::LabelError;

/// The label of `package`. A pallet's count is the units on it: its cartons are logistic
/// units, not trade items with a GTIN of their own, so `(02)` names the units and `(37)` counts
/// them all.
///
/// `read` keeps the batch and product of the last label: a station labels one batch's packages
/// after another, and what a label takes from them (the lot and dates, the product's key and
/// name) does not change once the batch exists, so they are read once a batch instead of two
/// round trips to the store a package (issue 20).
pub(super) async fn label_data(
    store: &Store,
    package: &Package,
    read: &mut Option<(Batch, Product)>,
) -> Result<LabelData, LabelError> {
    let (batch, product) = match read.take() {
        Some((batch, product)) if batch.id == package.batch_id => (batch, product),
        _ => {
            let batch = store.batch(package.batch_id).await?;
            let product = store.product(&batch.product_id).await?;
            (batch, product)
        }
    };
    let data = label_of(store, package, &batch, &product).await;
    *read = Some((batch, product));
    data
}

async fn label_of(
    store: &Store,
    package: &Package,
    batch: &Batch,
    product: &Product,
) -> Result<LabelData, LabelError> {
    let sscc = Sscc::parse(&package.sscc).map_err(|e| data(&package.sscc, e))?;
    let units = match package.level {
        PackageLevel::Carton => package.children_count,
        PackageLevel::Pallet => store
            .package_contents(&package.sscc)
            .await?
            .cartons
            .iter()
            .map(|carton| carton.units.len() as i64)
            .sum(),
    };
    let content = match product.scheme {
        Scheme::Gs1 => Some(Content {
            gtin: Gtin::parse(&product.key).map_err(|e| data(&package.sscc, e))?,
            count: u32::try_from(units).unwrap_or(u32::MAX),
            lot: Some(batch.lot.clone()),
            production_date: Some(batch.production_date.clone()),
            expiry_date: batch.expiry_date.clone(),
        }),
    };
    let label = LogisticLabel::new(&sscc, content.as_ref()).map_err(|e| data(&package.sscc, e))?;
    Ok(LabelData::of(&label, Some(&product.name)))
}

fn data(sscc: &str, error: impl std::fmt::Display) -> LabelError {
    LabelError::Data {
        sscc: sscc.to_owned(),
        reason: error.to_string(),
    }
}
