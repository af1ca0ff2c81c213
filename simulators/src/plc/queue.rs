//! The simulated PLC's reject queue (docs/protocols/line-io.md, "What the PLC program must do"):
//! entries the controller writes ahead of time, the diverter windows they open, what became of
//! each, and the diverter's recent history, so [`PlcSim::diverting_at`](super::PlcSim::diverting_at)
//! can answer for an encoder count the simulator stepped over.
//!
//! Encoder counts are u64 here: `fire_at` arrives as the low 32 bits and is extended against the
//! encoder when written, the short way round, as the PLC compares them.

use std::collections::VecDeque;

/// Slots in the reject queue: reject `seq` goes to slot `seq % SLOTS`.
pub(super) const SLOTS: usize = 16;
/// Holding registers per slot: `seq` (u32), `fire_at` (u32), high word first.
pub(super) const SLOT_REGISTERS: usize = 4;
/// Input registers per outcome: `seq` (u32), `status`.
pub(super) const OUTCOME_REGISTERS: usize = 3;
/// Diverter changes and replaced windows remembered (a twin tick is never that late).
const HISTORY: usize = 256;

/// What became of an entry; the discriminant is the outcome's status register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    /// Its window has not ended (or it is jammed inside it).
    Pending = 0,
    /// The diverter was on, not jammed, while its window was active.
    Diverted = 1,
    /// Its window ended without the confirm.
    Fault = 2,
    /// Written past `fire_at` with the diverter not on throughout since: never switches it.
    Late = 3,
}

/// Entries by outcome, since the PLC started. An entry counts once in `queued` and once in the
/// outcome it reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Counts {
    pub(super) queued: u64,
    pub(super) diverted: u64,
    pub(super) faulted: u64,
    pub(super) late: u64,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    seq: u32,
    /// As written: the low 32 bits.
    fire_at: u32,
    /// `fire_at` extended against the encoder when written.
    at: u64,
    /// The encoder when written: the diverter cannot have switched for it before.
    written_at: u64,
    status: Status,
}

/// The diverter as coil 0 and the watchdog force it, with the encoder count of each change.
#[derive(Debug, Default)]
pub(super) struct Forced {
    on: bool,
    moves: VecDeque<(u64, bool)>,
}

impl Forced {
    /// The forced state at `encoder` now; returns whether it changed.
    pub(super) fn set(&mut self, encoder: u64, on: bool) -> bool {
        if on == self.on {
            return false;
        }
        if self.moves.len() == HISTORY {
            self.moves.pop_front();
        }
        self.moves.push_back((encoder, on));
        self.on = on;
        true
    }

    /// Forced on at `encoder` (the last change at or before it).
    pub(super) fn at(&self, encoder: u64) -> bool {
        match self.moves.iter().rev().find(|(at, _)| *at <= encoder) {
            Some((_, on)) => *on,
            // Before every change remembered: the opposite of the first one.
            None => self.moves.front().map_or(self.on, |(_, first)| !first),
        }
    }

    /// The encoder spans `[from, to)` it was forced on (`to` = `u64::MAX`: still on).
    fn spans(&self) -> Vec<(u64, u64)> {
        let mut spans = Vec::new();
        let before = self.moves.front().map_or(self.on, |(_, first)| !first);
        let mut since = before.then_some(0);
        for &(at, on) in &self.moves {
            match (on, since) {
                (true, None) => since = Some(at),
                (false, Some(from)) => {
                    spans.push((from, at));
                    since = None;
                }
                _ => {}
            }
        }
        if let Some(from) = since {
            spans.push((from, u64::MAX));
        }
        spans
    }
}

/// What one settle found.
#[derive(Debug, Default)]
pub(super) struct Step {
    /// A pending or diverted entry's window holds the encoder now: the diverter is on.
    pub(super) active: bool,
    /// Windows passed over entirely between the two encoder counts: each switched the diverter
    /// on and off again in between.
    pub(super) crossed: u64,
}

/// The reject queue and the gate timing registers.
#[derive(Debug, Default)]
pub(super) struct RejectQueue {
    slots: [Option<Entry>; SLOTS],
    /// HR 1: half the gate window, encoder counts.
    pub(super) half_window: u16,
    /// HR 2: the confirm timeout, ms. Stored and read back only: the simulated diverter confirms
    /// at once or never, so the window's end decides.
    pub(super) confirm_timeout_ms: u16,
    /// Windows of replaced entries that switched the diverter.
    retired: VecDeque<(u64, u64)>,
    pub(super) counts: Counts,
}

impl RejectQueue {
    /// The span `[from, to)` in which `entry` switches the diverter: its window, from the
    /// encoder at which it was written on; empty for a late entry.
    fn window(&self, entry: &Entry) -> (u64, u64) {
        if entry.status == Status::Late {
            return (0, 0);
        }
        let half = u64::from(self.half_window);
        let from = entry.at.saturating_sub(half).max(entry.written_at);
        (from, entry.at.saturating_add(half))
    }

    /// Every span in which an entry switched (or will switch) the diverter.
    fn windows(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.slots
            .iter()
            .flatten()
            .map(|entry| self.window(entry))
            .chain(self.retired.iter().copied())
            .filter(|(from, to)| from < to)
    }

    /// An entry's window holds `encoder`: the queue had the diverter on there.
    pub(super) fn diverting_at(&self, encoder: u64) -> bool {
        self.windows()
            .any(|(from, to)| from <= encoder && encoder < to)
    }

    /// The diverter was on without a break from `from` to `to`, both included.
    fn on_throughout(&self, from: u64, to: u64, forced: &Forced) -> bool {
        let spans: Vec<(u64, u64)> = forced.spans().into_iter().chain(self.windows()).collect();
        let mut at = from;
        loop {
            let reach = spans
                .iter()
                .filter(|(start, end)| *start <= at && at < *end)
                .map(|(_, end)| *end)
                .max();
            match reach {
                Some(end) if end > to => return true,
                // `end > at`: each turn moves on.
                Some(end) => at = end,
                None => return false,
            }
        }
    }

    /// The slot's status of `seq`, if the slot still holds it.
    #[cfg(test)]
    fn status(&self, seq: u32) -> Option<Status> {
        self.slots[seq as usize % SLOTS]
            .filter(|entry| entry.seq == seq)
            .map(|entry| entry.status)
    }

    /// Every entry in the queue, slot order: seq and status.
    pub(super) fn entries(&self) -> Vec<(u32, Status)> {
        self.slots
            .iter()
            .flatten()
            .map(|entry| (entry.seq, entry.status))
            .collect()
    }

    /// Entries in the queue still pending.
    pub(super) fn pending(&self) -> u64 {
        self.slots
            .iter()
            .flatten()
            .filter(|entry| entry.status == Status::Pending)
            .count() as u64
    }

    /// Slot `slot`'s holding registers: `seq`, `fire_at` (u32 each, high word first).
    pub(super) fn slot_words(&self, slot: usize) -> [u16; SLOT_REGISTERS] {
        self.slots[slot].map_or([0; SLOT_REGISTERS], |entry| {
            let [a, b] = words(entry.seq);
            let [c, d] = words(entry.fire_at);
            [a, b, c, d]
        })
    }

    /// Slot `slot`'s outcome input registers: `seq` (u32, high word first), `status`.
    pub(super) fn outcome_words(&self, slot: usize) -> [u16; OUTCOME_REGISTERS] {
        self.slots[slot].map_or([0; OUTCOME_REGISTERS], |entry| {
            let [a, b] = words(entry.seq);
            [a, b, entry.status as u16]
        })
    }

    /// The controller wrote `seq` and `fire_at` into `slot` (checked: `seq % SLOTS == slot`, or
    /// `seq` 0 to empty it) with the encoder at `encoder`. The same `seq` again changes nothing.
    /// The late rule is applied here, once.
    pub(super) fn write(
        &mut self,
        slot: usize,
        (seq, fire_at): (u32, u32),
        encoder: u64,
        forced: &Forced,
        jammed: bool,
    ) {
        if let Some(old) = self.slots[slot] {
            if old.seq == seq {
                return;
            }
            // Its window held the diverter up to now, not beyond: replaced, it switches no more.
            let (from, to) = self.window(&old);
            let to = to.min(encoder);
            if from < to {
                if self.retired.len() == HISTORY {
                    self.retired.pop_front();
                }
                self.retired.push_back((from, to));
            }
        }
        self.slots[slot] = None;
        if seq == 0 {
            return;
        }
        // The short way round from the encoder's low 32 bits, as the PLC compares them.
        let step = fire_at.wrapping_sub(encoder as u32) as i32;
        let at = encoder.saturating_add_signed(i64::from(step));
        let end = at.saturating_add(u64::from(self.half_window));
        let status = if encoder <= at {
            Status::Pending
        } else if !self.on_throughout(at, encoder, forced) {
            // Switching the diverter now would divert the next unit instead.
            Status::Late
        } else if !jammed {
            // The diverter was already on when the unit passed `fire_at`, and still is.
            Status::Diverted
        } else if encoder < end {
            Status::Pending
        } else {
            Status::Fault
        };
        self.counts.queued += 1;
        self.count(status);
        self.slots[slot] = Some(Entry {
            seq,
            fire_at,
            at,
            written_at: encoder,
            status,
        });
    }

    fn count(&mut self, status: Status) {
        match status {
            Status::Pending => {}
            Status::Diverted => self.counts.diverted += 1,
            Status::Fault => self.counts.faulted += 1,
            Status::Late => self.counts.late += 1,
        }
    }

    /// One scan: the encoder went from `prev` to `now`. A pending entry whose window was
    /// reached or passed over in between switched the diverter: diverted, unless `jammed` (no
    /// confirm); one whose window has ended without a confirm is a gate fault.
    pub(super) fn settle(&mut self, prev: u64, now: u64, jammed: bool) -> Step {
        let (low, high) = (prev.min(now), prev.max(now));
        let mut step = Step::default();
        let mut reached = Vec::new();
        for slot in 0..SLOTS {
            let Some(entry) = self.slots[slot] else {
                continue;
            };
            let (from, to) = self.window(&entry);
            let inside = |encoder: u64| from <= encoder && encoder < to;
            if entry.status == Status::Pending {
                let touched = from < to && low < to && from <= high;
                if touched && !inside(prev) && !inside(now) {
                    step.crossed += 1;
                }
                if touched && !jammed {
                    reached.push((slot, Status::Diverted));
                } else if now >= to {
                    reached.push((slot, Status::Fault));
                }
            }
            if matches!(entry.status, Status::Pending | Status::Diverted) && inside(now) {
                step.active = true;
            }
        }
        for (slot, status) in reached {
            if let Some(entry) = self.slots[slot].as_mut() {
                entry.status = status;
            }
            self.count(status);
        }
        step
    }
}

/// A u32 as two registers, high word first.
fn words(value: u32) -> [u16; 2] {
    [(value >> 16) as u16, value as u16]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(half: u16) -> RejectQueue {
        RejectQueue {
            half_window: half,
            ..RejectQueue::default()
        }
    }

    #[test]
    fn an_entry_is_diverted_when_its_window_is_reached_and_fires_once() {
        let mut queue = queue(10);
        let forced = Forced::default();
        queue.write(1, (1, 1_000), 0, &forced, false);
        assert_eq!(queue.status(1), Some(Status::Pending));
        assert!(!queue.settle(0, 989, false).active);
        assert_eq!(queue.status(1), Some(Status::Pending));
        let step = queue.settle(989, 990, false);
        assert!(step.active && step.crossed == 0);
        assert_eq!(queue.status(1), Some(Status::Diverted));
        assert!(queue.settle(990, 1_009, false).active);
        assert!(
            !queue.settle(1_009, 1_010, false).active,
            "fire_at + half is out"
        );
        assert_eq!(queue.counts.diverted, 1);
        assert!(queue.diverting_at(990) && queue.diverting_at(1_009));
        assert!(!queue.diverting_at(989) && !queue.diverting_at(1_010));
    }

    #[test]
    fn a_window_passed_over_in_one_step_diverts_and_counts_as_a_firing() {
        let mut queue = queue(10);
        queue.write(2, (2, 1_000), 0, &Forced::default(), false);
        let step = queue.settle(500, 1_500, false);
        assert!(!step.active);
        assert_eq!(step.crossed, 1);
        assert_eq!(queue.status(2), Some(Status::Diverted));
    }

    #[test]
    fn jammed_the_entry_stays_pending_in_its_window_and_faults_at_its_end() {
        let mut queue = queue(10);
        queue.write(3, (3, 1_000), 0, &Forced::default(), true);
        assert!(queue.settle(0, 995, true).active);
        assert_eq!(queue.status(3), Some(Status::Pending));
        queue.settle(995, 1_010, true);
        assert_eq!(queue.status(3), Some(Status::Fault));
        assert_eq!((queue.counts.diverted, queue.counts.faulted), (0, 1));
        assert!(
            queue.diverting_at(1_000),
            "the output switched; the gate did not"
        );
    }

    #[test]
    fn written_past_fire_at_is_late_unless_the_diverter_was_on_throughout() {
        let mut forced = Forced::default();
        let mut queue = queue(10);
        queue.write(4, (4, 1_000), 1_001, &forced, false);
        assert_eq!(queue.status(4), Some(Status::Late));
        assert!(!queue.settle(1_001, 1_001, false).active);
        assert!(!queue.diverting_at(1_000), "a late entry never switches");

        // Forced on from 990 on, still on: the unit at 1,000 was diverted anyway.
        forced.set(990, true);
        queue.write(5, (5, 1_000), 1_020, &forced, false);
        assert_eq!(queue.status(5), Some(Status::Diverted));
        // Forced on from 990 to 1,005 only: a break before now.
        forced.set(1_005, false);
        queue.write(6, (6, 1_000), 1_020, &forced, false);
        assert_eq!(queue.status(6), Some(Status::Late));
        // Exactly at fire_at is not past it.
        queue.write(7, (7, 1_000), 1_000, &Forced::default(), false);
        assert_eq!(queue.status(7), Some(Status::Pending));
        assert_eq!(queue.counts.queued, 4);
        assert_eq!(queue.counts.late, 2);
    }

    #[test]
    fn another_entrys_window_covers_a_late_write() {
        let mut queue = queue(10);
        let forced = Forced::default();
        queue.write(1, (1, 1_000), 0, &forced, false);
        queue.settle(0, 995, false);
        // Entry 2 at 998, written at 1,005: entry 1's window [990, 1010) held the diverter on.
        queue.write(2, (2, 998), 1_005, &forced, false);
        assert_eq!(queue.status(2), Some(Status::Diverted));
        // Written at 1,012, entry 1's window ended at 1,010: a break.
        queue.write(3, (3, 1_001), 1_012, &forced, false);
        assert_eq!(queue.status(3), Some(Status::Late));
    }

    #[test]
    fn re_sending_a_seq_changes_nothing_and_a_new_one_retires_the_old_window() {
        let mut queue = queue(10);
        let forced = Forced::default();
        queue.write(1, (17, 500), 0, &forced, false);
        queue.settle(0, 600, false);
        assert_eq!(queue.status(17), Some(Status::Diverted));
        queue.write(1, (17, 9_000), 700, &forced, false);
        assert_eq!(queue.status(17), Some(Status::Diverted));
        assert_eq!(queue.slot_words(1), [0, 17, 0, 500], "fire_at kept");
        queue.write(1, (33, 800), 700, &forced, false);
        assert_eq!(queue.status(17), None);
        assert_eq!(queue.counts.queued, 2);
        assert!(queue.diverting_at(495), "the replaced window is remembered");
        assert_eq!(queue.outcome_words(1), [0, 33, 0]);
    }

    #[test]
    fn an_entry_replaced_before_its_window_never_switched() {
        let mut queue = queue(10);
        let forced = Forced::default();
        queue.write(1, (1, 1_000), 0, &forced, false);
        queue.write(1, (17, 2_000), 500, &forced, false);
        assert!(!queue.diverting_at(1_000));
        assert!(queue.diverting_at(2_000));
        // Replaced inside its window: remembered up to the replacement.
        queue.settle(500, 1_995, false);
        queue.write(1, (33, 3_000), 2_001, &forced, false);
        assert!(queue.diverting_at(2_000) && !queue.diverting_at(2_001));
    }

    #[test]
    fn fire_at_is_extended_the_short_way_round_the_wrap() {
        let mut queue = queue(10);
        let wrap = 1u64 << 32;
        queue.write(1, (1, 5), wrap - 100, &Forced::default(), false);
        queue.settle(wrap - 100, wrap + 3, false);
        assert_eq!(queue.status(1), Some(Status::Diverted));
        assert!(queue.diverting_at(wrap + 5));
    }

    #[test]
    fn forced_spans_follow_the_moves() {
        let mut forced = Forced::default();
        assert!(forced.spans().is_empty());
        forced.set(10, true);
        forced.set(20, false);
        forced.set(30, true);
        assert_eq!(forced.spans(), [(10, 20), (30, u64::MAX)]);
        assert!(!forced.at(9) && forced.at(10) && !forced.at(20) && forced.at(31));
    }
}
