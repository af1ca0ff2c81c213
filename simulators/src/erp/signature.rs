//! Standard Webhooks signature verification, as a receiver does it (Standard Webhooks 1.0.0,
//! "Verifying webhook authenticity"; SPEC §6).
//!
//! The signed content is `{webhook-id}.{webhook-timestamp}.{body}`, the body being the bytes of
//! the request as they came over the wire (with `Content-Encoding: gzip`, the compressed bytes:
//! a receiver checks the sender before it inflates anything). `webhook-signature` is a
//! space-separated list of `version,base64` entries so a sender can rotate keys: `v1` is
//! HMAC-SHA256 under the shared secret (`whsec_<base64 key>`), `v1a` Ed25519 under the sender's
//! key pair (public key `whpk_<base64>`). Entries of other versions are skipped, as the
//! specification asks.
//!
//! Policy of this receiver: at least one `v1` entry must verify under the secret and, when an
//! Ed25519 public key is configured, at least one `v1a` entry must verify under it too. The
//! timestamp must be within the tolerance of now, either way (5 minutes by default, as the
//! reference libraries use), so a recorded request cannot be replayed later.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, VerifyingKey};
use hmac::{Hmac, Mac as _};
use sha2::Sha256;

/// How far `webhook-timestamp` may be from now, either way, by default.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// The shortest and longest symmetric secret the specification allows ("at least 24 bytes
/// (192 bits), 512 maximum" bits, Standard Webhooks 1.0.0 "Signature scheme").
const SECRET_BYTES: std::ops::RangeInclusive<usize> = 24..=64;

/// A key file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The text after the prefix is not standard base64.
    #[error("the key is not base64 after its `{prefix}` prefix: {reason}")]
    Base64 {
        /// `whsec_` or `whpk_`.
        prefix: &'static str,
        /// The decoder's reason.
        reason: String,
    },
    /// A secret outside 24–64 bytes.
    #[error("the secret is {0} bytes; Standard Webhooks asks for 24 to 64")]
    SecretLength(usize),
    /// Not an Ed25519 public key.
    #[error("not an Ed25519 public key: {0}")]
    PublicKey(String),
}

/// The shared HMAC secret of `v1` signatures. Its bytes never appear in `Debug`.
#[derive(Clone)]
pub struct SigningSecret(Vec<u8>);

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningSecret({} bytes)", self.0.len())
    }
}

impl SigningSecret {
    /// Reads a secret as a secret file holds it: `whsec_<base64>` (the prefix may be left out,
    /// as the reference libraries allow); surrounding white space is ignored.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let encoded = text.strip_prefix("whsec_").unwrap_or(text);
        let key = STANDARD.decode(encoded).map_err(|error| KeyError::Base64 {
            prefix: "whsec_",
            reason: error.to_string(),
        })?;
        if !SECRET_BYTES.contains(&key.len()) {
            return Err(KeyError::SecretLength(key.len()));
        }
        Ok(SigningSecret(key))
    }

    /// The secret's bytes (for a test client that signs).
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// The sender's Ed25519 public key, for `v1a` signatures.
#[derive(Debug, Clone)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Reads `whpk_<base64 of the 32 key bytes>` (prefix optional, white space ignored).
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let encoded = text.strip_prefix("whpk_").unwrap_or(text);
        let bytes = STANDARD.decode(encoded).map_err(|error| KeyError::Base64 {
            prefix: "whpk_",
            reason: error.to_string(),
        })?;
        let bytes: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::PublicKey(format!("{} bytes, not 32", bytes.len())))?;
        VerifyingKey::from_bytes(&bytes)
            .map(PublicKey)
            .map_err(|error| KeyError::PublicKey(error.to_string()))
    }

    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        VerifyingKey::from_bytes(bytes)
            .map(PublicKey)
            .map_err(|error| KeyError::PublicKey(error.to_string()))
    }
}

/// One entry of a `webhook-signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureEntry<'a> {
    /// `v1,<base64>`: HMAC-SHA256, decoded.
    V1(Vec<u8>),
    /// `v1a,<base64>`: Ed25519, decoded.
    V1a(Vec<u8>),
    /// A version this receiver does not know (skipped, Standard Webhooks "Webhook headers").
    Other {
        /// The version identifier.
        version: &'a str,
    },
    /// Not `version,base64`, or not base64.
    Malformed {
        /// The entry as it was.
        entry: &'a str,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Splits a `webhook-signature` value into its entries (space-separated, empty ones skipped).
pub fn parse_signature_header(value: &str) -> Vec<SignatureEntry<'_>> {
    value
        .split(' ')
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let Some((version, encoded)) = entry.split_once(',') else {
                return SignatureEntry::Malformed {
                    entry,
                    reason: "no `,` between version and signature",
                };
            };
            let decode = || STANDARD.decode(encoded).ok().filter(|s| !s.is_empty());
            match version {
                "v1" | "v1a" => match decode() {
                    Some(bytes) if version == "v1" => SignatureEntry::V1(bytes),
                    Some(bytes) => SignatureEntry::V1a(bytes),
                    None => SignatureEntry::Malformed {
                        entry,
                        reason: "the signature is not base64",
                    },
                },
                version => SignatureEntry::Other { version },
            }
        })
        .collect()
}

/// The three Standard Webhooks headers of a request, as text.
#[derive(Debug, Clone, Copy)]
pub struct WebhookHeaders<'a> {
    /// `webhook-id`.
    pub id: Option<&'a str>,
    /// `webhook-timestamp`.
    pub timestamp: Option<&'a str>,
    /// `webhook-signature`.
    pub signature: Option<&'a str>,
}

/// Why a request is not authentic (answered 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A Standard Webhooks header is missing.
    #[error("the `{0}` header is missing")]
    Missing(&'static str),
    /// `webhook-timestamp` is not whole unix seconds.
    #[error("webhook-timestamp {0:?} is not unix seconds")]
    Timestamp(String),
    /// `webhook-timestamp` is too far from now.
    #[error(
        "webhook-timestamp {timestamp} is {skew_secs} s from now, more than the {tolerance_secs} s tolerated"
    )]
    OutsideTolerance {
        /// The header's value.
        timestamp: i64,
        /// How far from now, seconds.
        skew_secs: u64,
        /// The tolerance, seconds.
        tolerance_secs: u64,
    },
    /// No `v1` entry verifies under the secret.
    #[error("no v1 signature matches the shared secret ({0} v1 entries given)")]
    NoValidV1(usize),
    /// An Ed25519 key is configured and no `v1a` entry verifies under it.
    #[error("no v1a signature matches the configured Ed25519 public key ({0} v1a entries given)")]
    NoValidV1a(usize),
}

/// Checks requests against the configured keys.
#[derive(Debug, Clone)]
pub struct Verifier {
    secret: SigningSecret,
    public_key: Option<PublicKey>,
    tolerance: Duration,
}

impl Verifier {
    /// A verifier that requires a `v1` signature under `secret` and, with `public_key`, a `v1a`
    /// signature under it too.
    pub fn new(secret: SigningSecret, public_key: Option<PublicKey>, tolerance: Duration) -> Self {
        Verifier {
            secret,
            public_key,
            tolerance,
        }
    }

    /// Verifies `body` as sent with `headers`, at `now_unix` (seconds).
    pub fn verify(
        &self,
        headers: &WebhookHeaders<'_>,
        body: &[u8],
        now_unix: i64,
    ) -> Result<(), SignatureError> {
        let id = headers.id.ok_or(SignatureError::Missing("webhook-id"))?;
        let timestamp_text = headers
            .timestamp
            .ok_or(SignatureError::Missing("webhook-timestamp"))?;
        let signature = headers
            .signature
            .ok_or(SignatureError::Missing("webhook-signature"))?;
        // Only digits: the timestamp is signed as sent, so `+5` or ` 5` must not pass as 5.
        let timestamp = Some(timestamp_text)
            .filter(|text| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|text| text.parse::<i64>().ok())
            .ok_or_else(|| SignatureError::Timestamp(timestamp_text.to_owned()))?;
        let skew_secs = timestamp.abs_diff(now_unix);
        if skew_secs > self.tolerance.as_secs() {
            return Err(SignatureError::OutsideTolerance {
                timestamp,
                skew_secs,
                tolerance_secs: self.tolerance.as_secs(),
            });
        }
        let entries = parse_signature_header(signature);
        let v1: Vec<&[u8]> = entries
            .iter()
            .filter_map(|entry| match entry {
                SignatureEntry::V1(bytes) => Some(bytes.as_slice()),
                _ => None,
            })
            .collect();
        let mut mac = <Hmac<Sha256>>::new_from_slice(self.secret.bytes())
            .map_err(|_| SignatureError::NoValidV1(v1.len()))?;
        for part in [id.as_bytes(), b".", timestamp_text.as_bytes(), b".", body] {
            mac.update(part);
        }
        // `verify_slice` compares in constant time (hmac crate, `Mac::verify_slice`).
        if !v1.iter().any(|tag| mac.clone().verify_slice(tag).is_ok()) {
            return Err(SignatureError::NoValidV1(v1.len()));
        }
        if let Some(PublicKey(key)) = &self.public_key {
            let v1a: Vec<&[u8]> = entries
                .iter()
                .filter_map(|entry| match entry {
                    SignatureEntry::V1a(bytes) => Some(bytes.as_slice()),
                    _ => None,
                })
                .collect();
            let message = signed_content(id, timestamp_text, body);
            let verifies = |bytes: &&[u8]| {
                Signature::from_slice(bytes)
                    .is_ok_and(|signature| key.verify_strict(&message, &signature).is_ok())
            };
            if !v1a.iter().any(verifies) {
                return Err(SignatureError::NoValidV1a(v1a.len()));
            }
        }
        Ok(())
    }
}

/// `{id}.{timestamp}.{body}`, the content every signature covers.
fn signed_content(id: &str, timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(id.len() + timestamp.len() + body.len() + 2);
    message.extend_from_slice(id.as_bytes());
    message.push(b'.');
    message.extend_from_slice(timestamp.as_bytes());
    message.push(b'.');
    message.extend_from_slice(body);
    message
}

/// `v1,<base64>`: the symmetric signature a sender puts in `webhook-signature` (for test
/// clients and the documentation's example).
pub fn sign_v1(secret: &SigningSecret, id: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = match <Hmac<Sha256>>::new_from_slice(secret.bytes()) {
        Ok(mac) => mac,
        // HMAC takes keys of any length; a SigningSecret is never empty.
        Err(_) => return String::from("v1,"),
    };
    mac.update(&signed_content(id, timestamp, body));
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer as _, SigningKey};

    // The published test vector of Standard Webhooks (reference libraries' `TestWebhookSign`).
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: &str = "1614265330";
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    // The asymmetric vector (`TestAsymmetricWebhookSign`): the signing key's 32 seed bytes.
    const ED_SEED: &str = "VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=";
    const ED_SIGNATURE: &str = "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag==";
    const NOW: i64 = 1_614_265_330;

    fn headers(signature: &str) -> WebhookHeaders<'_> {
        WebhookHeaders {
            id: Some(ID),
            timestamp: Some(TIMESTAMP),
            signature: Some(signature),
        }
    }

    fn verifier(public_key: Option<PublicKey>) -> Verifier {
        let secret = SigningSecret::parse(SECRET).expect("vector secret");
        Verifier::new(secret, public_key, DEFAULT_TOLERANCE)
    }

    fn vector_public_key() -> PublicKey {
        let seed: [u8; 32] = STANDARD
            .decode(ED_SEED)
            .expect("base64")
            .try_into()
            .expect("32 bytes");
        let signing = SigningKey::from_bytes(&seed);
        PublicKey::from_bytes(signing.verifying_key().as_bytes()).expect("key")
    }

    #[test]
    fn the_published_v1_vector_is_signed_and_verified() {
        let secret = SigningSecret::parse(SECRET).expect("vector secret");
        assert_eq!(secret.bytes().len(), 24);
        assert_eq!(sign_v1(&secret, ID, TIMESTAMP, BODY), SIGNATURE);
        assert_eq!(
            verifier(None).verify(&headers(SIGNATURE), BODY, NOW),
            Ok(())
        );
        // Without the prefix too, as the reference libraries accept.
        assert!(SigningSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n").is_ok());
    }

    #[test]
    fn the_published_v1a_vector_verifies_under_its_public_key() {
        let seed: [u8; 32] = STANDARD
            .decode(ED_SEED)
            .expect("b64")
            .try_into()
            .expect("32");
        let signing = SigningKey::from_bytes(&seed);
        let ours = signing.sign(&signed_content(ID, TIMESTAMP, BODY));
        assert_eq!(
            format!("v1a,{}", STANDARD.encode(ours.to_bytes())),
            ED_SIGNATURE
        );
        let both = format!("{SIGNATURE} {ED_SIGNATURE}");
        let verifier = verifier(Some(vector_public_key()));
        assert_eq!(verifier.verify(&headers(&both), BODY, NOW), Ok(()));
        // With the key configured, the v1 alone is not enough.
        assert_eq!(
            verifier.verify(&headers(SIGNATURE), BODY, NOW),
            Err(SignatureError::NoValidV1a(0))
        );
        let whpk = format!(
            "whpk_{}",
            STANDARD.encode(signing.verifying_key().as_bytes())
        );
        assert!(PublicKey::parse(&whpk).is_ok());
    }

    #[test]
    fn one_byte_changed_anywhere_is_refused() {
        let verifier = verifier(None);
        assert_eq!(
            verifier.verify(&headers(SIGNATURE), br#"{"test": 2432232315}"#, NOW),
            Err(SignatureError::NoValidV1(1))
        );
        let other_id = WebhookHeaders {
            id: Some("msg_p5jXN8AQM9LWM0D4loKWxJel"),
            ..headers(SIGNATURE)
        };
        assert_eq!(
            verifier.verify(&other_id, BODY, NOW),
            Err(SignatureError::NoValidV1(1))
        );
        let wrong = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";
        assert_eq!(
            verifier.verify(&headers(wrong), BODY, NOW),
            Err(SignatureError::NoValidV1(1))
        );
    }

    #[test]
    fn any_one_of_several_signatures_may_match() {
        let several = format!(
            "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=  {SIGNATURE} v1,###"
        );
        assert_eq!(verifier(None).verify(&headers(&several), BODY, NOW), Ok(()));
        let entries = parse_signature_header(&several);
        assert_eq!(entries.len(), 4);
        assert_eq!(entries[1], SignatureEntry::Other { version: "v2" });
        assert!(matches!(entries[3], SignatureEntry::Malformed { .. }));
    }

    #[test]
    fn the_timestamp_must_be_within_the_tolerance() {
        let verifier = verifier(None);
        let limit = DEFAULT_TOLERANCE.as_secs() as i64;
        assert_eq!(
            verifier.verify(&headers(SIGNATURE), BODY, NOW + limit),
            Ok(())
        );
        assert_eq!(
            verifier.verify(&headers(SIGNATURE), BODY, NOW - limit),
            Ok(())
        );
        assert!(matches!(
            verifier.verify(&headers(SIGNATURE), BODY, NOW + limit + 1),
            Err(SignatureError::OutsideTolerance { skew_secs: 301, .. })
        ));
        for bad in [
            "",
            "+1614265330",
            " 1614265330",
            "1614265330.0",
            "99999999999999999999",
        ] {
            let headers = WebhookHeaders {
                timestamp: Some(bad),
                ..headers(SIGNATURE)
            };
            assert_eq!(
                verifier.verify(&headers, BODY, NOW),
                Err(SignatureError::Timestamp(bad.to_owned())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn missing_headers_are_named() {
        let verifier = verifier(None);
        let cases = [
            (
                WebhookHeaders {
                    id: None,
                    ..headers(SIGNATURE)
                },
                "webhook-id",
            ),
            (
                WebhookHeaders {
                    timestamp: None,
                    ..headers(SIGNATURE)
                },
                "webhook-timestamp",
            ),
            (
                WebhookHeaders {
                    signature: None,
                    ..headers(SIGNATURE)
                },
                "webhook-signature",
            ),
        ];
        for (headers, name) in cases {
            assert_eq!(
                verifier.verify(&headers, BODY, NOW),
                Err(SignatureError::Missing(name))
            );
        }
    }

    #[test]
    fn bad_key_files_are_refused_with_the_reason() {
        assert!(matches!(
            SigningSecret::parse("whsec_c2hvcnQ="),
            Err(KeyError::SecretLength(5))
        ));
        assert!(matches!(
            SigningSecret::parse("whsec_not base64!"),
            Err(KeyError::Base64 { .. })
        ));
        assert!(matches!(
            PublicKey::parse("whpk_c2hvcnQ="),
            Err(KeyError::PublicKey(_))
        ));
        assert_eq!(
            format!("{:?}", SigningSecret::parse(SECRET).expect("secret")),
            "SigningSecret(24 bytes)"
        );
    }
}
