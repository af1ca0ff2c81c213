//! The hash-chained event log (seed 003 §8.3, §8.4): each event's hash covers its fields and the
//! previous event's hash, so a changed, deleted or reordered row breaks the chain from there on.

use serde::Serialize;
use sha2::{Digest, Sha256};
use time::Date;

use super::model::DEFAULT_RETENTION_YEARS;
use super::{Store, StoreError, sql};

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

/// Where a retention purge cut the log: events up to `through_seq` were removed, and `hash` is
/// the hash of event `through_seq`, from which the remaining chain continues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checkpoint {
    /// The last removed event.
    pub through_seq: i64,
    /// Its hash.
    pub hash: String,
    /// The purge's `--before` date.
    pub purged_before: String,
}

/// What a purge removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PurgeReport {
    /// Events removed by this purge (0 when there was nothing older than the date).
    pub events: i64,
    /// The log now starts after this event.
    pub through_seq: i64,
    /// The hash of event `through_seq`, when this purge removed anything.
    pub hash: Option<String>,
}

/// The outcome of `audit verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    /// Events checked.
    pub events: i64,
    /// Events before this one were removed by a retention purge (0: none were).
    pub purged_through: i64,
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
        purged_through: 0,
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
    // After a retention purge the chain starts at the checkpoint instead of the genesis hash.
    let checkpoint = store.latest_checkpoint().await?;
    let (mut expected_seq, mut prev_hash) = match &checkpoint {
        Some(c) => (c.through_seq + 1, c.hash.clone()),
        None => (1, GENESIS_HASH.to_owned()),
    };
    let purged_through = expected_seq - 1;
    let mut checkpoint_recorded = checkpoint.is_none();
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
            if let Some(c) = &checkpoint {
                checkpoint_recorded |= records_checkpoint(&event, c);
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
    if !checkpoint_recorded {
        // A checkpoint written outside a purge (to hide deleted events) has no event.
        let reason = format!(
            "the log starts after event {purged_through}, but no audit.purge event records \
             that checkpoint"
        );
        return Ok(broken(checked, head_seq, purged_through + 1, reason));
    }
    Ok(AuditReport {
        events: checked,
        purged_through,
        head_seq,
        first_bad: None,
    })
}

/// Whether `event` is the purge that wrote checkpoint `c`.
fn records_checkpoint(event: &Event, c: &Checkpoint) -> bool {
    if event.kind != "audit.purge" {
        return false;
    }
    let Ok(detail) = serde_json::from_str::<serde_json::Value>(&event.detail) else {
        return false;
    };
    detail["through_seq"].as_i64() == Some(c.through_seq)
        && detail["hash"].as_str() == Some(c.hash.as_str())
}

/// `years` calendar years before `day` (29 February becomes 28 February).
fn years_before(day: Date, years: i64) -> Date {
    let year = i32::try_from(i64::from(day.year()) - years).unwrap_or(i32::MIN);
    day.replace_year(year)
        .or_else(|_| day.replace_day(28).and_then(|d| d.replace_year(year)))
        .unwrap_or(Date::MIN)
}

impl Store {
    /// The newest retention checkpoint, if events were ever purged.
    pub async fn latest_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError> {
        sql::audit::latest_checkpoint(&self.db).await
    }

    /// Removes the events recorded before `before` (00:00 UTC), once every product that existed
    /// then has passed its retention (seed 003 §8.5) as of `today`; refuses otherwise and
    /// removes nothing. Records not tied to a product are kept at least
    /// [`DEFAULT_RETENTION_YEARS`]. Code records are never removed.
    pub async fn purge_audit(&self, before: Date, today: Date) -> Result<PurgeReport, StoreError> {
        if before > today {
            return Err(StoreError::invalid(
                "before",
                format!("{before} is in the future"),
            ));
        }
        let cut = before.to_string();
        let products = sql::purge::retention_of_products_before(&self.db, &cut).await?;
        let general = (String::new(), i64::from(DEFAULT_RETENTION_YEARS));
        for (product, years) in products.iter().chain(std::iter::once(&general)) {
            let latest = years_before(today, *years);
            if before > latest {
                let whose = if product.is_empty() {
                    "records not tied to a product".to_owned()
                } else {
                    format!("product {product}")
                };
                return Err(StoreError::invalid(
                    "before",
                    format!(
                        "{whose} must be kept {years} years: data before {before} is younger \
                         than that (purge --before {latest} or earlier)"
                    ),
                ));
            }
        }
        sql::purge::purge_events(&self.db, &self.actor, &cut).await
    }
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

    #[test]
    fn years_before_handles_leap_days() {
        let leap = Date::from_calendar_date(2028, time::Month::February, 29).expect("date");
        assert_eq!(years_before(leap, 3).to_string(), "2025-02-28");
        assert_eq!(years_before(leap, 4).to_string(), "2024-02-29");
    }
}
