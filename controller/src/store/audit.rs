//! The hash-chained event log (seed 003 §8.3, §8.4): each event's hash covers its fields and the
//! previous event's hash, so a changed, deleted or reordered row breaks the chain from there on.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Store, StoreError};

/// The `prev_hash` of the first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One stored event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// Position in the chain, from 1, without gaps.
    pub seq: i64,
    /// When (RFC 3339, UTC).
    pub at: String,
    /// Who.
    pub user: String,
    /// On which device or program.
    pub device: String,
    /// What happened (`product.add`, `codes.allocate`, `codes.transition`, …).
    pub kind: String,
    /// What it happened to (a product id, `batch:7`, …).
    pub subject: String,
    /// Details as JSON.
    pub detail: String,
    /// Hash of the previous event (hex).
    pub prev_hash: String,
    /// Hash of this event (hex).
    pub hash: String,
}

impl Event {
    /// The SHA-256 (hex) this event should have: over every field except `hash`, each
    /// length-prefixed so no two different events serialise to the same bytes.
    pub fn expected_hash(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(b"tracemark-event-v1");
        hasher.update(self.seq.to_be_bytes());
        for field in [
            &self.at,
            &self.user,
            &self.device,
            &self.kind,
            &self.subject,
            &self.detail,
            &self.prev_hash,
        ] {
            hasher.update((field.len() as u64).to_be_bytes());
            hasher.update(field.as_bytes());
        }
        hex::encode(hasher.finalize())
    }
}

/// The outcome of `audit verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    /// Events checked.
    pub events: i64,
    /// The chain head's sequence number.
    pub head_seq: i64,
    /// The first bad event and why, if any.
    pub first_bad: Option<BadEvent>,
}

/// Where the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadEvent {
    /// The sequence number at which the chain breaks.
    pub seq: i64,
    /// What is wrong.
    pub reason: String,
}

/// Events read per query while verifying.
const PAGE: i64 = 10_000;

fn broken(events: i64, head_seq: i64, seq: i64, reason: impl Into<String>) -> AuditReport {
    AuditReport {
        events,
        head_seq,
        first_bad: Some(BadEvent {
            seq,
            reason: reason.into(),
        }),
    }
}

pub(super) async fn verify(store: &Store) -> Result<AuditReport, StoreError> {
    // The head is read first: events appended while verifying lie beyond it and are not judged.
    let (head_seq, head_hash) = store.audit_head().await?;
    let mut expected_seq = 1;
    let mut prev_hash = GENESIS_HASH.to_owned();
    let mut checked = 0;
    while expected_seq <= head_seq {
        let page = store.events(expected_seq - 1, PAGE).await?;
        if page.is_empty() {
            break;
        }
        for event in page.into_iter().take_while(|e| e.seq <= head_seq) {
            if event.seq != expected_seq {
                let reason = format!("event {expected_seq} is missing (next is {})", event.seq);
                return Ok(broken(checked, head_seq, expected_seq, reason));
            }
            if event.prev_hash != prev_hash {
                let reason = "prev_hash does not match the previous event (deleted or reordered)";
                return Ok(broken(checked, head_seq, event.seq, reason));
            }
            let hash = event.expected_hash();
            if event.hash != hash {
                let reason = "content does not match its hash (changed)";
                return Ok(broken(checked, head_seq, event.seq, reason));
            }
            checked += 1;
            expected_seq += 1;
            prev_hash = hash;
        }
    }
    if expected_seq <= head_seq {
        let reason = format!("event {expected_seq} is missing (the head is at {head_seq})");
        return Ok(broken(checked, head_seq, expected_seq, reason));
    }
    if prev_hash != head_hash {
        let reason = "the last event does not match the chain head";
        return Ok(broken(checked, head_seq, head_seq, reason));
    }
    Ok(AuditReport {
        events: checked,
        head_seq,
        first_bad: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: i64, user: &str, device: &str, detail: &str) -> Event {
        Event {
            seq,
            at: "t".into(),
            user: user.into(),
            device: device.into(),
            kind: "k".into(),
            subject: "s".into(),
            detail: detail.into(),
            prev_hash: GENESIS_HASH.into(),
            hash: String::new(),
        }
    }

    #[test]
    fn hash_covers_every_field() {
        let base = event(1, "u", "d", "{}").expected_hash();
        assert_eq!(base.len(), 64);
        assert_ne!(base, event(2, "u", "d", "{}").expected_hash());
        assert_ne!(base, event(1, "u", "d", "{ }").expected_hash());
        // Moving a character between fields changes the hash (length prefixes).
        assert_ne!(base, event(1, "ud", "", "{}").expected_hash());
    }
}
