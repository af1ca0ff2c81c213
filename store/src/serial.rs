//! The boundary between serial counters (what the store allocates) and serial text (what is
//! printed): AES-256 FF1 of the counter under the product's own key, with the product key (the
//! GTIN) as tweak (`tracemark_codes::serial`, SPEC §4), so that serials are unique by
//! construction and cannot be guessed from one another (seed 003 §6.1.3).
//!
//! Each product gets a random 256-bit key when it is added (table `product_keys`). The key is
//! stored with the codes it protects: whoever can read the store can read every issued code
//! anyway, so the key adds no exposure there, while it keeps outsiders who only see printed
//! serials from predicting the next ones. Backups carry the keys; several controllers sharing
//! one PostgreSQL share them.

use sha2::Digest;
use tracemark_codes::serial::SerialGenerator;

use super::{Product, StoreError};

/// Length of a serial key in bytes (AES-256).
pub const KEY_LEN: usize = 32;

/// A fresh serial key from the operating system's random source.
pub fn new_key() -> Result<[u8; KEY_LEN], StoreError> {
    let mut key = [0u8; KEY_LEN];
    getrandom::fill(&mut key)
        .map_err(|e| StoreError::Corrupt(format!("no random source for a serial key: {e}")))?;
    Ok(key)
}

/// The name a key goes by in events and reports: the first 16 hex digits of its SHA-256, so the
/// key itself never appears in the log.
pub fn key_id(key: &[u8; KEY_LEN]) -> String {
    let digest = hex::encode(sha2::Sha256::digest(key));
    digest[..16].to_owned()
}

/// Decodes a key stored as hex.
pub fn key_from_hex(product_id: &str, text: &str) -> Result<[u8; KEY_LEN], StoreError> {
    let mut key = [0u8; KEY_LEN];
    hex::decode_to_slice(text.trim(), &mut key).map_err(|e| {
        StoreError::Corrupt(format!(
            "the serial key of product {product_id} is damaged: {e}"
        ))
    })?;
    Ok(key)
}

/// The serial generator of `product` under `key`.
pub fn generator(product: &Product, key: &[u8; KEY_LEN]) -> Result<SerialGenerator, StoreError> {
    SerialGenerator::new(
        key,
        product.key.as_bytes(),
        product.serial_alphabet,
        product.serial_length as usize,
    )
    .map_err(|e| StoreError::invalid("serial_length", e.to_string()))
}

/// The GS1 code text (HRI) of a unit: GTIN and serial.
pub fn gs1_code(gtin: &str, serial: &str) -> String {
    crate::Scheme::Gs1.code_text(gtin, serial)
}

/// The codes of a product's serial counters, as the store issues them: what a controller that
/// holds a block needs to issue from it while the store cannot be reached (issue 18), and
/// what the store itself issues with — so the two always agree.
#[derive(Debug)]
pub struct SerialIssuer {
    product: Product,
    serials: SerialGenerator,
}

impl SerialIssuer {
    /// The issuer of `product` under its serial key.
    pub fn new(product: Product, key: &[u8; KEY_LEN]) -> Result<SerialIssuer, StoreError> {
        let serials = generator(&product, key)?;
        Ok(SerialIssuer { product, serials })
    }

    /// The product.
    pub fn product(&self) -> &Product {
        &self.product
    }

    /// The serials and the code texts of counters `first..end`, in counter order.
    pub fn codes(&self, first: i64, end: i64) -> Result<(Vec<String>, Vec<String>), StoreError> {
        let count = usize::try_from(end - first).unwrap_or(0);
        let mut serials = Vec::with_capacity(count);
        let mut codes = Vec::with_capacity(count);
        for counter in first..end {
            let counter = u64::try_from(counter)
                .map_err(|_| StoreError::Corrupt(format!("negative serial counter {counter}")))?;
            let serial = self
                .serials
                .serial(counter)
                .map_err(|e| StoreError::invalid("count", e.to_string()))?;
            codes.push(gs1_code(&self.product.key, &serial));
            serials.push(serial);
        }
        Ok((serials, codes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracemark_codes::serial::Alphabet;

    fn product(alphabet: Alphabet, length: u32) -> Product {
        Product {
            id: "p".into(),
            scheme: crate::Scheme::Gs1,
            key: "09506000134352".into(),
            name: "n".into(),
            category: String::new(),
            model: String::new(),
            mandatory_standard: String::new(),
            licence_no: None,
            ccc_cert_no: None,
            warranty_months: None,
            retention_years: 3,
            serial_alphabet: alphabet,
            serial_length: length,
            pack_sizes: vec![],
            min_grade: crate::Grade::C,
        }
    }

    #[test]
    fn serials_are_ff1_of_the_counter_and_decrypt_back() {
        let key = [7u8; KEY_LEN];
        let serials = generator(&product(Alphabet::Digits, 12), &key).expect("generator");
        let first = serials.serial(0).expect("serial 0");
        let second = serials.serial(1).expect("serial 1");
        assert_eq!(first.len(), 12);
        assert_ne!(first, "000000000000", "a counter must not show through");
        assert_ne!(first, second);
        assert_eq!(serials.counter_of(&second).expect("decrypt"), 1);
        let other = generator(&product(Alphabet::Digits, 12), &[8u8; KEY_LEN]).expect("generator");
        assert_ne!(
            other.serial(0).expect("serial"),
            first,
            "the key changes every serial"
        );
    }

    #[test]
    fn keys_are_random_named_by_digest_and_round_trip_hex() {
        let a = new_key().expect("key");
        let b = new_key().expect("key");
        assert_ne!(a, b);
        assert_eq!(key_id(&a).len(), 16);
        assert_eq!(key_from_hex("p", &hex::encode(a)).expect("hex"), a);
        assert!(key_from_hex("p", "abc").is_err());
    }
}
