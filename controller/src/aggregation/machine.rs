//! Inferred packing's decisions, without I/O (SPEC §3a, issue 14 item 2): the units that pass
//! the gate, in order, fill the open case; the case is full at `units_per_case`. Diverted
//! (rejected) units never reach it, so they never count. Cases fill pallets the same way one
//! level up, `cases_per_pallet` to a pallet.
//!
//! With `case_packer_count`, a full case is packed only once the case packer's count (line
//! I/O map IR 84–85) says it closed a case: the record closes when the physical case does.
//! Units after a full case wait for it; at the end, full cases are packed whatever the count.
//!
//! Events come in ([`PackEvent`]): a unit verified (in gate order), a case closed by the case
//! packer, the batch ending. Actions go
//! out ([`PackAction`]), in order: open a case when its first unit arrives, pack a full case's
//! units in one step (and close it), close the open case short at the end; open, fill and
//! close pallets alike. Cases and pallets are named by their number in the run (0, 1, …): the
//! task (`core.rs`) allocates an SSCC for each as it opens and keeps the mapping.

use std::collections::VecDeque;

/// Counts of the station, from the config or the product's pack sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Units per case, at least 1.
    pub units_per_case: u32,
    /// Cases per pallet; 0: no pallets.
    pub cases_per_pallet: u32,
    /// A full case is packed only once the case packer's count says it closed it.
    pub case_packer_count: bool,
}

/// What happened, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PackEvent {
    /// A unit passed the gate verified (its `verified` is committed in the store).
    UnitVerified {
        /// Its code.
        code: String,
    },
    /// The case packer closed a case (its count went up by one).
    CasePacked,
    /// The run (or batch) ends: close what is open, short.
    BatchEnding,
}

/// What the task does, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PackAction {
    /// Allocate the SSCC of case `case` (its first unit arrived).
    OpenCase {
        /// The case's number in the run.
        case: u64,
    },
    /// Case `case` is full: pack these units into it in one step, then close it.
    PackCase {
        /// The case's number.
        case: u64,
        /// Its units, in gate order.
        codes: Vec<String>,
    },
    /// The run ends with case `case` partly filled: pack these units, close it short.
    CloseShort {
        /// The case's number.
        case: u64,
        /// Its units, in gate order (at least one).
        codes: Vec<String>,
    },
    /// Allocate the SSCC of pallet `pallet` (its first case was closed).
    OpenPallet {
        /// The pallet's number in the run.
        pallet: u64,
    },
    /// Pallet `pallet` is full: put these closed cases onto it, then close it.
    PackPallet {
        /// The pallet's number.
        pallet: u64,
        /// Its cases' numbers.
        cases: Vec<u64>,
    },
    /// The run ends with pallet `pallet` partly filled: put these cases on, close it short.
    ClosePalletShort {
        /// The pallet's number.
        pallet: u64,
        /// Its cases' numbers (at least one).
        cases: Vec<u64>,
    },
}

/// The open case and pallet, and how many of each were opened.
#[derive(Debug)]
pub(crate) struct PackMachine {
    plan: Plan,
    /// The open case's units; empty: no case open.
    case: Vec<String>,
    /// Units after a full case that waits for the case packer's count (`case_packer_count`).
    waiting: VecDeque<String>,
    /// Case closes the case packer counted that no full case has used yet.
    closes_counted: u64,
    cases_opened: u64,
    /// The open pallet's cases; empty: no pallet open.
    pallet: Vec<u64>,
    pallets_opened: u64,
    ended: bool,
}

impl PackMachine {
    /// A station with nothing open. A `units_per_case` of 0 is taken as 1.
    pub(crate) fn new(plan: Plan) -> Self {
        let plan = Plan {
            units_per_case: plan.units_per_case.max(1),
            ..plan
        };
        Self {
            plan,
            case: Vec::with_capacity(plan.units_per_case as usize),
            waiting: VecDeque::new(),
            closes_counted: 0,
            cases_opened: 0,
            pallet: Vec::new(),
            pallets_opened: 0,
            ended: false,
        }
    }

    /// Handles `event`; pushes the actions it calls for onto `out`, in order.
    pub(crate) fn handle(&mut self, event: PackEvent, out: &mut Vec<PackAction>) {
        match event {
            // After the end nothing opens again: a unit then is a bug of the caller, left loose.
            PackEvent::UnitVerified { .. } if self.ended => {}
            PackEvent::UnitVerified { code } => {
                if self.case.len() < self.capacity() {
                    if self.case.is_empty() {
                        self.open_next(out);
                    }
                    self.case.push(code);
                } else {
                    // The open case is full and waits for the case packer: the next case's.
                    self.waiting.push_back(code);
                }
                self.pack_full_cases(out);
            }
            PackEvent::CasePacked => {
                self.closes_counted += 1;
                self.pack_full_cases(out);
            }
            PackEvent::BatchEnding => {
                if self.ended {
                    return;
                }
                self.ended = true;
                // The case packer's last counts may not have been read: full cases are full.
                self.closes_counted = u64::MAX;
                self.pack_full_cases(out);
                if !self.case.is_empty() {
                    let codes = std::mem::take(&mut self.case);
                    let case = self.open_case();
                    out.push(PackAction::CloseShort { case, codes });
                    self.onto_pallet(case, out);
                }
                if !self.pallet.is_empty() {
                    out.push(PackAction::ClosePalletShort {
                        pallet: self.pallets_opened - 1,
                        cases: std::mem::take(&mut self.pallet),
                    });
                }
            }
        }
    }

    /// Whether the case packer is `plan.units_per_case` ahead of the records: a whole case it
    /// closed whose units the records do not have (yet).
    pub(crate) fn case_packer_ahead(&self) -> bool {
        self.plan.case_packer_count && self.closes_counted > 1 && self.closes_counted != u64::MAX
    }

    fn capacity(&self) -> usize {
        self.plan.units_per_case as usize
    }

    /// Packs the open case while it is full and (with the case packer's count) the case packer
    /// has closed it; refills it from the waiting units.
    fn pack_full_cases(&mut self, out: &mut Vec<PackAction>) {
        while self.case.len() >= self.capacity()
            && (!self.plan.case_packer_count || self.closes_counted > 0)
        {
            if self.plan.case_packer_count && self.closes_counted != u64::MAX {
                self.closes_counted -= 1;
            }
            let capacity = self.capacity();
            let codes = std::mem::replace(&mut self.case, Vec::with_capacity(capacity));
            let case = self.open_case();
            out.push(PackAction::PackCase { case, codes });
            self.onto_pallet(case, out);
            if !self.waiting.is_empty() {
                self.open_next(out);
                let take = self.waiting.len().min(self.capacity());
                self.case.extend(self.waiting.drain(..take));
            }
        }
    }

    fn open_next(&mut self, out: &mut Vec<PackAction>) {
        out.push(PackAction::OpenCase {
            case: self.cases_opened,
        });
        self.cases_opened += 1;
    }

    /// Resumes an interrupted station (docs/aggregation.md "After kill -9"): `closed` cases an
    /// earlier run closed but did not put on a pallet go onto the open pallet, in order, as if
    /// they had just closed (a full pallet is packed). Returns their case numbers. Feed the
    /// earlier run's loose units next, as [`PackEvent::UnitVerified`], in the order they were
    /// verified: they are the units in the open case.
    pub(crate) fn resume_closed_cases(
        &mut self,
        closed: usize,
        out: &mut Vec<PackAction>,
    ) -> Vec<u64> {
        (0..closed)
            .map(|_| {
                let case = self.cases_opened;
                self.cases_opened += 1;
                self.onto_pallet(case, out);
                case
            })
            .collect()
    }

    #[cfg(test)]
    fn in_open_case(&self) -> usize {
        self.case.len()
    }

    /// The number of the case being filled (the last one opened).
    fn open_case(&self) -> u64 {
        self.cases_opened - 1
    }

    /// A closed case goes onto the open pallet (opened for it if need be), which is packed
    /// when full.
    fn onto_pallet(&mut self, case: u64, out: &mut Vec<PackAction>) {
        if self.plan.cases_per_pallet == 0 {
            return;
        }
        if self.pallet.is_empty() {
            out.push(PackAction::OpenPallet {
                pallet: self.pallets_opened,
            });
            self.pallets_opened += 1;
        }
        self.pallet.push(case);
        if self.pallet.len() >= self.plan.cases_per_pallet as usize {
            out.push(PackAction::PackPallet {
                pallet: self.pallets_opened - 1,
                cases: std::mem::take(&mut self.pallet),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(units_per_case: u32, cases_per_pallet: u32) -> Plan {
        Plan {
            units_per_case,
            cases_per_pallet,
            case_packer_count: false,
        }
    }

    fn feed(machine: &mut PackMachine, codes: &[&str]) -> Vec<PackAction> {
        let mut out = Vec::new();
        for code in codes {
            let code = (*code).to_owned();
            machine.handle(PackEvent::UnitVerified { code }, &mut out);
        }
        out
    }

    fn end(machine: &mut PackMachine) -> Vec<PackAction> {
        let mut out = Vec::new();
        machine.handle(PackEvent::BatchEnding, &mut out);
        out
    }

    fn codes(codes: &[&str]) -> Vec<String> {
        codes.iter().map(|c| (*c).to_owned()).collect()
    }

    #[test]
    fn the_first_unit_opens_a_case_and_the_last_packs_it_in_one_step() {
        let mut machine = PackMachine::new(plan(3, 0));
        assert_eq!(
            feed(&mut machine, &["a"]),
            [PackAction::OpenCase { case: 0 }]
        );
        assert_eq!(feed(&mut machine, &["b"]), []);
        assert_eq!(
            feed(&mut machine, &["c"]),
            [PackAction::PackCase {
                case: 0,
                codes: codes(&["a", "b", "c"])
            }]
        );
        assert_eq!(machine.in_open_case(), 0);
        assert_eq!(
            feed(&mut machine, &["d", "e", "f", "g"]),
            [
                PackAction::OpenCase { case: 1 },
                PackAction::PackCase {
                    case: 1,
                    codes: codes(&["d", "e", "f"])
                },
                PackAction::OpenCase { case: 2 },
            ]
        );
    }

    #[test]
    fn with_the_case_packer_count_a_full_case_waits_for_its_close() {
        let mut machine = PackMachine::new(Plan {
            case_packer_count: true,
            ..plan(2, 0)
        });
        assert_eq!(
            feed(&mut machine, &["a", "b", "c"]),
            [PackAction::OpenCase { case: 0 }],
            "full, and c waits: the case packer has not closed it"
        );
        let mut out = Vec::new();
        machine.handle(PackEvent::CasePacked, &mut out);
        assert_eq!(
            out,
            [
                PackAction::PackCase {
                    case: 0,
                    codes: codes(&["a", "b"])
                },
                PackAction::OpenCase { case: 1 },
            ]
        );
        // A close counted before the records have the case's units: packed when they come.
        let mut out = Vec::new();
        machine.handle(PackEvent::CasePacked, &mut out);
        assert_eq!(out, []);
        assert!(!machine.case_packer_ahead());
        machine.handle(PackEvent::CasePacked, &mut out);
        assert!(
            machine.case_packer_ahead(),
            "two closes with no case to pack"
        );
        assert_eq!(
            feed(&mut machine, &["d"]),
            [PackAction::PackCase {
                case: 1,
                codes: codes(&["c", "d"])
            }]
        );
        // At the end full cases are packed whatever the count, then the rest closes short.
        let mut machine = PackMachine::new(Plan {
            case_packer_count: true,
            ..plan(2, 0)
        });
        feed(&mut machine, &["a", "b", "c", "d", "e"]);
        assert_eq!(
            end(&mut machine),
            [
                PackAction::PackCase {
                    case: 0,
                    codes: codes(&["a", "b"])
                },
                PackAction::OpenCase { case: 1 },
                PackAction::PackCase {
                    case: 1,
                    codes: codes(&["c", "d"])
                },
                PackAction::OpenCase { case: 2 },
                PackAction::CloseShort {
                    case: 2,
                    codes: codes(&["e"])
                },
            ]
        );
    }

    #[test]
    fn resumed_closed_cases_fill_the_open_pallet_before_new_ones() {
        let mut machine = PackMachine::new(plan(2, 3));
        let mut out = Vec::new();
        assert_eq!(machine.resume_closed_cases(2, &mut out), [0, 1]);
        assert_eq!(out, [PackAction::OpenPallet { pallet: 0 }]);
        assert_eq!(
            feed(&mut machine, &["a", "b"]),
            [
                PackAction::OpenCase { case: 2 },
                PackAction::PackCase {
                    case: 2,
                    codes: codes(&["a", "b"])
                },
                PackAction::PackPallet {
                    pallet: 0,
                    cases: vec![0, 1, 2]
                },
            ]
        );
        // A pallet's worth of earlier cases is packed at once.
        let mut machine = PackMachine::new(plan(2, 2));
        let mut out = Vec::new();
        machine.resume_closed_cases(2, &mut out);
        assert_eq!(
            out,
            [
                PackAction::OpenPallet { pallet: 0 },
                PackAction::PackPallet {
                    pallet: 0,
                    cases: vec![0, 1]
                }
            ]
        );
    }

    #[test]
    fn the_end_closes_the_open_case_short_and_nothing_opens_after_it() {
        let mut machine = PackMachine::new(plan(4, 0));
        feed(&mut machine, &["a", "b"]);
        assert_eq!(
            end(&mut machine),
            [PackAction::CloseShort {
                case: 0,
                codes: codes(&["a", "b"])
            }]
        );
        assert_eq!(end(&mut machine), []);
        assert_eq!(feed(&mut machine, &["c"]), []);
    }

    #[test]
    fn an_end_with_no_open_case_closes_nothing() {
        let mut machine = PackMachine::new(plan(2, 0));
        assert_eq!(end(&mut machine), []);
        let mut machine = PackMachine::new(plan(2, 0));
        feed(&mut machine, &["a", "b"]);
        assert_eq!(end(&mut machine), []);
    }

    #[test]
    fn closed_cases_fill_pallets_one_level_up() {
        let mut machine = PackMachine::new(plan(1, 2));
        assert_eq!(
            feed(&mut machine, &["a", "b", "c"]),
            [
                PackAction::OpenCase { case: 0 },
                PackAction::PackCase {
                    case: 0,
                    codes: codes(&["a"])
                },
                PackAction::OpenPallet { pallet: 0 },
                PackAction::OpenCase { case: 1 },
                PackAction::PackCase {
                    case: 1,
                    codes: codes(&["b"])
                },
                PackAction::PackPallet {
                    pallet: 0,
                    cases: vec![0, 1]
                },
                PackAction::OpenCase { case: 2 },
                PackAction::PackCase {
                    case: 2,
                    codes: codes(&["c"])
                },
                PackAction::OpenPallet { pallet: 1 },
            ]
        );
        assert_eq!(
            end(&mut machine),
            [PackAction::ClosePalletShort {
                pallet: 1,
                cases: vec![2]
            }]
        );
    }

    #[test]
    fn a_short_case_at_the_end_goes_onto_the_open_pallet_before_it_closes() {
        let mut machine = PackMachine::new(plan(2, 3));
        feed(&mut machine, &["a", "b", "c"]);
        assert_eq!(
            end(&mut machine),
            [
                PackAction::CloseShort {
                    case: 1,
                    codes: codes(&["c"])
                },
                PackAction::ClosePalletShort {
                    pallet: 0,
                    cases: vec![0, 1]
                },
            ]
        );
    }

    #[test]
    fn every_unit_is_in_exactly_one_case_in_gate_order() {
        let mut machine = PackMachine::new(plan(7, 4));
        let all: Vec<String> = (0..100).map(|n| format!("u{n}")).collect();
        let mut out = Vec::new();
        for code in &all {
            let code = code.clone();
            machine.handle(PackEvent::UnitVerified { code }, &mut out);
        }
        machine.handle(PackEvent::BatchEnding, &mut out);
        let mut packed = Vec::new();
        let mut on_pallets = Vec::new();
        for action in out {
            match action {
                PackAction::PackCase { codes, .. } => {
                    assert_eq!(codes.len(), 7);
                    packed.extend(codes);
                }
                PackAction::CloseShort { codes, .. } => packed.extend(codes),
                PackAction::PackPallet { cases, .. }
                | PackAction::ClosePalletShort { cases, .. } => {
                    on_pallets.extend(cases);
                }
                PackAction::OpenCase { .. } | PackAction::OpenPallet { .. } => {}
            }
        }
        assert_eq!(packed, all);
        assert_eq!(on_pallets, (0..15).collect::<Vec<u64>>());
    }
}
