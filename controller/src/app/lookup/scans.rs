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

/// What a code's scans not yet in the row that was read add to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// Scans not in the row read, this one included.
    pub scans: i64,
    /// The first of them (RFC 3339).
    pub first_at: String,
}

type Key = (String, i64);

/// The three books: scans waiting, the batch being written, the batch written last.
///
/// A lookup reads the code's row, then asks here what the row lacks. A flush may commit
/// between the two, so the last two batches are kept: the row holds a batch exactly when its
/// `last_at` is that batch's last scan of the code (each batch moves `last_at` to its own).
/// A row read more than one flush before its lookup asks here (a lookup stalled for over a
/// second) may be shown short by one batch.
#[derive(Debug, Default)]
struct Books {
    pending: HashMap<Key, Pending>,
    in_flight: HashMap<Key, Pending>,
    written: HashMap<Key, Pending>,
}

impl Books {
    /// What `pending` and the batches the row (its `last_at`) lacks add to it.
    fn waiting(&self, key: &Key, row_last_at: Option<&str>) -> Option<Waiting> {
        let in_flight = self.in_flight.get(key);
        let written = self.written.get(key);
        let holds = |batch: Option<&Pending>| {
            batch.is_some_and(|b| row_last_at == Some(b.last_at.as_str()))
        };
        // The in-flight batch is newer: a row holding it holds the written one too.
        let lacks_in_flight = in_flight.filter(|_| !holds(in_flight));
        let lacks_written = written.filter(|_| !holds(in_flight) && !holds(written));
        let parts: Vec<&Pending> = [lacks_written, lacks_in_flight, self.pending.get(key)]
            .into_iter()
            .flatten()
            .collect();
        let first = parts.first()?;
        Some(Waiting {
            scans: parts.iter().map(|p| p.scans).sum(),
            first_at: first.first_at.clone(),
        })
    }
}

/// The scans not yet written, by code row.
#[derive(Debug, Default)]
pub struct ScanBook {
    books: Mutex<Books>,
    /// Serialises flushes, so a failed flush's counts go back before the next one takes.
    flushing: tokio::sync::Mutex<()>,
}

impl ScanBook {
    fn lock(&self) -> std::sync::MutexGuard<'_, Books> {
        // Each update is a few stores: a panic while holding the lock leaves nothing half-done.
        self.books
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records a scan of the row `(product_id, counter)` at `at`, whose stored count was read
    /// with its last scan `row_last_at`; what the row lacks now, and how many codes wait.
    pub fn record(
        &self,
        product_id: &str,
        counter: i64,
        at: &str,
        row_last_at: Option<&str>,
    ) -> (Waiting, usize) {
        let key = (product_id.to_owned(), counter);
        let mut books = self.lock();
        let entry = books.pending.entry(key.clone()).or_insert_with(|| Pending {
            scans: 0,
            first_at: at.to_owned(),
            last_at: String::new(),
        });
        entry.scans += 1;
        at.clone_into(&mut entry.last_at);
        let waiting = books.waiting(&key, row_last_at).unwrap_or(Waiting {
            scans: 1,
            first_at: at.to_owned(),
        });
        (waiting, books.pending.len())
    }

    /// What the row `(product_id, counter)` read with `row_last_at` lacks, without counting a
    /// scan (HEAD).
    pub fn peek(
        &self,
        product_id: &str,
        counter: i64,
        row_last_at: Option<&str>,
    ) -> Option<Waiting> {
        self.lock()
            .waiting(&(product_id.to_owned(), counter), row_last_at)
    }

    /// Codes waiting.
    pub fn len(&self) -> usize {
        self.lock().pending.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes every waiting count in one transaction; on failure they wait again (added to
    /// scans made meanwhile) and the error is returned. The number of codes written.
    pub async fn flush(&self, store: &Store) -> Result<usize, tracemark_store::StoreError> {
        let _one_at_a_time = self.flushing.lock().await;
        let counts: Vec<ScanCount> = {
            let mut books = self.lock();
            books.in_flight = std::mem::take(&mut books.pending);
            books
                .in_flight
                .iter()
                .map(|((product_id, counter), p)| ScanCount {
                    product_id: product_id.clone(),
                    counter: *counter,
                    scans: p.scans,
                    first_at: p.first_at.clone(),
                    last_at: p.last_at.clone(),
                })
                .collect()
        };
        if counts.is_empty() {
            return Ok(0);
        }
        let result = store.add_scans(&counts).await;
        let mut books = self.lock();
        let batch = std::mem::take(&mut books.in_flight);
        match result {
            Ok(()) => {
                books.written = batch;
                Ok(counts.len())
            }
            Err(error) => {
                for (key, old) in batch {
                    match books.pending.get_mut(&key) {
                        Some(newer) => {
                            newer.scans += old.scans;
                            newer.first_at = old.first_at;
                        }
                        None => {
                            books.pending.insert(key, old);
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
        assert_eq!(book.record("p", 1, "t1", None).0.scans, 1);
        assert_eq!(book.record("p", 2, "t2", None).1, 2);
        let (waiting, codes) = book.record("p", 1, "t3", None);
        assert_eq!(
            waiting,
            Waiting {
                scans: 2,
                first_at: "t1".into()
            }
        );
        assert_eq!(codes, 2);
    }

    #[test]
    fn a_row_read_before_a_flush_committed_is_not_shown_short() {
        let key: Key = ("p".into(), 1);
        let batch = |scans, first: &str, last: &str| Pending {
            scans,
            first_at: first.into(),
            last_at: last.into(),
        };
        let mut books = Books::default();
        books.written.insert(key.clone(), batch(2, "t1", "t2"));
        books.in_flight.insert(key.clone(), batch(3, "t3", "t5"));
        books.pending.insert(key.clone(), batch(1, "t6", "t6"));
        let scans = |row: Option<&str>| books.waiting(&key, row).map(|w| (w.scans, w.first_at));
        // The row was read before either batch landed, after the written one, after both.
        assert_eq!(scans(None), Some((6, "t1".into())));
        assert_eq!(scans(Some("t2")), Some((4, "t3".into())));
        assert_eq!(scans(Some("t5")), Some((1, "t6".into())));
    }
}
