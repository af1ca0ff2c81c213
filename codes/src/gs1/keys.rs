//! GS1 identification keys the line creates: GTIN (trade item) and SSCC (logistic unit).

use std::fmt;

use super::check::mod10_check_digit;
use super::error::{Gs1Error, Problem};

/// A GTIN normalised to 14 digits (General Specifications §3.3.2: GTIN-8, -12 and -13 are
/// right-justified in a 14-digit field with leading zeros).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gtin([u8; 14]);

impl Gtin {
    /// Parses a GTIN-8, -12, -13 or -14 and verifies its check digit.
    pub fn parse(text: &str) -> Result<Gtin, Gs1Error> {
        let bytes = text.as_bytes();
        if let Some(at) = bytes.iter().position(|b| !b.is_ascii_digit()) {
            let found = text[at..]
                .chars()
                .next()
                .unwrap_or(char::REPLACEMENT_CHARACTER);
            let problem = Problem::NotInCharset {
                found,
                charset: super::ai::Charset::Numeric,
            };
            return Err(Gs1Error::new(Some("01"), Some(at + 1), problem));
        }
        if !matches!(bytes.len(), 8 | 12 | 13 | 14) {
            return Err(Gs1Error::new(
                Some("01"),
                None,
                Problem::Format(format!(
                    "a GTIN has 8, 12, 13 or 14 digits, not {}",
                    bytes.len()
                )),
            ));
        }
        let mut digits = [b'0'; 14];
        digits[14 - bytes.len()..].copy_from_slice(bytes);
        let expected = mod10_check_digit(&digits[..13]).unwrap_or(b'0');
        if digits[13] != expected {
            let problem = Problem::CheckDigit {
                found: char::from(digits[13]),
                expected: char::from(expected),
            };
            return Err(Gs1Error::new(Some("01"), Some(bytes.len()), problem));
        }
        Ok(Gtin(digits))
    }

    /// The 14 digits.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("00000000000000")
    }

    /// The 14 digits as bytes (the FF1 tweak of the product's serials).
    pub fn as_bytes(&self) -> &[u8; 14] {
        &self.0
    }
}

impl fmt::Display for Gtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Serial Shipping Container Code (General Specifications §2.2.1 and §3.3.1): extension digit,
/// GS1 company prefix, serial reference, check digit — 18 digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sscc([u8; 18]);

impl Sscc {
    /// Builds an SSCC from its parts. The company prefix has 4 to 12 digits (§1.4.4); the serial
    /// reference fills the remaining `16 - prefix length` digits and must fit in them.
    pub fn new(
        extension_digit: u8,
        company_prefix: &str,
        serial_reference: u64,
    ) -> Result<Sscc, Gs1Error> {
        let field = |what: String| Gs1Error::new(Some("00"), None, Problem::Format(what));
        if extension_digit > 9 {
            return Err(field(format!(
                "extension digit {extension_digit} is not 0-9"
            )));
        }
        if !(4..=12).contains(&company_prefix.len())
            || !company_prefix.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(field(format!(
                "company prefix {company_prefix:?} is not 4 to 12 digits"
            )));
        }
        let reference_digits = 16 - company_prefix.len();
        let reference = format!("{serial_reference:0reference_digits$}");
        if reference.len() > reference_digits {
            return Err(field(format!(
                "serial reference {serial_reference} does not fit in {reference_digits} digits after a {}-digit company prefix",
                company_prefix.len()
            )));
        }
        let mut digits = [b'0'; 18];
        digits[0] = b'0' + extension_digit;
        digits[1..1 + company_prefix.len()].copy_from_slice(company_prefix.as_bytes());
        digits[1 + company_prefix.len()..17].copy_from_slice(reference.as_bytes());
        digits[17] = mod10_check_digit(&digits[..17]).unwrap_or(b'0');
        Ok(Sscc(digits))
    }

    /// Parses 18 digits and verifies the check digit.
    pub fn parse(text: &str) -> Result<Sscc, Gs1Error> {
        let def = super::ai::lookup("00")
            .ok_or_else(|| Gs1Error::new(Some("00"), None, Problem::UnknownAi("00".into())))?;
        super::code::validate_value(def, text.as_bytes())
            .map_err(|(at, problem)| Gs1Error::new(Some("00"), Some(at + 1), problem))?;
        let mut digits = [0u8; 18];
        digits.copy_from_slice(text.as_bytes());
        Ok(Sscc(digits))
    }

    /// The 18 digits.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("000000000000000000")
    }
}

impl fmt::Display for Sscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gtin_forms_normalise_to_14_digits() {
        // General Specifications §3.3.2, figure 3.3.2-1 formats; check digits verified by hand.
        assert_eq!(
            Gtin::parse("96385074").map(|g| g.to_string()),
            Ok("00000096385074".into())
        );
        assert_eq!(
            Gtin::parse("614141000036").map(|g| g.to_string()),
            Ok("00614141000036".into())
        );
        assert_eq!(
            Gtin::parse("9506000134352").map(|g| g.to_string()),
            Ok("09506000134352".into())
        );
        assert_eq!(
            Gtin::parse("09506000134352").map(|g| g.to_string()),
            Ok("09506000134352".into())
        );
        assert_eq!(
            Gtin::parse("9506000134353").map_err(|e| e.to_string()),
            Err("AI (01) at character 13: check digit is 3, expected 2".into())
        );
        assert_eq!(
            Gtin::parse("95060001343").map_err(|e| e.to_string()),
            Err("AI (01): a GTIN has 8, 12, 13 or 14 digits, not 11".into())
        );
    }

    #[test]
    fn sscc_from_parts() {
        // General Specifications §2.2.1 example: extension 1, prefix 0614141, reference 123456789.
        let sscc = Sscc::new(1, "0614141", 123_456_789).expect("valid");
        assert_eq!(sscc.as_str(), "106141411234567897");
        assert_eq!(Sscc::parse("106141411234567897"), Ok(sscc));
        assert!(Sscc::new(1, "0614141", 1_000_000_000).is_err());
        assert_eq!(
            Sscc::parse("106141411234567890").map_err(|e| e.to_string()),
            Err("AI (00) at character 18: check digit is 0, expected 7".into())
        );
    }
}
