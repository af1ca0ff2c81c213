//! Ecode (物联网标识), GB/T 31866: code = version V + numbering-scheme identifier NSI + master
//! data MD.
//!
//! SAMR 2024 annex 3 §二 (seed 001) lists Ecode as a free trace-code scheme, marked as a digit
//! code, 2D code or RFID tag and resolved by the national Ecode platform. This module handles:
//!
//! - the **text form** (GB/T 31866-2015 §5): one version digit, a fixed-length NSI, a
//!   variable-length MD — `1` + `0001` + `20240000000001` for an Ecode-V1. Field lengths and
//!   character sets come from the single table [`table::ECODE_VERSIONS`]; V1 and V2 (decimal)
//!   are parsed and formatted, the others are listed with their sources but rejected as
//!   unsupported. The text form carries no check character (none is defined in the structure
//!   table; an NSI's own MD scheme may embed one).
//! - the **resolver URL form** ([`url`]): `https://<host>[/<prefix>]/E=<code>` as seen in public
//!   integrations with the platform (`www.iotroot.com`); the host and prefix are configurable.
//!   GB/T 35420 (Ecode in 2D codes) defines a URL data structure too, but no public copy of it
//!   was available; see `docs/codes/ecode.md`.

pub mod table;
pub mod url;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use table::{ECODE_VERSIONS, EcodeCharset, EcodeVersionSpec};
pub use url::{EcodeResolver, EcodeUrlError};

/// A validated Ecode in text form. Serializes as the text form and validates when deserialized.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Ecode {
    code: String,
    nsi_len: usize,
}

/// Which part of an Ecode an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcodeField {
    /// The version character V.
    Version,
    /// The numbering-scheme identifier NSI.
    Nsi,
    /// The master data MD.
    Md,
}

impl fmt::Display for EcodeField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EcodeField::Version => "version",
            EcodeField::Nsi => "nsi",
            EcodeField::Md => "md",
        })
    }
}

/// Why a string or field values do not make an Ecode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EcodeError {
    /// The input is empty.
    #[error("version: missing (the code is empty)")]
    Empty,
    /// The first character is not a version any source defines.
    #[error("version: position 1: {found:?} is not an Ecode version (1 or 2)")]
    UnknownVersion {
        /// The character found.
        found: char,
    },
    /// [`Ecode::new`] was given a version label no source defines.
    #[error("version: unknown Ecode version {label:?} (expected V1 or V2)")]
    UnknownLabel {
        /// The label given.
        label: String,
    },
    /// The version is known but this crate does not parse it.
    #[error("version: position 1: Ecode-{label} is not supported (only V1 and V2 are)")]
    UnsupportedVersion {
        /// The version label (`V3`).
        label: &'static str,
    },
    /// NSI shorter than its fixed length (the code ends early).
    #[error("nsi: Ecode-{label} needs {expected} characters, found {found}")]
    NsiLength {
        /// The version label.
        label: &'static str,
        /// The fixed NSI length.
        expected: usize,
        /// The number of NSI characters found.
        found: usize,
    },
    /// No master data after the NSI.
    #[error("md: missing (Ecode-{label} needs 1 to {max} characters after the NSI)")]
    MdEmpty {
        /// The version label.
        label: &'static str,
        /// The longest MD allowed.
        max: usize,
    },
    /// Master data longer than the version allows.
    #[error("md: Ecode-{label} allows at most {max} characters, found {found}")]
    MdTooLong {
        /// The version label.
        label: &'static str,
        /// The longest MD allowed.
        max: usize,
        /// The MD length found.
        found: usize,
    },
    /// A character outside the version's character set.
    #[error(
        "{field}: position {position}: {character:?} is not allowed (Ecode-{label}: {allowed})"
    )]
    Character {
        /// The field the character is in.
        field: EcodeField,
        /// 1-based position in the whole code.
        position: usize,
        /// The offending character.
        character: char,
        /// The version label.
        label: &'static str,
        /// The allowed characters.
        allowed: &'static str,
    },
}

impl Ecode {
    /// Parses the text form: V, then the NSI of the version's fixed length, then the MD.
    ///
    /// # Errors
    /// The first problem, naming the field and the 1-based position in `code`.
    pub fn parse(code: &str) -> Result<Self, EcodeError> {
        let v = code.chars().next().ok_or(EcodeError::Empty)?;
        let spec = supported_spec(v)?;
        let (nsi_len, md_max) = field_lengths(spec);
        for (index, character) in code.chars().enumerate().skip(1) {
            let field = if index <= nsi_len {
                EcodeField::Nsi
            } else {
                EcodeField::Md
            };
            check_char(spec, field, index + 1, character)?;
        }
        // Every character after V is ASCII now; V is an ASCII digit.
        let nsi_found = code.len().saturating_sub(1).min(nsi_len);
        if nsi_found < nsi_len {
            return Err(EcodeError::NsiLength {
                label: spec.label,
                expected: nsi_len,
                found: nsi_found,
            });
        }
        check_md_len(spec, code.len() - 1 - nsi_len, md_max)?;
        Ok(Ecode {
            code: code.to_owned(),
            nsi_len,
        })
    }

    /// Builds an Ecode from its fields, e.g. `Ecode::new("V1", "0001", "20240000000001")`.
    ///
    /// # Errors
    /// As [`Ecode::parse`]; positions count within the field given.
    pub fn new(version: &str, nsi: &str, md: &str) -> Result<Self, EcodeError> {
        let spec = table::spec_for_label(version).ok_or_else(|| EcodeError::UnknownLabel {
            label: version.to_owned(),
        })?;
        let v = spec
            .v_char
            .ok_or(EcodeError::UnsupportedVersion { label: spec.label })?;
        let spec = supported_spec(v)?;
        let (nsi_len, md_max) = field_lengths(spec);
        for (field, value) in [(EcodeField::Nsi, nsi), (EcodeField::Md, md)] {
            for (index, character) in value.chars().enumerate() {
                check_char(spec, field, index + 1, character)?;
            }
        }
        if nsi.len() != nsi_len {
            return Err(EcodeError::NsiLength {
                label: spec.label,
                expected: nsi_len,
                found: nsi.len(),
            });
        }
        check_md_len(spec, md.len(), md_max)?;
        Ok(Ecode {
            code: format!("{v}{nsi}{md}"),
            nsi_len,
        })
    }

    /// Shorthand for an Ecode-V1 (NSI 4 digits, MD 1–20 digits).
    ///
    /// # Errors
    /// As [`Ecode::new`].
    pub fn v1(nsi: &str, md: &str) -> Result<Self, EcodeError> {
        Ecode::new("V1", nsi, md)
    }

    /// The whole code in text form.
    pub fn as_str(&self) -> &str {
        &self.code
    }

    /// The table row of this code's version.
    pub fn spec(&self) -> &'static EcodeVersionSpec {
        // The first character was validated against the table on construction; V1 is a safe
        // fallback that is never taken.
        self.code
            .chars()
            .next()
            .and_then(table::spec_for_version_char)
            .unwrap_or(&ECODE_VERSIONS[1])
    }

    /// The version label (`V1`).
    pub fn version(&self) -> &'static str {
        self.spec().label
    }

    /// The numbering-scheme identifier NSI.
    pub fn nsi(&self) -> &str {
        &self.code[1..1 + self.nsi_len]
    }

    /// The master data MD.
    pub fn md(&self) -> &str {
        &self.code[1 + self.nsi_len..]
    }
}

fn supported_spec(v: char) -> Result<&'static EcodeVersionSpec, EcodeError> {
    let spec = table::spec_for_version_char(v).ok_or(EcodeError::UnknownVersion { found: v })?;
    if spec.supported {
        Ok(spec)
    } else {
        Err(EcodeError::UnsupportedVersion { label: spec.label })
    }
}

/// NSI length and MD maximum of a supported version (the table test guarantees both are set).
fn field_lengths(spec: &EcodeVersionSpec) -> (usize, usize) {
    (spec.nsi_len.unwrap_or(0), spec.md_max_len.unwrap_or(0))
}

fn check_char(
    spec: &EcodeVersionSpec,
    field: EcodeField,
    position: usize,
    character: char,
) -> Result<(), EcodeError> {
    if spec.charset.contains(character) {
        Ok(())
    } else {
        Err(EcodeError::Character {
            field,
            position,
            character,
            label: spec.label,
            allowed: spec.charset.describe(),
        })
    }
}

fn check_md_len(spec: &EcodeVersionSpec, found: usize, max: usize) -> Result<(), EcodeError> {
    if found == 0 {
        Err(EcodeError::MdEmpty {
            label: spec.label,
            max,
        })
    } else if found > max {
        Err(EcodeError::MdTooLong {
            label: spec.label,
            max,
            found,
        })
    } else {
        Ok(())
    }
}

impl fmt::Display for Ecode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code)
    }
}

impl TryFrom<String> for Ecode {
    type Error = EcodeError;

    fn try_from(code: String) -> Result<Self, Self::Error> {
        Ecode::parse(&code)
    }
}

impl From<Ecode> for String {
    fn from(ecode: Ecode) -> Self {
        ecode.code
    }
}

impl FromStr for Ecode {
    type Err = EcodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ecode::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_v1_fields() {
        let e = Ecode::parse("1000120240000000001").unwrap();
        assert_eq!(
            (e.version(), e.nsi(), e.md()),
            ("V1", "0001", "20240000000001")
        );
        assert_eq!(Ecode::v1("0001", "20240000000001").unwrap(), e);
    }

    #[test]
    fn v2_has_an_eight_digit_nsi() {
        let e = Ecode::parse("2123456789").unwrap();
        assert_eq!((e.version(), e.nsi(), e.md()), ("V2", "12345678", "9"));
    }

    #[test]
    fn new_rejects_wrong_fields() {
        assert_eq!(
            Ecode::new("V1", "001", "1").unwrap_err().to_string(),
            "nsi: Ecode-V1 needs 4 characters, found 3"
        );
        assert_eq!(
            Ecode::new("V3", "0001", "A").unwrap_err().to_string(),
            "version: position 1: Ecode-V3 is not supported (only V1 and V2 are)"
        );
        assert_eq!(
            Ecode::new("V0", "", "").unwrap_err().to_string(),
            "version: position 1: Ecode-V0 is not supported (only V1 and V2 are)"
        );
    }
}
