//! The store: master data, serial allocation, code states, batches and the hash-chained audit
//! log, over SQLite (one line, the default) or PostgreSQL (a plant; SPEC §7).
//!
//! Every writing operation is one transaction that starts by advancing the audit chain head
//! (which takes the write lock up front), does its work, appends its event and commits — so a
//! state change and its event are stored together or not at all, even after `kill -9`.

#![warn(missing_docs)]

pub mod audit;
pub mod backup;
#[macro_use]
mod alloc_ops;
#[macro_use]
mod purge_ops;
mod locate;
mod migrate;
pub mod model;
mod ops;
pub mod reconcile;
pub mod serial;
mod transfer;
pub mod vocab;
pub mod writer;

use std::str::FromStr;
use std::time::Duration;

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub use audit::{AuditReport, Event};
pub use model::{
    Batch, CodeRecord, NewBatch, Producer, Product, format_pack_sizes, parse_pack_sizes,
    validate_uscc,
};
pub use vocab::{
    BatchState, CODE_STATES, CodeParts, CodeState, Grade, RejectReason, Scheme, SerialAlphabet,
};

/// The database used when neither `--db` nor `TRACEMARK_DB` is given.
pub const DEFAULT_DB: &str = "sqlite://tracemark.db";

/// Codes one [`Store::allocate`] call may create (one transaction; bounds memory and lock time).
pub const MAX_ALLOCATION: u64 = 100_000;

/// How a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The input is invalid; nothing was written.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field at fault.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// Something named does not exist; nothing was written.
    #[error("{what}: {id:?} does not exist")]
    NotFound {
        /// What was looked for (`product`, `batch`, `code`).
        what: &'static str,
        /// Its identifier.
        id: String,
    },
    /// A forbidden state change (SPEC §3); nothing was written.
    #[error("state: code {code} cannot go from {from} to {to}")]
    Transition {
        /// The code.
        code: String,
        /// Its current state.
        from: CodeState,
        /// The refused target.
        to: CodeState,
    },
    /// The database cannot be opened or is not a tracemark store; nothing was changed.
    #[error("db: {url}: {reason}")]
    Open {
        /// The database URL (without password).
        url: String,
        /// Why.
        reason: String,
    },
    /// A database operation failed; its transaction was rolled back.
    #[error("{context}: {source}")]
    Database {
        /// What was being done.
        context: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A stored value is not what the store writes (edited outside tracemark?).
    #[error("store content is invalid: {0}")]
    Corrupt(String),
    /// The operation was part of a group write that failed.
    #[error("{0}")]
    Failed(String),
}

impl StoreError {
    /// An invalid-input error about `field`.
    pub fn invalid(field: &'static str, reason: impl std::fmt::Display) -> Self {
        StoreError::Invalid {
            field,
            reason: reason.to_string(),
        }
    }

    pub(crate) fn corrupt(reason: impl Into<String>) -> Self {
        StoreError::Corrupt(reason.into())
    }

    pub(crate) fn db(context: impl Into<String>) -> impl FnOnce(sqlx::Error) -> StoreError {
        let context = context.into();
        move |source| StoreError::Database { context, source }
    }
}

/// Who and what caused a change (seed 003 §8.4: every change is logged with user and device).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The user (login or operator id).
    pub user: String,
    /// The device or program (`cli@host`, a line station).
    pub device: String,
}

impl Actor {
    /// The user from `TRACEMARK_USER` or `USER`, the device from `TRACEMARK_DEVICE` or `cli@<host>`.
    pub fn from_env() -> Actor {
        let user = std::env::var("TRACEMARK_USER")
            .or_else(|_| std::env::var("USER"))
            .unwrap_or_else(|_| "unknown".to_owned());
        let device = std::env::var("TRACEMARK_DEVICE").unwrap_or_else(|_| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_owned())
                .unwrap_or_else(|_| "localhost".to_owned());
            format!("cli@{host}")
        });
        Actor { user, device }
    }
}

#[derive(Debug, Clone)]
enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The store. Cheap to clone: clones share the connection pool.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
    actor: Actor,
    url: String,
    locator: locate::CodeLocator,
}

/// Runs the same operation on whichever database the store uses (`ops` has one copy per
/// dialect, generated from one source).
macro_rules! dispatch {
    ($store:expr, $f:ident($($arg:expr),* $(,)?)) => {
        match &$store.db {
            Db::Sqlite(pool) => ops::sqlite::$f(pool, &$store.actor, $($arg),*).await,
            Db::Postgres(pool) => ops::postgres::$f(pool, &$store.actor, $($arg),*).await,
        }
    };
}

/// The URL without a password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &userinfo[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl Store {
    /// Opens (creating an SQLite file if missing) and migrates the database at `url`.
    ///
    /// A file that is not an SQLite database, or a database with foreign tables and no
    /// tracemark migration history, is refused without being changed.
    pub async fn open(url: &str, actor: Actor) -> Result<Store, StoreError> {
        let shown = redact(url);
        let open_err = |reason: String| StoreError::Open {
            url: shown.clone(),
            reason,
        };
        let db = if url.starts_with("sqlite:") {
            let base = SqliteConnectOptions::from_str(url).map_err(|e| open_err(e.to_string()))?;
            if base.get_filename().exists() {
                // Probe with a plain connection first: the pool's WAL pragma would rewrite the
                // header of a file that turns out not to be ours.
                let mut probe = SqliteConnection::connect_with(&base)
                    .await
                    .map_err(|e| open_err(e.to_string()))?;
                migrate::check_sqlite(&mut probe).await.map_err(open_err)?;
                probe.close().await.map_err(|e| open_err(e.to_string()))?;
            }
            let options = base
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // Durable when acknowledged: a committed code survives power loss, not only kill -9.
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                // Serials are FF1 ciphertexts, so every new code lands at a random place in
                // the unique index on `code`: with SQLite's default 2 MB page cache each insert
                // misses; 64 MiB per connection keeps a line's index hot (docs/performance.md).
                .pragma("cache_size", "-65536")
                .busy_timeout(Duration::from_secs(60));
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(options)
                .await
                .map_err(|e| open_err(e.to_string()))?;
            Db::Sqlite(pool)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(url).map_err(|e| open_err(e.to_string()))?;
            let pool = PgPoolOptions::new()
                .max_connections(4)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(options)
                .await
                .map_err(|e| open_err(e.to_string()))?;
            Db::Postgres(pool)
        } else {
            return Err(StoreError::invalid(
                "db",
                format!("{shown}: the URL must start with sqlite: or postgres:"),
            ));
        };
        let store = Store {
            db,
            actor,
            url: shown.clone(),
            locator: locate::CodeLocator::default(),
        };
        migrate::run(&store).await.map_err(open_err)?;
        Ok(store)
    }

    /// The same store acting for someone else.
    pub fn with_actor(&self, actor: Actor) -> Store {
        Store {
            actor,
            ..self.clone()
        }
    }

    /// The database URL (password hidden).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether this is a PostgreSQL store.
    pub fn is_postgres(&self) -> bool {
        matches!(self.db, Db::Postgres(_))
    }

    /// Closes the connections.
    pub async fn close(&self) {
        match &self.db {
            Db::Sqlite(pool) => pool.close().await,
            Db::Postgres(pool) => pool.close().await,
        }
    }

    /// Sets the producer's master data.
    pub async fn set_producer(&self, producer: &Producer) -> Result<(), StoreError> {
        producer.validate()?;
        dispatch!(self, set_producer(producer))
    }

    /// The producer, if set.
    pub async fn producer(&self) -> Result<Option<Producer>, StoreError> {
        dispatch!(self, producer())
    }

    /// Adds a product (validated; its key normalised) and its serial counter.
    pub async fn add_product(&self, product: &Product) -> Result<Product, StoreError> {
        let mut product = product.clone();
        product.validate()?;
        dispatch!(self, add_product(&product))?;
        Ok(product)
    }

    /// One product.
    pub async fn product(&self, id: &str) -> Result<Product, StoreError> {
        dispatch!(self, product(id))?.ok_or_else(|| StoreError::NotFound {
            what: "product",
            id: id.to_owned(),
        })
    }

    /// All products, by id.
    pub async fn products(&self) -> Result<Vec<Product>, StoreError> {
        dispatch!(self, products())
    }

    /// Registers a batch (validated; the lot must be new for the product).
    pub async fn create_batch(&self, batch: &NewBatch) -> Result<Batch, StoreError> {
        batch.validate()?;
        self.product(&batch.product_id).await?;
        dispatch!(self, create_batch(batch))
    }

    /// One batch.
    pub async fn batch(&self, id: i64) -> Result<Batch, StoreError> {
        dispatch!(self, batch(id))?.ok_or_else(|| StoreError::NotFound {
            what: "batch",
            id: id.to_string(),
        })
    }

    /// All batches, newest first.
    pub async fn batches(&self) -> Result<Vec<Batch>, StoreError> {
        dispatch!(self, batches())
    }

    /// Moves a batch to `to`; closing voids its codes that were never printed (SPEC §3).
    pub async fn set_batch_state(&self, id: i64, to: BatchState) -> Result<Batch, StoreError> {
        dispatch!(self, set_batch_state(id, to))
    }

    /// Code counts of a batch per state.
    pub async fn batch_counts(&self, id: i64) -> Result<Vec<(CodeState, i64)>, StoreError> {
        self.batch(id).await?;
        dispatch!(self, batch_counts(id))
    }

    /// Reserves a block of `count` serial counters for `product_id` and issues one code per
    /// counter, in state `reserved`, optionally for a batch — all in one transaction.
    pub async fn allocate(
        &self,
        product_id: &str,
        count: u64,
        batch: Option<i64>,
    ) -> Result<Allocation, StoreError> {
        let product = self.issue_target(product_id, count, batch).await?;
        dispatch!(self, allocate(&product, count, batch))
    }

    /// A batch may receive codes of `product`: same product, not closed.
    async fn check_batch(&self, product: &Product, batch_id: i64) -> Result<(), StoreError> {
        let batch = self.batch(batch_id).await?;
        if batch.product_id != product.id {
            return Err(StoreError::invalid(
                "batch",
                format!(
                    "batch {batch_id} is for product {}, not {}",
                    batch.product_id, product.id
                ),
            ));
        }
        if batch.state == BatchState::Closed {
            return Err(StoreError::invalid(
                "batch",
                format!("batch {batch_id} is closed"),
            ));
        }
        Ok(())
    }

    /// Applies state changes in one transaction with one event. Each change is checked against
    /// the code's current state (including earlier changes in the same call); a refused change
    /// writes nothing and is reported in its slot. The outer error means nothing was written.
    pub async fn transition(
        &self,
        changes: &[Transition],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        let codes: Vec<&str> = changes.iter().map(|c| c.code.as_str()).collect();
        let located = self.locator.locate(self, &codes).await?;
        dispatch!(self, transition(changes, &located, false))
    }

    /// Applies all changes or none: the first refused change is the error and nothing is
    /// written.
    pub async fn transition_all(&self, changes: &[Transition]) -> Result<(), StoreError> {
        let codes: Vec<&str> = changes.iter().map(|c| c.code.as_str()).collect();
        let located = self.locator.locate(self, &codes).await?;
        let results = dispatch!(self, transition(changes, &located, true))?;
        results.into_iter().find(|r| r.is_err()).unwrap_or(Ok(()))
    }

    /// Advances every product's serial counter by `gap` (skipping those serials for good), with
    /// an event saying why. Used after a restore: codes issued after the snapshot are unknown
    /// to it and must not be issued again.
    pub async fn skip_counters(
        &self,
        gap: i64,
        why: &str,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        if gap < 0 {
            return Err(StoreError::invalid("counter_gap", "must not be negative"));
        }
        dispatch!(self, skip_counters(gap, why))
    }

    /// One code by its text.
    pub async fn code(&self, code: &str) -> Result<CodeRecord, StoreError> {
        let located = self.locator.locate(self, &[code]).await?;
        dispatch!(self, code(code, located.get(code)))?.ok_or_else(|| StoreError::NotFound {
            what: "code",
            id: code.to_owned(),
        })
    }

    /// The product with key `key` in `scheme` and its serial key (hex): what locating a code
    /// needs.
    pub(crate) async fn product_key_of(
        &self,
        scheme: Scheme,
        key: &str,
    ) -> Result<Option<(Product, String)>, StoreError> {
        dispatch!(self, product_key_of(scheme, key))
    }

    /// Codes of batch `batch` in `state`, in counter order, at most `limit` (QA lists).
    pub async fn codes_of_batch(
        &self,
        batch: i64,
        state: CodeState,
        limit: i64,
    ) -> Result<Vec<CodeRecord>, StoreError> {
        self.batch(batch).await?;
        dispatch!(self, codes_of_batch(batch, state, limit))
    }

    /// Codes, issued and reserved serials, and the next counter of a product.
    pub async fn issued_counts(&self, product_id: &str) -> Result<IssuedCounts, StoreError> {
        dispatch!(self, issued_counts(product_id))
    }

    /// Reserves a block of `size` serial counters for this controller (durable; SPEC §7: a
    /// controller keeps issuing from blocks it holds). Codes are issued from it later with
    /// [`Store::issue_from_block`].
    pub async fn reserve_block(&self, product_id: &str, size: u64) -> Result<Block, StoreError> {
        if size == 0 {
            return Err(StoreError::invalid("size", "must be at least 1"));
        }
        let product = self.product(product_id).await?;
        dispatch!(self, reserve_block(&product, size))
    }

    /// Checks what every issue of codes needs: a count within one transaction's limit, a known
    /// product, and (when given) a batch of that product that may receive codes.
    async fn issue_target(
        &self,
        product_id: &str,
        count: u64,
        batch: Option<i64>,
    ) -> Result<Product, StoreError> {
        if count == 0 || count > MAX_ALLOCATION {
            return Err(StoreError::invalid(
                "count",
                format!("{count} is not between 1 and {MAX_ALLOCATION} per transaction"),
            ));
        }
        let product = self.product(product_id).await?;
        if let Some(batch_id) = batch {
            self.check_batch(&product, batch_id).await?;
        }
        Ok(product)
    }

    /// Issues the next `count` codes of a reserved block, optionally for a batch.
    pub async fn issue_from_block(
        &self,
        product_id: &str,
        block_id: i64,
        count: u64,
        batch: Option<i64>,
    ) -> Result<Allocation, StoreError> {
        let product = self.issue_target(product_id, count, batch).await?;
        dispatch!(self, issue_from_block(&product, block_id, count, batch))
    }

    /// Events with `seq > after`, at most `limit`, in order.
    pub async fn events(&self, after: i64, limit: i64) -> Result<Vec<Event>, StoreError> {
        dispatch!(self, events(after, limit))
    }

    /// The chain head: (last seq, its hash).
    pub async fn audit_head(&self) -> Result<(i64, String), StoreError> {
        dispatch!(self, audit_head())
    }

    /// Recomputes the hash chain and reports the first bad event, if any.
    pub async fn verify_audit(&self) -> Result<AuditReport, StoreError> {
        audit::verify(self).await
    }
}

/// The codes one [`Store::allocate`] call issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    /// The serial block recorded for them.
    pub block_id: i64,
    /// The counter of the first code; the others follow without gaps.
    pub first_counter: i64,
    /// The serials, in counter order.
    pub serials: Vec<String>,
    /// The code texts (GS1 HRI), in counter order.
    pub codes: Vec<String>,
}

/// A reserved block of serial counters `[first_counter, end_counter)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Store-assigned number.
    pub id: i64,
    /// The product.
    pub product_id: String,
    /// First counter of the block.
    pub first_counter: i64,
    /// One past the last counter.
    pub end_counter: i64,
    /// Counters below this are issued as codes.
    pub issued_end: i64,
    /// The device that reserved it.
    pub owner: String,
}

/// How much of a product's serial space is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssuedCounts {
    /// Code rows.
    pub codes: i64,
    /// Serials issued from blocks (equals `codes` in a consistent store).
    pub issued: i64,
    /// Serials in reserved blocks.
    pub reserved: i64,
    /// The product's next counter (≥ `reserved`; more after a restore's gap).
    pub next_counter: i64,
}

/// A requested state change of one code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The code text.
    pub code: String,
    /// The target state.
    pub to: CodeState,
    /// Reject reason (required for `rejected`, refused otherwise).
    pub reason: Option<RejectReason>,
    /// What the camera (or QA's scanner) read on the unit, stored with the code.
    pub read: Option<CodeRead>,
}

impl Transition {
    /// A change without a reason or a read.
    pub fn to(code: impl Into<String>, to: CodeState) -> Self {
        Self {
            code: code.into(),
            to,
            reason: None,
            read: None,
        }
    }
}

/// The read a decision was made on: the grade (ISO/IEC 15415 letter) and the data as decoded.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CodeRead {
    /// The grade, if the reader gave one.
    pub grade: Option<Grade>,
    /// The decoded data, as the reader sent it; `None` for a no-read.
    pub data: Option<String>,
}

/// Now, in RFC 3339 (UTC), as stored.
pub(crate) fn now() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}
