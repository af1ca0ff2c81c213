//! `tracemark product import FILE.toml|FILE.csv`: many products at once, all or none.
//!
//! TOML: `[[product]]` tables; CSV: a header row. Keys are those of `product add`
//! (`id gtin name category model standard licence ccc warranty_months retention_years
//! serial_alphabet serial_length pack_sizes`); unknown keys are refused.

use std::path::Path;

use serde::Deserialize;
use tracemark::store::model::{
    DEFAULT_MIN_GRADE, DEFAULT_RETENTION_YEARS, DEFAULT_SERIAL_ALPHABET, DEFAULT_SERIAL_LENGTH,
    SCHEME_GS1,
};
use tracemark::store::{Product, Store, StoreError, parse_pack_sizes};

use super::CliError;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProduct {
    id: String,
    gtin: String,
    name: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    standard: String,
    #[serde(default)]
    licence: Option<String>,
    #[serde(default)]
    ccc: Option<String>,
    #[serde(default)]
    warranty_months: Option<u32>,
    #[serde(default)]
    retention_years: Option<u32>,
    #[serde(default)]
    serial_alphabet: Option<String>,
    #[serde(default)]
    serial_length: Option<u32>,
    /// `10,40`, as for `product add --pack-sizes`.
    #[serde(default)]
    pack_sizes: Option<String>,
    /// Lowest accepted print grade, `A`–`D` (default `C`).
    #[serde(default)]
    min_grade: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlFile {
    product: Vec<RawProduct>,
}

impl RawProduct {
    fn into_product(self) -> Result<Product, StoreError> {
        let empty_none = |v: Option<String>| v.filter(|s| !s.is_empty());
        Ok(Product {
            pack_sizes: parse_pack_sizes(self.pack_sizes.as_deref().unwrap_or(""))?,
            id: self.id,
            scheme: SCHEME_GS1.to_owned(),
            key: self.gtin,
            name: self.name,
            category: self.category,
            model: self.model,
            mandatory_standard: self.standard,
            licence_no: empty_none(self.licence),
            ccc_cert_no: empty_none(self.ccc),
            warranty_months: self.warranty_months,
            retention_years: self.retention_years.unwrap_or(DEFAULT_RETENTION_YEARS),
            serial_alphabet: empty_none(self.serial_alphabet)
                .unwrap_or_else(|| DEFAULT_SERIAL_ALPHABET.to_owned()),
            serial_length: self.serial_length.unwrap_or(DEFAULT_SERIAL_LENGTH),
            min_grade: empty_none(self.min_grade).unwrap_or_else(|| DEFAULT_MIN_GRADE.to_owned()),
        })
    }
}

fn read(path: &Path) -> Result<Vec<RawProduct>, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::input("file", format!("{}: {e}", path.display())))?;
    match path.extension().and_then(|e| e.to_str()) {
        Some("toml") => toml::from_str::<TomlFile>(&text)
            .map(|f| f.product)
            .map_err(|e| {
                let reason = e.to_string().replace('\n', " ");
                CliError::input("file", format!("{}: {}", path.display(), reason.trim()))
            }),
        Some("csv") => {
            let mut reader = csv::ReaderBuilder::new()
                .trim(csv::Trim::All)
                .from_reader(text.as_bytes());
            reader
                .deserialize()
                .enumerate()
                .map(|(i, row)| {
                    row.map_err(|e| {
                        CliError::input("file", format!("{} row {}: {e}", path.display(), i + 2))
                    })
                })
                .collect()
        }
        _ => Err(CliError::input(
            "file",
            format!("{}: expected a .toml or .csv file", path.display()),
        )),
    }
}

/// Validates every product first and reports every problem; adds them only if there is none.
pub(crate) async fn import(store: &Store, path: &Path) -> Result<usize, CliError> {
    let raw = read(path)?;
    let existing: Vec<Product> = store.products().await?;
    let mut problems = Vec::new();
    let mut products = Vec::new();
    for (i, raw) in raw.into_iter().enumerate() {
        let at = format!("product[{i}] ({})", raw.id);
        let mut product = match raw.into_product() {
            Ok(product) => product,
            Err(err) => {
                problems.push(format!("{at}.{err}"));
                continue;
            }
        };
        match product.validate() {
            Err(err) => problems.push(format!("{at}.{err}")),
            Ok(()) => {
                let clash = existing.iter().chain(&products).find(|p: &&Product| {
                    p.id == product.id || (p.scheme == product.scheme && p.key == product.key)
                });
                match clash {
                    Some(p) if p.id == product.id => {
                        problems.push(format!("{at}.id: product {} already exists", p.id));
                    }
                    Some(p) => {
                        problems.push(format!("{at}.gtin: {} is already product {}", p.key, p.id))
                    }
                    None => products.push(product),
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(CliError::input(
            "file",
            format!(
                "{}: nothing imported: {}",
                path.display(),
                problems.join("; ")
            ),
        ));
    }
    for product in &products {
        store.add_product(product).await?;
    }
    Ok(products.len())
}
