//! Template codes: configurable code shapes for platforms with their own format.
//!
//! SPEC §4 and the standard 重点工业产品质量安全追溯信息通用要求 §6.1.4 (seed 003: the coding
//! system is the producer's choice) call for code shapes such as a 20-digit code. A template is a
//! pattern of fixed text and fields:
//!
//! | syntax | meaning | width |
//! |---|---|---|
//! | `TM`, `-`, … | literal text: printable ASCII except space; `{{` and `}}` for braces | as written |
//! | `{date:YYYY}` `{date:YY}` `{date:MM}` `{date:DD}` | year, two-digit year (2000–2099), month, day | 4, 2, 2, 2 |
//! | `{date:YYMMDD}` `{date:YYYYMMDD}` | whole date | 6, 8 |
//! | `{date:DDD}` | ordinal day of the year, 001–366 | 3 |
//! | `{serial:N}` | the serial, exactly N characters (1–64) of `0-9A-Za-z` | N |
//! | `{serial:N:digits}` `{serial:N:upper}` `{serial:N:alnum}` | … of `0-9`, `0-9A-Z`, `0-9A-Za-z` | N |
//! | `{check:mod10}` `{check:mod11-2}` `{check:mod37-2}` | check character over everything before it (ISO/IEC 7064, GS1 mod-10) | 1 |
//!
//! Rules, checked by [`Template::parse`] with the character position of the offence: exactly
//! one serial; at most one check, and it is the last element; the check's algorithm must accept
//! every character that can precede it (a `mod11-2` check needs digits-only literals and a
//! `digits` serial).
//!
//! Examples: `{date:YYMMDD}{serial:13:digits}{check:mod11-2}` is a 20-digit shape;
//! `TM{date:YYMMDD}{serial:10:upper}{check:mod37-2}` is 19 characters; `TM{serial:10}{check:mod10}`
//! is rejected at position 1, because mod-10 takes digits only.
//!
//! The serial itself comes from the caller (the FF1 serial module); a template only places it.

mod date;
mod pattern;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::check_char::{CheckError, CheckKind};

/// A parsed, validated code pattern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Template {
    pattern: String,
    elements: Vec<Element>,
}

/// One piece of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Element {
    Literal(String),
    Date(DateField),
    Serial {
        length: usize,
        charset: SerialCharset,
    },
    Check(CheckKind),
}

/// A date field of a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateField {
    /// `YYYY`: four-digit year.
    Year4,
    /// `YY`: two-digit year, 2000–2099.
    Year2,
    /// `MM`: month 01–12.
    Month,
    /// `DD`: day of month 01–31.
    Day,
    /// `YYMMDD`.
    YyMmDd,
    /// `YYYYMMDD`.
    YyyyMmDd,
    /// `DDD`: ordinal day of the year 001–366.
    DayOfYear,
}

/// The characters a serial field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SerialCharset {
    /// `0-9`.
    Digits,
    /// `0-9A-Z`.
    Upper,
    /// `0-9A-Za-z` (the default).
    Alphanumeric,
}

/// A pattern that cannot be used; `position` is the 1-based character position in the pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// A `{` without its `}`.
    #[error("pattern: position {position}: '{{' is never closed")]
    Unclosed {
        /// Position of the `{`.
        position: usize,
    },
    /// A `}` without a `{`.
    #[error("pattern: position {position}: '}}' without '{{' (write '}}}}' for a literal brace)")]
    StrayClose {
        /// Position of the `}`.
        position: usize,
    },
    /// A literal character that is not printable ASCII (space and control characters included).
    #[error(
        "pattern: position {position}: {character:?} is not allowed in literal text (printable ASCII, no space)"
    )]
    LiteralCharacter {
        /// Position of the character.
        position: usize,
        /// The character.
        character: char,
    },
    /// An unknown field or bad field arguments.
    #[error("pattern: position {position}: {reason}")]
    Field {
        /// Position of the field's `{`.
        position: usize,
        /// What is wrong.
        reason: String,
    },
    /// No `{serial:N}` field.
    #[error("pattern: needs a {{serial:N}} field")]
    NoSerial,
    /// A second serial field.
    #[error("pattern: position {position}: only one {{serial:N}} field is allowed")]
    DuplicateSerial {
        /// Position of the second serial field.
        position: usize,
    },
    /// A check field that is not the last element.
    #[error("pattern: position {position}: the check field must be the last element")]
    CheckNotLast {
        /// Position of the check field.
        position: usize,
    },
    /// Something before the check can hold characters its algorithm does not accept.
    #[error("pattern: position {position}: {kind} accepts {} but {what} comes before the check", kind.data_alphabet())]
    CheckAlphabet {
        /// Position of the offending element or character.
        position: usize,
        /// The check algorithm.
        kind: CheckKind,
        /// The offending element.
        what: String,
    },
}

/// A date or serial that cannot be formatted, or a code that does not match the template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateCodeError {
    /// An impossible date, or one the template cannot write (a two-digit year outside 2000–2099).
    #[error("date: {reason}")]
    Date {
        /// What is wrong.
        reason: String,
    },
    /// The serial given to [`Template::format`] has the wrong length.
    #[error("serial: expected {expected} characters, found {found}")]
    SerialLength {
        /// The field width.
        expected: usize,
        /// The serial's length.
        found: usize,
    },
    /// A serial character outside the field's set; `position` counts within the serial for
    /// [`Template::format`] and within the code for [`Template::parse_code`].
    #[error("serial: position {position}: {character:?} is not allowed ({allowed})")]
    SerialCharacter {
        /// 1-based position.
        position: usize,
        /// The character.
        character: char,
        /// The allowed characters.
        allowed: &'static str,
    },
    /// The code has the wrong length.
    #[error("code: expected {expected} characters, found {found}")]
    Length {
        /// The template's total length.
        expected: usize,
        /// The code's length.
        found: usize,
    },
    /// Literal text of the code differs from the template.
    #[error("code: position {position}: expected {expected:?}, found {found:?}")]
    Literal {
        /// 1-based position in the code.
        position: usize,
        /// The template's text.
        expected: String,
        /// The code's text there.
        found: String,
    },
    /// A date field of the code holds a non-digit, an impossible value or disagrees with
    /// another date field.
    #[error("date: position {position}: {reason}")]
    DateField {
        /// 1-based position in the code.
        position: usize,
        /// What is wrong.
        reason: String,
    },
    /// The check character is wrong.
    #[error(transparent)]
    Check(#[from] CheckError),
}

/// The fields read back from a code by [`Template::parse_code`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateCode {
    date: DateParts,
    serial: String,
    check: Option<char>,
}

/// The date components a code carries; which are present depends on the template.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DateParts {
    /// The year (two-digit years read as 2000–2099).
    pub year: Option<u16>,
    /// The month, 1–12 (also derived from `DDD` when the year is known).
    pub month: Option<u8>,
    /// The day of month (also derived from `DDD` when the year is known).
    pub day: Option<u8>,
    /// The ordinal day of the year (also derived from a full date).
    pub day_of_year: Option<u16>,
}

impl DateField {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "YYYY" => DateField::Year4,
            "YY" => DateField::Year2,
            "MM" => DateField::Month,
            "DD" => DateField::Day,
            "YYMMDD" => DateField::YyMmDd,
            "YYYYMMDD" => DateField::YyyyMmDd,
            "DDD" => DateField::DayOfYear,
            _ => return None,
        })
    }

    /// The field's width in characters.
    pub fn width(self) -> usize {
        match self {
            DateField::Year4 => 4,
            DateField::Year2 | DateField::Month | DateField::Day => 2,
            DateField::YyMmDd => 6,
            DateField::YyyyMmDd => 8,
            DateField::DayOfYear => 3,
        }
    }

    fn uses_two_digit_year(self) -> bool {
        matches!(self, DateField::Year2 | DateField::YyMmDd)
    }

    fn write(self, out: &mut String, (year, month, day): (u16, u8, u8)) {
        let yy = year % 100;
        let text = match self {
            DateField::Year4 => format!("{year:04}"),
            DateField::Year2 => format!("{yy:02}"),
            DateField::Month => format!("{month:02}"),
            DateField::Day => format!("{day:02}"),
            DateField::YyMmDd => format!("{yy:02}{month:02}{day:02}"),
            DateField::YyyyMmDd => format!("{year:04}{month:02}{day:02}"),
            DateField::DayOfYear => format!("{:03}", date::day_of_year(year, month, day)),
        };
        out.push_str(&text);
    }
}

impl SerialCharset {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "digits" => SerialCharset::Digits,
            "upper" => SerialCharset::Upper,
            "alnum" => SerialCharset::Alphanumeric,
            _ => return None,
        })
    }

    /// Whether `c` belongs to the set.
    pub fn contains(self, c: char) -> bool {
        match self {
            SerialCharset::Digits => c.is_ascii_digit(),
            SerialCharset::Upper => c.is_ascii_digit() || c.is_ascii_uppercase(),
            SerialCharset::Alphanumeric => c.is_ascii_alphanumeric(),
        }
    }

    /// The set, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            SerialCharset::Digits => "0-9",
            SerialCharset::Upper => "0-9A-Z",
            SerialCharset::Alphanumeric => "0-9A-Za-z",
        }
    }
}

impl Element {
    fn width(&self) -> usize {
        match self {
            Element::Literal(text) => text.len(),
            Element::Date(field) => field.width(),
            Element::Serial { length, .. } => *length,
            Element::Check(_) => 1,
        }
    }
}

impl Template {
    /// Parses and validates a pattern (syntax in the module docs).
    ///
    /// # Errors
    /// A [`TemplateError`] with the 1-based character position in `pattern`.
    pub fn parse(pattern: &str) -> Result<Self, TemplateError> {
        let elements = pattern::parse(pattern)?;
        Ok(Template {
            pattern: pattern.to_owned(),
            elements,
        })
    }

    /// The pattern text.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The length in characters of every code of this template.
    pub fn total_length(&self) -> usize {
        self.elements.iter().map(Element::width).sum()
    }

    /// The serial field's width.
    pub fn serial_length(&self) -> usize {
        self.serial_field().0
    }

    /// The serial field's character set.
    pub fn serial_charset(&self) -> SerialCharset {
        self.serial_field().1
    }

    fn serial_field(&self) -> (usize, SerialCharset) {
        self.elements
            .iter()
            .find_map(|e| match e {
                Element::Serial { length, charset } => Some((*length, *charset)),
                _ => None,
            })
            // `parse` guarantees a serial field.
            .unwrap_or((0, SerialCharset::Digits))
    }

    /// The check algorithm, if the template ends in a check field.
    pub fn check_kind(&self) -> Option<CheckKind> {
        match self.elements.last() {
            Some(Element::Check(kind)) => Some(*kind),
            _ => None,
        }
    }

    /// Writes a code for `date` (year, month, day) and `serial` (exactly the field's width).
    ///
    /// # Errors
    /// [`TemplateCodeError::Date`] for an impossible date or a year a `YY` field cannot hold,
    /// [`TemplateCodeError::SerialLength`] / [`TemplateCodeError::SerialCharacter`] for the serial.
    pub fn format(&self, date: (u16, u8, u8), serial: &str) -> Result<String, TemplateCodeError> {
        let (year, month, day) = date;
        date::validate(year, month, day).map_err(|reason| TemplateCodeError::Date { reason })?;
        let needs_yy = self
            .elements
            .iter()
            .any(|e| matches!(e, Element::Date(f) if f.uses_two_digit_year()));
        if needs_yy && !(2000..=2099).contains(&year) {
            return Err(TemplateCodeError::Date {
                reason: format!("year {year} cannot be written as YY (2000-2099 only)"),
            });
        }
        let mut out = String::with_capacity(self.total_length());
        for element in &self.elements {
            match element {
                Element::Literal(text) => out.push_str(text),
                Element::Date(field) => field.write(&mut out, date),
                Element::Serial { length, charset } => {
                    let found = serial.chars().count();
                    if found != *length {
                        return Err(TemplateCodeError::SerialLength {
                            expected: *length,
                            found,
                        });
                    }
                    check_serial_chars(serial, *charset, 1)?;
                    out.push_str(serial);
                }
                Element::Check(kind) => out.push(kind.compute(&out)?),
            }
        }
        Ok(out)
    }

    /// Reads a code back: checks length, literals, date fields and the check character, and
    /// returns the date components and the serial.
    ///
    /// # Errors
    /// The first mismatch as a [`TemplateCodeError`], positions 1-based in `code`.
    pub fn parse_code(&self, code: &str) -> Result<TemplateCode, TemplateCodeError> {
        let found = code.chars().count();
        let expected = self.total_length();
        if found != expected {
            return Err(TemplateCodeError::Length { expected, found });
        }
        if let Some((index, character)) = code
            .chars()
            .enumerate()
            .find(|&(_, c)| !c.is_ascii_graphic())
        {
            // Literals, dates, serials and check characters are all printable ASCII.
            return Err(TemplateCodeError::Literal {
                position: index + 1,
                expected: "printable ASCII".to_owned(),
                found: character.to_string(),
            });
        }
        // The code is ASCII now, so byte offsets are character offsets.
        let mut parts = DateParts::default();
        let mut serial = String::new();
        let mut check = None;
        let mut offset = 0;
        for element in &self.elements {
            let width = element.width();
            let text = &code[offset..offset + width];
            let position = offset + 1;
            match element {
                Element::Literal(literal) => {
                    if text != literal {
                        return Err(TemplateCodeError::Literal {
                            position,
                            expected: literal.clone(),
                            found: text.to_owned(),
                        });
                    }
                }
                Element::Date(field) => read_date(*field, text, position, &mut parts)?,
                Element::Serial { charset, .. } => {
                    check_serial_chars(text, *charset, position)?;
                    serial = text.to_owned();
                }
                Element::Check(kind) => {
                    kind.verify(&code[..offset + 1])?;
                    check = text.chars().next();
                }
            }
            offset += width;
        }
        parts
            .complete()
            .map_err(|(position, reason)| TemplateCodeError::DateField { position, reason })?;
        Ok(TemplateCode {
            date: parts,
            serial,
            check,
        })
    }
}

fn check_serial_chars(
    serial: &str,
    charset: SerialCharset,
    first_position: usize,
) -> Result<(), TemplateCodeError> {
    match serial
        .chars()
        .enumerate()
        .find(|&(_, c)| !charset.contains(c))
    {
        Some((index, character)) => Err(TemplateCodeError::SerialCharacter {
            position: first_position + index,
            character,
            allowed: charset.describe(),
        }),
        None => Ok(()),
    }
}

/// Reads a date field's digits into `parts`, checking ranges and agreement with earlier fields.
fn read_date(
    field: DateField,
    text: &str,
    position: usize,
    parts: &mut DateParts,
) -> Result<(), TemplateCodeError> {
    let err = |offset: usize, reason: String| TemplateCodeError::DateField {
        position: position + offset,
        reason,
    };
    if let Some(index) = text.chars().position(|c| !c.is_ascii_digit()) {
        return Err(err(index, format!("{text:?} must be digits")));
    }
    // Fields are at most 8 ASCII digits, so these parses cannot fail or overflow.
    let number = |range: std::ops::Range<usize>| text[range].parse::<u16>().unwrap_or(0);
    let mut set = |offset: usize, slot: Slot, value: u16| {
        parts.set(slot, value).map_err(|reason| err(offset, reason))
    };
    match field {
        DateField::Year4 => set(0, Slot::Year, number(0..4)),
        DateField::Year2 => set(0, Slot::Year, 2000 + number(0..2)),
        DateField::Month => set(0, Slot::Month, number(0..2)),
        DateField::Day => set(0, Slot::Day, number(0..2)),
        DateField::DayOfYear => set(0, Slot::DayOfYear, number(0..3)),
        DateField::YyMmDd => {
            set(0, Slot::Year, 2000 + number(0..2))?;
            set(2, Slot::Month, number(2..4))?;
            set(4, Slot::Day, number(4..6))
        }
        DateField::YyyyMmDd => {
            set(0, Slot::Year, number(0..4))?;
            set(4, Slot::Month, number(4..6))?;
            set(6, Slot::Day, number(6..8))
        }
    }
}

#[derive(Clone, Copy)]
enum Slot {
    Year,
    Month,
    Day,
    DayOfYear,
}

impl DateParts {
    /// Stores one component after a range check; a component already set must agree.
    fn set(&mut self, slot: Slot, value: u16) -> Result<(), String> {
        let (name, ok) = match slot {
            Slot::Year => ("year", (1..=9999).contains(&value)),
            Slot::Month => ("month", (1..=12).contains(&value)),
            Slot::Day => ("day", (1..=31).contains(&value)),
            Slot::DayOfYear => ("day of year", (1..=366).contains(&value)),
        };
        if !ok {
            return Err(format!("{name} {value} is out of range"));
        }
        let small = u8::try_from(value).unwrap_or(u8::MAX);
        let previous = match slot {
            Slot::Year => self.year.replace(value),
            Slot::Month => self.month.replace(small).map(u16::from),
            Slot::Day => self.day.replace(small).map(u16::from),
            Slot::DayOfYear => self.day_of_year.replace(value),
        };
        match previous {
            Some(previous) if previous != value => Err(format!(
                "{name} {value} disagrees with {previous} earlier in the code"
            )),
            _ => Ok(()),
        }
    }

    /// Cross-checks the components and derives the missing ones where the year is known.
    /// Errors carry position 1 (the whole date, not one field).
    fn complete(&mut self) -> Result<(), (usize, String)> {
        let year = self.year;
        // Without a year, check against a leap year so 29 February and day 366 stay possible.
        let calendar_year = year.unwrap_or(2000);
        if let (Some(month), Some(day)) = (self.month, self.day) {
            date::validate(calendar_year, month, day).map_err(|reason| (1, reason))?;
            if year.is_some() {
                let ordinal = date::day_of_year(calendar_year, month, day);
                if self.day_of_year.is_some_and(|d| d != ordinal) {
                    return Err((
                        1,
                        format!(
                            "day of year disagrees with {calendar_year:04}-{month:02}-{day:02}"
                        ),
                    ));
                }
                self.day_of_year = Some(ordinal);
            }
        } else if let Some(ordinal) = self.day_of_year {
            let (month, day) = date::from_day_of_year(calendar_year, ordinal).ok_or_else(|| {
                (
                    1,
                    format!("day of year {ordinal} does not exist in {calendar_year}"),
                )
            })?;
            if year.is_some() {
                if self.month.is_some_and(|m| m != month) || self.day.is_some_and(|d| d != day) {
                    return Err((
                        1,
                        format!("day of year {ordinal} disagrees with the month or day"),
                    ));
                }
                self.month = Some(month);
                self.day = Some(day);
            }
        }
        Ok(())
    }
}

impl TemplateCode {
    /// The full date (year, month, day) if the template carries enough to know it.
    pub fn date(&self) -> Option<(u16, u8, u8)> {
        Some((self.date.year?, self.date.month?, self.date.day?))
    }

    /// Every date component the code carries or implies.
    pub fn date_parts(&self) -> DateParts {
        self.date
    }

    /// The serial.
    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// The check character, if the template has one.
    pub fn check_char(&self) -> Option<char> {
        self.check
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.pattern)
    }
}

impl FromStr for Template {
    type Err = TemplateError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Template::parse(s)
    }
}

impl TryFrom<String> for Template {
    type Error = TemplateError;

    fn try_from(pattern: String) -> Result<Self, Self::Error> {
        Template::parse(&pattern)
    }
}

impl From<Template> for String {
    fn from(template: Template) -> Self {
        template.pattern
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twenty_digit_shape() {
        let t = Template::parse("{date:YYMMDD}{serial:13:digits}{check:mod11-2}").unwrap();
        assert_eq!(t.total_length(), 20);
        let code = t.format((2024, 12, 31), "0000000000042").unwrap();
        assert_eq!(&code[..19], "2412310000000000042");
        assert_eq!(code.len(), 20);
        let back = t.parse_code(&code).unwrap();
        assert_eq!(back.date(), Some((2024, 12, 31)));
        assert_eq!(back.date_parts().day_of_year, Some(366));
        assert_eq!(back.serial(), "0000000000042");
    }

    #[test]
    fn ordinal_day_and_year() {
        let t = Template::parse("X{date:YY}{date:DDD}-{serial:4:upper}").unwrap();
        let code = t.format((2024, 2, 29), "AB12").unwrap();
        assert_eq!(code, "X24060-AB12");
        assert_eq!(t.parse_code(&code).unwrap().date(), Some((2024, 2, 29)));
        assert_eq!(
            t.parse_code("X23366-AB12").unwrap_err().to_string(),
            "date: position 1: day of year 366 does not exist in 2023"
        );
    }

    #[test]
    fn escaped_braces() {
        let t = Template::parse("{{{serial:2}}}").unwrap();
        assert_eq!(t.format((2024, 1, 1), "ab").unwrap(), "{ab}");
    }
}
