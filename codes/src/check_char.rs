//! Check characters: ISO/IEC 7064 MOD 11-2 and MOD 37-2, and the GS1 mod-10.
//!
//! ISO/IEC 7064:2003 §5 defines the *pure* check character systems used here. Both are computed
//! the same way (ISO/IEC 7064 §5.1, recursive method): start with `p = 0`; for every data character
//! of value `v`, left to right, `p = ((p + v) × r) mod M`; the check character's value is
//! `(M + 1 − p) mod M`. A string with its check character appended then satisfies the standard's
//! congruence.
//!
//! | kind | M | r | data characters | check characters | reference |
//! |---|---|---|---|---|---|
//! | `mod11-2` | 11 | 2 | `0-9` | `0-9`, `X` (=10) | ISO/IEC 7064 §5, e.g. GB 11643 citizen ID, ISO 27729 ISNI |
//! | `mod37-2` | 37 | 2 | `0-9A-Z` | `0-9A-Z`, `*` (=36) | ISO/IEC 7064 §5 |
//! | `mod10` | — | — | `0-9` | `0-9` | GS1 General Specifications §7.9.1 ([`crate::gs1::check`]) |
//!
//! The mod-10 is delegated to [`crate::gs1::check::mod10_check_digit`]; it is not re-implemented.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::gs1::check::mod10_check_digit;

/// The check-character algorithms a code shape can use. Names are stable: they appear in line
/// configurations and template patterns (`mod10`, `mod11-2`, `mod37-2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CheckKind {
    /// GS1 mod-10 (weights 3, 1 from the right), digits only.
    #[serde(rename = "mod10")]
    Mod10,
    /// ISO/IEC 7064 MOD 11-2: digits in, `0-9` or `X` out.
    #[serde(rename = "mod11-2")]
    Mod11_2,
    /// ISO/IEC 7064 MOD 37-2: `0-9A-Z` in, `0-9A-Z` or `*` out.
    #[serde(rename = "mod37-2")]
    Mod37_2,
}

/// Why a check character could not be computed or did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// A data character is outside the algorithm's input alphabet.
    #[error(
        "check character: position {position}: {character:?} is not allowed in {kind} data ({allowed})"
    )]
    InvalidCharacter {
        /// The algorithm.
        kind: CheckKind,
        /// 1-based character position in the data.
        position: usize,
        /// The offending character.
        character: char,
        /// The allowed characters, for the message.
        allowed: &'static str,
    },
    /// The string to verify has no character at all (so no check character).
    #[error("check character: missing (the code is empty)")]
    Missing,
    /// The check character present is not the computed one.
    #[error(
        "check character: position {position}: expected {expected:?} ({kind}), found {found:?}"
    )]
    Mismatch {
        /// The algorithm.
        kind: CheckKind,
        /// 1-based position of the check character.
        position: usize,
        /// The computed check character.
        expected: char,
        /// The check character found.
        found: char,
    },
}

/// The name given to [`CheckKind::from_str`] is not one of `mod10`, `mod11-2`, `mod37-2`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("check kind: unknown {name:?} (expected mod10, mod11-2 or mod37-2)")]
pub struct UnknownCheckKind {
    /// The name that was given.
    pub name: String,
}

const ALNUM36: &[u8; 37] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*";

impl CheckKind {
    /// Every kind, in a stable order.
    pub const ALL: [CheckKind; 3] = [CheckKind::Mod10, CheckKind::Mod11_2, CheckKind::Mod37_2];

    /// The stable name: `mod10`, `mod11-2` or `mod37-2`.
    pub fn name(self) -> &'static str {
        match self {
            CheckKind::Mod10 => "mod10",
            CheckKind::Mod11_2 => "mod11-2",
            CheckKind::Mod37_2 => "mod37-2",
        }
    }

    /// The data characters this algorithm accepts, for messages.
    pub fn data_alphabet(self) -> &'static str {
        match self {
            CheckKind::Mod10 | CheckKind::Mod11_2 => "digits 0-9 only",
            CheckKind::Mod37_2 => "digits 0-9 and upper-case A-Z only",
        }
    }

    /// Whether `c` may appear in the data this algorithm is computed over.
    pub fn accepts_data_char(self, c: char) -> bool {
        match self {
            CheckKind::Mod10 | CheckKind::Mod11_2 => c.is_ascii_digit(),
            CheckKind::Mod37_2 => c.is_ascii_digit() || c.is_ascii_uppercase(),
        }
    }

    /// Whether `c` can be a check character of this algorithm (`X` for MOD 11-2, `*` for
    /// MOD 37-2 included).
    pub fn is_check_char(self, c: char) -> bool {
        match self {
            CheckKind::Mod10 => c.is_ascii_digit(),
            CheckKind::Mod11_2 => c.is_ascii_digit() || c == 'X',
            CheckKind::Mod37_2 => c.is_ascii_digit() || c.is_ascii_uppercase() || c == '*',
        }
    }

    /// Computes the check character over `data`.
    ///
    /// # Errors
    /// [`CheckError::InvalidCharacter`] naming the first character outside the input alphabet.
    pub fn compute(self, data: &str) -> Result<char, CheckError> {
        if let Some((index, character)) = data
            .chars()
            .enumerate()
            .find(|&(_, c)| !self.accepts_data_char(c))
        {
            return Err(CheckError::InvalidCharacter {
                kind: self,
                position: index + 1,
                character,
                allowed: self.data_alphabet(),
            });
        }
        // Every character is now ASCII and in the alphabet, so the computations cannot fail.
        let bytes = data.as_bytes();
        let check = match self {
            CheckKind::Mod10 => char::from(mod10_check_digit(bytes).unwrap_or(b'0')),
            CheckKind::Mod11_2 => {
                let value = pure_system(bytes.iter().map(|&b| u32::from(b - b'0')), 11, 2);
                if value == 10 {
                    'X'
                } else {
                    char::from(b'0' + value as u8)
                }
            }
            CheckKind::Mod37_2 => {
                let value = pure_system(bytes.iter().map(|&b| alnum36_value(b)), 37, 2);
                char::from(ALNUM36[value as usize])
            }
        };
        Ok(check)
    }

    /// Verifies that the last character of `code` is the check character of the ones before it.
    ///
    /// # Errors
    /// [`CheckError::Missing`] for an empty string, [`CheckError::InvalidCharacter`] for a data
    /// character outside the alphabet, [`CheckError::Mismatch`] for a wrong check character.
    pub fn verify(self, code: &str) -> Result<(), CheckError> {
        let mut chars = code.chars();
        let found = chars.next_back().ok_or(CheckError::Missing)?;
        let data = chars.as_str();
        let expected = self.compute(data)?;
        if expected == found {
            Ok(())
        } else {
            Err(CheckError::Mismatch {
                kind: self,
                position: data.chars().count() + 1,
                expected,
                found,
            })
        }
    }
}

impl fmt::Display for CheckKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for CheckKind {
    type Err = UnknownCheckKind;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        CheckKind::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
            .ok_or_else(|| UnknownCheckKind {
                name: name.to_owned(),
            })
    }
}

/// ISO/IEC 7064 MOD 11-2 check character of a digit string (`0-9` or `X`).
///
/// # Errors
/// [`CheckError::InvalidCharacter`] when `digits` contains a non-digit.
pub fn mod11_2(digits: &str) -> Result<char, CheckError> {
    CheckKind::Mod11_2.compute(digits)
}

/// ISO/IEC 7064 MOD 37-2 check character of a `0-9A-Z` string (`0-9`, `A-Z` or `*`).
///
/// # Errors
/// [`CheckError::InvalidCharacter`] when `data` contains anything but `0-9A-Z`.
pub fn mod37_2(data: &str) -> Result<char, CheckError> {
    CheckKind::Mod37_2.compute(data)
}

/// ISO/IEC 7064 §5.1 pure system, recursive form: returns the check value in `0..modulus`.
fn pure_system(values: impl Iterator<Item = u32>, modulus: u32, radix: u32) -> u32 {
    let p = values.fold(0, |p, v| ((p + v) * radix) % modulus);
    (modulus + 1 - p) % modulus
}

/// Value of a `0-9A-Z` byte in the MOD 37-2 alphabet (0–35). Callers pass validated bytes.
fn alnum36_value(byte: u8) -> u32 {
    match byte {
        b'0'..=b'9' => u32::from(byte - b'0'),
        _ => u32::from(byte - b'A') + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso7064_mod11_2_examples() {
        // ISO/IEC 7064 worked example (also in python-stdnum's docs): 079 → X.
        assert_eq!(mod11_2("079"), Ok('X'));
        // GB 11643-1999 citizen identity number, the standard's own example 11010519491231002X.
        assert_eq!(mod11_2("11010519491231002"), Ok('X'));
        // ISO 27729 ISNI 0000 0001 2150 090X (ISNI uses MOD 11-2).
        assert_eq!(mod11_2("000000012150090"), Ok('X'));
        assert_eq!(
            CheckKind::Mod11_2
                .verify("0000000121500900")
                .unwrap_err()
                .to_string(),
            "check character: position 16: expected 'X' (mod11-2), found '0'"
        );
    }

    #[test]
    fn iso7064_mod37_2_example() {
        // ISO/IEC 7064 MOD 37-2 example string G123489654321 → Y (as reproduced in
        // python-stdnum's stdnum.iso7064.mod_37_2 documentation).
        assert_eq!(mod37_2("G123489654321"), Ok('Y'));
        assert!(CheckKind::Mod37_2.verify("G123489654321Y").is_ok());
    }

    #[test]
    fn every_single_error_is_detected() {
        // The pure systems detect every single substitution (ISO/IEC 7064 §4).
        let data = "G123489654321";
        let good = mod37_2(data).unwrap();
        for position in 0..data.len() {
            for replacement in ALNUM36[..36].iter().map(|&b| char::from(b)) {
                let mut changed: Vec<char> = data.chars().collect();
                if changed[position] == replacement {
                    continue;
                }
                changed[position] = replacement;
                let changed: String = changed.into_iter().collect();
                assert_ne!(mod37_2(&changed).unwrap(), good, "{changed}");
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for kind in CheckKind::ALL {
            assert_eq!(kind.name().parse::<CheckKind>(), Ok(kind));
        }
        assert_eq!(
            "mod11".parse::<CheckKind>().unwrap_err().to_string(),
            "check kind: unknown \"mod11\" (expected mod10, mod11-2 or mod37-2)"
        );
    }

    #[test]
    fn rejects_characters_outside_the_alphabet() {
        assert_eq!(
            mod11_2("12A4").unwrap_err().to_string(),
            "check character: position 3: 'A' is not allowed in mod11-2 data (digits 0-9 only)"
        );
        assert_eq!(
            mod37_2("ab").unwrap_err().to_string(),
            "check character: position 1: 'a' is not allowed in mod37-2 data (digits 0-9 and upper-case A-Z only)"
        );
        assert_eq!(CheckKind::Mod10.verify(""), Err(CheckError::Missing));
    }

    #[test]
    fn mod10_delegates_to_gs1() {
        assert_eq!(CheckKind::Mod10.compute("629104150021"), Ok('3'));
        assert!(CheckKind::Mod10.verify("09506000134352").is_ok());
    }
}
