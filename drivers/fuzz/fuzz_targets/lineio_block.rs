//! The line I/O input-block decoder (docs/protocols/line-io.md): arbitrary register values, in
//! polls of 36 registers (72 bytes, big-endian words as on the Modbus wire), decoded in
//! sequence. Whatever the PLC answers, decoding never panics and never reports more new
//! detections than the ring holds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracemark_drivers::lineio::{INPUT_BLOCK_LEN, RING_LEN, decode_input_blocks};

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
        if let Some((_, detections, _)) = poll {
            assert!(detections.len() <= usize::from(RING_LEN));
        }
    }
});
