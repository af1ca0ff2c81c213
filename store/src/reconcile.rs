//! Batch reconciliation (SPEC §3), computed from the codes' current states:
//! `allocated = voided + printed`, `printed = verified + rejected`,
//! `verified = packed + sampled + loose`, and every rejected code destroyed or released; and
//! the batch's cartons and pallets (issue 14 item 5, [`PackageReconciliation`]).

use serde::Serialize;

use super::{CodeState, PackageLevel, PackageState};

/// The counts of a batch and whether they balance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

/// What the store counts for a batch's packages ([`PackageReconciliation::from_figures`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageFigures {
    /// Packages per (level, state, short).
    pub packages: Vec<(PackageLevel, PackageState, bool, i64)>,
    /// Packages holding more children than their capacity.
    pub over_capacity: i64,
    /// Units `packed` or `shipped` linked to no carton.
    pub packed_in_no_carton: i64,
    /// Units linked to a carton while not `packed` or `shipped`.
    pub linked_not_packed: i64,
    /// Units linked to something that is not a carton of this store.
    pub linked_to_no_carton: i64,
    /// Cartons whose pallet link disagrees with their state (on a pallet and not
    /// `palletised`/`shipped`, or `palletised` and on no pallet), or whose parent is no pallet.
    pub pallet_link_wrong: i64,
}

/// A batch's cartons and pallets, and whether they balance: every SSCC allocated is closed
/// (possibly short) or voided, no package over capacity, every packed unit in exactly one
/// carton (one column holds the link, so never in two), every carton on at most one pallet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PackageReconciliation {
    /// Cartons allocated (every state).
    pub cartons: i64,
    /// Cartons closed (including palletised and shipped).
    pub cartons_closed: i64,
    /// Closed with fewer units than their capacity.
    pub cartons_short: i64,
    /// Never used.
    pub cartons_voided: i64,
    /// Still open (allocated, labelled, verified or reopened).
    pub cartons_open: i64,
    /// Pallets allocated (every state).
    pub pallets: i64,
    /// Pallets closed (including shipped).
    pub pallets_closed: i64,
    /// Pallets voided.
    pub pallets_voided: i64,
    /// Pallets still open.
    pub pallets_open: i64,
    /// Whether every rule holds and nothing is open.
    pub balanced: bool,
    /// The rules that do not hold, in words.
    pub problems: Vec<String>,
}

impl PackageReconciliation {
    /// Computes the reconciliation from what the store counted.
    pub fn from_figures(f: &PackageFigures) -> PackageReconciliation {
        let n = |level: PackageLevel, keep: &dyn Fn(PackageState, bool) -> bool| -> i64 {
            f.packages
                .iter()
                .filter(|(l, s, short, _)| *l == level && keep(*s, *short))
                .map(|(_, _, _, c)| c)
                .sum()
        };
        use PackageLevel::{Carton, Pallet};
        use PackageState::{Closed, Palletised, Shipped, Voided};
        let closed = |s: PackageState, _| matches!(s, Closed | Palletised | Shipped);
        let voided = |s: PackageState, _| s == Voided;
        let open = |s: PackageState, _| s.is_open();
        let mut r = PackageReconciliation {
            cartons: n(Carton, &|_, _| true),
            cartons_closed: n(Carton, &closed),
            cartons_short: n(Carton, &|s, short| short && closed(s, short)),
            cartons_voided: n(Carton, &voided),
            cartons_open: n(Carton, &open),
            pallets: n(Pallet, &|_, _| true),
            pallets_closed: n(Pallet, &closed),
            pallets_voided: n(Pallet, &voided),
            pallets_open: n(Pallet, &open),
            balanced: false,
            problems: Vec::new(),
        };
        for (level, all, closed, voided, open) in [
            (
                "cartons",
                r.cartons,
                r.cartons_closed,
                r.cartons_voided,
                r.cartons_open,
            ),
            (
                "pallets",
                r.pallets,
                r.pallets_closed,
                r.pallets_voided,
                r.pallets_open,
            ),
        ] {
            if all != closed + voided {
                r.problems.push(format!(
                    "{level} allocated {all} ≠ closed {closed} + voided {voided} ({open} open)"
                ));
            }
        }
        let rules = [
            (f.over_capacity, "packages hold more than their capacity"),
            (f.packed_in_no_carton, "packed units are in no carton"),
            (
                f.linked_not_packed,
                "units linked to a carton are not packed",
            ),
            (
                f.linked_to_no_carton,
                "units are linked to something that is not a carton",
            ),
            (
                f.pallet_link_wrong,
                "cartons' pallet links disagree with their state",
            ),
        ];
        for (count, what) in rules {
            if count > 0 {
                r.problems.push(format!("{count} {what}"));
            }
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

    #[test]
    fn packages_balance_when_every_sscc_is_closed_or_voided() {
        use PackageLevel::*;
        use PackageState::*;
        let mut f = PackageFigures {
            packages: vec![
                (Carton, Palletised, false, 3),
                (Carton, Closed, true, 1),
                (Carton, Voided, false, 1),
                (Pallet, Closed, false, 1),
            ],
            ..PackageFigures::default()
        };
        let r = PackageReconciliation::from_figures(&f);
        assert!(r.balanced, "{:?}", r.problems);
        assert_eq!(
            (
                r.cartons,
                r.cartons_closed,
                r.cartons_short,
                r.cartons_voided
            ),
            (5, 4, 1, 1)
        );
        f.packages.push((Carton, Reopened, false, 2));
        f.packed_in_no_carton = 4;
        f.over_capacity = 1;
        let r = PackageReconciliation::from_figures(&f);
        assert!(!r.balanced);
        assert_eq!(
            r.problems,
            [
                "cartons allocated 7 ≠ closed 4 + voided 1 (2 open)",
                "1 packages hold more than their capacity",
                "4 packed units are in no carton",
            ]
        );
    }
}
