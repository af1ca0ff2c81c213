//! Parsing the element string a scanner transmits (General Specifications §7.8).

use super::ai::{self, AiDef};
use super::code::{CodeBuilder, GS, Gs1Code};
use super::error::{Gs1Error, Problem};

/// Parses an element string: AIs and values, GS (0x1D) after variable-length values.
///
/// `offset` is the number of characters that preceded `data` in the input (a symbology
/// identifier), so error positions refer to the input as the operator saw it.
///
/// Tolerates what real readers send: a leading GS (FNC1 in first position transmitted as GS), a
/// superfluous GS after a predefined-length element, and a trailing GS.
pub fn parse_element_string(data: &str, offset: usize) -> Result<Gs1Code, Gs1Error> {
    let bytes = data.as_bytes();
    let position = |byte: usize| offset + char_position(data, byte);
    let mut builder = CodeBuilder::default();
    let mut i = 0;
    while bytes.get(i) == Some(&GS) {
        i += 1;
    }
    if i == bytes.len() {
        return Err(Gs1Error::new(None, Some(offset + 1), Problem::Empty));
    }
    while i < bytes.len() {
        let ai_start = i;
        let def = identify_ai(&bytes[i..])
            .map_err(|problem| Gs1Error::new(None, Some(position(ai_start)), problem))?;
        i += def.code.len();
        let value_start = i;
        let value_end;
        if def.predefined_length {
            value_end = value_start + usize::from(def.max_len);
            if value_end > bytes.len() {
                let problem = Problem::Truncated {
                    len: bytes.len() - value_start,
                    expected: def.max_len,
                };
                return Err(Gs1Error::new(
                    Some(def.code),
                    Some(position(value_start)),
                    problem,
                ));
            }
            i = value_end;
            if bytes.get(i) == Some(&GS) {
                i += 1;
            }
        } else {
            value_end = bytes[value_start..]
                .iter()
                .position(|&b| b == GS)
                .map_or(bytes.len(), |n| value_start + n);
            i = value_end + 1;
        }
        builder.push_from_text(def, data, value_start..value_end, ai_start, &position)?;
    }
    builder.finish()
}

/// Finds the AI at the start of `data`.
fn identify_ai(data: &[u8]) -> Result<&'static AiDef, Problem> {
    if let Some(def) = ai::lookup_prefix(data) {
        return Ok(def);
    }
    let digits: String = data
        .iter()
        .take(4)
        .take_while(|b| b.is_ascii_digit())
        .map(|&b| char::from(b))
        .collect();
    if digits.is_empty() {
        return Err(Problem::Syntax(
            "expected the digits of an application identifier",
        ));
    }
    if digits.len() == data.len() && ai::AIS.iter().any(|def| def.code.starts_with(&digits)) {
        return Err(Problem::TruncatedAi);
    }
    Err(Problem::UnknownAi(digits))
}

/// 1-based character position of byte offset `byte` in `data`.
pub(crate) fn char_position(data: &str, byte: usize) -> usize {
    let byte = byte.min(data.len());
    // Fast path: GS1 data is ASCII.
    match data.get(..byte) {
        Some(prefix) if prefix.is_ascii() => byte + 1,
        Some(prefix) => prefix.chars().count() + 1,
        None => data.char_indices().take_while(|(i, _)| *i < byte).count() + 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_name_the_offending_character() {
        let err = parse_element_string("010950600013435221A1 B2C3", 0).expect_err("space");
        assert_eq!(
            err.to_string(),
            "AI (21) at character 21: space is not in CSET 82"
        );
        let err = parse_element_string("0109506000134353", 3).expect_err("check digit");
        assert_eq!(
            err.to_string(),
            "AI (01) at character 19: check digit is 3, expected 2"
        );
        let err = parse_element_string("01095060001343", 0).expect_err("short");
        assert_eq!(
            err.to_string(),
            "AI (01) at character 3: data ends after 12 of 14 characters"
        );
        let err = parse_element_string("0109506000134352777", 0).expect_err("unknown");
        assert_eq!(
            err.to_string(),
            "at character 17: unknown application identifier 777"
        );
    }

    #[test]
    fn reader_variants() {
        let canonical =
            parse_element_string("010950600013435210ABC\u{1d}21XYZ", 0).expect("canonical");
        for variant in [
            "\u{1d}010950600013435210ABC\u{1d}21XYZ",
            "01095060001343521\u{1d}0ABC\u{1d}21XYZ"
                .replace("1\u{1d}0ABC", "10ABC")
                .as_str(),
            "0109506000134352\u{1d}10ABC\u{1d}21XYZ",
            "010950600013435210ABC\u{1d}21XYZ\u{1d}",
        ] {
            assert_eq!(
                parse_element_string(variant, 0).as_ref(),
                Ok(&canonical),
                "{variant:?}"
            );
        }
    }
}
