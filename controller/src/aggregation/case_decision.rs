//! The case camera's decision, without I/O (docs/aggregation.md "Case camera mode"; issue 14
//! item 2; the L3 rework rule that an ADD is refused naming the offending codes): a case is
//! accepted only when the symbols the camera found are exactly `units_per_case` codes, each
//! decoded, each a verified and unpacked unit of this batch, none twice. Otherwise it goes to
//! rework with every reason, each naming its code:
//!
//! | reason | when |
//! |---|---|
//! | `missing` | fewer symbols than `units_per_case` (not for a case closed short on purpose) |
//! | `too many` | more symbols than `units_per_case` |
//! | `unreadable` | a symbol found but not decoded |
//! | `foreign` | a code of another batch, not issued by this store, or not a GS1 code at all |
//! | `rejected` | a unit the line rejected (or never verified) |
//! | `already packed` | a unit already in a carton |
//! | `duplicate` | the same code twice in the case |
//!
//! What the decision knows of each code comes from [`Known`]: the packing task's set of the
//! batch's verified, unpacked codes answers on the hot path (no store round trip); only codes
//! that set does not hold are looked up in the store, and a code whose `verified` is not yet
//! committed is [`Known::Pending`]: the case is held, not refused (see `case_camera.rs`).

use std::collections::HashSet;
use std::fmt;

use serde::Serialize;

use super::case_read::CaseRead;

/// What the packing task knows of one code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    /// Verified, of this batch, in no package: packable.
    Verified,
    /// Already in a carton.
    Packed,
    /// Rejected by the line, or otherwise not packable (destroyed, sampled, voided…).
    Rejected,
    /// Of another batch, or not issued by this store.
    Foreign,
    /// Issued to this batch, its line decision not committed yet (sent, printed).
    Pending,
}

/// Why a case went to rework.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseReason {
    /// Fewer symbols than the case holds.
    Missing,
    /// More symbols than the case holds.
    TooMany,
    /// A symbol found, not decoded.
    Unreadable,
    /// Another batch's code, or one this store never issued.
    Foreign,
    /// A unit the line rejected (or never verified).
    Rejected,
    /// A unit already in a carton.
    AlreadyPacked,
    /// The same code twice.
    Duplicate,
}

impl CaseReason {
    /// The reason in words, as the audit event and the reports say it.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseReason::Missing => "missing",
            CaseReason::TooMany => "too many",
            CaseReason::Unreadable => "unreadable",
            CaseReason::Foreign => "foreign",
            CaseReason::Rejected => "rejected",
            CaseReason::AlreadyPacked => "already packed",
            CaseReason::Duplicate => "duplicate",
        }
    }
}

/// One reason a case was refused, with the code (or count) it is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseProblem {
    /// The reason.
    pub reason: CaseReason,
    /// The code (stored text, or the data as read when it is not a code); `None` for counts
    /// and unreadable symbols.
    pub code: Option<String>,
    /// For `missing` and `too many`: symbols found; for `unreadable`: the symbol's position.
    pub count: Option<usize>,
}

impl fmt::Display for CaseProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.code, self.count) {
            (Some(code), _) => write!(f, "{code}: {}", self.reason.as_str()),
            (None, Some(n)) if self.reason == CaseReason::Unreadable => {
                write!(f, "symbol {}: unreadable", n + 1)
            }
            (None, Some(n)) => write!(f, "{}: {n} found", self.reason.as_str()),
            (None, None) => f.write_str(self.reason.as_str()),
        }
    }
}

/// The decision on one case read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseDecision {
    /// Pack these codes (stored text, in the camera's order) into a new carton and close it.
    Accept {
        /// The case's units.
        codes: Vec<String>,
    },
    /// Send the case to rework, for these reasons (at least one).
    Reject {
        /// Every problem found.
        problems: Vec<CaseProblem>,
    },
    /// Nothing wrong yet, but these codes' `verified` is not committed: decide again later.
    Hold {
        /// The codes waited for.
        pending: Vec<String>,
    },
}

/// The stored code text of each decoded symbol of `read`, `None` for one unreadable or not a
/// code (what `verify::gs1_code_of` gives), in the camera's order.
pub fn codes_of(read: &CaseRead) -> Vec<Option<String>> {
    read.reads
        .iter()
        .map(|r| r.data.as_deref().and_then(crate::verify::gs1_code_of))
        .collect()
}

/// Decides on `read`, whose symbols decode to `codes` ([`codes_of`]), for cases of
/// `units_per_case`; `know` says what each code is. Pure: the same inputs give the same
/// decision.
pub fn decide(
    read: &CaseRead,
    codes: &[Option<String>],
    units_per_case: u32,
    mut know: impl FnMut(&str) -> Known,
) -> CaseDecision {
    let expected = units_per_case.max(1) as usize;
    let found = read.reads.len();
    let mut problems = Vec::new();
    let mut pending = Vec::new();
    let count = |reason, n| CaseProblem {
        reason,
        code: None,
        count: Some(n),
    };
    if found > expected {
        problems.push(count(CaseReason::TooMany, found));
    } else if found < expected && !(read.short && found >= 1) {
        problems.push(count(CaseReason::Missing, found));
    }
    let mut seen = HashSet::with_capacity(found);
    let mut accepted = Vec::with_capacity(found);
    for (n, (symbol, code)) in read.reads.iter().zip(codes).enumerate() {
        let problem = |reason, code: &str| CaseProblem {
            reason,
            code: Some(code.to_owned()),
            count: None,
        };
        let Some(code) = code else {
            match &symbol.data {
                None => problems.push(count(CaseReason::Unreadable, n)),
                // Decoded, but not a code of any scheme this line marks.
                Some(data) => problems.push(problem(CaseReason::Foreign, data)),
            }
            continue;
        };
        if !seen.insert(code.as_str()) {
            problems.push(problem(CaseReason::Duplicate, code));
            continue;
        }
        match know(code) {
            Known::Verified => accepted.push(code.clone()),
            Known::Packed => problems.push(problem(CaseReason::AlreadyPacked, code)),
            Known::Rejected => problems.push(problem(CaseReason::Rejected, code)),
            Known::Foreign => problems.push(problem(CaseReason::Foreign, code)),
            Known::Pending => pending.push(code.clone()),
        }
    }
    if !problems.is_empty() {
        CaseDecision::Reject { problems }
    } else if !pending.is_empty() {
        CaseDecision::Hold { pending }
    } else {
        CaseDecision::Accept { codes: accepted }
    }
}

#[cfg(test)]
#[path = "case_decision_tests.rs"]
mod tests;
