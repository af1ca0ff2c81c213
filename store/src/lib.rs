//! The store: master data, serial allocation, code states, batches and the hash-chained audit
//! log, over SQLite (one line, the default) or PostgreSQL (a plant; SPEC §7).
//!
//! Every writing operation is one transaction that starts by advancing the audit chain head
//! (which takes the write lock up front), does its work, appends its event and commits — so a
//! state change and its event are stored together or not at all, even after `kill -9`.

#![warn(missing_docs)]

pub mod audit;
pub mod backup;
pub mod case_rework;
pub mod dispatch;
pub mod export;
pub mod fault;
mod forward;
pub mod journal;
pub mod label;
mod locate;
pub mod lookup;
mod migrate;
pub mod model;
mod open;
pub mod package;
pub mod reconcile;
pub mod reject_image;
pub mod report;
pub mod serial;
pub mod shipment;
mod sql;
mod transfer;
mod unreachable;
pub mod upload;
pub mod users;
pub mod vocab;
pub mod writer;

use std::path::PathBuf;
use std::sync::Arc;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub use audit::{AuditReport, Event};
pub use dispatch::{DispatchOrder, NewDispatchOrder};
pub use forward::{Forwarded, Issuers};
pub use model::{
    Batch, CodeRecord, NewBatch, Producer, Product, Settlement, format_pack_sizes,
    parse_pack_sizes, validate_uscc,
};
pub use package::{LinkProblem, Package, PackageContents, Refusal, SsccCoding};
pub use shipment::{FlowField, NewShipment, ShipProblem, ShipRefusal, Shipment};
pub use vocab::{
    BatchState, CODE_STATES, CodeParts, CodeState, Grade, PackageLevel, PackageState, RejectReason,
    Scheme, SerialAlphabet,
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
    /// A link of children to a package (or their removal) was refused (SPEC §3a): every
    /// offending child with its reason; nothing was written.
    #[error("pack: {}{}", package.as_ref().map(|p| format!("{p}: ")).unwrap_or_default(), package::list_refusals(refusals))]
    PackRefused {
        /// The package asked for, if one was.
        package: Option<String>,
        /// Every refused child, in the order given.
        refusals: Vec<Refusal>,
    },
    /// A shipment was refused (issue 17 item 2): every SSCC refused with its reason; nothing
    /// was written.
    #[error("ship: {}", shipment::list_ship_refusals(refusals))]
    ShipRefused {
        /// Every refused SSCC, in the order given.
        refusals: Vec<ShipRefusal>,
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
    /// The change was queued with others for one group commit (`writer`), and that
    /// transaction failed as a whole: nothing of the group was written.
    #[error("group commit of {changes} changes failed: {source}")]
    GroupFailed {
        /// Changes in the group.
        changes: usize,
        /// Why the group's transaction failed (shared by every change of the group).
        #[source]
        source: Arc<StoreError>,
    },
    /// The group-commit writer task has ended: the change was not queued, nothing was written.
    #[error("the store writer has stopped")]
    WriterStopped,
    /// The writer task ended after the change was queued and before its group was answered:
    /// whether it was committed is unknown (read the code's state to find out).
    #[error("the store writer stopped before answering")]
    WriterNoAnswer,
    /// The edge journal (`journal`) could not be opened, written or read.
    #[error("edge journal {path}: {what}")]
    Journal {
        /// The journal's file.
        path: String,
        /// What failed, and the error.
        what: String,
    },
    /// Copying a backup file failed; the store was not changed.
    #[error("copy {} to {}: {source}", from.display(), to.display())]
    FileCopy {
        /// The file copied.
        from: PathBuf,
        /// Where to.
        to: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
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
    /// The user name of a write nobody could be named for. QA dispositions refuse it.
    pub const UNKNOWN_USER: &'static str = "unknown";

    /// Who acts: `user` when given (`--user`), else `TRACEMARK_USER`, `USER`, `LOGNAME`, or the
    /// operating system's name for the process's user (`/etc/passwd`), else
    /// [`Actor::UNKNOWN_USER`]. The device is `TRACEMARK_DEVICE` or `cli@<host>`.
    pub fn from_env(user: Option<&str>) -> Actor {
        let named = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let user = user
            .map(str::to_owned)
            .filter(|u| !u.trim().is_empty())
            .or_else(|| named("TRACEMARK_USER"))
            .or_else(|| named("USER"))
            .or_else(|| named("LOGNAME"))
            .or_else(os_user)
            .unwrap_or_else(|| Actor::UNKNOWN_USER.to_owned());
        let device = std::env::var("TRACEMARK_DEVICE").unwrap_or_else(|_| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_owned())
                .unwrap_or_else(|_| "localhost".to_owned());
            format!("cli@{host}")
        });
        Actor { user, device }
    }

    /// The same user on another device or program (`simulate`, `demo`).
    pub fn on_device(&self, device: &str) -> Actor {
        Actor {
            user: self.user.clone(),
            device: device.to_owned(),
        }
    }

    /// Whether a user is named (not [`Actor::UNKNOWN_USER`]).
    pub fn is_identified(&self) -> bool {
        self.user != Actor::UNKNOWN_USER
    }
}

/// The name of the process's real user: its uid from `/proc/self/status`, looked up in
/// `/etc/passwd` (services and containers often run without `USER` set). `None` off Linux or
/// when the uid has no entry.
fn os_user() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .to_owned();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|entry| {
        let mut fields = entry.split(':');
        let name = fields.next()?;
        (fields.nth(1)? == uid && !name.is_empty()).then(|| name.to_owned())
    })
}

/// The store. Cheap to clone: clones share the connection pool.
#[derive(Debug, Clone)]
pub struct Store {
    db: sql::Db,
    actor: Actor,
    url: String,
    locator: locate::CodeLocator,
    /// The injected outage and its fault proxies, when the store was opened with one
    /// (`fault`); the proxies end with the last clone.
    fault: Option<Arc<open::Injected>>,
}

impl Store {
    /// The same store acting for someone else.
    pub fn with_actor(&self, actor: Actor) -> Store {
        Store {
            actor,
            ..self.clone()
        }
    }

    /// Who this store's writes are recorded for.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// The database URL (password hidden).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether this is a PostgreSQL store.
    pub fn is_postgres(&self) -> bool {
        self.db.dialect == sql::Dialect::Postgres
    }

    /// Closes the connections.
    pub async fn close(&self) {
        self.db.pool.close().await;
    }

    /// Sets the producer's master data.
    pub async fn set_producer(&self, producer: &Producer) -> Result<(), StoreError> {
        producer.validate()?;
        sql::products::set_producer(&self.db, &self.actor, producer).await
    }

    /// The producer, if set.
    pub async fn producer(&self) -> Result<Option<Producer>, StoreError> {
        sql::products::producer(&self.db).await
    }

    /// Adds a product (validated; its key normalised) and its serial counter.
    pub async fn add_product(&self, product: &Product) -> Result<Product, StoreError> {
        let mut product = product.clone();
        product.validate()?;
        sql::products::add_product(&self.db, &self.actor, &product).await?;
        Ok(product)
    }

    /// One product.
    pub async fn product(&self, id: &str) -> Result<Product, StoreError> {
        sql::products::product(&self.db, id)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: "product",
                id: id.to_owned(),
            })
    }

    /// All products, by id.
    pub async fn products(&self) -> Result<Vec<Product>, StoreError> {
        sql::products::products(&self.db).await
    }

    /// Registers a batch (validated; the lot must be new for the product).
    pub async fn create_batch(&self, batch: &NewBatch) -> Result<Batch, StoreError> {
        batch.validate()?;
        self.product(&batch.product_id).await?;
        sql::batches::create_batch(&self.db, &self.actor, batch).await
    }

    /// One batch.
    pub async fn batch(&self, id: i64) -> Result<Batch, StoreError> {
        sql::batches::batch(&self.db, id)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: "batch",
                id: id.to_string(),
            })
    }

    /// All batches, newest first.
    pub async fn batches(&self) -> Result<Vec<Batch>, StoreError> {
        sql::batches::batches(&self.db).await
    }

    /// At most `limit` batches, newest first, after skipping `offset`, and how many batches
    /// there are: a page of a plant's years of batches without reading them all.
    pub async fn batches_page(
        &self,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<Batch>, i64), StoreError> {
        sql::batches::batches_page(&self.db, offset, limit).await
    }

    /// The oldest running or paused batch of line `line` (and of `product`, when given): a line
    /// finishes the batch it started first.
    pub async fn open_batch_of_line(
        &self,
        line: &str,
        product: Option<&str>,
    ) -> Result<Option<Batch>, StoreError> {
        sql::batches::open_batch_of_line(&self.db, line, product).await
    }

    /// How many batches there are.
    pub async fn batch_count(&self) -> Result<i64, StoreError> {
        sql::batches::batch_count(&self.db).await
    }

    /// How many batches the plant made, not `simulate` or `demo`: a store with any is a
    /// production store.
    pub async fn production_batch_count(&self) -> Result<i64, StoreError> {
        sql::batches::production_batch_count(&self.db).await
    }

    /// Moves a batch to `to`; closing voids its codes that were never printed (SPEC §3).
    pub async fn set_batch_state(&self, id: i64, to: BatchState) -> Result<Batch, StoreError> {
        sql::batches::set_batch_state(&self.db, &self.actor, id, to).await
    }

    /// Records an operator's command to line `line_id` while it produced `batch` (SPEC §8):
    /// one `line.<verb>` event (`line.paused`, `line.resumed`, `line.stopped`,
    /// `line.alarm_acknowledged`) with the batch and the operator's reason. The line carried it
    /// out before; the rules are the caller's (`tracemark::app::line_control`).
    pub async fn record_line_command(
        &self,
        line_id: &str,
        batch: i64,
        verb: &str,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        sql::batches::record_line_command(&self.db, &self.actor, line_id, batch, verb, reason).await
    }

    /// Records that QA released closed batch `id` (SPEC §8); the rules are the caller's
    /// (`tracemark::app::batches::release`). Refused when it is not closed or was released.
    pub async fn release_batch(&self, id: i64) -> Result<Batch, StoreError> {
        self.batch(id).await?;
        sql::batches::release_batch(&self.db, &self.actor, id).await
    }

    /// The user who first set batch `id` running: its `started_by`, else (a batch started
    /// before that was recorded) the audit chain's `batch.state` event from created to
    /// running; `None` when it never ran or the event was purged.
    pub async fn batch_starter(&self, id: i64) -> Result<Option<String>, StoreError> {
        match self.batch(id).await?.started_by {
            Some(user) => Ok(Some(user)),
            None => sql::batches::starter_from_events(&self.db, id).await,
        }
    }

    /// Who settled each destroyed or released code of batch `batch`, and when.
    pub async fn settlements(&self, batch: i64) -> Result<Vec<Settlement>, StoreError> {
        self.batch(batch).await?;
        sql::codes::settlements(&self.db, batch, None).await
    }

    /// Who settled the codes [`Store::codes_of_batch_window`] lists for the same `state`
    /// (destroyed or released), `offset` and `limit`, and when.
    pub async fn settlements_window(
        &self,
        batch: i64,
        state: CodeState,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<Settlement>, StoreError> {
        self.batch(batch).await?;
        sql::codes::settlements(&self.db, batch, Some((state, offset, limit))).await
    }

    /// Code counts of a batch in the states QA settles (rejected, destroyed, released), per
    /// state; states with no code are left out. Reads only those codes, where
    /// [`Store::batch_counts`] reads all the batch's.
    pub async fn reject_counts(&self, id: i64) -> Result<Vec<(CodeState, i64)>, StoreError> {
        self.batch(id).await?;
        sql::batches::reject_counts(&self.db, id).await
    }

    /// Code counts of a batch per state.
    pub async fn batch_counts(&self, id: i64) -> Result<Vec<(CodeState, i64)>, StoreError> {
        self.batch(id).await?;
        sql::batches::batch_counts(&self.db, id).await
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
        sql::allocation::allocate(&self.db, &self.actor, &product, count, batch).await
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
        sql::codes::transition(&self.db, &self.actor, changes, &located, false).await
    }

    /// Applies all changes or none: the first refused change is the error and nothing is
    /// written.
    pub async fn transition_all(&self, changes: &[Transition]) -> Result<(), StoreError> {
        let codes: Vec<&str> = changes.iter().map(|c| c.code.as_str()).collect();
        let located = self.locator.locate(self, &codes).await?;
        let results =
            sql::codes::transition(&self.db, &self.actor, changes, &located, true).await?;
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
        sql::allocation::skip_counters(&self.db, &self.actor, gap, why).await
    }

    /// One code by its text.
    pub async fn code(&self, code: &str) -> Result<CodeRecord, StoreError> {
        let located = self.locator.locate(self, &[code]).await?;
        sql::codes::code(&self.db, code, located.get(code))
            .await?
            .ok_or_else(|| StoreError::NotFound {
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
        sql::products::product_key_of(&self.db, scheme, key).await
    }

    /// Codes of batch `batch` in `state`, in counter order, at most `limit` (QA lists).
    pub async fn codes_of_batch(
        &self,
        batch: i64,
        state: CodeState,
        limit: i64,
    ) -> Result<Vec<CodeRecord>, StoreError> {
        self.batch(batch).await?;
        sql::codes::codes_of_batch(&self.db, batch, state, 0, limit).await
    }

    /// Codes of a batch in `state`, in counter order: `limit` of them after the first
    /// `offset` (one page of a list).
    pub async fn codes_of_batch_window(
        &self,
        batch: i64,
        state: CodeState,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<CodeRecord>, StoreError> {
        self.batch(batch).await?;
        sql::codes::codes_of_batch(&self.db, batch, state, offset, limit).await
    }

    /// Codes, issued and reserved serials, and the next counter of a product.
    pub async fn issued_counts(&self, product_id: &str) -> Result<IssuedCounts, StoreError> {
        sql::allocation::issued_counts(&self.db, product_id).await
    }

    /// Reserves a block of `size` serial counters for this controller (durable; SPEC §7: a
    /// controller keeps issuing from blocks it holds). Codes are issued from it later with
    /// [`Store::issue_from_block`].
    pub async fn reserve_block(&self, product_id: &str, size: u64) -> Result<Block, StoreError> {
        if size == 0 {
            return Err(StoreError::invalid("size", "must be at least 1"));
        }
        let product = self.product(product_id).await?;
        sql::allocation::reserve_block(&self.db, &self.actor, &product, size).await
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
        sql::allocation::issue_from_block(&self.db, &self.actor, &product, block_id, count, batch)
            .await
    }

    /// Events with `seq > after`, at most `limit`, in order.
    pub async fn events(&self, after: i64, limit: i64) -> Result<Vec<Event>, StoreError> {
        sql::audit::events(&self.db, after, limit).await
    }

    /// The chain head: (last seq, its hash).
    pub async fn audit_head(&self) -> Result<(i64, String), StoreError> {
        sql::audit::head(&self.db.pool).await
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
