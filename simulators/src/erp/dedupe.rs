//! De-duplication by `Idempotency-Key` (SPEC §6; the IETF httpapi "Idempotency-Key HTTP Header
//! Field" draft, whose value is an RFC 8941 Structured Field string).
//!
//! The sender fixes the key when it enqueues a delivery and sends the same body with it on every
//! attempt. So the receiver answers a key it has accepted before by replaying its first answer
//! when the body is the same (the sender missed the answer: a reset, a timeout), and with 422
//! when the body differs: the key was reused for another document, which the draft calls a
//! misuse of the key (the draft's "Error Scenarios": 422 Unprocessable Content).

/// The longest key taken: a uuid is 36 characters; the rest is room for other senders' schemes.
pub const MAX_KEY_CHARS: usize = 255;

/// Why an `Idempotency-Key` value is refused (answered 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdempotencyKeyError {
    /// Not an RFC 8941 Item.
    #[error("Idempotency-Key is not an RFC 8941 structured field item: {0}")]
    Syntax(String),
    /// An Item, but not a String (`"…"`, RFC 8941 §3.3.3).
    #[error("Idempotency-Key must be an RFC 8941 string, quoted (\"<uuid>\"), not a {0}")]
    NotAString(&'static str),
    /// The empty string.
    #[error("Idempotency-Key is the empty string")]
    Empty,
    /// Longer than [`MAX_KEY_CHARS`].
    #[error("Idempotency-Key is {0} characters, more than the {MAX_KEY_CHARS} taken")]
    TooLong(usize),
}

/// The key in an `Idempotency-Key` header value: `"<uuid>"`, an RFC 8941 sf-string; parameters
/// after it are allowed and ignored (RFC 8941 §3.1.2).
pub fn parse_idempotency_key(value: &[u8]) -> Result<String, IdempotencyKeyError> {
    let item = sfv::Parser::new(value)
        .parse::<sfv::Item>()
        .map_err(|error| IdempotencyKeyError::Syntax(error.to_string()))?;
    let key = match item.bare_item {
        sfv::BareItem::String(key) => key.as_str().to_owned(),
        sfv::BareItem::Token(_) => return Err(IdempotencyKeyError::NotAString("token (unquoted)")),
        sfv::BareItem::Integer(_) => return Err(IdempotencyKeyError::NotAString("integer")),
        sfv::BareItem::Decimal(_) => return Err(IdempotencyKeyError::NotAString("decimal")),
        sfv::BareItem::Boolean(_) => return Err(IdempotencyKeyError::NotAString("boolean")),
        sfv::BareItem::ByteSequence(_) => {
            return Err(IdempotencyKeyError::NotAString("byte sequence"));
        }
        sfv::BareItem::Date(_) => return Err(IdempotencyKeyError::NotAString("date")),
        sfv::BareItem::DisplayString(_) => {
            return Err(IdempotencyKeyError::NotAString("display string"));
        }
    };
    if key.is_empty() {
        return Err(IdempotencyKeyError::Empty);
    }
    if key.len() > MAX_KEY_CHARS {
        return Err(IdempotencyKeyError::TooLong(key.len()));
    }
    Ok(key)
}

/// What a request with a key already seen gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// The key is new: validate, then accept.
    New,
    /// The same key with the same body: replay the stored answer.
    Replay,
    /// The same key with another body: 422.
    OtherBody,
}

/// Decides on a request whose body hashes to `body_sha256`, given the body hash stored with its
/// key when it was accepted (`None`: never accepted).
pub fn decide(stored_body_sha256: Option<&str>, body_sha256: &str) -> Seen {
    match stored_body_sha256 {
        None => Seen::New,
        Some(stored) if stored == body_sha256 => Seen::Replay,
        Some(_) => Seen::OtherBody,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quoted_uuid_is_a_key() {
        let uuid = "0b6c1d6e-7a8f-4a8e-9d2b-5f3c2e1a0b9c";
        assert_eq!(
            parse_idempotency_key(format!("\"{uuid}\"").as_bytes()),
            Ok(uuid.to_owned())
        );
        // RFC 8941 §4.2: leading and trailing spaces are discarded; parameters may follow.
        assert_eq!(
            parse_idempotency_key(format!("  \"{uuid}\";v=1 ").as_bytes()),
            Ok(uuid.to_owned())
        );
        // The two escapes of an sf-string (RFC 8941 §3.3.3).
        assert_eq!(
            parse_idempotency_key(br#""a\"b\\c""#),
            Ok(r#"a"b\c"#.to_owned())
        );
    }

    #[test]
    fn malformed_keys_say_what_is_wrong() {
        let uuid = b"0b6c1d6e-7a8f-4a8e-9d2b-5f3c2e1a0b9c";
        assert_eq!(
            parse_idempotency_key(uuid),
            Err(IdempotencyKeyError::Syntax(
                sfv::Parser::new(uuid)
                    .parse::<sfv::Item>()
                    .expect_err("a bare uuid starts with a digit and is no item")
                    .to_string()
            ))
        );
        assert_eq!(
            parse_idempotency_key(b"abc"),
            Err(IdempotencyKeyError::NotAString("token (unquoted)"))
        );
        assert_eq!(
            parse_idempotency_key(b"42"),
            Err(IdempotencyKeyError::NotAString("integer"))
        );
        assert_eq!(
            parse_idempotency_key(b"\"\""),
            Err(IdempotencyKeyError::Empty)
        );
        for bad in [
            &b"\"unterminated"[..],
            b"\"a\" \"b\"",
            b"\"tab\there\"",
            b"\"\\n\"",
            b"",
        ] {
            assert!(
                matches!(
                    parse_idempotency_key(bad),
                    Err(IdempotencyKeyError::Syntax(_))
                ),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let long = format!("\"{}\"", "k".repeat(MAX_KEY_CHARS + 1));
        assert_eq!(
            parse_idempotency_key(long.as_bytes()),
            Err(IdempotencyKeyError::TooLong(MAX_KEY_CHARS + 1))
        );
    }

    #[test]
    fn a_seen_key_replays_only_with_the_same_body() {
        assert_eq!(decide(None, "aa"), Seen::New);
        assert_eq!(decide(Some("aa"), "aa"), Seen::Replay);
        assert_eq!(decide(Some("aa"), "bb"), Seen::OtherBody);
    }
}
