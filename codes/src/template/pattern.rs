//! The pattern parser: text → elements, with every error located by character position.

use super::{DateField, Element, SerialCharset, TemplateError};
use crate::check_char::CheckKind;

/// Longest serial field accepted.
pub(crate) const MAX_SERIAL_LEN: usize = 64;

/// Parses a pattern into elements and checks the rules that span elements.
pub(crate) fn parse(pattern: &str) -> Result<Vec<Element>, TemplateError> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut elements: Vec<(usize, Element)> = Vec::new();
    let mut literal = String::new();
    let mut literal_start = 0;
    let mut i = 0;
    while i < chars.len() {
        let position = i + 1;
        match chars[i] {
            '{' if chars.get(i + 1) == Some(&'{') => {
                push_literal_char(&mut literal, &mut literal_start, position, '{');
                i += 2;
            }
            '}' if chars.get(i + 1) == Some(&'}') => {
                push_literal_char(&mut literal, &mut literal_start, position, '}');
                i += 2;
            }
            '}' => return Err(TemplateError::StrayClose { position }),
            '{' => {
                let close = chars[i + 1..]
                    .iter()
                    .position(|&c| c == '}')
                    .ok_or(TemplateError::Unclosed { position })?;
                let body: String = chars[i + 1..i + 1 + close].iter().collect();
                if !literal.is_empty() {
                    elements.push((
                        literal_start,
                        Element::Literal(std::mem::take(&mut literal)),
                    ));
                }
                elements.push((position, parse_field(&body, position)?));
                i += close + 2;
            }
            c if c.is_ascii_graphic() => {
                push_literal_char(&mut literal, &mut literal_start, position, c);
                i += 1;
            }
            character => {
                return Err(TemplateError::LiteralCharacter {
                    position,
                    character,
                });
            }
        }
    }
    if !literal.is_empty() {
        elements.push((literal_start, Element::Literal(literal)));
    }
    check_structure(&elements)?;
    Ok(elements.into_iter().map(|(_, element)| element).collect())
}

fn push_literal_char(literal: &mut String, start: &mut usize, position: usize, c: char) {
    if literal.is_empty() {
        *start = position;
    }
    literal.push(c);
}

/// Parses `name:arg[:arg]` of a field starting at `position` (the `{`).
fn parse_field(body: &str, position: usize) -> Result<Element, TemplateError> {
    let mut parts = body.split(':');
    let name = parts.next().unwrap_or("");
    let args: Vec<&str> = parts.collect();
    let bad = |reason: String| TemplateError::Field { position, reason };
    match name {
        "date" => {
            let [format] = args.as_slice() else {
                return Err(bad("date needs one format, e.g. {date:YYMMDD}".to_owned()));
            };
            DateField::from_name(format).map(Element::Date).ok_or_else(|| {
                bad(format!("date format {format:?} is not one of YYYY, YY, MM, DD, YYMMDD, YYYYMMDD, DDD"))
            })
        }
        "serial" => {
            let (length, charset) = match args.as_slice() {
                [length] => (*length, SerialCharset::Alphanumeric),
                [length, charset] => {
                    let charset = SerialCharset::from_name(charset).ok_or_else(|| {
                        bad(format!(
                            "serial character set {charset:?} is not one of digits, upper, alnum"
                        ))
                    })?;
                    (*length, charset)
                }
                _ => {
                    return Err(bad(
                        "serial needs a length, e.g. {serial:10} or {serial:10:digits}".to_owned(),
                    ));
                }
            };
            let length: usize = length
                .parse()
                .ok()
                .filter(|n| (1..=MAX_SERIAL_LEN).contains(n))
                .ok_or_else(|| {
                    bad(format!(
                        "serial length {length:?} is not a number 1-{MAX_SERIAL_LEN}"
                    ))
                })?;
            Ok(Element::Serial { length, charset })
        }
        "check" => {
            let [kind] = args.as_slice() else {
                return Err(bad(
                    "check needs one algorithm, e.g. {check:mod11-2}".to_owned()
                ));
            };
            kind.parse::<CheckKind>().map(Element::Check).map_err(|_| {
                bad(format!(
                    "check algorithm {kind:?} is not one of mod10, mod11-2, mod37-2"
                ))
            })
        }
        other => Err(bad(format!(
            "unknown field {other:?} (expected date, serial or check)"
        ))),
    }
}

/// Exactly one serial; at most one check, and it comes last; the check algorithm accepts every
/// character that can come before it.
fn check_structure(elements: &[(usize, Element)]) -> Result<(), TemplateError> {
    let mut serial_at = None;
    for (index, (position, element)) in elements.iter().enumerate() {
        match element {
            Element::Serial { .. } => {
                if serial_at.is_some() {
                    return Err(TemplateError::DuplicateSerial {
                        position: *position,
                    });
                }
                serial_at = Some(*position);
            }
            Element::Check(kind) => {
                if index + 1 != elements.len() {
                    return Err(TemplateError::CheckNotLast {
                        position: *position,
                    });
                }
                check_data_alphabet(*kind, &elements[..index])?;
            }
            Element::Literal(_) | Element::Date(_) => {}
        }
    }
    if serial_at.is_none() {
        return Err(TemplateError::NoSerial);
    }
    Ok(())
}

fn check_data_alphabet(kind: CheckKind, before: &[(usize, Element)]) -> Result<(), TemplateError> {
    for (position, element) in before {
        match element {
            Element::Literal(text) => {
                if let Some((offset, character)) = text
                    .chars()
                    .enumerate()
                    .find(|&(_, c)| !kind.accepts_data_char(c))
                {
                    return Err(TemplateError::CheckAlphabet {
                        position: position + offset,
                        kind,
                        what: format!("literal {character:?}"),
                    });
                }
            }
            Element::Serial { charset, .. } => {
                let fits = match kind {
                    CheckKind::Mod10 | CheckKind::Mod11_2 => *charset == SerialCharset::Digits,
                    CheckKind::Mod37_2 => *charset != SerialCharset::Alphanumeric,
                };
                if !fits {
                    return Err(TemplateError::CheckAlphabet {
                        position: *position,
                        kind,
                        what: format!("a serial of {}", charset.describe()),
                    });
                }
            }
            // Dates are digits, which every algorithm accepts.
            Element::Date(_) | Element::Check(_) => {}
        }
    }
    Ok(())
}
