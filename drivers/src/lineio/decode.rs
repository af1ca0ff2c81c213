//! Pure decoding of the line I/O input block: 32-bit values from register pairs, counters
//! extended across their 2^32 wrap, and which ring slots hold the detections since the last poll.

use super::map::{INPUT_BLOCK_LEN, RING_LEN};

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
        Some(Self {
            encoder: pair(0),
            detections: pair(1),
            ring,
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
        words
    }

    #[test]
    fn decode_reads_every_pair_and_refuses_a_wrong_length() {
        let words = block(0x0001_0002, 7, &[(0, 0xAABB_CCDD), (15, 9)]);
        let raw = RawInputs::decode(&words).expect("36 registers");
        assert_eq!(raw.encoder, 0x0001_0002);
        assert_eq!(raw.detections, 7);
        assert_eq!(raw.ring[0], 0xAABB_CCDD);
        assert_eq!(raw.ring[15], 9);
        assert_eq!(RawInputs::decode(&words[..35]), None);
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
