//! The edge journal (issue 18 item 2, docs/plant.md "The edge journal"): where a controller
//! keeps its records while the central store cannot be reached. A local SQLite file, written
//! with `synchronous = FULL`, so an entry appended is on disk before the line is told it is
//! recorded: a `kill -9` (or a power cut) during an outage loses nothing the line was told.
//!
//! Every record the writer commits has a sequence number from the journal ([`Journal::next_seq`]):
//! increasing, and never reused — each opening of the file starts a new epoch, synced before
//! any number of it is handed out, and a number is the epoch in its high 32 bits. Entries are
//! kept in that order and forwarded in it once the store answers ([`Store::forward_journal`]).
//! The store applies records in a transaction that also moves the journal's mark (table
//! `journal_marks`, by the journal's own random id) to their number, so a record sent again
//! — after a crash between its commit and its removal from here, or a connection lost during
//! COMMIT — is found applied and is not applied twice.
//!
//! [`Store::forward_journal`]: crate::Store::forward_journal

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqliteSynchronous};

use super::{CodeRead, CodeState, Grade, RejectReason, StoreError, Transition};

/// Codes issued from a reserved block, counters `[first_counter, end_counter)`: the texts follow
/// from the product's serial key, so the record is the range alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueRange {
    /// The product.
    pub product_id: String,
    /// The block the counters are taken from (reserved by this controller).
    pub block_id: i64,
    /// The first counter issued.
    pub first_counter: i64,
    /// One past the last counter issued.
    pub end_counter: i64,
    /// The batch the codes are issued for.
    pub batch: Option<i64>,
}

impl IssueRange {
    /// How many codes the range issues.
    pub fn len(&self) -> u64 {
        u64::try_from(self.end_counter - self.first_counter).unwrap_or(0)
    }

    /// Whether the range issues nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One record the line made while the store could not be reached, in the order it was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// Codes issued for the marker (ranges committed together, under one number).
    Issues(Vec<IssueRange>),
    /// Code state changes (with the reads they were decided on), in order.
    Changes(Vec<Transition>),
}

impl Entry {
    /// How many codes the entry issues or changes.
    pub fn size(&self) -> u64 {
        match self {
            Entry::Issues(ranges) => ranges.iter().map(IssueRange::len).sum(),
            Entry::Changes(changes) => changes.len() as u64,
        }
    }
}

/// An entry as stored: JSON, the states and grades in their stored spelling.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Stored {
    Issues(Vec<IssueRange>),
    Changes(Vec<StoredChange>),
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredChange {
    code: String,
    to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// Present when the change carries a read (`data` and `grade` may each be absent in it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    read: Option<StoredRead>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredRead {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    grade: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data: Option<String>,
}

impl From<&Entry> for Stored {
    fn from(entry: &Entry) -> Self {
        match entry {
            Entry::Issues(ranges) => Stored::Issues(ranges.clone()),
            Entry::Changes(changes) => Stored::Changes(
                changes
                    .iter()
                    .map(|c| StoredChange {
                        code: c.code.clone(),
                        to: c.to.as_str().to_owned(),
                        reason: c.reason.map(|r| r.as_str().to_owned()),
                        read: c.read.as_ref().map(|r| StoredRead {
                            grade: r.grade.map(|g| g.as_str().to_owned()),
                            data: r.data.clone(),
                        }),
                    })
                    .collect(),
            ),
        }
    }
}

impl Stored {
    fn into_entry(self, seq: i64) -> Result<Entry, StoreError> {
        let damaged = |what: String| StoreError::corrupt(format!("journal entry {seq}: {what}"));
        Ok(match self {
            Stored::Issues(ranges) => Entry::Issues(ranges),
            Stored::Changes(changes) => Entry::Changes(
                changes
                    .into_iter()
                    .map(|c| {
                        let to = CodeState::from_str(&c.to)
                            .map_err(|e| damaged(format!("state of {}: {e}", c.code)))?;
                        let reason = c
                            .reason
                            .map(|r| RejectReason::from_str(&r))
                            .transpose()
                            .map_err(|e| damaged(format!("reason of {}: {e}", c.code)))?;
                        let read = c
                            .read
                            .map(|r| {
                                let grade = r
                                    .grade
                                    .map(|g| {
                                        Grade::parse(&g).ok_or_else(|| {
                                            damaged(format!("grade {g:?} of {}", c.code))
                                        })
                                    })
                                    .transpose()?;
                                Ok::<_, StoreError>(CodeRead {
                                    grade,
                                    data: r.data,
                                })
                            })
                            .transpose()?;
                        Ok(Transition {
                            code: c.code,
                            to,
                            reason,
                            read,
                        })
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?,
            ),
        })
    }
}

/// What a journal holds: entries, and the codes they issue or change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JournalSize {
    /// Entries waiting to be forwarded.
    pub entries: u64,
    /// Codes issued and changes recorded in them.
    pub records: u64,
}

/// A controller's edge journal: one local SQLite file.
#[derive(Debug, Clone)]
pub struct Journal {
    pool: SqlitePool,
    id: String,
    path: PathBuf,
    /// The next sequence number to hand out (this opening's epoch in the high 32 bits).
    next: Arc<AtomicI64>,
}

impl Journal {
    /// Opens the journal at `path`, making it (with a fresh id) if it does not exist.
    pub async fn open(path: &Path) -> Result<Journal, StoreError> {
        let where_ = path.display().to_string();
        let failed = |what: &'static str| {
            let where_ = where_.clone();
            move |e: sqlx::Error| StoreError::Journal {
                path: where_,
                what: format!("{what}: {e}"),
            }
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::Journal {
                path: where_.clone(),
                what: format!("make its directory: {e}"),
            })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // An entry is answered only once it is on disk (SQLite "PRAGMA synchronous", FULL:
            // the WAL is synced at every commit).
            .synchronous(SqliteSynchronous::Full);
        // One connection: appends and removals are serialised, and never wait on each other.
        let pool = sqlx::pool::PoolOptions::<sqlx::Sqlite>::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(failed("open"))?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS entries (seq INTEGER PRIMARY KEY, \
             records INTEGER NOT NULL, entry TEXT NOT NULL)",
        )
        .execute(&pool)
        .await
        .map_err(failed("make the entries table"))?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS about (id INTEGER PRIMARY KEY, journal_id TEXT NOT NULL, \
             epoch INTEGER NOT NULL)",
        )
        .execute(&pool)
        .await
        .map_err(failed("make the about table"))?;
        let mut fresh = [0u8; 16];
        getrandom::fill(&mut fresh).map_err(|e| StoreError::Journal {
            path: where_.clone(),
            what: format!("no random source for its id: {e}"),
        })?;
        sqlx::query("INSERT OR IGNORE INTO about (id, journal_id, epoch) VALUES (1, $1, 0)")
            .bind(hex::encode(fresh))
            .execute(&pool)
            .await
            .map_err(failed("name it"))?;
        // A new epoch for this opening, on disk before any of its numbers is used.
        let row = sqlx::query(
            "UPDATE about SET epoch = epoch + 1 WHERE id = 1 RETURNING journal_id, epoch",
        )
        .fetch_one(&pool)
        .await
        .map_err(failed("start an epoch"))?;
        let id: String = row.get("journal_id");
        let epoch: i64 = row.get("epoch");
        Ok(Journal {
            pool,
            id,
            path: path.to_path_buf(),
            next: Arc::new(AtomicI64::new(epoch << 32)),
        })
    }

    /// The journal's own id, under which the store keeps what it has applied of it.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The journal's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A fresh sequence number: above every number handed out before, in this opening or an
    /// earlier one.
    pub fn next_seq(&self) -> i64 {
        self.next.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn failed(&self, what: String) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
        move |e| StoreError::Journal {
            path: self.path.display().to_string(),
            what: format!("{what}: {e}"),
        }
    }

    /// Appends `entries` (each under a number from [`Journal::next_seq`], in order) in one
    /// synced commit.
    pub async fn append(&self, entries: &[(i64, Entry)]) -> Result<(), StoreError> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(self.failed("begin an append".into()))?;
        for (seq, entry) in entries {
            let text =
                serde_json::to_string(&Stored::from(entry)).map_err(|e| StoreError::Journal {
                    path: self.path.display().to_string(),
                    what: format!("write an entry: {e}"),
                })?;
            sqlx::query("INSERT INTO entries (seq, records, entry) VALUES ($1, $2, $3)")
                .bind(seq)
                .bind(i64::try_from(entry.size()).unwrap_or(i64::MAX))
                .bind(text)
                .execute(&mut *tx)
                .await
                .map_err(self.failed("append an entry".into()))?;
        }
        tx.commit()
            .await
            .map_err(self.failed("commit an append".into()))?;
        Ok(())
    }

    /// The oldest entries, in order, as many as hold about `records` codes (at least one).
    pub async fn oldest(&self, records: u64) -> Result<Vec<(i64, Entry)>, StoreError> {
        let mut out = Vec::new();
        let mut taken = 0u64;
        let mut after = 0i64;
        // Pages, so a long journal is not read whole for one forwarding batch.
        'pages: loop {
            let rows = sqlx::query(
                "SELECT seq, records, entry FROM entries WHERE seq > $1 ORDER BY seq LIMIT 256",
            )
            .bind(after)
            .fetch_all(&self.pool)
            .await
            .map_err(self.failed("read entries".into()))?;
            if rows.is_empty() {
                break;
            }
            for row in rows {
                let seq: i64 = row.get("seq");
                let size: i64 = row.get("records");
                if !out.is_empty() && taken + size as u64 > records {
                    break 'pages;
                }
                let text: String = row.get("entry");
                let stored: Stored = serde_json::from_str(&text).map_err(|e| {
                    StoreError::corrupt(format!(
                        "journal {} entry {seq} cannot be read: {e}",
                        self.path.display()
                    ))
                })?;
                out.push((seq, stored.into_entry(seq)?));
                taken += size as u64;
                after = seq;
            }
        }
        Ok(out)
    }

    /// Removes every entry up to and including `seq` (forwarded).
    pub async fn remove_through(&self, seq: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM entries WHERE seq <= $1")
            .bind(seq)
            .execute(&self.pool)
            .await
            .map_err(self.failed(format!("remove the entries through {seq}")))?;
        Ok(())
    }

    /// What the journal holds.
    pub async fn size(&self) -> Result<JournalSize, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS entries, COALESCE(SUM(records), 0) AS records FROM entries",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(self.failed("count the entries".into()))?;
        Ok(JournalSize {
            entries: u64::try_from(row.get::<i64, _>("entries")).unwrap_or(0),
            records: u64::try_from(row.get::<i64, _>("records")).unwrap_or(0),
        })
    }

    /// Closes the file.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The journal's file when none is named: `journal-LINE.db` next to an SQLite store's file,
/// else in the working directory (as the reject images are).
pub fn default_path(store_url: &str, line_id: &str) -> PathBuf {
    let name: String = line_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    beside_the_store(store_url, &format!("journal-{name}.db"))
}

/// `name` next to an SQLite store's file, else in the working directory, as an absolute path:
/// where a controller keeps its local files (the edge journal, reject images) by default.
pub fn beside_the_store(store_url: &str, name: &str) -> PathBuf {
    let file = store_url
        .strip_prefix("sqlite://")
        .or_else(|| store_url.strip_prefix("sqlite:"))
        .map(|rest| rest.split('?').next().unwrap_or(rest));
    let parent = file
        .map(Path::new)
        .and_then(Path::parent)
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let path = parent.join(name);
    std::path::absolute(&path).unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changes() -> Entry {
        Entry::Changes(vec![
            Transition::to("(01)09506000134352(21)000000000001", CodeState::Sent),
            Transition {
                code: "(01)09506000134352(21)000000000002".into(),
                to: CodeState::Rejected,
                reason: Some(RejectReason::LowGrade),
                read: Some(CodeRead {
                    grade: Some(Grade::D),
                    data: Some("0109506000134352".into()),
                }),
            },
            Transition {
                code: "(01)09506000134352(21)000000000003".into(),
                to: CodeState::Rejected,
                reason: Some(RejectReason::NoRead),
                read: Some(CodeRead::default()),
            },
        ])
    }

    #[tokio::test]
    async fn entries_come_back_in_order_and_survive_a_reopen() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("j.db");
        let journal = Journal::open(&path).await.expect("open");
        let issue = Entry::Issues(vec![IssueRange {
            product_id: "p".into(),
            block_id: 3,
            first_counter: 10,
            end_counter: 26,
            batch: Some(1),
        }]);
        let first = journal.next_seq();
        journal
            .append(&[(first, issue.clone())])
            .await
            .expect("append");
        let second = journal.next_seq();
        journal
            .append(&[(second, changes())])
            .await
            .expect("append");
        assert!(second > first);
        let id = journal.id().to_owned();
        journal.close().await;

        let journal = Journal::open(&path).await.expect("reopen");
        assert_eq!(journal.id(), id, "the id is kept with the file");
        // A new opening numbers above everything of the one before.
        assert!(journal.next_seq() > second + (1 << 31));
        assert_eq!(
            journal.size().await.expect("size"),
            JournalSize {
                entries: 2,
                records: 19
            }
        );
        let all = journal.oldest(1_000).await.expect("read");
        assert_eq!(all, vec![(first, issue), (second, changes())]);
        // A small batch still takes one entry.
        assert_eq!(journal.oldest(1).await.expect("read").len(), 1);
        journal.remove_through(first).await.expect("remove");
        assert_eq!(journal.oldest(1_000).await.expect("read").len(), 1);
        journal.remove_through(second).await.expect("remove");
        assert_eq!(journal.size().await.expect("size"), JournalSize::default());
    }

    #[tokio::test]
    async fn a_damaged_entry_is_named() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("j.db");
        let journal = Journal::open(&path).await.expect("open");
        sqlx::query(
            "INSERT INTO entries (seq, records, entry) \
             VALUES (1, 1, '{\"changes\":[{\"code\":\"x\",\"to\":\"flying\"}]}')",
        )
        .execute(&journal.pool)
        .await
        .expect("insert");
        let err = journal.oldest(10).await.expect_err("refused");
        assert!(err.to_string().contains("journal entry 1"), "{err}");
    }

    #[test]
    fn the_default_path_sits_beside_an_sqlite_store() {
        let path = default_path("sqlite:///var/lib/tracemark/line.db?mode=rwc", "line 1/a");
        assert_eq!(
            path,
            PathBuf::from("/var/lib/tracemark/journal-line_1_a.db")
        );
        let path = default_path("postgres://db1/plant", "line-2");
        assert!(path.ends_with("journal-line-2.db"), "{}", path.display());
    }
}
