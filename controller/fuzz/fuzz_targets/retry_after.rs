//! Whatever a receiver puts in `Retry-After` (and whatever status it answers), the delivery's
//! decision (`tracemark::upload::retry`) never panics, never retries earlier than now, and never
//! waits longer than the back-off cap or the Retry-After cap allow (SPEC §6).
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use tracemark::upload::retry::{Backoff, Decision, Reply, decide, retry_after_delay};

fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else {
        return;
    };
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let value = String::from_utf8_lossy(rest);
    let _ = retry_after_delay(&value, now);
    let backoff = Backoff::default();
    let status = 400 + u16::from(head) * 2;
    let reply = Reply::Status {
        status,
        retry_after: Some(&value),
    };
    let attempt = u32::from(head);
    let jitter = f64::from(head) / 256.0;
    if let Decision::RetryAt(at) = decide(&reply, attempt, now, &backoff, jitter) {
        let wait = at.duration_since(now).expect("never before now");
        assert!(wait <= backoff.cap.max(backoff.max_retry_after));
    }
});
