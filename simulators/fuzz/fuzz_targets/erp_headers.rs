//! Whatever a sender puts in the ERP receiver's headers, parsing and verification give a value
//! or a clean refusal, never a panic: `Idempotency-Key` is a key or a `KeyError`, and a key
//! written back as an RFC 8941 string parses to the same key; `webhook-id`,
//! `webhook-timestamp` and `webhook-signature` (the input's first three lines, the rest the
//! body) verify or are refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracemark_sim::erp::signature::{
    DEFAULT_TOLERANCE, SigningSecret, Verifier, WebhookHeaders, parse_signature_header,
};
use tracemark_sim::erp::{MAX_KEY_CHARS, parse_idempotency_key};

fuzz_target!(|data: &[u8]| {
    if let Ok(key) = parse_idempotency_key(data) {
        assert!(!key.is_empty() && key.len() <= MAX_KEY_CHARS);
        let written = format!("\"{}\"", key.replace('\\', "\\\\").replace('"', "\\\""));
        assert_eq!(parse_idempotency_key(written.as_bytes()).as_ref(), Ok(&key));
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_signature_header(text);
    let mut parts = text.splitn(4, '\n');
    let headers = WebhookHeaders {
        id: parts.next(),
        timestamp: parts.next(),
        signature: parts.next(),
    };
    let body = parts.next().unwrap_or("").as_bytes();
    let Ok(secret) = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") else {
        return;
    };
    let verifier = Verifier::new(secret, None, DEFAULT_TOLERANCE);
    let _ = verifier.verify(&headers, body, 1_614_265_330);
});
