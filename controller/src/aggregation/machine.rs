//! Inferred packing's decisions, without I/O (SPEC §3a, issue 14 item 2): the units that pass
//! the gate, in order, fill the open case; the case is full at `units_per_case`. Diverted
//! (rejected) units never reach it, so they never count. Cases fill pallets the same way one
//! level up, `cases_per_pallet` to a pallet.
//!
//! Events come in ([`PackEvent`]): a unit verified (in gate order), the batch ending. Actions go
//! out ([`PackAction`]), in order: open a case when its first unit arrives, pack a full case's
//! units in one step (and close it), close the open case short at the end; open, fill and
//! close pallets alike. Cases and pallets are named by their number in the run (0, 1, …): the
//! task (`core.rs`) allocates an SSCC for each as it opens and keeps the mapping.

/// Counts of the station, from the config or the product's pack sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Units per case, at least 1.
    pub units_per_case: u32,
    /// Cases per pallet; 0: no pallets.
    pub cases_per_pallet: u32,
}

/// What happened, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PackEvent {
    /// A unit passed the gate verified (its `verified` is committed in the store).
    UnitVerified {
        /// Its code.
        code: String,
    },
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
                if self.case.is_empty() {
                    out.push(PackAction::OpenCase {
                        case: self.cases_opened,
                    });
                    self.cases_opened += 1;
                }
                self.case.push(code);
                if self.case.len() >= self.plan.units_per_case as usize {
                    let codes = std::mem::replace(
                        &mut self.case,
                        Vec::with_capacity(self.plan.units_per_case as usize),
                    );
                    let case = self.open_case();
                    out.push(PackAction::PackCase { case, codes });
                    self.onto_pallet(case, out);
                }
            }
            PackEvent::BatchEnding => {
                if self.ended {
                    return;
                }
                self.ended = true;
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

    /// Units in the open case.
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
