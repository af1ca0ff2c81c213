//! The domain vocabulary, defined once: code and batch states, reject reasons, grades, coding
//! schemes and serial alphabets. Each type maps to the text the store keeps (and the API, the
//! exports and the HMI show) in exactly one place, its `as_str`/`FromStr` pair; nothing else in
//! the workspace spells `"late"` or `"gate_fault"`.
//!
//! The words are SPEC §3's (states, reasons), ISO/IEC 15415 §7's (grades) and SPEC §4's (schemes).

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

pub use tracemark_codes::serial::Alphabet as SerialAlphabet;

use super::StoreError;

/// Parses `text` as one of `all`, or says which texts are allowed.
fn one_of<T: Copy>(
    field: &'static str,
    text: &str,
    all: &[T],
    name: impl Fn(T) -> &'static str,
) -> Result<T, StoreError> {
    all.iter()
        .copied()
        .find(|v| name(*v) == text)
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|v| name(*v)).collect();
            StoreError::invalid(
                field,
                format!("{text:?} is not one of {}", names.join(", ")),
            )
        })
}

/// Unit code states (SPEC §3). Transitions only go forward; see [`CodeState::can_become`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
                // SPEC §3a rework (remove, replace, unpack): a unit taken out of its carton is
                // verified again, and may be packed again. Only the package operations make this
                // change (they clear the unit's link in the same statement); `Store::transition`
                // refuses it.
                | (Packed, Verified)
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

/// States of a batch: created → running ⇄ paused → closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

/// The level of a logistic package (SPEC §3a): units go into cartons, cartons onto pallets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PackageLevel {
    /// Holds units.
    Carton,
    /// Holds cartons.
    Pallet,
}

impl PackageLevel {
    /// Both levels, innermost first (the order of a product's `pack_sizes`).
    pub const ALL: [PackageLevel; 2] = [PackageLevel::Carton, PackageLevel::Pallet];

    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            PackageLevel::Carton => "carton",
            PackageLevel::Pallet => "pallet",
        }
    }

    /// The index of this level in a product's `pack_sizes` (units per carton, cartons per
    /// pallet).
    pub const fn pack_size_index(self) -> usize {
        match self {
            PackageLevel::Carton => 0,
            PackageLevel::Pallet => 1,
        }
    }
}

impl FromStr for PackageLevel {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        one_of("level", s, &PackageLevel::ALL, PackageLevel::as_str)
    }
}

impl fmt::Display for PackageLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// States of a carton or pallet (SPEC §3: `allocated → labelled → verified → closed →
/// palletised → shipped`, `closed → reopened → closed` for rework).
///
/// Until the label printer exists (issue 14 item 3) the label steps are optional: a package may
/// go `allocated → closed` directly. A package never used (batch end) is `voided`. A carton
/// taken off its pallet in rework goes `palletised → closed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PackageState {
    /// Its SSCC is allocated; nothing printed yet.
    Allocated,
    /// Its label is printed.
    Labelled,
    /// Its label was read back as its SSCC.
    Verified,
    /// Full (or closed short); its content is final.
    Closed,
    /// Opened again for rework (remove, replace units).
    Reopened,
    /// A carton on a pallet.
    Palletised,
    /// Shipped.
    Shipped,
    /// Never used: its SSCC stays recorded and is never issued again.
    Voided,
}

impl PackageState {
    /// Every package state, in life-cycle order.
    pub const ALL: [PackageState; 8] = [
        PackageState::Allocated,
        PackageState::Labelled,
        PackageState::Verified,
        PackageState::Closed,
        PackageState::Reopened,
        PackageState::Palletised,
        PackageState::Shipped,
        PackageState::Voided,
    ];

    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            PackageState::Allocated => "allocated",
            PackageState::Labelled => "labelled",
            PackageState::Verified => "verified",
            PackageState::Closed => "closed",
            PackageState::Reopened => "reopened",
            PackageState::Palletised => "palletised",
            PackageState::Shipped => "shipped",
            PackageState::Voided => "voided",
        }
    }

    /// Whether a package may go from `self` to `to` (SPEC §3; see the type's notes).
    pub fn can_become(self, to: PackageState) -> bool {
        use PackageState::*;
        matches!(
            (self, to),
            (Allocated, Labelled)
                | (Labelled, Verified)
                // A label printed again (a reprint, or a new count after rework).
                | (Verified | Reopened, Labelled)
                | (Verified, Closed)
                // No label printer yet (issue 14 item 3): closing without a label.
                | (Allocated, Closed)
                | (Allocated | Labelled, Voided)
                | (Closed, Palletised | Reopened | Shipped)
                | (Reopened, Closed)
                // Rework of a pallet: the carton comes off it, closed as it was.
                | (Palletised, Closed | Shipped)
        )
    }

    /// Whether children may go in or out: the package is not closed yet, or reopened.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            PackageState::Allocated
                | PackageState::Labelled
                | PackageState::Verified
                | PackageState::Reopened
        )
    }
}

impl FromStr for PackageState {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        one_of("state", s, &PackageState::ALL, PackageState::as_str)
    }
}

impl fmt::Display for PackageState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a unit is rejected (SPEC §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// The camera read nothing.
    NoRead,
    /// Read, but graded below the product's minimum.
    LowGrade,
    /// Read a valid code of this batch that is not the one expected on this unit.
    Mismatch,
    /// Read something that is not a code of this batch.
    Unknown,
    /// Read a code already verified on another unit (a double print or a copy).
    Duplicate,
    /// No result before the unit reached the gate.
    Late,
    /// The gate did not confirm.
    GateFault,
}

impl RejectReason {
    /// All reasons, in SPEC order.
    pub const ALL: [RejectReason; 7] = [
        RejectReason::NoRead,
        RejectReason::LowGrade,
        RejectReason::Mismatch,
        RejectReason::Unknown,
        RejectReason::Duplicate,
        RejectReason::Late,
        RejectReason::GateFault,
    ];

    /// The stored name (`no_read`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            RejectReason::NoRead => "no_read",
            RejectReason::LowGrade => "low_grade",
            RejectReason::Mismatch => "mismatch",
            RejectReason::Unknown => "unknown",
            RejectReason::Duplicate => "duplicate",
            RejectReason::Late => "late",
            RejectReason::GateFault => "gate_fault",
        }
    }
}

impl FromStr for RejectReason {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        one_of("reason", s, &RejectReason::ALL, RejectReason::as_str)
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An ISO/IEC 15415 overall symbol grade, `A` (best) to `F` (fail).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Grade {
    /// 0.0–0.5: fail.
    F,
    /// 0.5–1.5.
    D,
    /// 1.5–2.5.
    C,
    /// 2.5–3.5.
    B,
    /// 3.5–4.0.
    A,
}

impl Grade {
    /// `A`–`D`, `F` (case-insensitive), or the numeric grade 0–4 of ISO/IEC 15415 §7.
    pub fn parse(text: &str) -> Option<Grade> {
        match text.trim().to_ascii_uppercase().as_str() {
            "A" | "4" => Some(Grade::A),
            "B" | "3" => Some(Grade::B),
            "C" | "2" => Some(Grade::C),
            "D" | "1" => Some(Grade::D),
            "F" | "E" | "0" => Some(Grade::F),
            _ => None,
        }
    }

    /// A numeric grade (0.0–4.0) rounded to its letter (ISO/IEC 15415 §7.1 grade boundaries).
    pub fn from_number(value: f64) -> Option<Grade> {
        match value {
            v if (3.5..=4.0).contains(&v) => Some(Grade::A),
            v if (2.5..3.5).contains(&v) => Some(Grade::B),
            v if (1.5..2.5).contains(&v) => Some(Grade::C),
            v if (0.5..1.5).contains(&v) => Some(Grade::D),
            v if (0.0..0.5).contains(&v) => Some(Grade::F),
            _ => None,
        }
    }

    /// The stored letter.
    pub const fn as_str(self) -> &'static str {
        match self {
            Grade::A => "A",
            Grade::B => "B",
            Grade::C => "C",
            Grade::D => "D",
            Grade::F => "F",
        }
    }

    /// A product's minimum grade: `A`–`D` (a minimum of `F` would pass every print).
    pub fn parse_minimum(text: &str) -> Result<Grade, StoreError> {
        match text {
            "A" => Ok(Grade::A),
            "B" => Ok(Grade::B),
            "C" => Ok(Grade::C),
            "D" => Ok(Grade::D),
            _ => Err(StoreError::invalid(
                "min_grade",
                format!("{text:?} is not A, B, C or D (ISO/IEC 15415)"),
            )),
        }
    }
}

impl fmt::Display for Grade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The coding scheme of a product's unit codes (SPEC §4, seed 000 annex 3). Only GS1 is issued so
/// far; Ecode, digital-identity and template products are parsed by `tracemark-codes` and join
/// here when the store issues them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scheme {
    /// GS1: a GTIN (AI 01) and a serial (AI 21), stored as the HRI `(01)…(21)…`.
    Gs1,
}

impl Scheme {
    /// Every scheme the store issues.
    pub const ALL: [Scheme; 1] = [Scheme::Gs1];

    /// The stored name, as `tracemark_codes::scheme::ParsedCode::scheme` spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scheme::Gs1 => "gs1",
        }
    }

    /// The stored text of the code with product key `key` and serial `serial` (GS1: the HRI
    /// `(01)GTIN(21)SERIAL`, GS1 General Specifications §3.2: HRI in parentheses).
    pub fn code_text(self, key: &str, serial: &str) -> String {
        match self {
            Scheme::Gs1 => format!("(01){key}(21){serial}"),
        }
    }

    /// The scheme, product key and serial of a code text, when it is a code of a scheme the
    /// store issues. The text is recognised by `tracemark_codes::scheme::parse_any`, so nothing
    /// here cuts a code at fixed markers.
    pub fn parts_of(code: &str) -> Option<CodeParts> {
        use tracemark_codes::scheme::{ParsedCode, SchemeOptions, parse_any};
        match parse_any(code, &SchemeOptions::default()).ok()? {
            ParsedCode::Gs1(scan) => {
                let key = scan.code.gtin()?.to_owned();
                let serial = scan.code.serial()?.to_owned();
                Some(CodeParts {
                    scheme: Scheme::Gs1,
                    key,
                    serial,
                })
            }
            ParsedCode::Ecode(_) | ParsedCode::DigitalIdentity(_) | ParsedCode::Template(_) => None,
        }
    }
}

impl FromStr for Scheme {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        Scheme::ALL
            .iter()
            .copied()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| {
                StoreError::invalid("scheme", format!("{s:?} is not supported (supported: gs1)"))
            })
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A code text taken apart by its scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeParts {
    /// The scheme.
    pub scheme: Scheme,
    /// The product key within the scheme (GS1: the GTIN).
    pub key: String,
    /// The serial that identifies the unit within the product.
    pub serial: String,
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
        // Rework takes a unit out of its carton (SPEC §3a).
        assert!(Packed.can_become(Verified));
        assert!(!Shipped.can_become(Verified));
        for state in CODE_STATES {
            assert!(!state.can_become(state), "{state} → {state}");
            assert!(!state.can_become(Reserved), "{state} → reserved");
            assert_eq!(state.as_str().parse::<CodeState>().ok(), Some(state));
        }
    }

    #[test]
    fn package_states_follow_spec_3() {
        use PackageState::*;
        for (from, to) in [
            (Allocated, Labelled),
            (Labelled, Verified),
            (Verified, Closed),
            (Allocated, Closed),
            (Closed, Reopened),
            (Reopened, Closed),
            (Closed, Palletised),
            (Palletised, Shipped),
            (Labelled, Voided),
        ] {
            assert!(from.can_become(to), "{from} → {to}");
        }
        for (from, to) in [
            (Closed, Allocated),
            (Closed, Voided),
            (Verified, Voided),
            (Reopened, Palletised),
            (Shipped, Reopened),
            (Voided, Allocated),
        ] {
            assert!(!from.can_become(to), "{from} → {to}");
        }
        for state in PackageState::ALL {
            assert!(!state.can_become(state), "{state} → {state}");
            assert_eq!(state.as_str().parse::<PackageState>().ok(), Some(state));
            assert_eq!(
                state.is_open(),
                matches!(state, Allocated | Labelled | Verified | Reopened)
            );
        }
        for level in PackageLevel::ALL {
            assert_eq!(level.as_str().parse::<PackageLevel>().ok(), Some(level));
        }
        assert!("case".parse::<PackageLevel>().is_err());
    }

    #[test]
    fn every_word_reads_back_from_its_stored_text() {
        for reason in RejectReason::ALL {
            assert_eq!(reason.as_str().parse::<RejectReason>().ok(), Some(reason));
        }
        let err = "smudged".parse::<RejectReason>().map(|_| ()).unwrap_err();
        assert!(err.to_string().contains("gate_fault"), "{err}");
        for state in [
            BatchState::Created,
            BatchState::Running,
            BatchState::Paused,
            BatchState::Closed,
        ] {
            assert_eq!(state.as_str().parse::<BatchState>().ok(), Some(state));
        }
        for grade in [Grade::A, Grade::B, Grade::C, Grade::D, Grade::F] {
            assert_eq!(Grade::parse(grade.as_str()), Some(grade));
        }
        assert!(Grade::parse_minimum("F").is_err());
        assert_eq!("gs1".parse::<Scheme>().ok(), Some(Scheme::Gs1));
        assert!("ecode".parse::<Scheme>().is_err());
    }

    #[test]
    fn code_parts_come_from_the_scheme_parser() {
        let parts = Scheme::parts_of("(01)09506000134352(21)A1B2").expect("a GS1 HRI");
        assert_eq!(parts.scheme, Scheme::Gs1);
        assert_eq!(parts.key, "09506000134352");
        assert_eq!(parts.serial, "A1B2");
        // A bad check digit, a GTIN without a serial and an Ecode are no codes of this store.
        assert_eq!(Scheme::parts_of("(01)09506000134353(21)A1"), None);
        assert_eq!(Scheme::parts_of("(01)09506000134352"), None);
        assert_eq!(Scheme::parts_of("10012345678901234567890123"), None);
    }
}
