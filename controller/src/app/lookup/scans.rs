//! Scan counts gathered in memory and written in batches.
//!
//! A write per lookup would cap the public lookup at the database's commit rate (SQLite with
//! `synchronous = FULL` commits a few hundred times a second); so each scan only adds to a
//! count here, and a flusher writes every code's count in one transaction per interval, when
//! [`FLUSH_AT`] codes are waiting, and when the server shuts down. What a page shows is the
//! stored count plus what waits here. At most [`MAX_PENDING`] codes wait: beyond that a scan
//! waits for a flush (the memory stays bounded whatever the load).

use std::collections::HashMap;
use std::sync::Mutex;

use tracemark_store::Store;
use tracemark_store::lookup::ScanCount;

/// Codes waiting that wake the flusher before its interval.
pub const FLUSH_AT: usize = 5_000;
/// Codes waiting at most; a scan beyond that waits for a flush.
pub const MAX_PENDING: usize = 50_000;

/// Scans of one code not yet written.
#[derive(Debug, Clone)]
struct Pending {
    scans: i64,
    first_at: String,
    last_at: String,
}

/// What a code's scans not yet written add to its stored ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// Scans not yet written, this one included.
    pub scans: i64,
    /// The first of them (RFC 3339).
    pub first_at: String,
}

/// The scans not yet written, by code row.
#[derive(Debug, Default)]
pub struct ScanBook {
    pending: Mutex<HashMap<(String, i64), Pending>>,
    /// Serialises flushes, so a failed flush's counts go back before the next one takes.
    flushing: tokio::sync::Mutex<()>,
}

impl ScanBook {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, i64), Pending>> {
        // Each update is a few stores: a panic while holding the lock leaves nothing half-done.
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records a scan of the row `(product_id, counter)` at `at`; what now waits for it, and
    /// how many codes wait in all.
    pub fn record(&self, product_id: &str, counter: i64, at: &str) -> (Waiting, usize) {
        let mut pending = self.lock();
        let entry = pending
            .entry((product_id.to_owned(), counter))
            .or_insert_with(|| Pending {
                scans: 0,
                first_at: at.to_owned(),
                last_at: String::new(),
            });
        entry.scans += 1;
        at.clone_into(&mut entry.last_at);
        let waiting = Waiting {
            scans: entry.scans,
            first_at: entry.first_at.clone(),
        };
        (waiting, pending.len())
    }

    /// What waits for the row `(product_id, counter)`, without counting a scan (HEAD).
    pub fn peek(&self, product_id: &str, counter: i64) -> Option<Waiting> {
        self.lock()
            .get(&(product_id.to_owned(), counter))
            .map(|p| Waiting {
                scans: p.scans,
                first_at: p.first_at.clone(),
            })
    }

    /// Codes waiting.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes every waiting count in one transaction; on failure they wait again (added to
    /// scans made meanwhile) and the error is returned. The number of codes written.
    pub async fn flush(&self, store: &Store) -> Result<usize, tracemark_store::StoreError> {
        let _one_at_a_time = self.flushing.lock().await;
        let taken: HashMap<(String, i64), Pending> = std::mem::take(&mut *self.lock());
        if taken.is_empty() {
            return Ok(0);
        }
        let counts: Vec<ScanCount> = taken
            .iter()
            .map(|((product_id, counter), p)| ScanCount {
                product_id: product_id.clone(),
                counter: *counter,
                scans: p.scans,
                first_at: p.first_at.clone(),
                last_at: p.last_at.clone(),
            })
            .collect();
        match store.add_scans(&counts).await {
            Ok(()) => Ok(counts.len()),
            Err(error) => {
                let mut pending = self.lock();
                for (key, old) in taken {
                    match pending.get_mut(&key) {
                        Some(newer) => {
                            newer.scans += old.scans;
                            newer.first_at = old.first_at;
                        }
                        None => {
                            pending.insert(key, old);
                        }
                    }
                }
                Err(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_add_up_per_code_and_keep_the_first_time() {
        let book = ScanBook::default();
        assert_eq!(book.record("p", 1, "t1").0.scans, 1);
        assert_eq!(book.record("p", 2, "t2").1, 2);
        let (waiting, codes) = book.record("p", 1, "t3");
        assert_eq!(
            waiting,
            Waiting {
                scans: 2,
                first_at: "t1".into()
            }
        );
        assert_eq!(codes, 2);
    }
}
