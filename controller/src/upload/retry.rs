//! What one POST of a delivery came to, decided without I/O (SPEC §6 "Delivery"): delivered,
//! retry at a time, or failed for good.
//!
//! - 2xx: delivered. 409 Conflict: the receiver has this document already: delivered.
//! - 408, 425, 429, 5xx and network errors: retry, with exponential back-off and full jitter
//!   (a random delay between 0 and `min(cap, base · 2^attempt)`), never earlier than the
//!   receiver's `Retry-After` (RFC 9110 §10.2.3: delay-seconds or an HTTP-date), itself capped.
//! - Any other status (other 4xx, and 1xx/3xx, which a POST must not end on): failed, for a
//!   person to look at and `upload retry`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The back-off settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The delay ceiling of the first retry.
    pub base: Duration,
    /// The largest delay ceiling.
    pub cap: Duration,
    /// The longest `Retry-After` honoured (a receiver asking for more is retried after this).
    pub max_retry_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(300),
            max_retry_after: Duration::from_secs(3600),
        }
    }
}

/// What came back from one POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply<'a> {
    /// The receiver answered with `status` (and maybe a `Retry-After` header).
    Status {
        /// The HTTP status.
        status: u16,
        /// The `Retry-After` header's value, if any.
        retry_after: Option<&'a str>,
    },
    /// No answer: connect refused, reset, timeout, TLS failure.
    Network(&'a str),
}

/// The decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The receiver has it.
    Delivered,
    /// Not yet: try again at this time.
    RetryAt(SystemTime),
    /// Refused for good, with the reason.
    Failed(String),
}

/// Decides on `reply` to attempt number `attempt` (1 for the first POST) made at `now`;
/// `jitter` is a uniform draw from [0, 1).
pub fn decide(
    reply: &Reply<'_>,
    attempt: u32,
    now: SystemTime,
    backoff: &Backoff,
    jitter: f64,
) -> Decision {
    match *reply {
        Reply::Status { status, .. } if (200..300).contains(&status) || status == 409 => {
            Decision::Delivered
        }
        Reply::Status {
            status,
            retry_after,
        } if is_transient(status) => {
            let earliest = retry_after
                .and_then(|value| retry_after_delay(value, now))
                .map(|delay| delay.min(backoff.max_retry_after))
                .unwrap_or(Duration::ZERO);
            let delay = jittered(attempt, backoff, jitter).max(earliest);
            Decision::RetryAt(now + delay)
        }
        Reply::Status { status, .. } => Decision::Failed(format!(
            "the receiver answered {status}{}: not retried (SPEC §6: a 4xx other than 408, 409, \
             425 and 429 is permanent)",
            reason_phrase(status)
        )),
        Reply::Network(_) => Decision::RetryAt(now + jittered(attempt, backoff, jitter)),
    }
}

/// 408 Request Timeout, 425 Too Early, 429 Too Many Requests and every 5xx.
fn is_transient(status: u16) -> bool {
    matches!(status, 408 | 425 | 429) || (500..600).contains(&status)
}

fn reason_phrase(status: u16) -> String {
    http_reason(status)
        .map(|r| format!(" {r}"))
        .unwrap_or_default()
}

fn http_reason(status: u16) -> Option<&'static str> {
    Some(match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        _ => return None,
    })
}

/// Full jitter: uniform in [0, min(cap, base · 2^(attempt-1))].
fn jittered(attempt: u32, backoff: &Backoff, jitter: f64) -> Duration {
    let exponent = attempt.saturating_sub(1).min(31);
    let ceiling = backoff
        .base
        .checked_mul(1u32 << exponent)
        .unwrap_or(backoff.cap)
        .min(backoff.cap);
    ceiling.mul_f64(jitter.clamp(0.0, 1.0))
}

/// The delay a `Retry-After` value asks for at `now` (RFC 9110 §10.2.3): delay-seconds, or an
/// HTTP-date (a date in the past: no delay). `None` when it is neither.
pub fn retry_after_delay(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// `time` as unix milliseconds (0 before 1970).
pub fn unix_ms(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backoff() -> Backoff {
        Backoff {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(600),
        }
    }

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    fn status(status: u16) -> Reply<'static> {
        Reply::Status {
            status,
            retry_after: None,
        }
    }

    fn delay(decision: Decision) -> Duration {
        match decision {
            Decision::RetryAt(at) => at.duration_since(now()).expect("in the future"),
            other => panic!("expected a retry, got {other:?}"),
        }
    }

    #[test]
    fn every_status_code_has_its_decision() {
        for code in 100..=599u16 {
            let decision = decide(&status(code), 1, now(), &backoff(), 0.5);
            let expected = match code {
                200..=299 | 409 => "delivered",
                408 | 425 | 429 | 500..=599 => "retry",
                _ => "failed",
            };
            let got = match decision {
                Decision::Delivered => "delivered",
                Decision::RetryAt(_) => "retry",
                Decision::Failed(_) => "failed",
            };
            assert_eq!(got, expected, "status {code}");
        }
    }

    #[test]
    fn a_permanent_refusal_names_the_status() {
        let Decision::Failed(reason) = decide(&status(401), 1, now(), &backoff(), 0.0) else {
            panic!("401 is permanent");
        };
        assert!(reason.contains("401 Unauthorized"), "{reason}");
    }

    #[test]
    fn network_errors_are_retried() {
        let decision = decide(&Reply::Network("reset"), 1, now(), &backoff(), 0.999);
        assert!(delay(decision) <= Duration::from_secs(1));
    }

    #[test]
    fn back_off_doubles_up_to_the_cap_with_full_jitter() {
        for attempt in 1..=40u32 {
            let ceiling = Duration::from_secs(1u64 << (attempt - 1).min(20)).min(backoff().cap);
            let top = delay(decide(&status(503), attempt, now(), &backoff(), 1.0));
            assert_eq!(top, ceiling, "attempt {attempt}");
            let bottom = delay(decide(&status(503), attempt, now(), &backoff(), 0.0));
            assert_eq!(bottom, Duration::ZERO, "attempt {attempt}");
            let middle = delay(decide(&status(503), attempt, now(), &backoff(), 0.25));
            assert!(
                middle <= ceiling && middle >= ceiling / 5,
                "attempt {attempt}"
            );
        }
    }

    #[test]
    fn retry_after_seconds_is_a_lower_bound() {
        let reply = Reply::Status {
            status: 503,
            retry_after: Some("7"),
        };
        assert_eq!(
            delay(decide(&reply, 1, now(), &backoff(), 0.0)),
            Duration::from_secs(7)
        );
        // A longer back-off wins over a shorter Retry-After.
        assert_eq!(
            delay(decide(&reply, 10, now(), &backoff(), 1.0)),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn retry_after_http_date_and_its_cap() {
        let at = now() + Duration::from_secs(120);
        let date = httpdate::fmt_http_date(at);
        let reply = Reply::Status {
            status: 429,
            retry_after: Some(&date),
        };
        assert_eq!(
            delay(decide(&reply, 1, now(), &backoff(), 0.0)),
            Duration::from_secs(120)
        );
        let far = Reply::Status {
            status: 429,
            retry_after: Some("999999"),
        };
        assert_eq!(
            delay(decide(&far, 1, now(), &backoff(), 0.0)),
            Duration::from_secs(600)
        );
    }

    #[test]
    fn unusable_retry_after_values_fall_back_to_back_off() {
        for value in ["", "soon", "-5", "1.5", "Mon, 99 Foo 2026 00:00:00 GMT"] {
            assert_eq!(retry_after_delay(value, now()), None, "{value:?}");
            let reply = Reply::Status {
                status: 503,
                retry_after: Some(value),
            };
            assert_eq!(
                delay(decide(&reply, 1, now(), &backoff(), 0.0)),
                Duration::ZERO
            );
        }
        let past = httpdate::fmt_http_date(now() - Duration::from_secs(60));
        assert_eq!(retry_after_delay(&past, now()), Some(Duration::ZERO));
        assert_eq!(
            retry_after_delay("99999999999999999999999", now()),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn retry_after_on_a_success_or_permanent_status_is_ignored() {
        let ok = Reply::Status {
            status: 201,
            retry_after: Some("30"),
        };
        assert_eq!(decide(&ok, 1, now(), &backoff(), 0.0), Decision::Delivered);
        let bad = Reply::Status {
            status: 400,
            retry_after: Some("30"),
        };
        assert!(matches!(
            decide(&bad, 1, now(), &backoff(), 0.0),
            Decision::Failed(_)
        ));
    }
}
