//! The product a demo or a simulation brings when the store does not have the line's product.

use tracemark_codes::gs1::check::mod10_check_digit;
use tracemark_store::{Grade, Product, Scheme, SerialAlphabet};

/// The GTIN GS1 uses in its own examples: the demo's `demo-widget` carries it.
pub const DEMO_GTIN: &str = "09506000134352";

/// The id of the demo line's product (`line-configs/demo.toml`).
const DEMO_PRODUCT_ID: &str = "demo-widget";

/// The item reference of [`DEMO_GTIN`] under GS1's example company prefix 9506000.
const DEMO_ITEM_REFERENCE: u64 = 13_435;

/// Item references under a 7-digit company prefix in a GTIN-14 with indicator 0: five digits.
const ITEM_REFERENCES: u64 = 100_000;

/// The product a demo or a simulation creates when the store does not have the line's product
/// `id`: the GTIN [`demo_gtin`] gives it, FF1 serials of 10 characters from the `safe`
/// alphabet, the camera's minimum grade.
pub fn demo_product(id: &str, min_grade: Grade) -> Product {
    Product {
        id: id.to_owned(),
        scheme: Scheme::Gs1,
        key: demo_gtin(id),
        name: "Demo widget".into(),
        category: "household electrical appliance".into(),
        model: "DW-1".into(),
        mandatory_standard: "GB 4706.1-2005".into(),
        licence_no: None,
        ccc_cert_no: Some("2024010701000001".into()),
        warranty_months: Some(12),
        retention_years: 3,
        serial_alphabet: SerialAlphabet::Safe,
        serial_length: 10,
        pack_sizes: vec![10, 40],
        min_grade,
    }
}

/// The GTIN of demo product `id`: [`DEMO_GTIN`] for `demo-widget`; for any other id, GS1's
/// example company prefix 9506000 with an item reference drawn from the id (FNV-1a), never the
/// demo's. A store holds one product per GTIN, and several simulated lines on one store each
/// bring the product their config names (docs/plant.md "Many controllers on one PostgreSQL"):
/// with one GTIN for all, the second product would be refused. The same id always gets the
/// same GTIN, so two controllers adding the same product at once agree on it.
pub fn demo_gtin(id: &str) -> String {
    let item = if id == DEMO_PRODUCT_ID {
        DEMO_ITEM_REFERENCE
    } else {
        let drawn = fnv1a(id.as_bytes()) % ITEM_REFERENCES;
        if drawn == DEMO_ITEM_REFERENCE {
            (drawn + 1) % ITEM_REFERENCES
        } else {
            drawn
        }
    };
    let body = format!("09506000{item:05}");
    // `body` is 13 ASCII digits, so the check digit always exists.
    let check = mod10_check_digit(body.as_bytes()).map_or('0', char::from);
    format!("{body}{check}")
}

/// FNV-1a, 64 bits: a stable hash (std's `DefaultHasher` may change between Rust releases,
/// and a product's GTIN must not).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracemark_codes::gs1::Gtin;

    #[test]
    fn the_demo_product_keeps_gs1s_example_gtin() {
        assert_eq!(demo_gtin("demo-widget"), DEMO_GTIN);
        assert_eq!(demo_product("demo-widget", Grade::C).key, DEMO_GTIN);
    }

    #[test]
    fn other_products_get_valid_distinct_stable_gtins() {
        let ids = [
            "bv-2.5-coil",
            "serum-30ml",
            "mcb-c16",
            "ac-unit-35",
            "pharma-carton",
            "widget-b",
        ];
        let gtins: Vec<String> = ids.iter().map(|id| demo_gtin(id)).collect();
        for (id, gtin) in ids.iter().zip(&gtins) {
            assert!(
                Gtin::parse(gtin).is_ok(),
                "{id}: {gtin} is not a valid GTIN"
            );
            assert!(gtin.starts_with("09506000"), "{gtin}");
            assert_ne!(gtin, DEMO_GTIN, "{id}");
            assert_eq!(&demo_gtin(id), gtin, "{id}: the same id, the same GTIN");
        }
        let distinct: std::collections::BTreeSet<&String> = gtins.iter().collect();
        assert_eq!(distinct.len(), ids.len(), "{gtins:?}");
        // Pinned: a product's GTIN must not change between releases.
        assert_eq!(demo_gtin("bv-2.5-coil"), "09506000356495");
        assert_eq!(demo_gtin("widget-c"), "09506000986579");
    }
}
