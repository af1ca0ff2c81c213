//! The controller's side of the PLC's reject queue (docs/protocols/line-io.md, "Reject queue"):
//! which rejects are written to the PLC, which wait to be (again, after a reconnect), and how
//! the PLC's per-slot outcomes settle them. Pure, so it is tested without a PLC.
//!
//! The PLC switches the diverter itself when the encoder reaches a reject's window: the
//! controller only has to write the reject before the unit gets there, which it does the moment
//! it decides — tens of milliseconds ahead at 100 units/s — instead of having to switch a coil
//! inside a ±5 ms window from a 2 ms poll.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;
use tracemark_drivers::lineio::{RING_LEN, RejectOutcome, RejectStatus};

/// How a reject ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Settled {
    Diverted(u64),
    Fault(u64),
}

/// One reject the PLC has not settled yet.
#[derive(Debug)]
struct Entry {
    seq: u32,
    unit: u64,
    fire_at: u64,
    /// The PLC acknowledged it (FC 16 echoed) on the current connection.
    written: bool,
    /// When a poll first saw the unit past the gate with no outcome for it.
    overdue_since: Option<Instant>,
}

/// The rejects between decision and outcome, in the order they were numbered.
#[derive(Debug)]
pub(crate) struct RejectQueue {
    entries: VecDeque<Entry>,
    /// The last number given; numbers start at 1 and skip 0 (an empty slot) when they wrap.
    last_seq: u32,
    half_window: u64,
    confirm_timeout: Duration,
}

impl RejectQueue {
    pub(crate) fn new(half_window: u64, confirm_timeout: Duration) -> Self {
        Self {
            entries: VecDeque::new(),
            last_seq: 0,
            half_window,
            confirm_timeout,
        }
    }

    /// Numbers a reject for the unit reaching the gate at `fire_at`. `Err` settles it as a
    /// fault at once: its slot still holds an unsettled reject (16 rejects between the decision
    /// point and the gate — the PLC is not settling them).
    pub(crate) fn reject(&mut self, unit: u64, fire_at: u64) -> Result<(), Settled> {
        let seq = match self.last_seq.wrapping_add(1) {
            0 => 1,
            seq => seq,
        };
        let slot = seq % u32::from(RING_LEN);
        if self
            .entries
            .iter()
            .any(|e| e.seq % u32::from(RING_LEN) == slot)
        {
            tracing::error!(unit, "the PLC's reject queue is full: 16 rejects unsettled");
            return Err(Settled::Fault(unit));
        }
        self.last_seq = seq;
        self.entries.push_back(Entry {
            seq,
            unit,
            fire_at,
            written: false,
            overdue_since: None,
        });
        Ok(())
    }

    /// The rejects to write, `(seq, fire_at)`, oldest first.
    pub(crate) fn unwritten(&self) -> Vec<(u32, u64)> {
        self.entries
            .iter()
            .filter(|e| !e.written)
            .map(|e| (e.seq, e.fire_at))
            .collect()
    }

    /// The PLC acknowledged writing `seq`.
    pub(crate) fn mark_written(&mut self, seq: u32) {
        if let Some(entry) = self.entries.iter_mut().find(|e| e.seq == seq) {
            entry.written = true;
        }
    }

    /// The link was lost: every unsettled reject is written again on the next connection (a
    /// PLC that restarted has lost its queue; one that did not ignores a number it holds).
    pub(crate) fn link_lost(&mut self) {
        for entry in &mut self.entries {
            entry.written = false;
        }
    }

    /// Takes one poll's outcomes (all 16 slots, in slot order) and returns the rejects they
    /// settle. A reject with no outcome `confirm_timeout` after its unit passed the gate —
    /// unwritten because the link was down, or lost by the PLC — is a fault: the unit may
    /// have gone by.
    pub(crate) fn observe(
        &mut self,
        encoder: u64,
        outcomes: &[RejectOutcome],
        now: Instant,
    ) -> Vec<Settled> {
        let mut settled = Vec::new();
        let (half_window, timeout) = (self.half_window, self.confirm_timeout);
        self.entries.retain_mut(|entry| {
            let slot = (entry.seq % u32::from(RING_LEN)) as usize;
            let status = outcomes
                .get(slot)
                .filter(|outcome| entry.written && outcome.seq == entry.seq)
                .map(|outcome| outcome.status);
            let outcome = match status {
                Some(RejectStatus::Diverted) => Some(Settled::Diverted(entry.unit)),
                Some(RejectStatus::Fault) => Some(Settled::Fault(entry.unit)),
                Some(RejectStatus::Late) => {
                    tracing::error!(
                        unit = entry.unit,
                        "the reject reached the PLC after its unit had passed the gate"
                    );
                    Some(Settled::Fault(entry.unit))
                }
                Some(RejectStatus::Unknown(code)) => {
                    tracing::error!(
                        unit = entry.unit,
                        code,
                        "the PLC reported an unknown reject status: check its program against \
                         docs/protocols/line-io.md"
                    );
                    Some(Settled::Fault(entry.unit))
                }
                Some(RejectStatus::Pending) | None => {
                    if encoder >= entry.fire_at + half_window {
                        let since = *entry.overdue_since.get_or_insert(now);
                        (now.duration_since(since) > timeout).then_some(Settled::Fault(entry.unit))
                    } else {
                        None
                    }
                }
            };
            if let Some(outcome) = outcome {
                settled.push(outcome);
            }
            outcome.is_none()
        });
        settled
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcomes(entries: &[(u32, RejectStatus)]) -> Vec<RejectOutcome> {
        let mut slots = vec![
            RejectOutcome {
                seq: 0,
                status: RejectStatus::Pending,
            };
            usize::from(RING_LEN)
        ];
        for &(seq, status) in entries {
            slots[(seq % u32::from(RING_LEN)) as usize] = RejectOutcome { seq, status };
        }
        slots
    }

    fn queue() -> RejectQueue {
        RejectQueue::new(100, Duration::from_millis(150))
    }

    #[test]
    fn a_written_reject_settles_by_its_slots_outcome() {
        let mut q = queue();
        q.reject(7, 1_000).expect("room");
        q.reject(8, 1_200).expect("room");
        assert_eq!(q.unwritten(), [(1, 1_000), (2, 1_200)]);
        q.mark_written(1);
        q.mark_written(2);
        assert!(q.unwritten().is_empty());
        let t0 = Instant::now();
        let pending = outcomes(&[(1, RejectStatus::Pending), (2, RejectStatus::Pending)]);
        assert!(q.observe(950, &pending, t0).is_empty());
        let done = outcomes(&[(1, RejectStatus::Diverted), (2, RejectStatus::Late)]);
        assert_eq!(
            q.observe(1_300, &done, t0),
            [Settled::Diverted(7), Settled::Fault(8)]
        );
        assert!(q.is_empty());
    }

    #[test]
    fn an_outcome_for_an_older_number_in_the_slot_is_not_this_rejects() {
        let mut q = queue();
        q.last_seq = 16;
        q.reject(5, 1_000).expect("room");
        q.mark_written(17);
        // Reject 17 is in slot 1, which still shows reject 1's outcome: not 17's.
        let now = Instant::now();
        assert!(
            q.observe(900, &outcomes(&[(1, RejectStatus::Diverted)]), now)
                .is_empty()
        );
        assert_eq!(
            q.observe(950, &outcomes(&[(17, RejectStatus::Diverted)]), now),
            [Settled::Diverted(5)]
        );
    }

    #[test]
    fn sixteen_unsettled_rejects_fill_the_queue() {
        let mut q = queue();
        for unit in 0..16 {
            q.reject(unit, 1_000 + unit).expect("room");
        }
        assert_eq!(q.reject(99, 5_000), Err(Settled::Fault(99)));
    }

    #[test]
    fn a_reject_never_settled_by_the_plc_is_a_fault_after_the_confirm_timeout() {
        let mut q = queue();
        q.reject(3, 1_000).expect("room");
        // Never written (the link is down): the unit passes at 1,100.
        let t0 = Instant::now();
        let none = outcomes(&[]);
        assert!(q.observe(1_099, &none, t0).is_empty());
        assert!(q.observe(1_100, &none, t0).is_empty());
        assert!(
            q.observe(1_300, &none, t0 + Duration::from_millis(150))
                .is_empty()
        );
        assert_eq!(
            q.observe(1_400, &none, t0 + Duration::from_millis(151)),
            [Settled::Fault(3)]
        );
    }

    #[test]
    fn a_lost_link_writes_every_unsettled_reject_again() {
        let mut q = queue();
        q.reject(1, 1_000).expect("room");
        q.reject(2, 2_000).expect("room");
        q.mark_written(1);
        q.mark_written(2);
        q.link_lost();
        assert_eq!(q.unwritten(), [(1, 1_000), (2, 2_000)]);
    }

    #[test]
    fn numbers_skip_zero_when_they_wrap() {
        let mut q = queue();
        q.last_seq = u32::MAX;
        q.reject(1, 1_000).expect("room");
        assert_eq!(q.unwritten(), [(1, 1_000)]);
    }
}
