//! Master data, batches and code states, with the validation that runs before anything is stored.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use time::Date;
use time::macros::format_description;

use tracemark_codes::serial::Alphabet;

use super::StoreError;

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

/// The coding scheme of a product's unit codes (SPEC §4). Only GS1 is issued so far.
pub const SCHEME_GS1: &str = "gs1";

/// The serial alphabet unless a product says otherwise (a name of
/// [`tracemark_codes::serial::Alphabet`]: `digits`, `safe` or `crockford32`).
pub const DEFAULT_SERIAL_ALPHABET: &str = "digits";
/// The minimum print grade unless a product says otherwise (ISO/IEC 15415; GS1 asks for C or
/// better at the point of sale).
pub const DEFAULT_MIN_GRADE: &str = "C";
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
    /// Coding scheme, `gs1`.
    pub scheme: String,
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
    /// The alphabet serials are written in: `digits`, `safe` or `crockford32`
    /// ([`tracemark_codes::serial::Alphabet`]).
    pub serial_alphabet: String,
    /// Characters per serial.
    pub serial_length: u32,
    /// Units per package level, innermost first (e.g. `[10, 40]`: 10 units per carton, 40
    /// cartons per pallet); empty when not packed.
    pub pack_sizes: Vec<u32>,
    /// The lowest ISO/IEC 15415 grade (`A`–`D`) a print may have and pass verification.
    pub min_grade: String,
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
        if self.scheme != SCHEME_GS1 {
            return Err(StoreError::invalid(
                "scheme",
                format!("{:?} is not supported (supported: gs1)", self.scheme),
            ));
        }
        let gtin = tracemark_codes::gs1::Gtin::parse(&self.key)
            .map_err(|e| StoreError::invalid("gtin", e))?;
        self.key = gtin.as_str().to_owned();
        required("name", &self.name)?;
        if self.retention_years == 0 || self.retention_years > 100 {
            return Err(StoreError::invalid(
                "retention_years",
                format!("{} is not between 1 and 100", self.retention_years),
            ));
        }
        let alphabet = Alphabet::from_name(&self.serial_alphabet)
            .map_err(|e| StoreError::invalid("serial_alphabet", e.to_string()))?;
        if !["A", "B", "C", "D"].contains(&self.min_grade.as_str()) {
            return Err(StoreError::invalid(
                "min_grade",
                format!("{:?} is not A, B, C or D (ISO/IEC 15415)", self.min_grade),
            ));
        }
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

/// States of a batch: created → running ⇄ paused → closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchState {
    /// Registered, not started.
    Created,
    /// Producing.
    Running,
    /// Stopped for a while.
    Paused,
    /// Finished; unprinted codes are voided.
    Closed,
}

impl BatchState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            BatchState::Created => "created",
            BatchState::Running => "running",
            BatchState::Paused => "paused",
            BatchState::Closed => "closed",
        }
    }

    /// Whether a batch may go from `self` to `to`.
    pub fn can_become(self, to: BatchState) -> bool {
        use BatchState::*;
        matches!(
            (self, to),
            (Created, Running)
                | (Running, Paused)
                | (Paused, Running)
                | (Created | Running | Paused, Closed)
        )
    }
}

impl FromStr for BatchState {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "created" => BatchState::Created,
            "running" => BatchState::Running,
            "paused" => BatchState::Paused,
            "closed" => BatchState::Closed,
            other => {
                return Err(StoreError::corrupt(format!(
                    "unknown batch state {other:?}"
                )));
            }
        })
    }
}

impl fmt::Display for BatchState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A batch (lot) of one product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

/// Unit code states (SPEC §3). Transitions only go forward; see [`CodeState::can_become`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeState {
    /// Allocated to this controller, not yet sent to a marker.
    Reserved,
    /// In the marker's buffer.
    Sent,
    /// The marker confirmed the print.
    Printed,
    /// The camera read it with a good grade.
    Verified,
    /// Rejected at the gate (with a reason).
    Rejected,
    /// Packed into a carton.
    Packed,
    /// Shipped.
    Shipped,
    /// Never printed: buffer cleared or batch closed.
    Voided,
    /// A rejected unit destroyed (QA).
    Destroyed,
    /// A rejected unit re-checked and released (QA).
    Released,
    /// Taken as a sample.
    Sampled,
}

/// Every code state, in life-cycle order.
pub const CODE_STATES: [CodeState; 11] = [
    CodeState::Reserved,
    CodeState::Sent,
    CodeState::Printed,
    CodeState::Verified,
    CodeState::Rejected,
    CodeState::Packed,
    CodeState::Shipped,
    CodeState::Voided,
    CodeState::Destroyed,
    CodeState::Released,
    CodeState::Sampled,
];

impl CodeState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            CodeState::Reserved => "reserved",
            CodeState::Sent => "sent",
            CodeState::Printed => "printed",
            CodeState::Verified => "verified",
            CodeState::Rejected => "rejected",
            CodeState::Packed => "packed",
            CodeState::Shipped => "shipped",
            CodeState::Voided => "voided",
            CodeState::Destroyed => "destroyed",
            CodeState::Released => "released",
            CodeState::Sampled => "sampled",
        }
    }

    /// Whether a code may go from `self` to `to` (SPEC §3).
    pub fn can_become(self, to: CodeState) -> bool {
        use CodeState::*;
        matches!(
            (self, to),
            (Reserved, Sent)
                | (Reserved | Sent, Voided)
                | (Sent, Printed)
                | (Printed, Verified | Rejected)
                | (Verified, Packed | Sampled)
                | (Packed, Shipped)
                | (Rejected, Destroyed | Released)
        )
    }
}

impl FromStr for CodeState {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        CODE_STATES
            .iter()
            .copied()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| {
                StoreError::invalid(
                    "state",
                    format!(
                        "{s:?} is not a code state ({})",
                        CODE_STATES.map(|s| s.as_str()).join(", ")
                    ),
                )
            })
    }
}

impl fmt::Display for CodeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a unit was rejected (SPEC §3).
pub const REJECT_REASONS: [&str; 7] = [
    "no_read",
    "low_grade",
    "mismatch",
    "unknown",
    "duplicate",
    "late",
    "gate_fault",
];

/// One issued code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    /// Reject reason, for rejected codes.
    pub reason: Option<String>,
    /// The grade of the read the last decision was made on, if any.
    pub grade: Option<String>,
    /// The data that read decoded, if any.
    pub data: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_only_code_transitions() {
        use CodeState::*;
        assert!(Reserved.can_become(Sent));
        assert!(Sent.can_become(Voided));
        assert!(Printed.can_become(Rejected));
        assert!(!Printed.can_become(Voided));
        assert!(!Verified.can_become(Printed));
        assert!(!Shipped.can_become(Packed));
        for state in CODE_STATES {
            assert!(!state.can_become(state), "{state} → {state}");
            assert!(!state.can_become(Reserved), "{state} → reserved");
            assert_eq!(state.as_str().parse::<CodeState>().ok(), Some(state));
        }
    }

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
        };
        assert!(batch.validate().is_err());
        batch.production_date = "2025-02-28".into();
        assert!(batch.validate().is_ok());
        batch.expiry_date = Some("2025-01-01".into());
        let err = batch.validate().err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.starts_with("expiry:")));
    }
}
