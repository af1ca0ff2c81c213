//! China's Unified Social Credit Code (统一社会信用代码), GB 32100-2015.
//!
//! Every producer record carries one (`producer.uscc`, SPEC §1 data fields). Structure
//! (GB 32100-2015 §4, figure 1), positions 1-based:
//!
//! | positions | field | characters |
//! |---|---|---|
//! | 1 | 登记管理部门码, registration authority | code character set |
//! | 2 | 机构类别码, entity category | code character set |
//! | 3–8 | 登记管理机关行政区划码, administrative division (GB/T 2260) | digits |
//! | 9–17 | 主体标识码, organisation code (GB 11714) | code character set |
//! | 18 | 校验码, check character | code character set |
//!
//! The code character set (GB 32100 §5, table 1) is `0-9` and the upper-case letters without
//! I, O, S, V, Z — 31 characters valued 0–30 in the order `0-9 A-H J-N P-R T U W-Y`.
//!
//! Check character (GB 32100 §5 and annex): with `Wᵢ = 3^(i−1) mod 31` as the weight of position
//! `i` (1…17), `C₁₈ = 31 − (Σ Cᵢ·Wᵢ mod 31)`, where a result of 31 is written as `0`.
//!
//! The organisation code (positions 9–17) carries its own GB 11714 check character; it is
//! reported by [`Uscc::organization_code_check_ok`] but not enforced, because codes issued to
//! individual businesses need not carry a GB 11714 code.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The GB 32100 code character set, in value order (value = index).
const CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// GB 32100 position weights `3^(i−1) mod 31`, i = 1…17.
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// A validated Unified Social Credit Code. Serializes as its 18-character string and validates
/// when deserialized.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Uscc {
    code: String,
}

/// Why a string is not a valid Unified Social Credit Code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsccError {
    /// Not exactly 18 characters.
    #[error("must be 18 characters, found {found}")]
    Length {
        /// The number of characters found.
        found: usize,
    },
    /// A character outside the GB 32100 code character set.
    #[error(
        "position {position}: {character:?} is not in the GB 32100 character set (0-9 and A-Z without I, O, S, V, Z)"
    )]
    Character {
        /// 1-based position.
        position: usize,
        /// The offending character.
        character: char,
    },
    /// A non-digit in the administrative division code (positions 3–8).
    #[error(
        "position {position}: {character:?} in the division code (positions 3-8) must be a digit"
    )]
    DivisionCode {
        /// 1-based position.
        position: usize,
        /// The offending character.
        character: char,
    },
    /// The check character (position 18) is wrong.
    #[error("position 18: check character should be {expected:?}, found {found:?}")]
    CheckCharacter {
        /// The computed check character.
        expected: char,
        /// The check character found.
        found: char,
    },
}

/// Value of a character in the GB 32100 code character set.
fn value_of(c: char) -> Option<u32> {
    let byte = u8::try_from(c).ok()?;
    CHARSET
        .iter()
        .position(|&b| b == byte)
        .and_then(|i| u32::try_from(i).ok())
}

/// Computes the GB 32100 check character over the first 17 characters of a code.
///
/// # Errors
/// [`UsccError::Length`] unless `first17` has exactly 17 characters, [`UsccError::Character`] for
/// a character outside the code character set.
pub fn uscc_check_char(first17: &str) -> Result<char, UsccError> {
    let count = first17.chars().count();
    if count != 17 {
        return Err(UsccError::Length { found: count });
    }
    let mut sum = 0;
    for ((index, character), weight) in first17.chars().enumerate().zip(WEIGHTS) {
        let value = value_of(character).ok_or(UsccError::Character {
            position: index + 1,
            character,
        })?;
        sum += value * weight;
    }
    // 31 − (sum mod 31) is in 1..=31; 31 is written as 0.
    let check = (31 - sum % 31) % 31;
    Ok(char::from(CHARSET[check as usize]))
}

impl Uscc {
    /// Parses and validates a code: length, character set, digits in positions 3–8 and the
    /// check character. No normalisation: lower-case letters, spaces and dashes are rejected.
    ///
    /// # Errors
    /// The first problem found, with its 1-based position.
    pub fn parse(input: &str) -> Result<Self, UsccError> {
        let count = input.chars().count();
        if count != 18 {
            return Err(UsccError::Length { found: count });
        }
        for (index, character) in input.chars().enumerate() {
            let position = index + 1;
            if value_of(character).is_none() {
                return Err(UsccError::Character {
                    position,
                    character,
                });
            }
            if (3..=8).contains(&position) && !character.is_ascii_digit() {
                return Err(UsccError::DivisionCode {
                    position,
                    character,
                });
            }
        }
        // All 18 characters are ASCII now, so byte slicing is character slicing.
        let expected = uscc_check_char(&input[..17])?;
        let found = char::from(input.as_bytes()[17]);
        if expected != found {
            return Err(UsccError::CheckCharacter { expected, found });
        }
        Ok(Uscc {
            code: input.to_owned(),
        })
    }

    /// The 18-character code.
    pub fn as_str(&self) -> &str {
        &self.code
    }

    /// Position 1: the registration authority (登记管理部门码), e.g. `9` for market regulation.
    pub fn registration_authority(&self) -> char {
        char::from(self.code.as_bytes()[0])
    }

    /// Position 2: the entity category (机构类别码) within the authority.
    pub fn entity_category(&self) -> char {
        char::from(self.code.as_bytes()[1])
    }

    /// Positions 3–8: the administrative division code (GB/T 2260) of the registering office.
    pub fn division_code(&self) -> &str {
        &self.code[2..8]
    }

    /// Positions 9–17: the organisation code (主体标识码, GB 11714).
    pub fn organization_code(&self) -> &str {
        &self.code[8..17]
    }

    /// Position 18: the check character.
    pub fn check_char(&self) -> char {
        char::from(self.code.as_bytes()[17])
    }

    /// Whether positions 9–17 carry a valid GB 11714 organisation-code check character
    /// (weights 3, 7, 9, 10, 5, 8, 4, 2 mod 11; 10 → `X`, 11 → `0`). Informational only.
    pub fn organization_code_check_ok(&self) -> bool {
        const ORG_WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
        let org = self.organization_code().as_bytes();
        let mut sum = 0;
        for (&byte, weight) in org[..8].iter().zip(ORG_WEIGHTS) {
            let value = match byte {
                b'0'..=b'9' => u32::from(byte - b'0'),
                b'A'..=b'Z' => u32::from(byte - b'A') + 10,
                _ => return false,
            };
            sum += value * weight;
        }
        let expected = match 11 - sum % 11 {
            10 => b'X',
            11 => b'0',
            digit => b'0' + digit as u8,
        };
        org[8] == expected
    }
}

impl fmt::Display for Uscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code)
    }
}

impl FromStr for Uscc {
    type Err = UsccError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uscc::parse(s)
    }
}

impl TryFrom<String> for Uscc {
    type Error = UsccError;

    fn try_from(code: String) -> Result<Self, Self::Error> {
        Uscc::parse(&code)
    }
}

impl From<Uscc> for String {
    fn from(uscc: Uscc) -> Self {
        uscc.code
    }
}

impl AsRef<str> for Uscc {
    fn as_ref(&self) -> &str {
        &self.code
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_powers_of_three_mod_31() {
        let mut w = 1;
        for weight in WEIGHTS {
            assert_eq!(weight, w);
            w = w * 3 % 31;
        }
    }

    #[test]
    fn gb32100_example() {
        // GB 32100-2015 example code.
        let uscc = Uscc::parse("91350100M000100Y43").unwrap();
        assert_eq!(uscc.registration_authority(), '9');
        assert_eq!(uscc.entity_category(), '1');
        assert_eq!(uscc.division_code(), "350100");
        assert_eq!(uscc.organization_code(), "M000100Y4");
        assert_eq!(uscc.check_char(), '3');
        assert!(uscc.organization_code_check_ok());
    }

    #[test]
    fn check_value_31_is_written_as_zero() {
        // Find a 17-character prefix whose weighted sum is 0 mod 31: the check must be '0'.
        let prefix = "00000000000000000";
        assert_eq!(uscc_check_char(prefix), Ok('0'));
    }
}
