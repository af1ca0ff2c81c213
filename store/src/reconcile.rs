//! Batch reconciliation (SPEC §3), computed from the codes' current states:
//! `allocated = voided + printed`, `printed = verified + rejected`,
//! `verified = packed + sampled + loose`, and every rejected code destroyed or released.

use serde::Serialize;

use super::CodeState;

/// The counts of a batch and whether they balance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Reconciliation {
    /// Codes issued for the batch.
    pub allocated: i64,
    /// Never printed.
    pub voided: i64,
    /// Printed (whatever happened next).
    pub printed: i64,
    /// Verified by the camera (whatever happened next).
    pub verified: i64,
    /// Rejected (whatever QA decided).
    pub rejected: i64,
    /// Packed (including shipped).
    pub packed: i64,
    /// Taken as samples.
    pub sampled: i64,
    /// Verified, neither packed nor sampled.
    pub loose: i64,
    /// Rejected and destroyed.
    pub destroyed: i64,
    /// Rejected and released by QA.
    pub released: i64,
    /// Reserved or sent: still on the way to the marker.
    pub in_flight: i64,
    /// Printed, no camera result yet.
    pub awaiting_verification: i64,
    /// Rejected, no QA decision yet.
    pub awaiting_qa: i64,
    /// Whether every equation holds and nothing is pending.
    pub balanced: bool,
    /// The equations that do not hold, in words.
    pub problems: Vec<String>,
}

impl Reconciliation {
    /// Computes the reconciliation from (state, count) pairs.
    pub fn from_counts(counts: &[(CodeState, i64)]) -> Reconciliation {
        use CodeState::*;
        let n = |states: &[CodeState]| -> i64 {
            counts
                .iter()
                .filter(|(s, _)| states.contains(s))
                .map(|(_, c)| c)
                .sum()
        };
        let mut r = Reconciliation {
            allocated: counts.iter().map(|(_, c)| c).sum(),
            voided: n(&[Voided]),
            printed: n(&[
                Printed, Verified, Rejected, Packed, Shipped, Destroyed, Released, Sampled,
            ]),
            verified: n(&[Verified, Packed, Shipped, Sampled]),
            rejected: n(&[Rejected, Destroyed, Released]),
            packed: n(&[Packed, Shipped]),
            sampled: n(&[Sampled]),
            loose: n(&[Verified]),
            destroyed: n(&[Destroyed]),
            released: n(&[Released]),
            in_flight: n(&[Reserved, Sent]),
            awaiting_verification: n(&[Printed]),
            awaiting_qa: n(&[Rejected]),
            balanced: false,
            problems: Vec::new(),
        };
        if r.allocated != r.voided + r.printed {
            r.problems.push(format!(
                "allocated {} ≠ voided {} + printed {} ({} reserved or sent)",
                r.allocated, r.voided, r.printed, r.in_flight
            ));
        }
        if r.printed != r.verified + r.rejected {
            r.problems.push(format!(
                "printed {} ≠ verified {} + rejected {} ({} without a camera result)",
                r.printed, r.verified, r.rejected, r.awaiting_verification
            ));
        }
        if r.verified != r.packed + r.sampled + r.loose {
            r.problems.push(format!(
                "verified {} ≠ packed {} + sampled {} + loose {}",
                r.verified, r.packed, r.sampled, r.loose
            ));
        }
        if r.awaiting_qa > 0 {
            r.problems.push(format!(
                "{} rejected codes are neither destroyed nor released",
                r.awaiting_qa
            ));
        }
        r.balanced = r.problems.is_empty();
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balances_only_when_everything_is_settled() {
        use CodeState::*;
        let settled = [
            (Voided, 2),
            (Packed, 5),
            (Sampled, 1),
            (Verified, 1),
            (Destroyed, 1),
        ];
        let r = Reconciliation::from_counts(&settled);
        assert!(r.balanced, "{:?}", r.problems);
        assert_eq!((r.allocated, r.printed, r.verified, r.loose), (10, 8, 7, 1));
        let pending = [(Reserved, 1), (Printed, 1), (Rejected, 1)];
        let r = Reconciliation::from_counts(&pending);
        assert!(!r.balanced);
        assert_eq!(r.problems.len(), 3);
    }
}
