//! `tracemark product import FILE.toml|FILE.csv`: many products at once, all or none.
//!
//! TOML: `[[product]]` tables; CSV: a header row. Keys are those of `product add`
//! (`id gtin name category model standard licence ccc warranty_months retention_years
//! serial_alphabet serial_length pack_sizes`); unknown keys are refused.

use std::path::Path;

use serde::Deserialize;
use tracemark::app::AppError;
use tracemark::app::products::ProductDraft;

use super::CliError;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlFile {
    product: Vec<ProductDraft>,
}

/// The products of a `.toml` or `.csv` file, as written (checked by `app::products::import`).
pub(crate) fn read(path: &Path) -> Result<Vec<ProductDraft>, CliError> {
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

/// An import refused by the application, named by the file it came from.
pub(crate) fn in_file(path: &Path, err: AppError) -> CliError {
    match err {
        AppError::Input { field, reason } if field == "file" => {
            CliError::input("file", format!("{}: {reason}", path.display()))
        }
        other => other.into(),
    }
}
