//! Errors that name the AI and the character position, so an operator can find the mistake.

use std::fmt;

use super::ai::Charset;

/// What is wrong with GS1 data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The input is empty.
    Empty,
    /// A character outside the value's character set.
    NotInCharset {
        /// The offending character.
        found: char,
        /// The set it should belong to.
        charset: Charset,
    },
    /// The value is shorter than the AI allows.
    TooShort {
        /// Characters found.
        len: usize,
        /// Minimum.
        min: u8,
    },
    /// The value is longer than the AI allows.
    TooLong {
        /// Characters found.
        len: usize,
        /// Maximum.
        max: u8,
    },
    /// The data ends before a fixed-length value does.
    Truncated {
        /// Characters found.
        len: usize,
        /// Characters required.
        expected: u8,
    },
    /// The check digit does not match.
    CheckDigit {
        /// The digit in the data.
        found: char,
        /// The digit the data calls for.
        expected: char,
    },
    /// A date field with a month outside 01–12.
    Month(u8),
    /// A date field with a day that the month does not have.
    Day {
        /// Day found.
        day: u8,
        /// Month of the date.
        month: u8,
        /// Whether day 00 would have been accepted.
        zero_allowed: bool,
    },
    /// Digits that do not start any AI of the table.
    UnknownAi(String),
    /// The data ends inside an AI.
    TruncatedAi,
    /// A required AI is missing (requisite pairs, General Specifications §4.13.2).
    Requires(String),
    /// Two AIs that may not be combined (exclusive pairs, §4.13.1).
    Excludes(String),
    /// The same AI twice.
    Duplicate,
    /// A value or key of the wrong shape.
    Format(String),
    /// A syntax error in the HRI or URI form.
    Syntax(&'static str),
    /// A Digital Link path or query that breaks the URI syntax rules.
    Link(String),
    /// A symbology identifier that does not announce GS1 data.
    NotGs1Symbology(String),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Empty => f.write_str("no data"),
            Problem::NotInCharset {
                found: ' ',
                charset,
            } => write!(f, "space is not in {}", charset.name()),
            Problem::NotInCharset {
                found,
                charset: Charset::Numeric,
            } => {
                write!(f, "{} is not a digit", describe(*found))
            }
            Problem::NotInCharset { found, charset } => {
                write!(f, "{} is not in {}", describe(*found), charset.name())
            }
            Problem::TooShort { len, min } => {
                write!(f, "value has {len} characters, at least {min} required")
            }
            Problem::TooLong { len, max } => {
                write!(f, "value has {len} characters, at most {max} allowed")
            }
            Problem::Truncated { len, expected } => {
                write!(f, "data ends after {len} of {expected} characters")
            }
            Problem::CheckDigit { found, expected } => {
                write!(f, "check digit is {found}, expected {expected}")
            }
            Problem::Month(month) => write!(f, "month {month:02} is not 01-12"),
            Problem::Day { day: 0, .. } => f.write_str("day 00 is not allowed for this AI"),
            Problem::Day { day, month, .. } => {
                write!(f, "day {day:02} does not exist in month {month:02}")
            }
            Problem::UnknownAi(digits) => write!(f, "unknown application identifier {digits}"),
            Problem::TruncatedAi => f.write_str("data ends inside an application identifier"),
            Problem::Requires(needs) => write!(f, "requires {needs}"),
            Problem::Excludes(other) => write!(f, "cannot be combined with AI ({other})"),
            Problem::Duplicate => f.write_str("appears more than once"),
            Problem::Syntax(what) => f.write_str(what),
            Problem::Link(what) | Problem::Format(what) => f.write_str(what),
            Problem::NotGs1Symbology(id) => {
                write!(f, "symbology identifier {id} does not announce GS1 data")
            }
        }
    }
}

fn describe(c: char) -> String {
    if c.is_control() {
        format!("control character U+{:04X}", u32::from(c))
    } else {
        format!("'{c}'")
    }
}

/// An error in GS1 data: what is wrong, in which AI, at which character (1-based, counted in the
/// input as given, symbology identifier included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gs1Error {
    ai: Option<&'static str>,
    position: Option<usize>,
    problem: Problem,
}

impl Gs1Error {
    pub(crate) fn new(ai: Option<&'static str>, position: Option<usize>, problem: Problem) -> Self {
        Gs1Error {
            ai,
            position,
            problem,
        }
    }

    /// The AI the error is in, if it concerns one.
    pub fn ai(&self) -> Option<&'static str> {
        self.ai
    }

    /// The 1-based character position in the input, when the input was text.
    pub fn position(&self) -> Option<usize> {
        self.position
    }

    /// What is wrong.
    pub fn problem(&self) -> &Problem {
        &self.problem
    }

    /// Moves the position by `offset` characters (used when the data was cut out of a longer
    /// input).
    pub(crate) fn shifted(mut self, offset: usize) -> Self {
        self.position = self.position.map(|p| p + offset);
        self
    }
}

impl fmt::Display for Gs1Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.ai, self.position) {
            (Some(ai), Some(position)) => {
                write!(f, "AI ({ai}) at character {position}: {}", self.problem)
            }
            (Some(ai), None) => write!(f, "AI ({ai}): {}", self.problem),
            (None, Some(position)) => write!(f, "at character {position}: {}", self.problem),
            (None, None) => write!(f, "{}", self.problem),
        }
    }
}

impl std::error::Error for Gs1Error {}
