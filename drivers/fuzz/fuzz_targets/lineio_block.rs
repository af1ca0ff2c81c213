//! The line I/O input-block decoder (docs/protocols/line-io.md): arbitrary register values, in
//! polls of 86 registers (172 bytes, big-endian words as on the Modbus wire), decoded in
//! sequence. Whatever the PLC answers, decoding never panics, never reports more new detections
//! than the ring holds, and reports every reject queue slot with its `seq` and status code as
//! read (an unknown code is a value, not an error), and the case packer's count (the last two
//! registers) as read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracemark_drivers::lineio::{
    INPUT_BLOCK_LEN, REJECT_SLOTS, RING_LEN, RejectStatus, decode_input_blocks,
};

/// Where the reject outcomes start in the block: after encoder, count and ring.
const OUTCOMES_AT: usize = 4 + 2 * RING_LEN as usize;

fuzz_target!(|data: &[u8]| {
    let words: Vec<u16> = data
        .chunks_exact(2)
        .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
        .collect();
    let block = usize::from(INPUT_BLOCK_LEN);
    // Whole blocks, and one short block to exercise the length check.
    let mut blocks: Vec<&[u16]> = words.chunks(block).collect();
    blocks.push(&words[..words.len().min(block - 1)]);
    let polls = decode_input_blocks(blocks.iter().copied());
    assert_eq!(polls.len(), blocks.len());
    for (poll, block_words) in polls.iter().zip(&blocks) {
        assert_eq!(poll.is_some(), block_words.len() == block);
        let Some(poll) = poll else { continue };
        assert!(poll.detections.len() <= usize::from(RING_LEN));
        assert_eq!(poll.rejects.len(), usize::from(REJECT_SLOTS));
        for (slot, outcome) in poll.rejects.iter().enumerate() {
            let registers = &block_words[OUTCOMES_AT + 3 * slot..][..3];
            let seq = (u32::from(registers[0]) << 16) | u32::from(registers[1]);
            assert_eq!(outcome.seq, seq);
            // The status code round-trips, and only codes over 3 are unknown.
            assert_eq!(outcome.status.code(), registers[2]);
            assert_eq!(RejectStatus::from_code(registers[2]), outcome.status);
            assert_eq!(
                matches!(outcome.status, RejectStatus::Unknown(_)),
                registers[2] > 3
            );
        }
        let count = &block_words[block - 2..];
        assert_eq!(
            poll.cases_packed,
            (u32::from(count[0]) << 16) | u32::from(count[1])
        );
    }
});
