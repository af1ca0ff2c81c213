//! The in-flight ledger: which codes are in the device's FIFO, in order, and which of them a
//! confirmation covers. Pure, no I/O: every way a device confirms prints (an event per print, a
//! counter it exposes, the index of the last record it printed) reduces to "every code up to
//! sequence number N has printed".

use std::collections::VecDeque;

use super::{Code, PrintProgress};

/// What a confirmation did to the ledger.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Settled {
    /// Codes confirmed printed, oldest first.
    pub(crate) printed: Vec<Code>,
    /// Prints the device made beyond every code in flight: a print-go on an empty buffer that
    /// reprinted old data, or a print of data tracemark never sent.
    pub(crate) without_code: u64,
}

/// The device's counter went backwards (power cycle, counter reset): the fate of the codes in
/// flight cannot be told from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CounterWentBack {
    pub(crate) from: u64,
    pub(crate) to: u64,
}

#[derive(Debug)]
pub(crate) struct Ledger {
    /// Codes in the device's FIFO (or whose push had no answer), oldest first, each with its
    /// sequence number.
    in_flight: VecDeque<(u64, Code)>,
    /// Sequence number the next code gets; the first is 1.
    next_seq: u64,
    /// Every code up to this sequence number is settled (printed, voided or unconfirmed).
    settled_seq: u64,
    /// Device counter value at `settled_seq`, once a counter has been seen.
    counter_base: Option<u64>,
}

impl Default for Ledger {
    fn default() -> Self {
        Self {
            in_flight: VecDeque::new(),
            next_seq: 1,
            settled_seq: 0,
            counter_base: None,
        }
    }
}

impl Ledger {
    /// Number of codes in flight.
    pub(crate) fn len(&self) -> usize {
        self.in_flight.len()
    }

    /// The sequence number the next pushed code will get: devices confirming by index are told
    /// it with the code.
    pub(crate) fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Records a code as in the device's FIFO; returns its sequence number.
    pub(crate) fn push(&mut self, code: Code) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.in_flight.push_back((seq, code));
        seq
    }

    /// Applies a confirmation.
    pub(crate) fn confirm(&mut self, progress: PrintProgress) -> Result<Settled, CounterWentBack> {
        match progress {
            PrintProgress::Nothing => Ok(Settled::default()),
            PrintProgress::Printed(count) => Ok(self.settle_up_to(self.settled_seq + count)),
            PrintProgress::LastIndex(index) => {
                if index <= self.settled_seq {
                    return Ok(Settled::default());
                }
                Ok(self.settle_up_to(index))
            }
            PrintProgress::Counter(value) => {
                let Some(base) = self.counter_base else {
                    // First reading: it is the baseline, nothing to confirm yet.
                    self.counter_base = Some(value);
                    return Ok(Settled::default());
                };
                if value < base {
                    self.counter_base = Some(value);
                    return Err(CounterWentBack {
                        from: base,
                        to: value,
                    });
                }
                self.counter_base = Some(value);
                Ok(self.settle_up_to(self.settled_seq + (value - base)))
            }
        }
    }

    /// Removes every code still in flight (the device buffer was cleared, or their fate is
    /// unknown), oldest first.
    pub(crate) fn drain(&mut self) -> Vec<Code> {
        if let Some((last, _)) = self.in_flight.back() {
            self.settled_seq = *last;
        }
        self.in_flight.drain(..).map(|(_, code)| code).collect()
    }

    fn settle_up_to(&mut self, target: u64) -> Settled {
        let mut settled = Settled::default();
        while let Some((seq, _)) = self.in_flight.front() {
            if *seq > target {
                break;
            }
            if let Some((_, code)) = self.in_flight.pop_front() {
                settled.printed.push(code);
            }
        }
        let last_sent = self.next_seq - 1;
        if target > last_sent {
            settled.without_code = target - last_sent;
        }
        self.settled_seq = target.min(last_sent).max(self.settled_seq);
        settled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::marker::CodeId;

    fn code(n: u64) -> Code {
        Code::new(CodeId::new(n), format!("C{n}"))
    }

    fn ids(codes: &[Code]) -> Vec<u64> {
        codes.iter().map(|c| c.id().get()).collect()
    }

    fn ledger_with(n: u64) -> Ledger {
        let mut ledger = Ledger::default();
        for i in 1..=n {
            ledger.push(code(i));
        }
        ledger
    }

    #[test]
    fn events_confirm_in_fifo_order() {
        let mut ledger = ledger_with(3);
        let settled = ledger.confirm(PrintProgress::Printed(2)).unwrap();
        assert_eq!(ids(&settled.printed), [1, 2]);
        assert_eq!(settled.without_code, 0);
        assert_eq!(ledger.len(), 1);
    }

    #[test]
    fn counter_confirms_the_delta_from_its_baseline() {
        let mut ledger = ledger_with(3);
        assert_eq!(
            ledger.confirm(PrintProgress::Counter(1000)).unwrap(),
            Settled::default()
        );
        let settled = ledger.confirm(PrintProgress::Counter(1002)).unwrap();
        assert_eq!(ids(&settled.printed), [1, 2]);
        let settled = ledger.confirm(PrintProgress::Counter(1002)).unwrap();
        assert!(settled.printed.is_empty());
        let settled = ledger.confirm(PrintProgress::Counter(1003)).unwrap();
        assert_eq!(ids(&settled.printed), [3]);
    }

    #[test]
    fn index_confirms_up_to_and_including_it() {
        let mut ledger = ledger_with(4);
        let settled = ledger.confirm(PrintProgress::LastIndex(3)).unwrap();
        assert_eq!(ids(&settled.printed), [1, 2, 3]);
        // A stale index confirms nothing.
        assert!(
            ledger
                .confirm(PrintProgress::LastIndex(2))
                .unwrap()
                .printed
                .is_empty()
        );
    }

    #[test]
    fn prints_beyond_the_codes_in_flight_are_reported() {
        let mut ledger = ledger_with(1);
        ledger.confirm(PrintProgress::Counter(10)).unwrap();
        let settled = ledger.confirm(PrintProgress::Counter(13)).unwrap();
        assert_eq!(ids(&settled.printed), [1]);
        assert_eq!(settled.without_code, 2);
        // The next code is confirmed by the next print, not by the surplus ones.
        ledger.push(code(2));
        let settled = ledger.confirm(PrintProgress::Counter(14)).unwrap();
        assert_eq!(ids(&settled.printed), [2]);
        assert_eq!(settled.without_code, 0);
    }

    #[test]
    fn counter_going_back_is_an_error() {
        let mut ledger = ledger_with(2);
        ledger.confirm(PrintProgress::Counter(50)).unwrap();
        assert_eq!(
            ledger.confirm(PrintProgress::Counter(3)),
            Err(CounterWentBack { from: 50, to: 3 })
        );
        assert_eq!(ledger.len(), 2);
    }

    #[test]
    fn drained_codes_are_never_confirmed_later() {
        let mut ledger = ledger_with(2);
        ledger.confirm(PrintProgress::Counter(0)).unwrap();
        assert_eq!(ids(&ledger.drain()), [1, 2]);
        // The counter did not move: the cleared codes did not print.
        assert_eq!(
            ledger.confirm(PrintProgress::Counter(0)).unwrap(),
            Settled::default()
        );
        ledger.push(code(3));
        let settled = ledger.confirm(PrintProgress::Counter(1)).unwrap();
        assert_eq!(ids(&settled.printed), [3]);
        assert_eq!(settled.without_code, 0);
    }
}
