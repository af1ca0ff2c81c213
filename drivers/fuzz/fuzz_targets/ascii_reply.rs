//! Whatever a device sends, the generic ASCII driver's frame decoder and reply patterns
//! (docs/protocols/ascii.md) must give values or clean errors, never a panic. Run under the
//! reference dialect and the two real-device descriptions (a trailing XOR after ETX; a sum
//! before CR with no reply prefix; no checksum at all):
//! - the decoder gives the same frames whatever the chunking;
//! - a good frame re-encodes to bytes that decode to the same body;
//! - every reply pattern either fails or captures, and the status and counter readers give a
//!   reading or an error;
//! - on the device's side, the same bytes as commands are identified or not.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use tracemark_drivers::ascii::AsciiConfig;

const PANASONIC: &str = include_str!("../../../line-configs/devices/panasonic-lp-gs.toml");
const KEYENCE: &str = include_str!("../../../line-configs/devices/keyence-md-x.toml");

/// Parsed once: the target exercises the decoder, not the TOML reader.
static DESCRIPTIONS: LazyLock<[AsciiConfig; 3]> = LazyLock::new(|| {
    let parse = |text: &str| AsciiConfig::from_toml(text).expect("a valid fixture");
    [AsciiConfig::default(), parse(PANASONIC), parse(KEYENCE)]
});

fuzz_target!(|data: &[u8]| {
    let Some((&split, data)) = data.split_first() else {
        return;
    };
    for config in DESCRIPTIONS.iter() {
        let framing = config.framing();
        let whole = framing.reply_decoder().push_slice(data);
        let at = usize::from(split).min(data.len());
        let mut chunked = framing.reply_decoder();
        let mut pieces = chunked.push_slice(&data[..at]);
        pieces.extend(chunked.push_slice(&data[at..]));
        assert_eq!(whole, pieces, "chunking changes nothing");
        for frame in whole.iter().filter_map(|frame| frame.as_ref().ok()) {
            let body = frame.body();
            let again = framing
                .reply_decoder()
                .push_slice(&framing.encode_reply(body));
            if !body.is_empty() {
                assert_eq!(again.len(), 1);
                assert_eq!(again[0].as_ref().map(|f| f.body()), Ok(body));
            }
            let _ = config.ack().captures(body);
            if let Some(captures) = config.nak().captures(body) {
                let _ = captures.text("reason");
            }
            if let Some(status) = config.status()
                && let Some(captures) = status.reply().captures(body)
            {
                let _ = status.read(&captures);
            }
            if let Some(counter) = config.counter()
                && let Some(captures) = counter.reply().captures(body)
                && let Ok(count) = counter.read(&captures)
            {
                assert!(counter.modulus().is_none_or(|modulus| count < modulus));
            }
        }
        for frame in framing
            .command_decoder()
            .push_slice(data)
            .into_iter()
            .flatten()
        {
            let _ = config.identify(frame.body());
        }
    }
});
