//! Which labels printed, from two numbers the printer reports: its lifetime label count (the
//! SGD odometer) and the labels it still holds (`~HS`). Pure, no I/O.
//!
//! A ZPL printer does not acknowledge a format, and no single reply says "your label N
//! printed". But within an accounting window that starts at a cancel-all (`~JA`, nothing of
//! ours left in the printer):
//!
//! - `left` = labels sent − labels the printer still holds: labels that left its queue;
//! - `printed` = odometer − odometer at the window's start: labels it printed.
//!
//! Our labels print in the order sent, each only after leaving the queue, so
//! `min(printed, left)` of them printed. Prints beyond `left` consumed no label of ours: a
//! print-go on an empty buffer that repeated the last label, a label from someone else — prints
//! without a code. Labels beyond `printed` that left the queue were dropped: the printer
//! discarded formats it received (it acknowledges none, so this is how a refusal shows).
//!
//! Both numbers must come from one moment: the session reads the odometer before and after
//! `~HS` and observes only when the two readings agree.

/// What one observation adds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Observation {
    /// Labels newly known to have printed, in the order sent.
    pub printed: u64,
    /// Prints newly known to have consumed no label of ours.
    pub unmatched: u64,
    /// Labels that left the printer's queue without printing, seen in two observations in a
    /// row (a format still being parsed shows up at the next one).
    pub dropped: u64,
    /// The odometer went backwards (from, to): another printer, or a reset counter.
    pub went_back: Option<(u64, u64)>,
}

/// The accounting window. See the module documentation.
#[derive(Debug, Clone, Default)]
pub struct LabelTally {
    /// Odometer at the window's start; `None` before the first reading.
    base: Option<u64>,
    /// The last odometer reading.
    last_odometer: u64,
    /// Labels sent in the window.
    sent: u64,
    /// Of those, labels reported printed.
    confirmed: u64,
    /// Prints in the window reported as consuming no label of ours.
    unmatched: u64,
    /// Labels dropped at the previous observation.
    dropped_before: u64,
}

impl LabelTally {
    /// A tally before any reading.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one label written to the printer.
    pub fn record_sent(&mut self) {
        self.sent += 1;
    }

    /// Labels sent and not known to have printed: what the printer holds, as far as the driver
    /// can tell between observations.
    pub fn waiting(&self) -> u64 {
        self.sent - self.confirmed
    }

    /// Applies a reading: the odometer, and the labels the printer still holds.
    pub fn observe(&mut self, odometer: u64, pending: u64) -> Observation {
        let Some(base) = self.base else {
            // The first reading is the baseline: prints before it are not ours to count.
            self.start_window(odometer);
            return Observation::default();
        };
        if odometer < self.last_odometer.max(base) {
            let went_back = Some((self.last_odometer, odometer));
            self.start_window(odometer);
            return Observation {
                went_back,
                ..Observation::default()
            };
        }
        self.last_odometer = odometer;
        let printed = odometer - base;
        let left = self.sent.saturating_sub(pending);
        let confirmed = self.confirmed.max(printed.min(left));
        let unmatched = printed - confirmed;
        let dropped = left.saturating_sub(confirmed);
        let observation = Observation {
            printed: confirmed - self.confirmed,
            unmatched: unmatched.saturating_sub(self.unmatched),
            dropped: dropped.min(self.dropped_before),
            went_back: None,
        };
        self.confirmed = confirmed;
        self.unmatched = self.unmatched.max(unmatched);
        self.dropped_before = dropped;
        observation
    }

    /// Applies the reading taken right after a cancel-all: the printer holds nothing of ours,
    /// so every label not printed by now never will. Closes the window and opens the next one
    /// at this odometer; dropped labels are not reported (they were cancelled).
    pub fn close_window(&mut self, odometer: u64) -> Observation {
        let observation = Observation {
            dropped: 0,
            ..self.observe(odometer, 0)
        };
        if observation.went_back.is_none() {
            self.start_window(odometer);
        }
        observation
    }

    fn start_window(&mut self, odometer: u64) {
        *self = Self {
            base: Some(odometer),
            last_odometer: odometer,
            ..Self::default()
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(n: u64) -> LabelTally {
        let mut tally = LabelTally::new();
        tally.observe(500, 0);
        for _ in 0..n {
            tally.record_sent();
        }
        tally
    }

    #[test]
    fn the_first_reading_is_the_baseline() {
        let mut tally = LabelTally::new();
        assert_eq!(tally.observe(4_711, 3), Observation::default());
        tally.record_sent();
        assert_eq!(tally.observe(4_711, 1).printed, 0);
        assert_eq!(tally.observe(4_712, 0).printed, 1);
    }

    #[test]
    fn prints_confirm_labels_in_order() {
        let mut tally = sent(3);
        assert_eq!(tally.observe(500, 3), Observation::default());
        assert_eq!(tally.observe(502, 1).printed, 2);
        assert_eq!(tally.waiting(), 1);
        assert_eq!(tally.observe(502, 1), Observation::default());
        assert_eq!(tally.observe(503, 0).printed, 1);
    }

    #[test]
    fn a_reprint_on_an_empty_buffer_is_a_print_without_a_code() {
        let mut tally = sent(1);
        assert_eq!(tally.observe(501, 0).printed, 1);
        // The buffer is empty and the printer prints again.
        let observation = tally.observe(502, 0);
        assert_eq!((observation.printed, observation.unmatched), (0, 1));

        // The same, but a new label arrives before the next reading: it is still queued, so
        // the print was not its.
        let mut tally = sent(1);
        tally.observe(501, 0);
        tally.record_sent();
        let observation = tally.observe(502, 1);
        assert_eq!(observation.printed, 0);
        assert_eq!(observation.unmatched, 1);
        // Reported once.
        assert_eq!(tally.observe(502, 1).unmatched, 0);
        assert_eq!(tally.observe(503, 0).printed, 1);
    }

    #[test]
    fn dropped_labels_are_reported_once_seen_twice() {
        let mut tally = sent(2);
        assert_eq!(tally.observe(500, 1).dropped, 0, "may still be parsed");
        assert_eq!(tally.observe(500, 1).dropped, 1);
        let mut tally = sent(2);
        tally.observe(500, 1);
        assert_eq!(tally.observe(500, 2).dropped, 0, "it was only late");
    }

    #[test]
    fn a_cancel_closes_the_window_after_counting_what_printed() {
        let mut tally = sent(3);
        tally.observe(500, 3);
        // One printed just before the cancel; the other two are gone.
        let observation = tally.close_window(501);
        assert_eq!(observation.printed, 1);
        assert_eq!(observation.dropped, 0);
        assert_eq!(tally.waiting(), 0);
        tally.record_sent();
        assert_eq!(tally.observe(502, 0).printed, 1);
    }

    #[test]
    fn an_odometer_going_back_restarts_the_count() {
        let mut tally = sent(2);
        tally.observe(501, 1);
        let observation = tally.observe(3, 1);
        assert_eq!(observation.went_back, Some((501, 3)));
        assert_eq!(tally.waiting(), 0);
    }
}
