//! A validated GS1 code: an ordered list of AI elements, and its HRI and element-string forms.

use std::fmt::Write as _;

use compact_str::CompactString;

use super::ai::{self, AiDef, DateRule};
use super::check::mod10_check_digit;
use super::error::{Gs1Error, Problem};

/// The group separator that stands for FNC1 in transmitted data (General Specifications §7.8.3:
/// "the FNC1 … is transmitted as the ASCII control character GS, 0x1D").
pub const GS: u8 = 0x1d;

/// One AI and its value.
#[derive(Debug, Clone)]
pub struct Element {
    def: &'static AiDef,
    // Inline up to 24 bytes: no allocation for a GTIN, date, lot or serial on the hot path.
    value: CompactString,
    // 1-based character position of the AI in the parsed input, for errors found later.
    position: Option<usize>,
}

impl PartialEq for Element {
    fn eq(&self, other: &Self) -> bool {
        self.def.code == other.def.code && self.value == other.value
    }
}

impl Eq for Element {}

impl Element {
    /// The AI digits, e.g. `"21"`.
    pub fn ai(&self) -> &'static str {
        self.def.code
    }

    /// The AI's definition.
    pub fn def(&self) -> &'static AiDef {
        self.def
    }

    /// The value.
    pub fn value(&self) -> &str {
        &self.value
    }
}

/// A validated GS1 code. Every value has passed its AI's format, character set, check digit and
/// date rules, and the combination of AIs has passed the requisite and exclusive rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gs1Code {
    elements: Vec<Element>,
}

impl Gs1Code {
    /// Builds a code from `(AI, value)` pairs, in the order given.
    ///
    /// ```
    /// use tracemark_codes::gs1::Gs1Code;
    /// let code = Gs1Code::from_pairs([("01", "09506000134352"), ("21", "A1B2C3")])?;
    /// assert_eq!(code.to_hri(), "(01)09506000134352(21)A1B2C3");
    /// # Ok::<(), tracemark_codes::gs1::Gs1Error>(())
    /// ```
    pub fn from_pairs<A, V>(pairs: impl IntoIterator<Item = (A, V)>) -> Result<Self, Gs1Error>
    where
        A: AsRef<str>,
        V: Into<String>,
    {
        let mut builder = CodeBuilder::default();
        for (ai_digits, value) in pairs {
            let ai_digits = ai_digits.as_ref();
            let def = ai::lookup(ai_digits).ok_or_else(|| {
                Gs1Error::new(None, None, Problem::UnknownAi(ai_digits.to_owned()))
            })?;
            let value: String = value.into();
            validate_value(def, value.as_bytes())
                .map_err(|(_, problem)| Gs1Error::new(Some(def.code), None, problem))?;
            builder.push(def, &value, None)?;
        }
        builder.finish()
    }

    /// The elements in order.
    pub fn elements(&self) -> &[Element] {
        &self.elements
    }

    /// The value of `ai`, if present.
    pub fn get(&self, ai: &str) -> Option<&str> {
        self.elements
            .iter()
            .find(|e| e.def.code == ai)
            .map(|e| e.value.as_str())
    }

    /// The elements whose AIs are in `ais`, in this code's order: one symbol of a label whose
    /// AIs were validated together (a requisite may be met by another symbol of the label,
    /// `logistic.rs`).
    pub(crate) fn subset(&self, ais: &[&str]) -> Gs1Code {
        Gs1Code {
            elements: self
                .elements
                .iter()
                .filter(|e| ais.contains(&e.def.code))
                .cloned()
                .collect(),
        }
    }

    /// The GTIN (AI 01), if present.
    pub fn gtin(&self) -> Option<&str> {
        self.get("01")
    }

    /// The serial (AI 21), if present.
    pub fn serial(&self) -> Option<&str> {
        self.get("21")
    }

    /// Human readable interpretation: `(01)09506000134352(21)A1B2C3` (General Specifications §4.15).
    ///
    /// A `(` inside a value is written `\(`, the escape of GS1's bracketed-AI syntax (GS1 Barcode
    /// Syntax Engine): without it `(10)A(93)B` would read as two AIs. `\` is not in CSET 82, so the
    /// escape is unambiguous, and [`parse_hri`](super::parse_hri) accepts values with and without it.
    pub fn to_hri(&self) -> String {
        let mut out = String::with_capacity(self.elements.iter().map(|e| e.value.len() + 6).sum());
        for e in &self.elements {
            // Writing to a String cannot fail.
            let _ = write!(out, "({})", e.def.code);
            if e.value.contains('(') {
                out.push_str(&e.value.replace('(', "\\("));
            } else {
                out.push_str(&e.value);
            }
        }
        out
    }

    /// The element string as transmitted by a scanner after its symbology identifier: AIs and
    /// values, with GS (0x1D) after every element whose length is not predefined, unless it is the
    /// last (General Specifications §7.8.5). No leading FNC1: symbol encoders add it.
    pub fn to_element_string(&self) -> String {
        let mut out = String::with_capacity(self.elements.iter().map(|e| e.value.len() + 5).sum());
        let last = self.elements.len().saturating_sub(1);
        for (index, e) in self.elements.iter().enumerate() {
            out.push_str(e.def.code);
            out.push_str(&e.value);
            if !e.def.predefined_length && index != last {
                out.push(char::from(GS));
            }
        }
        out
    }
}

/// Collects elements and checks the rules that span elements.
pub(crate) struct CodeBuilder {
    elements: Vec<Element>,
}

impl Default for CodeBuilder {
    fn default() -> Self {
        // A unit code rarely has more than four elements (GTIN, expiry, lot, serial).
        CodeBuilder {
            elements: Vec::with_capacity(4),
        }
    }
}

impl CodeBuilder {
    /// Adds an element whose value is already validated; `position` is the 1-based character
    /// position of its AI in the input.
    pub(crate) fn push(
        &mut self,
        def: &'static AiDef,
        value: &str,
        position: Option<usize>,
    ) -> Result<(), Gs1Error> {
        // An AI may appear only once in a symbol, even with the same value (General
        // Specifications §4.14).
        if self.elements.iter().any(|e| std::ptr::eq(e.def, def)) {
            return Err(Gs1Error::new(Some(def.code), position, Problem::Duplicate));
        }
        self.elements.push(Element {
            def,
            value: CompactString::from(value),
            position,
        });
        Ok(())
    }

    /// Validates `data[value]` as the value of `def` and adds it. `position` maps a byte offset
    /// of `data` to the 1-based character position reported in errors; `ai_start` is the byte
    /// offset of the AI.
    pub(crate) fn push_from_text(
        &mut self,
        def: &'static AiDef,
        data: &str,
        value: std::ops::Range<usize>,
        ai_start: usize,
        position: &dyn Fn(usize) -> usize,
    ) -> Result<(), Gs1Error> {
        let bytes = data.as_bytes().get(value.clone()).unwrap_or_default();
        validate_value(def, bytes).map_err(|(at, problem)| {
            Gs1Error::new(Some(def.code), Some(position(value.start + at)), problem)
        })?;
        // Validated ASCII, so the range ends on character boundaries: a slice, not a
        // re-validation.
        let text = data.get(value).unwrap_or_default();
        self.push(def, text, Some(position(ai_start)))
    }

    /// Checks the requisite and exclusive AI rules (General Specifications §4.13).
    pub(crate) fn finish(self) -> Result<Gs1Code, Gs1Error> {
        if self.elements.is_empty() {
            return Err(Gs1Error::new(None, None, Problem::Empty));
        }
        // Packed AI keys: a requisite check is then integer compares, not string compares.
        let present = |code: &str| {
            let wanted = ai::pack(code.as_bytes());
            self.elements.iter().any(|e| e.def.key == wanted)
        };
        for element in &self.elements {
            let (def, position) = (element.def, element.position);
            if let Some(other) = def.excludes.iter().find(|code| present(code)) {
                return Err(Gs1Error::new(
                    Some(def.code),
                    position,
                    Problem::Excludes((*other).to_owned()),
                ));
            }
            if !def.requires.is_empty()
                && !def
                    .requires
                    .iter()
                    .any(|all| all.iter().all(|code| present(code)))
            {
                return Err(Gs1Error::new(
                    Some(def.code),
                    position,
                    Problem::Requires(describe_requirement(def.requires)),
                ));
            }
        }
        Ok(Gs1Code {
            elements: self.elements,
        })
    }
}

/// "AI (01)", "AI (01) or (02)", "AI (01)+(21) or (03)+(21)".
fn describe_requirement(alternatives: &[&[&str]]) -> String {
    let parts: Vec<String> = alternatives
        .iter()
        .map(|all| {
            all.iter()
                .map(|code| format!("({code})"))
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    match parts.split_last() {
        Some((last, [])) => format!("AI {last}"),
        Some((last, rest)) => format!("AI {} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// Validates one value against its AI: length, character set, check digit, date. On error returns
/// the 0-based byte offset inside the value where the problem is, and the problem.
pub(crate) fn validate_value(def: &AiDef, value: &[u8]) -> Result<(), (usize, Problem)> {
    if value.len() < usize::from(def.min_len) {
        return Err((
            0,
            Problem::TooShort {
                len: value.len(),
                min: def.min_len,
            },
        ));
    }
    if value.len() > usize::from(def.max_len) {
        return Err((
            0,
            Problem::TooLong {
                len: value.len(),
                max: def.max_len,
            },
        ));
    }
    if let Some(offset) = value.iter().position(|&b| !def.charset.contains(b)) {
        return Err((
            offset,
            Problem::NotInCharset {
                found: char_at(value, offset),
                charset: def.charset,
            },
        ));
    }
    if def.check_digit
        && let Some((&found, data)) = value.split_last()
    {
        let expected = mod10_check_digit(data).unwrap_or(b'0');
        if found != expected {
            return Err((
                value.len() - 1,
                Problem::CheckDigit {
                    found: char::from(found),
                    expected: char::from(expected),
                },
            ));
        }
    }
    if let Some(rule) = def.date {
        validate_date(value, rule)?;
    }
    Ok(())
}

/// The character starting at `offset` (the value may hold UTF-8 that is not in any GS1 set).
fn char_at(value: &[u8], offset: usize) -> char {
    let tail = &value[offset..];
    let end = tail.len().min(4);
    (1..=end)
        .find_map(|len| {
            std::str::from_utf8(&tail[..len])
                .ok()
                .and_then(|s| s.chars().next())
        })
        .unwrap_or(char::REPLACEMENT_CHARACTER)
}

/// `YYMMDD` (General Specifications §7.12: the century is resolved by a sliding window, so a leap
/// year is any `YY` divisible by four — true for every year the window can produce except 2100,
/// which is outside it until 2051).
fn validate_date(value: &[u8], rule: DateRule) -> Result<(), (usize, Problem)> {
    let two = |i: usize| (value[i] - b'0') * 10 + (value[i + 1] - b'0');
    let (yy, month, day) = (two(0), two(2), two(4));
    if !(1..=12).contains(&month) {
        return Err((2, Problem::Month(month)));
    }
    let zero_allowed = rule == DateRule::YyMmD0;
    let days_in_month = match month {
        2 if yy % 4 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if (day == 0 && !zero_allowed) || day > days_in_month {
        return Err((
            4,
            Problem::Day {
                day,
                month,
                zero_allowed,
            },
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_pairs_builds_all_forms() {
        let code = Gs1Code::from_pairs([
            ("01", "09506000134352"),
            ("10", "ABC123"),
            ("17", "271231"),
            ("21", "A1B2C3"),
        ])
        .expect("valid");
        assert_eq!(
            code.to_hri(),
            "(01)09506000134352(10)ABC123(17)271231(21)A1B2C3"
        );
        assert_eq!(
            code.to_element_string(),
            "0109506000134352".to_owned() + "10ABC123\u{1d}17271231" + "21A1B2C3"
        );
        assert_eq!(code.gtin(), Some("09506000134352"));
        assert_eq!(code.serial(), Some("A1B2C3"));
    }

    #[test]
    fn pair_rules() {
        let err = Gs1Code::from_pairs([("21", "A1")]).expect_err("21 needs 01");
        assert_eq!(err.to_string(), "AI (21): requires AI (01), (03) or (8006)");
        let err = Gs1Code::from_pairs([
            ("01", "09506000134352"),
            ("02", "09506000134352"),
            ("37", "5"),
        ])
        .expect_err("01 with 02");
        assert_eq!(err.to_string(), "AI (01): cannot be combined with AI (02)");
        let err = Gs1Code::from_pairs([("00", "106141411234567897"), ("02", "09506000134352")])
            .expect_err("02 needs 37");
        assert_eq!(err.to_string(), "AI (02): requires AI (37)");
        assert!(
            Gs1Code::from_pairs([
                ("00", "106141411234567897"),
                ("02", "09506000134352"),
                ("37", "24")
            ])
            .is_ok()
        );
        let err = Gs1Code::from_pairs([("01", "09506000134352"), ("01", "09506000134352")])
            .expect_err("twice");
        assert_eq!(err.to_string(), "AI (01): appears more than once");
    }

    #[test]
    fn dates() {
        let v = |value: &str| {
            validate_value(ai::lookup("17").expect("17"), value.as_bytes())
                .map_err(|e| e.1.to_string())
        };
        assert_eq!(v("271200"), Ok(()));
        assert_eq!(v("280229"), Ok(()));
        assert_eq!(v("270229"), Err("day 29 does not exist in month 02".into()));
        assert_eq!(v("271301"), Err("month 13 is not 01-12".into()));
        assert_eq!(v("270431"), Err("day 31 does not exist in month 04".into()));
    }
}
