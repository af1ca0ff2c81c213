//! Finding a code's row without an index on the code text.
//!
//! A unit code names its product (GS1: the GTIN) and a serial, and the serial is the FF1
//! encryption of a counter under the product's key, a bijection: decrypting the serial gives the counter, and the row is the
//! primary key `(product_id, counter)`. So the store needs no index on `code` — whose random
//! keys made every insert a random B-tree write (docs/performance.md) — and each lookup costs
//! one FF1 decryption (~0.5 µs). The row's stored code text is still compared with the text
//! asked for, so a forged serial that decrypts to some real counter finds nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tracemark_codes::serial::SerialGenerator;

use super::serial::{generator, key_from_hex};
use super::{Scheme, Store, StoreError};

/// A product's id and serial generator, by scheme and product key.
#[derive(Debug, Clone)]
struct ProductSerials {
    product_id: String,
    serials: SerialGenerator,
}

/// Where a code's row is.
pub(crate) type Location = (String, i64);

/// The (scheme, product key) → serials cache of one store (keys never change, so entries never
/// go stale).
#[derive(Debug, Clone, Default)]
pub(crate) struct CodeLocator {
    products: Arc<Mutex<HashMap<ProductKey, Option<Arc<ProductSerials>>>>>,
}

/// A product by its scheme and key (GS1: the GTIN).
type ProductKey = (Scheme, String);

impl CodeLocator {
    fn cached(&self, product: &ProductKey) -> Option<Option<Arc<ProductSerials>>> {
        self.products
            .lock()
            .ok()
            .and_then(|map| map.get(product).cloned())
    }

    async fn product(
        &self,
        store: &Store,
        scheme: Scheme,
        key: String,
    ) -> Result<Option<Arc<ProductSerials>>, StoreError> {
        let wanted = (scheme, key);
        if let Some(found) = self.cached(&wanted) {
            return Ok(found);
        }
        let found = match store.product_key_of(scheme, &wanted.1).await? {
            Some((product, key_hex)) => {
                let key = key_from_hex(&product.id, &key_hex)?;
                Some(Arc::new(ProductSerials {
                    serials: generator(&product, &key)?,
                    product_id: product.id,
                }))
            }
            None => None,
        };
        // A key that is no product's is not cached: it may be added later.
        if let (Some(entry), Ok(mut map)) = (&found, self.products.lock()) {
            map.insert(wanted, Some(entry.clone()));
        }
        Ok(found)
    }

    /// The row of each code that can be one of this store's; codes that cannot (another
    /// scheme, an unknown product key, a serial outside the product's alphabet) are left out, and
    /// the caller reports them as not found.
    pub(crate) async fn locate<'c>(
        &self,
        store: &Store,
        codes: &[&'c str],
    ) -> Result<HashMap<&'c str, Location>, StoreError> {
        let mut found = HashMap::new();
        for &code in codes {
            // The scheme's own parser takes the text apart (tracemark_codes::scheme).
            let Some(parts) = Scheme::parts_of(code) else {
                continue;
            };
            let Some(product) = self.product(store, parts.scheme, parts.key).await? else {
                continue;
            };
            let Ok(counter) = product.serials.counter_of(&parts.serial) else {
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
