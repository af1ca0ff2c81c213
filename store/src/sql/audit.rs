//! The audit chain's SQL: every writing transaction starts by advancing the chain head
//! ([`begin`]) and ends by appending its event ([`finish`]), after any events of its own before
//! that one ([`append`]); and the reads `audit verify` makes.

use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};

use super::{Db, Dialect, get};
use crate::audit::{Checkpoint, Event};
use crate::{Actor, StoreError, now};

/// The chain head taken at the start of a writing transaction.
#[derive(Debug)]
pub(crate) struct Head {
    /// The sequence number of the event this transaction appends.
    pub(crate) seq: i64,
    /// The hash of the event before it.
    pub(crate) prev_hash: String,
    /// The store's dialect: the event and the head's move go in one statement, written for it
    /// ([`insert_and_move`]).
    pub(crate) dialect: Dialect,
}

/// Starts a writing transaction by advancing the chain head: this takes the write lock first
/// (SQLite: no lock upgrade that could fail busy; PostgreSQL: the head's row lock orders
/// appends from every controller).
pub(crate) async fn begin(db: &Db) -> Result<(Transaction<'static, Any>, Head), StoreError> {
    let query = sqlx::query("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash");
    let (tx, head, _) = begin_with(db, query).await?;
    Ok((tx, head))
}

/// [`begin`] with a query of the caller's that advances the head and may do more in the same
/// round trip (`sql/journal.rs` reads and moves a journal's mark with it): it must answer one
/// row, with the head's `seq` and `hash`; that row is answered too.
pub(crate) async fn begin_with<'q>(
    db: &Db,
    query: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
) -> Result<(Transaction<'static, Any>, Head, AnyRow), StoreError> {
    let mut tx = db
        .pool
        .begin()
        .await
        .map_err(StoreError::db("begin a transaction"))?;
    // `fetch_all`: sqlx `Any` answers `fetch_one` from a query's first statement and drops
    // the rest unrun (a SQLite query may hold several).
    let row = query
        .fetch_all(&mut *tx)
        .await
        .map_err(StoreError::db("advance the audit chain head"))?
        .into_iter()
        .next()
        .ok_or_else(|| StoreError::Corrupt("the audit chain has no head row".to_owned()))?;
    let head = Head {
        seq: get(&row, "seq", "read the audit head")?,
        prev_hash: get(&row, "hash", "read the audit head")?,
        dialect: db.dialect,
    };
    Ok((tx, head, row))
}

/// Appends the transaction's event and moves the head's hash to it, then commits.
pub(crate) async fn finish(
    mut tx: Transaction<'static, Any>,
    actor: &Actor,
    head: Head,
    kind: &str,
    subject: &str,
    detail: serde_json::Value,
) -> Result<(), StoreError> {
    let event = insert_and_move(&mut tx, actor, head, Move::Hash, kind, subject, &detail)
        .await?
        .0;
    tx.commit()
        .await
        .map_err(StoreError::db(format!("commit {kind}")))?;
    tracing::debug!(seq = event.seq, kind, subject, "event appended");
    Ok(())
}

/// Appends an event of a transaction that records more than one (a carton created with its
/// units: `package.create`, then `package.pack`), and advances the head past it: the answer
/// is the head of the transaction's next event, which [`finish`] or `append` again records.
/// One commit for the lot, and the chain is the same as if each had been its own transaction.
pub(crate) async fn append(
    tx: &mut Transaction<'static, Any>,
    actor: &Actor,
    head: Head,
    kind: &str,
    subject: &str,
    detail: serde_json::Value,
) -> Result<Head, StoreError> {
    let dialect = head.dialect;
    let (event, row) =
        insert_and_move(tx, actor, head, Move::SeqAndHash, kind, subject, &detail).await?;
    let row = row.ok_or_else(|| {
        StoreError::corrupt(format!(
            "the audit head did not move past event {}",
            event.seq
        ))
    })?;
    tracing::debug!(seq = event.seq, kind, subject, "event appended");
    Ok(Head {
        seq: get(&row, "seq", "read the audit head")?,
        prev_hash: get(&row, "hash", "read the audit head")?,
        dialect,
    })
}

/// How the head moves with the event appended ([`insert_and_move`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Move {
    /// To the event's hash: the transaction's last event ([`finish`]).
    Hash,
    /// One further, at the event's hash, answering the new head: more events follow
    /// ([`append`]).
    SeqAndHash,
}

/// The statement that inserts the event (`$1`–`$9`, the hash last) and moves the head to its
/// hash, in one round trip to the database: SQLite runs the two statements of one query in
/// turn, binding `$9` in both (sqlx-sqlite binds `$N` by number across a query's
/// statements); PostgreSQL takes one statement per query with arguments, so the insert is a
/// data-modifying `WITH` (PostgreSQL manual, "WITH Queries", 7.8.4). Every transaction
/// appends at least one event, and a round trip to SQLite's worker thread costs a wake-up on
/// both sides (docs/performance.md, session 24).
fn insert_and_move_sql(dialect: Dialect, how: Move) -> &'static str {
    match (dialect, how) {
        (Dialect::Sqlite, Move::Hash) => concat!(
            "INSERT INTO events (seq, at, actor_user, actor_device, kind, subject, detail, ",
            "prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9); ",
            "UPDATE audit_head SET hash = $9 WHERE id = 1"
        ),
        (Dialect::Sqlite, Move::SeqAndHash) => concat!(
            "INSERT INTO events (seq, at, actor_user, actor_device, kind, subject, detail, ",
            "prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9); ",
            "UPDATE audit_head SET seq = seq + 1, hash = $9 WHERE id = 1 RETURNING seq, hash"
        ),
        (Dialect::Postgres, Move::Hash) => concat!(
            "WITH appended AS (INSERT INTO events (seq, at, actor_user, actor_device, kind, ",
            "subject, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ",
            "RETURNING hash) ",
            "UPDATE audit_head SET hash = (SELECT hash FROM appended) WHERE id = 1"
        ),
        (Dialect::Postgres, Move::SeqAndHash) => concat!(
            "WITH appended AS (INSERT INTO events (seq, at, actor_user, actor_device, kind, ",
            "subject, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ",
            "RETURNING hash) ",
            "UPDATE audit_head SET seq = seq + 1, hash = (SELECT hash FROM appended) ",
            "WHERE id = 1 RETURNING seq, hash"
        ),
    }
}

/// Inserts the event `head` is for, hashed onto the one before it, and moves the head `how`
/// says, in one statement ([`insert_and_move_sql`]); with [`Move::SeqAndHash`], the head's
/// row as it moved.
async fn insert_and_move(
    tx: &mut Transaction<'static, Any>,
    actor: &Actor,
    head: Head,
    how: Move,
    kind: &str,
    subject: &str,
    detail: &serde_json::Value,
) -> Result<(Event, Option<AnyRow>), StoreError> {
    let sql = insert_and_move_sql(head.dialect, how);
    let mut event = Event {
        seq: head.seq,
        at: now(),
        user: actor.user.clone(),
        device: actor.device.clone(),
        kind: kind.to_owned(),
        subject: subject.to_owned(),
        detail: detail.to_string(),
        prev_hash: head.prev_hash,
        hash: String::new(),
    };
    event.hash = event.expected_hash();
    let query = sqlx::query(sql)
        .bind(event.seq)
        .bind(&event.at)
        .bind(&event.user)
        .bind(&event.device)
        .bind(&event.kind)
        .bind(&event.subject)
        .bind(&event.detail)
        .bind(&event.prev_hash)
        .bind(&event.hash);
    let what = || format!("append event {} and move the audit chain head", event.seq);
    let row = match how {
        Move::Hash => {
            let moved = query
                .execute(&mut **tx)
                .await
                .map_err(StoreError::db(what()))?;
            // The insert's row and the head's, on either dialect.
            if moved.rows_affected() == 0 {
                return Err(StoreError::corrupt(format!("{}: nothing written", what())));
            }
            None
        }
        // All of the query's results, not the first: on SQLite the first is the insert's
        // (no row), and sqlx's `Any` answers `fetch_one` from the first result alone.
        Move::SeqAndHash => query
            .fetch_all(&mut **tx)
            .await
            .map_err(StoreError::db(what()))?
            .into_iter()
            .next(),
    };
    Ok((event, row))
}

/// The chain head: (last seq, its hash). Takes any connection, so a copy of a whole store
/// (`transfer`) reads the head inside its snapshot.
pub(crate) async fn head<'e, E>(executor: E) -> Result<(i64, String), StoreError>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_one(executor)
        .await
        .map_err(StoreError::db("read the audit chain head"))?;
    Ok((
        get(&row, "seq", "read the audit chain head")?,
        get(&row, "hash", "read the audit chain head")?,
    ))
}

/// Events with `seq > after`, at most `limit`, in order.
pub(crate) async fn events(db: &Db, after: i64, limit: i64) -> Result<Vec<Event>, StoreError> {
    let rows = sqlx::query(
        "SELECT seq, at, actor_user, actor_device, kind, subject, detail, prev_hash, hash \
         FROM events WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(&db.pool)
    .await
    .map_err(StoreError::db(format!("read events after {after}")))?;
    rows.iter().map(event_from_row).collect()
}

pub(crate) fn event_from_row(row: &AnyRow) -> Result<Event, StoreError> {
    const WHAT: &str = "read an event";
    Ok(Event {
        seq: get(row, "seq", WHAT)?,
        at: get(row, "at", WHAT)?,
        user: get(row, "actor_user", WHAT)?,
        device: get(row, "actor_device", WHAT)?,
        kind: get(row, "kind", WHAT)?,
        subject: get(row, "subject", WHAT)?,
        detail: get(row, "detail", WHAT)?,
        prev_hash: get(row, "prev_hash", WHAT)?,
        hash: get(row, "hash", WHAT)?,
    })
}

/// The newest checkpoint, if any events were ever purged.
pub(crate) async fn latest_checkpoint(db: &Db) -> Result<Option<Checkpoint>, StoreError> {
    const WHAT: &str = "read the latest audit checkpoint";
    let row = sqlx::query(
        "SELECT through_seq, hash, purged_before FROM audit_checkpoints \
         ORDER BY through_seq DESC LIMIT 1",
    )
    .fetch_optional(&db.pool)
    .await
    .map_err(StoreError::db(WHAT))?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(Checkpoint {
        through_seq: get(&row, "through_seq", WHAT)?,
        hash: get(&row, "hash", WHAT)?,
        purged_before: get(&row, "purged_before", WHAT)?,
    }))
}
