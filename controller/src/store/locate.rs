//! Finding a code's row without an index on the code text.
//!
//! A unit code is `(01)GTIN(21)SERIAL` and its serial is the FF1 encryption of a counter under
//! the product's key, a bijection: decrypting the serial gives the counter, and the row is the
//! primary key `(product_id, counter)`. So the store needs no index on `code` — whose random
//! keys made every insert a random B-tree write (docs/performance.md) — and each lookup costs
//! one FF1 decryption (~0.5 µs). The row's stored code text is still compared with the text
//! asked for, so a forged serial that decrypts to some real counter finds nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tracemark_codes::serial::SerialGenerator;

use super::serial::{generator, key_from_hex};
use super::{Store, StoreError};

/// A product's id and serial generator, by GTIN.
#[derive(Debug, Clone)]
struct ProductSerials {
    product_id: String,
    serials: SerialGenerator,
}

/// Where a code's row is.
pub(crate) type Location = (String, i64);

/// The GTIN → serials cache of one store (keys never change, so entries never go stale;
/// `None` remembers a GTIN that is no product's).
#[derive(Debug, Clone, Default)]
pub(crate) struct CodeLocator {
    products: Arc<Mutex<HashMap<String, Option<Arc<ProductSerials>>>>>,
}

/// `(01)GTIN(21)SERIAL` → (GTIN, serial), for the code texts the store writes.
fn split(code: &str) -> Option<(&str, &str)> {
    let rest = code.strip_prefix("(01)")?;
    let (gtin, serial) = rest.split_once("(21)")?;
    (gtin.len() == 14 && !serial.is_empty()).then_some((gtin, serial))
}

impl CodeLocator {
    fn cached(&self, gtin: &str) -> Option<Option<Arc<ProductSerials>>> {
        self.products
            .lock()
            .ok()
            .and_then(|map| map.get(gtin).cloned())
    }

    async fn product(
        &self,
        store: &Store,
        gtin: &str,
    ) -> Result<Option<Arc<ProductSerials>>, StoreError> {
        if let Some(found) = self.cached(gtin) {
            return Ok(found);
        }
        let found = match store.product_key_by_gtin(gtin).await? {
            Some((product, key_hex)) => {
                let key = key_from_hex(&product.id, &key_hex)?;
                Some(Arc::new(ProductSerials {
                    serials: generator(&product, &key)?,
                    product_id: product.id,
                }))
            }
            None => None,
        };
        // A GTIN that is no product's is not cached: it may be added later.
        if let (Some(entry), Ok(mut map)) = (&found, self.products.lock()) {
            map.insert(gtin.to_owned(), Some(entry.clone()));
        }
        Ok(found)
    }

    /// The row of each code that can be one of this store's; codes that cannot (another
    /// format, an unknown GTIN, a serial outside the product's alphabet) are left out, and
    /// the caller reports them as not found.
    pub(crate) async fn locate<'c>(
        &self,
        store: &Store,
        codes: &[&'c str],
    ) -> Result<HashMap<&'c str, Location>, StoreError> {
        let mut found = HashMap::new();
        for &code in codes {
            let Some((gtin, serial)) = split(code) else {
                continue;
            };
            let Some(product) = self.product(store, gtin).await? else {
                continue;
            };
            let Ok(counter) = product.serials.counter_of(serial) else {
                continue;
            };
            let Ok(counter) = i64::try_from(counter) else {
                continue;
            };
            found.insert(code, (product.product_id.clone(), counter));
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn splits_only_the_stored_form() {
        assert_eq!(
            split("(01)09506000134352(21)A1B2"),
            Some(("09506000134352", "A1B2"))
        );
        assert_eq!(split("(01)0950600013435(21)A1"), None);
        assert_eq!(split("(01)09506000134352(21)"), None);
        assert_eq!(split("]d2010950600013435221A1"), None);
    }
}
