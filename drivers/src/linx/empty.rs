//! How many print-gos found the remote buffer empty since the last poll.
//!
//! The status bit "print-go without remote data" (error mask bits 5/24) is a latch the printer
//! clears only at the next Start Print: it tells that some print-go of the run found the buffer
//! empty, not how many. The counts in the answer to Request Print Count tell how many: the
//! product count steps at every print-go, the print count at every print (Linx RCI, Request
//! Print Count), so the product count's lead over the print count since the last poll is the
//! units that went by with nothing printed. Every one of them must be reported: the line marks
//! that many units as carrying nothing, and one too few or too many shifts every later code
//! onto the wrong unit.

use tracing::warn;

/// The counts and the latch, poll after poll, on one connection.
#[derive(Debug, Default)]
pub(crate) struct EmptyPrintGos {
    /// The latch at the last poll, to see it rise.
    latched: bool,
    /// Empty print-gos reported since the last Start Print (which clears the latch).
    since_start: u64,
    /// The product and print counts at the last poll (none yet on this connection).
    last_counts: Option<(u32, u32)>,
}

impl EmptyPrintGos {
    /// Start Print was accepted: the printer cleared the latch.
    pub(crate) fn started(&mut self) {
        self.since_start = 0;
    }

    /// The empty print-gos since the last poll, from this poll's latch and `(product, print)`
    /// counts.
    ///
    /// The latch's rise stands for one only when the counts showed none since the start. The
    /// poll asks the status before the counts, so a print-go between the two requests is
    /// counted at one poll and its latch seen rising at the next: taking that rise as another
    /// empty print-go marked a printed unit empty. A printer set to reprint old data on an
    /// empty buffer steps both counts alike, and only the latch tells.
    pub(crate) fn observe(&mut self, latch: bool, counts: (u32, u32)) -> u64 {
        let rose = latch && !self.latched;
        self.latched = latch;
        let counted = match self
            .last_counts
            .map(|last| CountSteps::between(last, counts))
        {
            None => 0,
            Some(CountSteps::Forward { empty_print_gos }) => empty_print_gos,
            Some(CountSteps::Jumped) => {
                warn!(
                    last = ?self.last_counts,
                    now = ?counts,
                    "Linx product or print count went back (reset on the printer?): \
                     no empty print-go counted from this poll"
                );
                0
            }
        };
        self.last_counts = Some(counts);
        let empty = if rose && self.since_start.saturating_add(counted) == 0 {
            1
        } else {
            counted
        };
        self.since_start = self.since_start.saturating_add(empty);
        empty
    }
}

/// How the product and print counts moved between two polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CountSteps {
    /// Both counts went forward (or stayed); the product count's lead is the print-gos that
    /// found the buffer empty.
    Forward { empty_print_gos: u64 },
    /// A count went backwards: someone reset it on the printer. Nothing can be told about the
    /// print-gos in between, and the wrapped step would read as billions.
    Jumped,
}

impl CountSteps {
    /// A step of half the counters' range or more is a count going backwards: a printer makes
    /// a few hundred print-gos a second, not two billion between two polls. The 32-bit counts
    /// wrap at their top, which `wrapping_sub` reads as a step forward.
    const BACKWARDS: u32 = 1 << 31;

    fn between((last_product, last_print): (u32, u32), (product, print): (u32, u32)) -> Self {
        let print_gos = product.wrapping_sub(last_product);
        let prints = print.wrapping_sub(last_print);
        if print_gos >= Self::BACKWARDS || prints >= Self::BACKWARDS {
            return Self::Jumped;
        }
        Self::Forward {
            empty_print_gos: u64::from(print_gos.saturating_sub(prints)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{CountSteps, EmptyPrintGos};

    #[test]
    fn the_product_count_lead_is_the_empty_print_gos() {
        let step = CountSteps::between((10, 10), (15, 12));
        assert_eq!(step, CountSteps::Forward { empty_print_gos: 3 });
        assert_eq!(
            CountSteps::between((10, 10), (12, 12)),
            CountSteps::Forward { empty_print_gos: 0 }
        );
    }

    #[test]
    fn counts_wrapping_at_their_top_still_step_forward() {
        let step = CountSteps::between((u32::MAX - 1, u32::MAX), (2, 1));
        assert_eq!(step, CountSteps::Forward { empty_print_gos: 2 });
    }

    #[test]
    fn a_count_reset_on_the_printer_counts_no_empty_print_go() {
        let mut empty = EmptyPrintGos::default();
        assert_eq!(empty.observe(false, (5_000, 4_990)), 0);
        // The product count reset, the print count not: the wrapped step would be billions.
        assert_eq!(empty.observe(false, (3, 4_992)), 0);
        // Counted again from the new values.
        assert_eq!(empty.observe(false, (6, 4_993)), 2);
        // The print count reset alone, then both.
        assert_eq!(
            CountSteps::between((5_000, 4_990), (5_002, 1)),
            CountSteps::Jumped
        );
        assert_eq!(
            CountSteps::between((5_000, 4_990), (1, 1)),
            CountSteps::Jumped
        );
    }

    #[test]
    fn a_latch_seen_one_poll_after_its_print_go_is_not_counted_again() {
        let mut empty = EmptyPrintGos::default();
        assert_eq!(empty.observe(false, (100, 100)), 0);
        // The print-go came between this poll's status request and its count request.
        assert_eq!(empty.observe(false, (102, 101)), 1);
        // The next poll's status shows the latch set: the same print-go, not another.
        assert_eq!(empty.observe(true, (103, 102)), 0);
        // Later empty print-gos are counted, with the latch still set.
        assert_eq!(empty.observe(true, (106, 103)), 2);
    }

    #[test]
    fn a_latch_rising_with_no_count_is_one_empty_print_go_a_run() {
        let mut empty = EmptyPrintGos::default();
        assert_eq!(empty.observe(false, (7, 7)), 0);
        // A printer reprinting old data on an empty buffer: both counts step.
        assert_eq!(empty.observe(true, (8, 8)), 1);
        assert_eq!(empty.observe(true, (9, 9)), 0);
        // Start Print clears the latch; the next rise is reported again.
        empty.started();
        assert_eq!(empty.observe(false, (10, 10)), 0);
        assert_eq!(empty.observe(true, (11, 11)), 1);
    }
}
