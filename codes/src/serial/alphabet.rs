//! The character sets serials are written in.

use super::SerialError;
use std::fmt;
use std::str::FromStr;

/// `0`–`9`.
const DIGITS: &str = "0123456789";

/// GS1 CSET 82 letters and digits without the look-alikes `0 O o 1 I i l`, in ASCII order.
const SAFE: &str = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz";

/// Crockford's base 32: digits and upper-case letters without `I L O U`.
const CROCKFORD32: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The alphabet of a serial. A character's numeral value is its position in [`Alphabet::chars`].
///
/// Every alphabet is a subset of GS1 CSET 82, so its serials are valid in AI (21).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Alphabet {
    /// `digits`: `0123456789` (radix 10). For platforms that want numeric codes.
    Digits,
    /// `safe`: the 55 characters `23456789`, `ABCDEFGHJKLMNPQRSTUVWXYZ` and
    /// `abcdefghjkmnpqrstuvwxyz` — GS1 CSET 82 letters and digits without `0 O o 1 I i l`, which
    /// operators and low-resolution inkjet print confuse.
    Safe,
    /// `crockford32`: Crockford base 32, `0123456789ABCDEFGHJKMNPQRSTVWXYZ` (radix 32).
    Crockford32,
}

impl Alphabet {
    /// All alphabets, in the order their names are listed in error messages.
    pub const ALL: [Alphabet; 3] = [Alphabet::Digits, Alphabet::Safe, Alphabet::Crockford32];

    /// The alphabet with this stable name (`digits`, `safe` or `crockford32`; case-sensitive).
    ///
    /// An unknown name gives [`SerialError::UnknownAlphabet`], whose message lists the valid ones.
    pub fn from_name(name: &str) -> Result<Self, SerialError> {
        Self::ALL
            .into_iter()
            .find(|alphabet| alphabet.name() == name)
            .ok_or_else(|| SerialError::UnknownAlphabet {
                name: name.to_owned(),
            })
    }

    /// The stable name used in configuration and on the command line (`--alphabet NAME`).
    pub const fn name(self) -> &'static str {
        match self {
            Alphabet::Digits => "digits",
            Alphabet::Safe => "safe",
            Alphabet::Crockford32 => "crockford32",
        }
    }

    /// The characters, numeral value 0 first. All are printable ASCII.
    pub const fn chars(self) -> &'static str {
        match self {
            Alphabet::Digits => DIGITS,
            Alphabet::Safe => SAFE,
            Alphabet::Crockford32 => CROCKFORD32,
        }
    }

    /// The number of characters, i.e. the FF1 radix.
    pub const fn radix(self) -> u32 {
        // The alphabets have 10, 55 and 32 characters; the cast cannot truncate.
        self.chars().len() as u32
    }

    /// Whether `c` is one of the characters.
    pub fn contains(self, c: char) -> bool {
        self.chars().contains(c)
    }

    /// The numeral value of an ASCII character, or `None` when it is not in the alphabet.
    pub fn value_of(self, c: u8) -> Option<u32> {
        self.chars()
            .bytes()
            .position(|x| x == c)
            .and_then(|p| u32::try_from(p).ok())
    }

    /// The names of all alphabets, comma-separated, for messages.
    pub(crate) fn valid_names() -> String {
        let names: Vec<&str> = Self::ALL.iter().map(|a| a.name()).collect();
        names.join(", ")
    }
}

impl fmt::Display for Alphabet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Alphabet {
    type Err = SerialError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_name(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// GS1 CSET 82 (GS1 General Specifications figure 7.11-1).
    const CSET82: &str =
        "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

    #[test]
    fn names_round_trip() {
        for alphabet in Alphabet::ALL {
            assert_eq!(Alphabet::from_name(alphabet.name()), Ok(alphabet));
            assert_eq!(alphabet.name().parse::<Alphabet>(), Ok(alphabet));
            assert_eq!(alphabet.to_string(), alphabet.name());
            let json = format!("\"{}\"", alphabet.name());
            assert_eq!(serde_json::to_string(&alphabet).ok(), Some(json.clone()));
            assert_eq!(serde_json::from_str::<Alphabet>(&json).ok(), Some(alphabet));
        }
    }

    #[test]
    fn unknown_name_lists_valid_names() {
        let err = Alphabet::from_name("base64").expect_err("unknown");
        assert_eq!(
            err.to_string(),
            "unknown alphabet \"base64\": valid names are digits, safe, crockford32"
        );
        assert!(
            Alphabet::from_name("Digits").is_err(),
            "names are case-sensitive"
        );
    }

    #[test]
    fn radices_and_characters() {
        assert_eq!(Alphabet::Digits.radix(), 10);
        assert_eq!(Alphabet::Safe.radix(), 55);
        assert_eq!(Alphabet::Crockford32.radix(), 32);
        for alphabet in Alphabet::ALL {
            let chars: HashSet<char> = alphabet.chars().chars().collect();
            assert_eq!(
                chars.len(),
                alphabet.chars().len(),
                "{alphabet}: duplicates"
            );
            assert!(
                alphabet.chars().chars().all(|c| CSET82.contains(c)),
                "{alphabet}: not CSET 82"
            );
            for (value, c) in alphabet.chars().bytes().enumerate() {
                assert_eq!(alphabet.value_of(c), Some(value as u32));
            }
        }
    }

    #[test]
    fn safe_has_no_look_alikes_and_all_other_alphanumerics() {
        for c in ['0', 'O', 'o', '1', 'I', 'i', 'l'] {
            assert!(!Alphabet::Safe.contains(c), "{c} is ambiguous");
        }
        let expected = ('0'..='9')
            .chain('A'..='Z')
            .chain('a'..='z')
            .filter(|c| !"0Oo1Iil".contains(*c))
            .count();
        assert_eq!(Alphabet::Safe.chars().len(), expected);
        assert_eq!(Alphabet::Safe.value_of(b'O'), None);
    }
}
