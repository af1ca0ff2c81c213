//! What the receiver accepted, by `Idempotency-Key`: in memory, and with a directory, one file
//! per accepted document so a test can read what was accepted across restarts of the receiver.
//!
//! A file is the commit: it is written to a temporary file in the same directory, flushed to
//! disk, renamed over its final name and the directory flushed (rename is atomic on POSIX
//! file systems), and only then does the receiver answer. So after a crash at any moment a file
//! is either whole or absent, and an answer was never given for a document that is not on disk.
//! On start every `*.json` file of the directory is read back; one that cannot be read stops
//! the start with its path (a test must not silently lose an acceptance).

use axum::body::Bytes;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// One accepted document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    /// The `Idempotency-Key` it came with.
    pub key: String,
    /// The `webhook-id` it came with.
    pub webhook_id: String,
    /// SHA-256 of the document (after any `Content-Encoding` is undone), hex.
    pub body_sha256: String,
    /// The batch, where the document shows it.
    pub batch_id: Option<String>,
    /// Events in an EPCIS document.
    pub events: Option<usize>,
    /// `application/ld+json`, `application/xml` or `application/json`.
    pub content_type: String,
    /// Whether it came gzip-encoded.
    pub gzip: bool,
    /// When it was accepted, unix milliseconds.
    pub accepted_at_ms: u64,
    /// The receipt id the receiver gave.
    pub receipt: String,
    /// The status answered (and replayed).
    pub status: u16,
    /// The JSON body answered (and replayed).
    pub answer: serde_json::Value,
}

/// The file format of one accepted document.
#[derive(Debug, Serialize, Deserialize)]
struct StoredFile {
    record: Accepted,
    /// The document as received (UTF-8: every accepted kind is).
    document: String,
}

/// A store that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file or the directory.
    #[error("{path}: {source}")]
    Io {
        /// Where.
        path: PathBuf,
        /// What.
        source: std::io::Error,
    },
    /// A stored file that is not one this receiver wrote.
    #[error("{path}: not a stored acceptance: {reason}")]
    Corrupt {
        /// Where.
        path: PathBuf,
        /// What.
        reason: String,
    },
    /// A document that is not UTF-8 (cannot happen for a validated body).
    #[error("the document is not UTF-8")]
    NotUtf8,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The accepted documents, in the order they were accepted.
#[derive(Debug, Default)]
pub struct Store {
    order: Vec<String>,
    by_key: HashMap<String, (Accepted, Bytes)>,
    dir: Option<PathBuf>,
}

impl Store {
    /// An empty store in memory, or the store of `dir` (created if absent) with what it holds.
    pub fn open(dir: Option<PathBuf>) -> Result<Self, StoreError> {
        let mut store = Store {
            dir: dir.clone(),
            ..Store::default()
        };
        let Some(dir) = dir else {
            return Ok(store);
        };
        std::fs::create_dir_all(&dir).map_err(io_error(&dir))?;
        let mut loaded = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(io_error(&dir))? {
            let path = entry.map_err(io_error(&dir))?.path();
            if path.extension().is_none_or(|ext| ext != "json") {
                continue;
            }
            let text = std::fs::read_to_string(&path).map_err(io_error(&path))?;
            let file: StoredFile =
                serde_json::from_str(&text).map_err(|error| StoreError::Corrupt {
                    path: path.clone(),
                    reason: error.to_string(),
                })?;
            loaded.push(file);
        }
        loaded.sort_by(|a, b| {
            (a.record.accepted_at_ms, &a.record.key).cmp(&(b.record.accepted_at_ms, &b.record.key))
        });
        for file in loaded {
            store.insert(file.record, Bytes::from(file.document.into_bytes()));
        }
        Ok(store)
    }

    fn insert(&mut self, record: Accepted, document: Bytes) {
        self.order.push(record.key.clone());
        self.by_key.insert(record.key.clone(), (record, document));
    }

    /// What was accepted with `key`.
    pub fn get(&self, key: &str) -> Option<&Accepted> {
        self.by_key.get(key).map(|(record, _)| record)
    }

    /// The document accepted with `key`.
    pub fn document(&self, key: &str) -> Option<Bytes> {
        self.by_key.get(key).map(|(_, document)| document.clone())
    }

    /// Everything accepted, oldest first.
    pub fn list(&self) -> Vec<Accepted> {
        self.order
            .iter()
            .filter_map(|key| self.get(key).cloned())
            .collect()
    }

    /// Commits `record` with `document`: on disk first (with a directory), then in memory.
    pub fn commit(&mut self, record: Accepted, document: Bytes) -> Result<(), StoreError> {
        if let Some(dir) = &self.dir {
            let text = std::str::from_utf8(&document).map_err(|_| StoreError::NotUtf8)?;
            let file = StoredFile {
                record: record.clone(),
                document: text.to_owned(),
            };
            write_atomically(dir, &file_name(&record.key), &file)?;
        }
        self.insert(record, document);
        Ok(())
    }
}

/// The file of a key: the key itself when it is plain (a uuid is), else `key-<sha256 of it>`,
/// so no key can name a path outside the directory.
pub fn file_name(key: &str) -> String {
    let plain = key.len() <= 100
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if plain {
        format!("{key}.json")
    } else {
        use sha2::Digest as _;
        format!(
            "key-{}.json",
            hex::encode(sha2::Sha256::digest(key.as_bytes()))
        )
    }
}

fn write_atomically(dir: &Path, name: &str, file: &StoredFile) -> Result<(), StoreError> {
    let mut temporary = tempfile::Builder::new()
        .prefix(".incoming-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(io_error(dir))?;
    let path = dir.join(name);
    serde_json::to_writer(&mut temporary, file).map_err(|error| StoreError::Io {
        path: path.clone(),
        source: error.into(),
    })?;
    temporary.flush().map_err(io_error(&path))?;
    temporary.as_file().sync_all().map_err(io_error(&path))?;
    temporary
        .persist(&path)
        .map_err(|error| io_error(&path)(error.error))?;
    // The rename is durable once the directory is flushed.
    std::fs::File::open(dir)
        .and_then(|directory| directory.sync_all())
        .map_err(io_error(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: &str, at: u64) -> Accepted {
        Accepted {
            key: key.to_owned(),
            webhook_id: key.to_owned(),
            body_sha256: "00".to_owned(),
            batch_id: Some("B-1".to_owned()),
            events: Some(3),
            content_type: "application/ld+json".to_owned(),
            gzip: false,
            accepted_at_ms: at,
            receipt: format!("rcpt-{key}"),
            status: 200,
            answer: serde_json::json!({"receipt": format!("rcpt-{key}")}),
        }
    }

    #[test]
    fn a_directory_store_reads_back_what_it_committed_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open(Some(dir.path().to_owned())).expect("open");
        store
            .commit(record("b", 2), b"{\"doc\": 2}".to_vec().into())
            .expect("commit");
        store
            .commit(record("a/../../x", 3), b"{}".to_vec().into())
            .expect("commit");
        store
            .commit(record("c", 1), b"{\"doc\": 1}".to_vec().into())
            .expect("commit");
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 3, "{names:?}: no temporary file left behind");
        assert!(names.iter().all(|name| !name.contains("..")), "{names:?}");
        let again = Store::open(Some(dir.path().to_owned())).expect("reopen");
        let keys: Vec<String> = again.list().into_iter().map(|r| r.key).collect();
        assert_eq!(keys, ["c", "b", "a/../../x"]);
        assert_eq!(again.get("b"), Some(&record("b", 2)));
        assert_eq!(again.document("c").as_deref(), Some(&b"{\"doc\": 1}"[..]));
    }

    #[test]
    fn a_foreign_file_stops_the_start_with_its_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("x.json"), "{}").expect("write");
        let error = Store::open(Some(dir.path().to_owned())).expect_err("corrupt");
        assert!(error.to_string().contains("x.json"), "{error}");
    }
}
