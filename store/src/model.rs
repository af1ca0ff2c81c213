//! Master data, batches and code states, with the validation that runs before anything is stored.

use serde::Serialize;
use time::Date;
use time::macros::format_description;

use tracemark_codes::serial::Alphabet;

use crate::vocab::{BatchState, CodeState, Grade, RejectReason, Scheme, SerialAlphabet};

use super::{CodeRead, StoreError};

/// The producer (SPEC §1, fields `producer.*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Producer {
    /// 生产单位名称.
    pub name: String,
    /// 统一社会信用代码, 18 characters.
    pub uscc: String,
    /// 生产/注册地址.
    pub address: String,
    /// 联系方式.
    pub contact: String,
    /// 营业执照 (number or reference of the business licence).
    pub business_licence: String,
}

impl Producer {
    /// Checks every field; the first problem names its field.
    pub fn validate(&self) -> Result<(), StoreError> {
        required("name", &self.name)?;
        validate_uscc(&self.uscc)?;
        required("address", &self.address)?;
        required("contact", &self.contact)?;
        required("business_licence", &self.business_licence)?;
        Ok(())
    }
}

/// Checks a unified social credit code (GB 32100): 18 characters from its alphabet and the check
/// character (`tracemark_codes::uscc`).
pub fn validate_uscc(uscc: &str) -> Result<(), StoreError> {
    // GB 32100-2015: 18 characters of its alphabet, the last a check character over the first 17.
    tracemark_codes::uscc::Uscc::parse(uscc)
        .map(|_| ())
        .map_err(|e| StoreError::invalid("uscc", e.to_string()))
}

/// The serial alphabet unless a product says otherwise.
pub const DEFAULT_SERIAL_ALPHABET: SerialAlphabet = SerialAlphabet::Digits;
/// The minimum print grade unless a product says otherwise (ISO/IEC 15415; GS1 asks for C or
/// better at the point of sale).
pub const DEFAULT_MIN_GRADE: Grade = Grade::C;
/// The serial length unless a product says otherwise.
pub const DEFAULT_SERIAL_LENGTH: u32 = 12;
/// Years records are kept unless a product says otherwise (SPEC §1: at least 3 years for
/// custom products; seed 003 §8.5: lifetime + 1 year, at least 2).
pub const DEFAULT_RETENTION_YEARS: u32 = 3;

/// The smallest serial space FF1 may encrypt over (NIST SP 800-38G Rev. 1 §5.2: radix^length
/// of at least one million).
pub const FF1_MIN_DOMAIN: u128 = 1_000_000;

/// How many distinct serials `length` characters of `alphabet` give (`radix^length`, saturating).
pub fn serial_space(alphabet: Alphabet, length: u32) -> u128 {
    u128::from(alphabet.radix()).saturating_pow(length)
}

/// The most serials a product may issue: beyond it, a guessed serial would be a real one with
/// probability ≥ 1/10,000 (seed 003 §6.1.3 asks for codes that cannot be guessed; the limit is
/// the one of EU Delegated Regulation 2016/161 Art. 4(b), `tracemark_codes::serial` rule).
pub fn max_issuable(alphabet: Alphabet, length: u32) -> i64 {
    let space = serial_space(alphabet, length);
    let denominator = u128::from(tracemark_codes::serial::MAX_GUESS_DENOMINATOR);
    // issued / space < 1 / denominator  ⇔  issued ≤ (space − 1) / denominator.
    i64::try_from(space.saturating_sub(1) / denominator).unwrap_or(i64::MAX)
}

/// A product (SPEC §1, fields `product.*` that do not change per unit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Product {
    /// Short identifier used on the command line and in line configs.
    pub id: String,
    /// Coding scheme.
    pub scheme: Scheme,
    /// The scheme's product key: the 14-digit GTIN for `gs1`.
    pub key: String,
    /// 产品名称.
    pub name: String,
    /// 产品类型.
    pub category: String,
    /// 规格型号.
    pub model: String,
    /// 执行强制性国家标准, e.g. `GB 4706.1-2005`.
    pub mandatory_standard: String,
    /// 生产许可证号, where applicable.
    pub licence_no: Option<String>,
    /// 强制性认证证书编号 (CCC), where applicable.
    pub ccc_cert_no: Option<String>,
    /// 质保期限 in months, where applicable.
    pub warranty_months: Option<u32>,
    /// How long the product's records are kept.
    pub retention_years: u32,
    /// The alphabet serials are written in.
    pub serial_alphabet: SerialAlphabet,
    /// Characters per serial.
    pub serial_length: u32,
    /// Units per package level, innermost first (e.g. `[10, 40]`: 10 units per carton, 40
    /// cartons per pallet); empty when not packed.
    pub pack_sizes: Vec<u32>,
    /// The lowest ISO/IEC 15415 grade (`A`–`D`) a print may have and pass verification.
    pub min_grade: Grade,
}

/// The stored form of pack sizes: `10,40`.
pub fn format_pack_sizes(sizes: &[u32]) -> String {
    sizes
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses pack sizes written as `10,40` (empty: none); each must be at least 1.
pub fn parse_pack_sizes(text: &str) -> Result<Vec<u32>, StoreError> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|part| match part.trim().parse::<u32>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(StoreError::invalid(
                "pack_sizes",
                format!("{part:?} is not a whole number of at least 1 (write e.g. 10,40)"),
            )),
        })
        .collect()
}

/// The characters GS1 allows in AI (21) (GS1 General Specifications §7.11, character set 82).
const GS1_CSET82: &str =
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

impl Product {
    /// Normalises the key and checks every field; the first problem names its field.
    pub fn validate(&mut self) -> Result<(), StoreError> {
        if self.id.is_empty()
            || self.id.len() > 64
            || !self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(StoreError::invalid(
                "id",
                format!(
                    "{:?} must be 1 to 64 characters from A-Z a-z 0-9 - _ .",
                    self.id
                ),
            ));
        }
        self.key = match self.scheme {
            Scheme::Gs1 => tracemark_codes::gs1::Gtin::parse(&self.key)
                .map_err(|e| StoreError::invalid("gtin", e))?
                .as_str()
                .to_owned(),
        };
        required("name", &self.name)?;
        if self.retention_years == 0 || self.retention_years > 100 {
            return Err(StoreError::invalid(
                "retention_years",
                format!("{} is not between 1 and 100", self.retention_years),
            ));
        }
        let alphabet = self.serial_alphabet;
        Grade::parse_minimum(self.min_grade.as_str())?;
        if self.pack_sizes.len() > 4 || self.pack_sizes.contains(&0) {
            return Err(StoreError::invalid(
                "pack_sizes",
                "at most 4 levels, each of at least 1 unit",
            ));
        }
        if !(1..=20).contains(&self.serial_length) {
            return Err(StoreError::invalid(
                "serial_length",
                format!("{} is not between 1 and 20 (AI 21)", self.serial_length),
            ));
        }
        let space = serial_space(alphabet, self.serial_length);
        if space < FF1_MIN_DOMAIN {
            return Err(StoreError::invalid(
                "serial_length",
                format!(
                    "{} {} characters give {space} serials; FF1 needs at least {FF1_MIN_DOMAIN} \
                     (NIST SP 800-38G Rev. 1 §5.2), so serials would be guessable",
                    self.serial_length,
                    alphabet.name()
                ),
            ));
        }
        Ok(())
    }
}

fn required(field: &'static str, value: &str) -> Result<(), StoreError> {
    if value.trim().is_empty() {
        return Err(StoreError::invalid(field, "must not be empty"));
    }
    Ok(())
}

/// Parses an ISO 8601 calendar date `YYYY-MM-DD`.
pub fn parse_date(field: &'static str, text: &str) -> Result<Date, StoreError> {
    Date::parse(text, format_description!("[year]-[month]-[day]"))
        .map_err(|e| StoreError::invalid(field, format!("{text:?} is not a date YYYY-MM-DD ({e})")))
}

/// A batch (lot) of one product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Batch {
    /// Store-assigned number.
    pub id: i64,
    /// The product made.
    pub product_id: String,
    /// 批次号, GS1 AI (10).
    pub lot: String,
    /// Planned number of units.
    pub quantity: i64,
    /// 生产日期, `YYYY-MM-DD`.
    pub production_date: String,
    /// Expiry date, `YYYY-MM-DD`, where applicable.
    pub expiry_date: Option<String>,
    /// The line producing it.
    pub line: Option<String>,
    /// Current state.
    pub state: BatchState,
    /// When it was registered (RFC 3339).
    pub created_at: String,
    /// When it was closed (RFC 3339).
    pub closed_at: Option<String>,
    /// Made by `tracemark simulate` or `tracemark demo` against the line's twin, not by the
    /// plant: reports, the HMI and the public lookup say so. Still exported and delivered like
    /// any batch, so an ERP link can be tested end to end.
    pub simulated: bool,
    /// The user who first set it running: the one who may not release it (SPEC §8, four
    /// eyes). `None` before it ran, or when it started before this was recorded.
    pub started_by: Option<String>,
    /// The QA user who released it (closed and balanced), when released.
    pub released_by: Option<String>,
    /// When it was released (RFC 3339).
    pub released_at: Option<String>,
}

/// What `batch create` is given.
#[derive(Debug, Clone)]
pub struct NewBatch {
    /// The product made.
    pub product_id: String,
    /// 批次号.
    pub lot: String,
    /// Planned number of units.
    pub quantity: i64,
    /// `YYYY-MM-DD`.
    pub production_date: String,
    /// `YYYY-MM-DD`, not before the production date.
    pub expiry_date: Option<String>,
    /// The line producing it.
    pub line: Option<String>,
    /// Made against the twin (`simulate`, `demo`), not by the plant.
    pub simulated: bool,
}

impl NewBatch {
    /// Checks every field; the first problem names its field.
    pub fn validate(&self) -> Result<(), StoreError> {
        let lot_ok = !self.lot.is_empty()
            && self.lot.chars().count() <= 20
            && self.lot.chars().all(|c| GS1_CSET82.contains(c));
        if !lot_ok {
            return Err(StoreError::invalid(
                "lot",
                format!(
                    "{:?} must be 1 to 20 characters allowed in GS1 AI (10)",
                    self.lot
                ),
            ));
        }
        if self.quantity <= 0 {
            return Err(StoreError::invalid(
                "quantity",
                format!("{} is not a positive number", self.quantity),
            ));
        }
        let produced = parse_date("production_date", &self.production_date)?;
        if let Some(expiry) = &self.expiry_date {
            let expiry = parse_date("expiry", expiry)?;
            if expiry < produced {
                return Err(StoreError::invalid(
                    "expiry",
                    format!(
                        "{expiry} is before the production date {}",
                        self.production_date
                    ),
                ));
            }
        }
        if let Some(line) = &self.line {
            required("line", line)?;
        }
        Ok(())
    }
}

/// One issued code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CodeRecord {
    /// The product.
    pub product_id: String,
    /// The serial counter it was made from.
    pub counter: i64,
    /// The code text (GS1 HRI), unique in the store.
    pub code: String,
    /// The serial inside the code.
    pub serial: String,
    /// The batch it belongs to, if any.
    pub batch_id: Option<i64>,
    /// Current state.
    pub state: CodeState,
    /// Reject reason: for rejected codes, and kept through destroyed and released.
    pub reason: Option<RejectReason>,
    /// The grade of the read the line's decision was made on, if any (kept through destroyed
    /// and released).
    pub grade: Option<Grade>,
    /// The data that read decoded, if any.
    pub data: Option<String>,
    /// QA's re-scan that released the unit, if it was released.
    pub release_read: Option<CodeRead>,
    /// The SSCC of the carton it is packed in (SPEC §3a), if it is.
    pub package: Option<String>,
}

/// Who settled a reject (destroyed or released it) and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Settlement {
    /// The code.
    pub code: String,
    /// The user of the event that settled it.
    pub by: String,
    /// When (RFC 3339).
    pub at: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uscc_length_and_charset() {
        assert!(validate_uscc("91350100M000100Y43").is_ok());
        assert!(validate_uscc("91350100M000100Y4").is_err());
        assert!(validate_uscc("91350100M000100YI3").is_err());
        // Right length and alphabet, wrong check character.
        assert!(validate_uscc("91350100M000100Y44").is_err());
    }

    #[test]
    fn batch_dates_are_checked() {
        let mut batch = NewBatch {
            product_id: "p".into(),
            lot: "L1".into(),
            quantity: 10,
            production_date: "2025-02-30".into(),
            expiry_date: None,
            line: None,
            simulated: false,
        };
        assert!(batch.validate().is_err());
        batch.production_date = "2025-02-28".into();
        assert!(batch.validate().is_ok());
        batch.expiry_date = Some("2025-01-01".into());
        let err = batch.validate().err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.starts_with("expiry:")));
    }
}
