//! Pure decoding of the line I/O input block: 32-bit values from register pairs, counters
//! extended across their 2^32 wrap, which ring slots hold the detections since the last poll, and
//! the reject outcomes.

use super::map::{
    CASES_PACKED_AT, INPUT_BLOCK_LEN, REJECT_OUTCOME_REGISTERS, REJECT_OUTCOMES_AT, REJECT_SLOTS,
    RING_LEN,
};

/// What the PLC did with a queued reject: the `status` register of its outcome (see
/// `docs/protocols/line-io.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectStatus {
    /// 0: its window has not ended yet (also an empty slot, `seq` 0).
    Pending,
    /// 1: the gate confirm input was on while the entry's window was active: the unit went out.
    Diverted,
    /// 2: gate fault: no confirm within the confirm timeout after the window opened, or the
    /// window ended without one. The unit may have passed.
    Fault,
    /// 3: written when the encoder was already past `fire_at` and the diverter had not been on
    /// throughout since then; the PLC did not switch the diverter for it. The unit passed.
    Late,
    /// Any other code, reported as read (a newer PLC program, a corrupted register): not an
    /// error here; the controller decides.
    Unknown(u16),
}

impl RejectStatus {
    /// The status for a register value; never `Unknown` for 0–3.
    pub fn from_code(code: u16) -> Self {
        match code {
            0 => Self::Pending,
            1 => Self::Diverted,
            2 => Self::Fault,
            3 => Self::Late,
            other => Self::Unknown(other),
        }
    }

    /// The register value.
    pub fn code(self) -> u16 {
        match self {
            Self::Pending => 0,
            Self::Diverted => 1,
            Self::Fault => 2,
            Self::Late => 3,
            Self::Unknown(code) => code,
        }
    }
}

/// One reject queue slot's outcome as read: the `seq` of the entry the status belongs to (0: the
/// slot was never written) and its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RejectOutcome {
    /// The reject number written to the slot, as the PLC echoes it.
    pub seq: u32,
    /// What the PLC did with it.
    pub status: RejectStatus,
}

/// A u32 from two registers, high word first (the tracemark line I/O map's word order).
pub(crate) fn u32_from_words(high: u16, low: u16) -> u32 {
    (u32::from(high) << 16) | u32::from(low)
}

/// Extends a wrapping u32 counter to u64: `raw` is read after `prev_raw`, which stood for
/// `prev`. The step is taken as the shortest way round the 2^32 circle, so the counter may wrap
/// forwards, or step back (an encoder jitter, a latch a little before the reference), by up to
/// 2^31 counts.
pub(crate) fn extend(prev_raw: u32, prev: u64, raw: u32) -> u64 {
    // Reinterpreting the wrapped difference as i32 is the point: it picks the short way round.
    let step = raw.wrapping_sub(prev_raw) as i32;
    prev.saturating_add_signed(i64::from(step))
}

/// The ring slots holding the detections after `prev` up to `count` (both wrapping detections
/// counts), oldest first, and how many detections were overwritten before they could be read.
/// Detection number `n` (counting from 0) is in slot `n % 16`; 2^32 is a multiple of 16, so the
/// slots stay right across the counter's wrap.
pub(crate) fn ring_slots(prev: u32, count: u32) -> (Vec<usize>, u64) {
    let new = count.wrapping_sub(prev);
    let kept = new.min(u32::from(RING_LEN));
    let first = count.wrapping_sub(kept);
    let slots = (0..kept)
        .map(|i| (first.wrapping_add(i) % u32::from(RING_LEN)) as usize)
        .collect();
    (slots, u64::from(new - kept))
}

/// The input block as read, one value per field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawInputs {
    pub(crate) encoder: u32,
    pub(crate) detections: u32,
    pub(crate) ring: [u32; RING_LEN as usize],
    /// The reject outcomes, slot order.
    pub(crate) rejects: [RejectOutcome; REJECT_SLOTS as usize],
    /// Cases the case packer closed (wrapping).
    pub(crate) cases_packed: u32,
}

impl RawInputs {
    /// Decodes the [`INPUT_BLOCK_LEN`] registers of the input block; `None` if the length is
    /// wrong.
    pub(crate) fn decode(words: &[u16]) -> Option<Self> {
        if words.len() != usize::from(INPUT_BLOCK_LEN) {
            return None;
        }
        let pair = |i: usize| u32_from_words(words[2 * i], words[2 * i + 1]);
        let mut ring = [0; RING_LEN as usize];
        for (slot, value) in ring.iter_mut().enumerate() {
            *value = pair(2 + slot);
        }
        let outcomes = &words[usize::from(REJECT_OUTCOMES_AT)..usize::from(CASES_PACKED_AT)];
        let mut rejects = [RejectOutcome {
            seq: 0,
            status: RejectStatus::Pending,
        }; REJECT_SLOTS as usize];
        for (outcome, regs) in rejects
            .iter_mut()
            .zip(outcomes.chunks_exact(usize::from(REJECT_OUTCOME_REGISTERS)))
        {
            *outcome = RejectOutcome {
                seq: u32_from_words(regs[0], regs[1]),
                status: RejectStatus::from_code(regs[2]),
            };
        }
        Some(Self {
            encoder: pair(0),
            detections: pair(1),
            ring,
            rejects,
            cases_packed: pair(usize::from(CASES_PACKED_AT) / 2),
        })
    }
}

/// What changed since the last poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Progress {
    pub(crate) encoder: u64,
    pub(crate) detections: Vec<u64>,
    pub(crate) missed: u64,
}

/// Wrap tracking between polls. The first poll is the baseline: it reports the encoder as read
/// and no detections.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tracker {
    last: Option<Last>,
}

#[derive(Debug, Clone, Copy)]
struct Last {
    encoder_raw: u32,
    encoder: u64,
    detections: u32,
}

impl Tracker {
    pub(crate) fn update(&mut self, raw: &RawInputs) -> Progress {
        let Some(last) = self.last else {
            self.last = Some(Last {
                encoder_raw: raw.encoder,
                encoder: u64::from(raw.encoder),
                detections: raw.detections,
            });
            return Progress {
                encoder: u64::from(raw.encoder),
                detections: Vec::new(),
                missed: 0,
            };
        };
        let encoder = extend(last.encoder_raw, last.encoder, raw.encoder);
        // A count more than 2^31 "ahead" went backwards: the PLC restarted its count at 0.
        let since = if raw.detections.wrapping_sub(last.detections) > i32::MAX as u32 {
            0
        } else {
            last.detections
        };
        let (slots, missed) = ring_slots(since, raw.detections);
        let detections = slots
            .into_iter()
            .map(|slot| extend(raw.encoder, encoder, raw.ring[slot]))
            .collect();
        self.last = Some(Last {
            encoder_raw: raw.encoder,
            encoder,
            detections: raw.detections,
        });
        Progress {
            encoder,
            detections,
            missed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u32_is_high_word_first() {
        assert_eq!(u32_from_words(0x1234, 0x5678), 0x1234_5678);
        assert_eq!(u32_from_words(0, 0xFFFF), 0xFFFF);
        assert_eq!(u32_from_words(0xFFFF, 0), 0xFFFF_0000);
    }

    #[test]
    fn extend_follows_the_wrap() {
        assert_eq!(extend(10, 10, 25), 25);
        assert_eq!(extend(u32::MAX - 4, 0xFFFF_FFFB, 5), 0x1_0000_0005);
        // Twice round: the extension carries on from the previous extended value.
        assert_eq!(extend(0xFFFF_FFF0, 0x1_FFFF_FFF0, 0x10), 0x2_0000_0010);
        // A small step back (jitter, a latch before the reference).
        assert_eq!(extend(5, 0x1_0000_0005, u32::MAX), 0xFFFF_FFFF);
        assert_eq!(extend(3, 3, 1), 1);
        // Never below zero.
        assert_eq!(extend(3, 3, u32::MAX), 0);
    }

    #[test]
    fn ring_slots_oldest_first_across_wraps() {
        assert_eq!(ring_slots(0, 0), (vec![], 0));
        assert_eq!(ring_slots(0, 3), (vec![0, 1, 2], 0));
        assert_eq!(ring_slots(14, 18), (vec![14, 15, 0, 1], 0));
        // The count wraps at 2^32: detection 2^32 - 1 is in slot 15, the next in slot 0.
        assert_eq!(ring_slots(u32::MAX - 1, 1), (vec![14, 15, 0], 0));
    }

    #[test]
    fn ring_slots_more_than_sixteen_reports_missed() {
        let (slots, missed) = ring_slots(0, 16);
        assert_eq!(slots, (0..16).collect::<Vec<_>>());
        assert_eq!(missed, 0);
        let (slots, missed) = ring_slots(0, 20);
        assert_eq!(
            slots,
            [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3]
        );
        assert_eq!(missed, 4);
    }

    fn block(encoder: u32, detections: u32, ring: &[(usize, u32)]) -> Vec<u16> {
        block_with_rejects(encoder, detections, ring, &[])
    }

    /// An input block; `rejects` are (slot, seq, status code).
    fn block_with_rejects(
        encoder: u32,
        detections: u32,
        ring: &[(usize, u32)],
        rejects: &[(usize, u32, u16)],
    ) -> Vec<u16> {
        let mut words = vec![0u16; usize::from(INPUT_BLOCK_LEN)];
        let mut put = |i: usize, v: u32| {
            words[2 * i] = (v >> 16) as u16;
            words[2 * i + 1] = v as u16;
        };
        put(0, encoder);
        put(1, detections);
        for &(slot, value) in ring {
            put(2 + slot, value);
        }
        for &(slot, seq, status) in rejects {
            let at = 36 + 3 * slot;
            words[at] = (seq >> 16) as u16;
            words[at + 1] = seq as u16;
            words[at + 2] = status;
        }
        words
    }

    #[test]
    fn decode_reads_every_pair_and_refuses_a_wrong_length() {
        let words = block(0x0001_0002, 7, &[(0, 0xAABB_CCDD), (15, 9)]);
        let raw = RawInputs::decode(&words).expect("86 registers");
        assert_eq!(raw.encoder, 0x0001_0002);
        assert_eq!(raw.detections, 7);
        assert_eq!(raw.ring[0], 0xAABB_CCDD);
        assert_eq!(raw.ring[15], 9);
        assert_eq!(raw.cases_packed, 0);
        assert_eq!(RawInputs::decode(&words[..85]), None);
        assert_eq!(
            RawInputs::decode(&words[..84]),
            None,
            "the 84-register block without the case packer's count"
        );
        let mut counted = words.clone();
        counted[84..86].copy_from_slice(&[0x0001, 0x0002]);
        let raw = RawInputs::decode(&counted).expect("86 registers");
        assert_eq!(raw.cases_packed, 0x0001_0002, "IR 84-85, high word first");
        assert_eq!(
            RawInputs::decode(&words[..36]),
            None,
            "the old 36-register block"
        );
        let mut long = words.clone();
        long.push(0);
        assert_eq!(RawInputs::decode(&long), None);
    }

    #[test]
    fn reject_outcomes_are_read_at_36_plus_3k_seq_high_word_first() {
        let words = block_with_rejects(
            0,
            0,
            &[(15, 0xFFFF_FFFF)],
            &[
                (0, 16, 1),
                (1, 0x0001_0011, 2),
                (3, 3, 3),
                (4, 20, 0),
                (15, 0xFFFF_FFFF, 7),
            ],
        );
        // Slot 1's seq straddles a word: 0x0001 then 0x0011, at registers 39 and 40.
        assert_eq!(words[39..42], [0x0001, 0x0011, 2]);
        let raw = RawInputs::decode(&words).expect("86 registers");
        let outcome = |seq, status| RejectOutcome { seq, status };
        assert_eq!(raw.rejects[0], outcome(16, RejectStatus::Diverted));
        assert_eq!(raw.rejects[1], outcome(0x0001_0011, RejectStatus::Fault));
        assert_eq!(raw.rejects[2], outcome(0, RejectStatus::Pending), "empty");
        assert_eq!(raw.rejects[3], outcome(3, RejectStatus::Late));
        assert_eq!(raw.rejects[4], outcome(20, RejectStatus::Pending));
        assert_eq!(
            raw.rejects[15],
            outcome(0xFFFF_FFFF, RejectStatus::Unknown(7)),
            "an unknown code is reported, not refused"
        );
        // The ring's last slot ends where the outcomes start.
        assert_eq!(raw.ring[15], 0xFFFF_FFFF);
    }

    #[test]
    fn status_codes_round_trip() {
        for code in [0, 1, 2, 3, 4, 0x00FF, 0xFFFF] {
            assert_eq!(RejectStatus::from_code(code).code(), code);
        }
        assert_eq!(RejectStatus::from_code(4), RejectStatus::Unknown(4));
        for status in [
            RejectStatus::Pending,
            RejectStatus::Diverted,
            RejectStatus::Fault,
            RejectStatus::Late,
        ] {
            assert_eq!(RejectStatus::from_code(status.code()), status);
        }
    }

    #[test]
    fn tracker_baselines_then_reports_latched_counts_across_the_wrap() {
        let mut tracker = Tracker::default();
        let first = RawInputs::decode(&block(u32::MAX - 100, 5, &[(4, 1)])).expect("block");
        let progress = tracker.update(&first);
        assert_eq!(progress.encoder, u64::from(u32::MAX - 100));
        assert!(
            progress.detections.is_empty(),
            "the first poll is the baseline"
        );

        // Two detections, one before and one after the encoder wrapped.
        let raw = RawInputs::decode(&block(50, 7, &[(5, u32::MAX - 10), (6, 20)])).expect("block");
        let progress = tracker.update(&raw);
        assert_eq!(progress.encoder, 0x1_0000_0032);
        assert_eq!(
            progress.detections,
            vec![u64::from(u32::MAX - 10), 0x1_0000_0014]
        );
        assert_eq!(progress.missed, 0);
    }

    #[test]
    fn tracker_takes_a_count_going_back_as_a_plc_restart() {
        let mut tracker = Tracker::default();
        tracker.update(&RawInputs::decode(&block(1_000, 500, &[])).expect("block"));
        let progress = tracker.update(
            &RawInputs::decode(&block(1_010, 2, &[(0, 1_003), (1, 1_007)])).expect("block"),
        );
        assert_eq!(progress.detections, vec![1_003, 1_007]);
        assert_eq!(progress.missed, 0);
    }
}
