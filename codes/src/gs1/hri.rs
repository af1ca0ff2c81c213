//! Parsing the human readable interpretation `(01)09506000134352(21)A1B2C3` (General
//! Specifications §4.15: each AI in parentheses, followed by its value).

use super::ai::{self, AiDef};
use super::code::{CodeBuilder, Gs1Code, validate_value};
use super::element::char_position;
use super::error::{Gs1Error, Problem};

/// Parses the HRI form.
///
/// CSET 82 contains `(` and `)`, so a value may contain them; a parenthesis starts a new AI only
/// where it encloses the digits of a known AI, and a predefined-length value is cut at its length.
pub fn parse_hri(data: &str) -> Result<Gs1Code, Gs1Error> {
    let bytes = data.as_bytes();
    let position = |byte: usize| char_position(data, byte);
    if bytes.is_empty() {
        return Err(Gs1Error::new(None, Some(1), Problem::Empty));
    }
    let mut builder = CodeBuilder::default();
    let mut i = 0;
    while i < bytes.len() {
        let ai_start = i;
        let Some((def, ai_len)) = ai_at(&bytes[i..]) else {
            let problem = if bytes[i] == b'(' {
                match bytes[i + 1..].iter().position(|&b| b == b')') {
                    Some(n) => Problem::UnknownAi(
                        String::from_utf8_lossy(&bytes[i + 1..i + 1 + n]).into_owned(),
                    ),
                    None => Problem::Syntax("'(' without a closing ')'"),
                }
            } else {
                Problem::Syntax("expected '(' and an application identifier")
            };
            return Err(Gs1Error::new(None, Some(position(i)), problem));
        };
        i += ai_len;
        let value_start = i;
        let value_end = if def.predefined_length {
            (value_start + usize::from(def.max_len)).min(bytes.len())
        } else {
            // The value ends at the next unescaped '(' that opens a known AI.
            (value_start..bytes.len())
                .find(|&j| {
                    bytes[j] == b'('
                        && (j == value_start || bytes[j - 1] != b'\\')
                        && ai_at(&bytes[j..]).is_some()
                })
                .unwrap_or(bytes.len())
        };
        let raw = data.get(value_start..value_end).unwrap_or_default();
        if raw.contains("\\(") {
            // An escaped parenthesis (see `Gs1Code::to_hri`): validate the unescaped value.
            let value = raw.replace("\\(", "(");
            validate_value(def, value.as_bytes()).map_err(|(_, problem)| {
                Gs1Error::new(Some(def.code), Some(position(value_start)), problem)
            })?;
            builder.push(def, &value, Some(position(ai_start)))?;
        } else {
            builder.push_from_text(def, data, value_start..value_end, ai_start, &position)?;
        }
        i = value_end;
    }
    builder.finish()
}

/// The AI in parentheses at the start of `data`, and the bytes it takes with its parentheses.
fn ai_at(data: &[u8]) -> Option<(&'static AiDef, usize)> {
    if data.first() != Some(&b'(') {
        return None;
    }
    let close = data.iter().take(6).position(|&b| b == b')')?;
    let digits = std::str::from_utf8(&data[1..close]).ok()?;
    ai::lookup(digits).map(|def| (def, close + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parentheses_inside_values() {
        let code = parse_hri("(01)09506000134352(10)A(1)B(21)X(Y)").expect("valid");
        assert_eq!(code.get("10"), Some("A(1)B"));
        assert_eq!(code.get("21"), Some("X(Y)"));
    }

    #[test]
    fn escaped_parenthesis_keeps_a_value_that_looks_like_an_ai() {
        // Fuzz finding (codes/fuzz, parse_scan): AI (93) with the value "(93)2q6".
        let code = parse_hri("(93)\\(93)2q6").expect("escaped");
        assert_eq!(code.get("93"), Some("(93)2q6"));
        assert_eq!(code.to_hri(), "(93)\\(93)2q6");
        assert_eq!(parse_hri(&code.to_hri()), Ok(code));
        // Without the escape it is two AIs, which here is a duplicate.
        assert!(parse_hri("(93)(93)2q6").is_err());
    }

    #[test]
    fn errors() {
        let err = parse_hri("01)09506000134352").expect_err("no paren");
        assert_eq!(
            err.to_string(),
            "at character 1: expected '(' and an application identifier"
        );
        let err = parse_hri("(01)09506000134352(777)X").expect_err("unknown");
        // (777) is not an AI, so it is part of the GTIN's data; the GTIN has a fixed length.
        assert_eq!(
            err.to_string(),
            "at character 19: unknown application identifier 777"
        );
        let err = parse_hri("(01)09506000134352(21)A1B2C3 ").expect_err("space");
        assert_eq!(
            err.to_string(),
            "AI (21) at character 29: space is not in CSET 82"
        );
    }
}
