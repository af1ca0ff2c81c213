//! The text of an ASCII device description: byte strings with escapes, and the `{name}`
//! templates (commands) and patterns (replies) built from them. Pure, no I/O.
//!
//! One type, [`Pattern`], serves both directions: the driver renders a command template with
//! values, the simulator matches it against what it received; the driver matches a reply
//! pattern and reads its captures, the simulator renders it. See `docs/protocols/ascii.md`.
//!
//! Syntax:
//! - escapes `\xHH`, `\r`, `\n`, `\t`, `\0`, `\\` give any byte; every other character stands
//!   for its UTF-8 bytes;
//! - in templates and patterns, `{name}` is a placeholder of one or more bytes and `{name:N}`
//!   one of exactly N bytes; `{_}` / `{_:N}` match bytes that are not read; `{{` and `}}` are
//!   literal braces.
//!
//! Matching is deterministic and linear: a placeholder without a width takes the fewest bytes
//! (at least one) up to the next literal text of the pattern, or the rest of the reply when
//! none follows. No backtracking, so a reply of any content costs one pass (no regex engine is
//! needed for this, and none is used).

use std::fmt;

/// The name of a placeholder whose bytes are matched but not read.
pub const IGNORED: &str = "_";

/// Largest width a placeholder may give.
pub const MAX_WIDTH: usize = 999;

/// Why a string of the description cannot be read. Positions count characters from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyntaxError {
    /// A backslash not followed by a known escape.
    #[error(
        "bad escape `{escape}` at character {position} (known: \\xHH, \\r, \\n, \\t, \\0, \\\\)"
    )]
    BadEscape {
        /// The escape as written.
        escape: String,
        /// Where it starts.
        position: usize,
    },
    /// `{` without its `}`.
    #[error("`{{` at character {position} is not closed (write `{{{{` for a literal brace)")]
    Unclosed {
        /// Where the `{` is.
        position: usize,
    },
    /// `}` that closes nothing.
    #[error("lone `}}` at character {position} (write `}}}}` for a literal brace)")]
    LoneBrace {
        /// Where the `}` is.
        position: usize,
    },
    /// A placeholder that is not `{name}` or `{name:N}`.
    #[error(
        "placeholder `{{{text}}}` at character {position} is not {{name}} or {{name:N}} \
         (name: a-z and _, N: 1 to {MAX_WIDTH})"
    )]
    BadPlaceholder {
        /// What is between the braces.
        text: String,
        /// Where the `{` is.
        position: usize,
    },
    /// Two placeholders without a width and no literal text between them.
    #[error(
        "`{{{first}}}` and `{{{second}}}` have no text between them and no width: where one \
         ends cannot be told"
    )]
    Ambiguous {
        /// The first placeholder's name.
        first: String,
        /// The second placeholder's name.
        second: String,
    },
}

/// Decodes the escapes of `text` into bytes.
pub fn unescape(text: &str) -> Result<Vec<u8>, SyntaxError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        i = unescape_at(&chars, i, &mut out)?;
    }
    Ok(out)
}

/// Decodes the character (or escape) at `i` into `out`; returns the index after it.
fn unescape_at(chars: &[char], i: usize, out: &mut Vec<u8>) -> Result<usize, SyntaxError> {
    let c = chars[i];
    if c != '\\' {
        let mut buffer = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
        return Ok(i + 1);
    }
    let bad = |len: usize| SyntaxError::BadEscape {
        escape: chars[i..(i + len).min(chars.len())].iter().collect(),
        position: i + 1,
    };
    let byte = match chars.get(i + 1) {
        Some('r') => b'\r',
        Some('n') => b'\n',
        Some('t') => b'\t',
        Some('0') => 0,
        Some('\\') => b'\\',
        Some('x') => {
            let high = chars.get(i + 2).and_then(|c| c.to_digit(16));
            let low = chars.get(i + 3).and_then(|c| c.to_digit(16));
            return match (high, low) {
                (Some(high), Some(low)) => {
                    out.push(((high << 4) | low) as u8);
                    Ok(i + 4)
                }
                _ => Err(bad(4)),
            };
        }
        _ => return Err(bad(2)),
    };
    out.push(byte);
    Ok(i + 2)
}

/// Writes `bytes` readably: printable ASCII as is, anything else as `\xHH` (`\r`, `\n`, `\t`
/// by name). For error messages and logs.
pub fn printable(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &byte in bytes {
        match byte {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7E => out.push(char::from(byte)),
            _ => out.push_str(&format!("\\x{byte:02X}")),
        }
    }
    out
}

/// One piece of a [`Pattern`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Bytes that must be there as they are.
    Literal(Vec<u8>),
    /// A value: one or more bytes, or exactly `width`.
    Placeholder {
        /// Its name.
        name: String,
        /// Its width in bytes, if fixed.
        width: Option<usize>,
    },
}

/// A command template or a reply pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    parts: Vec<Part>,
    source: String,
}

/// What a placeholder matched, by name (`{_}` is left out).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captures {
    values: Vec<(String, Vec<u8>)>,
}

impl Captures {
    /// The bytes `name` matched.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.values
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, value)| value.as_slice())
    }

    /// The bytes `name` matched, as text (invalid UTF-8 replaced).
    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(|value| String::from_utf8_lossy(value).into_owned())
    }
}

/// A template that cannot be rendered with the values given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// No value for a placeholder.
    #[error("no value for `{{{0}}}`")]
    Missing(String),
    /// A value longer than its placeholder's width.
    #[error("`{value}` does not fit `{{{name}:{width}}}`")]
    TooWide {
        /// The placeholder.
        name: String,
        /// Its width.
        width: usize,
        /// The value, readable.
        value: String,
    },
    /// A value that is empty: a placeholder stands for at least one byte.
    #[error("empty value for `{{{0}}}`")]
    Empty(String),
}

impl Pattern {
    /// Parses `text`: escapes, placeholders, literal braces.
    pub fn parse(text: &str) -> Result<Self, SyntaxError> {
        let chars: Vec<char> = text.chars().collect();
        let mut parts: Vec<Part> = Vec::new();
        let mut literal: Vec<u8> = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '{' if chars.get(i + 1) == Some(&'{') => {
                    literal.push(b'{');
                    i += 2;
                }
                '}' if chars.get(i + 1) == Some(&'}') => {
                    literal.push(b'}');
                    i += 2;
                }
                '}' => return Err(SyntaxError::LoneBrace { position: i + 1 }),
                '{' => {
                    let close = chars[i..]
                        .iter()
                        .position(|&c| c == '}')
                        .ok_or(SyntaxError::Unclosed { position: i + 1 })?;
                    let inner: String = chars[i + 1..i + close].iter().collect();
                    let (name, width) =
                        parse_placeholder(&inner).ok_or_else(|| SyntaxError::BadPlaceholder {
                            text: inner.clone(),
                            position: i + 1,
                        })?;
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Placeholder { name, width });
                    i += close + 1;
                }
                _ => i = unescape_at(&chars, i, &mut literal)?,
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Self {
            parts,
            source: text.to_owned(),
        })
    }

    /// Checks that every width-less placeholder has literal text before the next one, so a
    /// match can tell where each ends. Templates are checked once `{field}` is filled in.
    pub fn check_unambiguous(&self) -> Result<(), SyntaxError> {
        for (i, part) in self.parts.iter().enumerate() {
            if let Part::Placeholder { name, width: None } = part
                && let Some(first) = unbounded_before(&self.parts[..i])
            {
                return Err(SyntaxError::Ambiguous {
                    first: first.to_owned(),
                    second: name.clone(),
                });
            }
        }
        Ok(())
    }

    /// A pattern of literal bytes only.
    pub fn literal(bytes: &[u8]) -> Self {
        let parts = if bytes.is_empty() {
            Vec::new()
        } else {
            vec![Part::Literal(bytes.to_vec())]
        };
        Self {
            parts,
            source: printable(bytes),
        }
    }

    /// The text it was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Its pieces, in order.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// No placeholder: the pattern is its literal bytes.
    pub fn is_literal(&self) -> bool {
        self.placeholders().next().is_none()
    }

    /// Matches nothing but the empty string.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Its placeholders, in order: name and width.
    pub fn placeholders(&self) -> impl Iterator<Item = (&str, Option<usize>)> {
        self.parts.iter().filter_map(|part| match part {
            Part::Placeholder { name, width } => Some((name.as_str(), *width)),
            Part::Literal(_) => None,
        })
    }

    /// The pattern with the placeholders `value` knows replaced by literal bytes (e.g. the
    /// configured `{field}`), the others kept.
    pub fn substitute(&self, value: impl Fn(&str) -> Option<Vec<u8>>) -> Self {
        let mut parts: Vec<Part> = Vec::new();
        for part in &self.parts {
            let literal = match part {
                Part::Placeholder { name, .. } => match value(name) {
                    Some(bytes) => bytes,
                    None => {
                        parts.push(part.clone());
                        continue;
                    }
                },
                Part::Literal(bytes) => bytes.clone(),
            };
            match parts.last_mut() {
                Some(Part::Literal(previous)) => previous.extend_from_slice(&literal),
                _ if literal.is_empty() => {}
                _ => parts.push(Part::Literal(literal)),
            }
        }
        Self {
            parts,
            source: self.source.clone(),
        }
    }

    /// Renders the pattern: every placeholder gets `value(name)`; a value shorter than its
    /// placeholder's width is padded on the left with `0` (numbers and fixed-width fields).
    pub fn render(&self, value: impl Fn(&str) -> Option<Vec<u8>>) -> Result<Vec<u8>, RenderError> {
        let mut out = Vec::with_capacity(self.source.len() + 32);
        self.render_into(&mut out, value)?;
        Ok(out)
    }

    /// Renders the pattern, appending to `out`; see [`render`](Self::render).
    pub fn render_into(
        &self,
        out: &mut Vec<u8>,
        value: impl Fn(&str) -> Option<Vec<u8>>,
    ) -> Result<(), RenderError> {
        for part in &self.parts {
            match part {
                Part::Literal(bytes) => out.extend_from_slice(bytes),
                Part::Placeholder { name, width } => {
                    let bytes = value(name).ok_or_else(|| RenderError::Missing(name.clone()))?;
                    match width {
                        Some(width) if bytes.len() > *width => {
                            return Err(RenderError::TooWide {
                                name: name.clone(),
                                width: *width,
                                value: printable(&bytes),
                            });
                        }
                        Some(width) => {
                            out.resize(out.len() + (width - bytes.len()), b'0');
                        }
                        None if bytes.is_empty() => return Err(RenderError::Empty(name.clone())),
                        None => {}
                    }
                    out.extend_from_slice(&bytes);
                }
            }
        }
        Ok(())
    }

    /// Matches all of `input`; the captures on success.
    pub fn captures(&self, input: &[u8]) -> Option<Captures> {
        let mut position = 0;
        let mut captures = Captures::default();
        for (i, part) in self.parts.iter().enumerate() {
            let rest = input.get(position..)?;
            match part {
                Part::Literal(bytes) => {
                    if !rest.starts_with(bytes) {
                        return None;
                    }
                    position += bytes.len();
                }
                Part::Placeholder { name, width } => {
                    let len = match width {
                        Some(width) => *width,
                        None => self.unbounded_len(i, rest)?,
                    };
                    let value = rest.get(..len)?;
                    if name != IGNORED {
                        captures.values.push((name.clone(), value.to_vec()));
                    }
                    position += len;
                }
            }
        }
        (position == input.len()).then_some(captures)
    }

    /// How many bytes of `rest` the width-less placeholder at `index` takes: the fewest (at
    /// least one) that leave the fixed-width placeholders after it right before the next
    /// literal, or the rest minus those widths when no literal follows.
    fn unbounded_len(&self, index: usize, rest: &[u8]) -> Option<usize> {
        let mut fixed = 0;
        let mut next = index + 1;
        while let Some(Part::Placeholder {
            width: Some(width), ..
        }) = self.parts.get(next)
        {
            fixed += width;
            next += 1;
        }
        match self.parts.get(next) {
            Some(Part::Literal(literal)) => {
                let from = 1 + fixed;
                let found = find(rest.get(from..)?, literal)?;
                Some(from + found - fixed)
            }
            // `parse` refuses two width-less placeholders without text between them.
            Some(Part::Placeholder { .. }) => None,
            None => rest.len().checked_sub(fixed).filter(|len| *len >= 1),
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// `name` or `name:N`.
fn parse_placeholder(inner: &str) -> Option<(String, Option<usize>)> {
    let (name, width) = match inner.split_once(':') {
        Some((name, width)) => {
            if width.is_empty() || !width.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let width: usize = width.parse().ok()?;
            if !(1..=MAX_WIDTH).contains(&width) {
                return None;
            }
            (name, Some(width))
        }
        None => (inner, None),
    };
    let valid = !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    valid.then(|| (name.to_owned(), width))
}

/// The last width-less placeholder, if nothing but fixed-width ones follow it.
fn unbounded_before(parts: &[Part]) -> Option<&str> {
    for part in parts.iter().rev() {
        match part {
            Part::Literal(_) => return None,
            Part::Placeholder { width: Some(_), .. } => {}
            Part::Placeholder { name, width: None } => return Some(name),
        }
    }
    None
}

/// The first position of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_give_bytes() {
        assert_eq!(unescape(r"\x02A\r\n\t\0\\").unwrap(), b"\x02A\r\n\t\0\\");
        assert_eq!(unescape("é").unwrap(), "é".as_bytes());
        assert_eq!(
            unescape(r"AB\q").unwrap_err().to_string(),
            "bad escape `\\q` at character 3 (known: \\xHH, \\r, \\n, \\t, \\0, \\\\)"
        );
        assert_eq!(
            unescape(r"\x0G").unwrap_err(),
            SyntaxError::BadEscape {
                escape: r"\x0G".to_owned(),
                position: 1
            }
        );
        assert!(unescape(r"\x0").is_err());
        assert!(unescape("\\").is_err());
        assert_eq!(printable(b"\x02OK\r\x7F"), r"\x02OK\r\x7F");
    }

    #[test]
    fn placeholders_parse_with_and_without_width() {
        let pattern = Pattern::parse(r"\x02SIN S{field:2}{code}{{x}}").unwrap();
        assert_eq!(
            pattern.parts(),
            &[
                Part::Literal(b"\x02SIN S".to_vec()),
                Part::Placeholder {
                    name: "field".to_owned(),
                    width: Some(2)
                },
                Part::Placeholder {
                    name: "code".to_owned(),
                    width: None
                },
                Part::Literal(b"{x}".to_vec()),
            ]
        );
        for (bad, message) in [
            ("A{code", "`{` at character 2 is not closed"),
            ("A}B", "lone `}` at character 2"),
            ("{Code}", "placeholder `{Code}` at character 1 is not"),
            ("{n:0}", "placeholder `{n:0}`"),
            ("{n:x}", "placeholder `{n:x}`"),
        ] {
            let error = Pattern::parse(bad).unwrap_err().to_string();
            assert!(error.starts_with(message), "{bad}: {error}");
        }
        let ambiguous = Pattern::parse("{a}{b:2}{c}").unwrap();
        assert_eq!(
            ambiguous.check_unambiguous().unwrap_err().to_string(),
            "`{a}` and `{c}` have no text between them and no width: where one ends cannot be told"
        );
        assert!(ambiguous.captures(b"xyzw").is_none());
        assert!(
            Pattern::parse("{a}{b:2}-{c}")
                .unwrap()
                .check_unambiguous()
                .is_ok()
        );
    }

    #[test]
    fn a_placeholder_without_width_stops_at_the_next_text() {
        let pattern = Pattern::parse("STATUS {state} {fault} {level}").unwrap();
        let captures = pattern.captures(b"STATUS OK 0 12").unwrap();
        assert_eq!(captures.get("state"), Some(&b"OK"[..]));
        assert_eq!(captures.get("fault"), Some(&b"0"[..]));
        assert_eq!(captures.get("level"), Some(&b"12"[..]));
        assert!(pattern.captures(b"STATUS OK 0").is_none());
        assert!(pattern.captures(b"STATUS  0 1").is_none(), "empty state");
        let fixed = Pattern::parse(r"\x02CNTA0{count:6}{_}").unwrap();
        let captures = fixed
            .captures(b"\x02CNTA0000042000000999999000001")
            .unwrap();
        assert_eq!(captures.text("count").as_deref(), Some("000042"));
        let tail = Pattern::parse("NG,{reason}{_:2}").unwrap();
        assert_eq!(
            tail.captures(b"NG,E12xx")
                .unwrap()
                .text("reason")
                .as_deref(),
            Some("E12")
        );
        assert!(tail.captures(b"NG,xx").is_none());
    }

    #[test]
    fn rendering_pads_fixed_widths_and_refuses_what_does_not_fit() {
        let pattern = Pattern::parse("LOAD {index:4} {code}").unwrap();
        let rendered = pattern.render(|name| match name {
            "index" => Some(b"42".to_vec()),
            "code" => Some(b"A1".to_vec()),
            _ => None,
        });
        assert_eq!(rendered.unwrap(), b"LOAD 0042 A1");
        assert_eq!(
            pattern
                .render(|name| Some(if name == "index" {
                    b"12345".to_vec()
                } else {
                    b"A".to_vec()
                }))
                .unwrap_err()
                .to_string(),
            "`12345` does not fit `{index:4}`"
        );
        assert_eq!(
            pattern.render(|_| Some(Vec::new())),
            Err(RenderError::Empty("code".to_owned())),
            "an empty fixed width pads to zeros; a width-less placeholder needs a byte"
        );
        assert_eq!(
            pattern.render(|_| None),
            Err(RenderError::Missing("index".to_owned()))
        );
    }

    #[test]
    fn substitution_turns_known_placeholders_into_text() {
        let pattern = Pattern::parse("SET {field} {code}").unwrap();
        let resolved = pattern.substitute(|name| (name == "field").then(|| b"F1".to_vec()));
        assert_eq!(
            resolved.parts(),
            &[
                Part::Literal(b"SET F1 ".to_vec()),
                Part::Placeholder {
                    name: "code".to_owned(),
                    width: None
                }
            ]
        );
        let clear = Pattern::parse("SET {field} ").unwrap();
        assert!(clear.substitute(|_| Some(b"F1".to_vec())).is_literal());
    }
}
