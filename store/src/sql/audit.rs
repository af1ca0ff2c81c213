//! The audit chain's SQL: every writing transaction starts by advancing the chain head
//! ([`begin`]) and ends by appending its event ([`finish`]), after any events of its own before
//! that one ([`append`]); and the reads `audit verify` makes.

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{Any, Arguments, Transaction};

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
    /// The store's dialect: the events and the head's move go in one statement, written for it
    /// ([`finish`]).
    pub(crate) dialect: Dialect,
    /// The transaction's events before the one `seq` is for ([`append`]): written with it.
    appended: Vec<Event>,
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
        appended: Vec::new(),
    };
    Ok((tx, head, row))
}

/// Appends the transaction's event (after those [`append`] made) and moves the head to it,
/// then commits.
pub(crate) async fn finish(
    tx: Transaction<'static, Any>,
    actor: &Actor,
    head: Head,
    kind: &str,
    subject: &str,
    detail: serde_json::Value,
) -> Result<(), StoreError> {
    let writes = Writes::default();
    finish_with(tx, actor, head, kind, subject, detail, writes).await
}

/// [`finish`], with the transaction's last `writes` in the same round trip as its events.
/// Writes that change other than the rows they expect ([`Writes::expect`]) fail the
/// transaction before its commit: the store changed under it.
pub(crate) async fn finish_with(
    mut tx: Transaction<'static, Any>,
    actor: &Actor,
    head: Head,
    kind: &str,
    subject: &str,
    detail: serde_json::Value,
    writes: Writes<'_>,
) -> Result<(), StoreError> {
    let head = append(actor, head, kind, subject, detail);
    write_and_move(&mut tx, head.dialect, writes, &head.appended).await?;
    tx.commit()
        .await
        .map_err(StoreError::db(format!("commit {kind}")))?;
    for event in &head.appended {
        tracing::debug!(
            seq = event.seq,
            kind = event.kind,
            subject = event.subject,
            "event appended"
        );
    }
    Ok(())
}

/// Statements of a transaction's last writes, sent with its events in one round trip
/// ([`finish_with`]). Each is an `UPDATE` or `INSERT` with no `RETURNING` and no `WITH` of its
/// own, its arguments numbered from [`Writes::next_arg`] and bound with [`Writes::bind`] in
/// order. No two may change the same row: on PostgreSQL they run as the data-modifying `WITH`s
/// of one statement, which see one snapshot (PostgreSQL manual 7.8.4).
#[derive(Default)]
pub(crate) struct Writes<'q> {
    statements: Vec<String>,
    args: AnyArguments<'q>,
    /// The first argument that could not be encoded (none can, for the types bound here).
    failed: Option<String>,
    /// The rows the statements change in all, and what they do (for the error otherwise).
    expected: (u64, Vec<String>),
}

impl<'q> Writes<'q> {
    /// The number (`$N`) the next argument bound takes.
    pub(crate) fn next_arg(&self) -> u32 {
        u32::try_from(self.args.len() + 1).unwrap_or(u32::MAX)
    }

    /// Adds a statement; its arguments are bound next.
    pub(crate) fn statement(&mut self, sql: String) -> &mut Self {
        self.statements.push(sql);
        self
    }

    /// Binds the next argument.
    pub(crate) fn bind<T>(&mut self, value: T) -> &mut Self
    where
        T: 'q + sqlx::Encode<'q, Any> + sqlx::Type<Any>,
    {
        if let Err(e) = self.args.add(value) {
            self.failed.get_or_insert(e.to_string());
        }
        self
    }

    /// The statements just added change `rows` rows in doing `what`; the writes in all
    /// changing any other count fails the transaction.
    pub(crate) fn expect(&mut self, rows: u64, what: impl Into<String>) -> &mut Self {
        self.expected.0 += rows;
        self.expected.1.push(what.into());
        self
    }
}

/// Appends an event of a transaction that records more than one (a carton created with its
/// units: `package.create`, then `package.pack`): the answer is the head of the
/// transaction's next event, which [`finish`] or `append` again records. The event is hashed
/// onto the one before it here, and written with the last by [`finish`]: under the head's
/// lock (taken by [`begin`]) nothing else appends meanwhile, so the chain is the same as if
/// each event had been its own transaction, and the transaction pays one round trip for all.
pub(crate) fn append(
    actor: &Actor,
    mut head: Head,
    kind: &str,
    subject: &str,
    detail: serde_json::Value,
) -> Head {
    let mut event = Event {
        seq: head.seq,
        at: now(),
        user: actor.user.clone(),
        device: actor.device.clone(),
        kind: kind.to_owned(),
        subject: subject.to_owned(),
        detail: detail.to_string(),
        prev_hash: std::mem::take(&mut head.prev_hash),
        hash: String::new(),
    };
    event.hash = event.expected_hash();
    head.seq += 1;
    head.prev_hash.clone_from(&event.hash);
    head.appended.push(event);
    head
}

/// The statement that runs `writes` (their `statements`), inserts `events` (nine arguments
/// each, in order, numbered from `first`) and moves the head to the last (its seq and hash
/// bound after them), in one round trip to the database: SQLite runs the statements of one
/// query in turn (sqlx-sqlite binds `$N` by number across a query's statements); PostgreSQL
/// takes one statement per query with arguments, so each is a data-modifying `WITH`
/// (PostgreSQL manual, "WITH Queries", 7.8.4), and the statement answers how many rows the
/// writes changed and whether the head moved. Every transaction appends at least one event,
/// and a round trip to SQLite's worker thread costs a wake-up on both sides
/// (docs/performance.md, sessions 24 and 27).
fn write_and_move_sql(
    dialect: Dialect,
    statements: &[String],
    first: usize,
    events: usize,
) -> String {
    let rows: Vec<String> = (0..events)
        .map(|i| {
            let at = first + 9 * i;
            let args: Vec<String> = (at..at + 9).map(|n| format!("${n}")).collect();
            format!("({})", args.join(", "))
        })
        .collect();
    let insert = format!(
        "INSERT INTO events (seq, at, actor_user, actor_device, kind, subject, detail, \
         prev_hash, hash) VALUES {}",
        rows.join(", ")
    );
    let (seq, hash) = (first + 9 * events, first + 9 * events + 1);
    let set = format!("UPDATE audit_head SET seq = ${seq}, hash = ${hash} WHERE id = 1");
    match dialect {
        Dialect::Sqlite => {
            let mut all = statements.to_vec();
            all.extend([insert, set]);
            all.join("; ")
        }
        Dialect::Postgres => {
            let writes: Vec<String> = statements
                .iter()
                .enumerate()
                .map(|(i, sql)| format!("w{i} AS ({sql} RETURNING 1), "))
                .collect();
            let written: Vec<String> = (0..statements.len())
                .map(|i| format!("(SELECT COUNT(*) FROM w{i}) + "))
                .collect();
            format!(
                "WITH {}appended AS ({insert} RETURNING 1), moved AS ({set} RETURNING 1) \
                 SELECT {}0 AS written, (SELECT COUNT(*) FROM moved) AS moved",
                writes.concat(),
                written.concat()
            )
        }
    }
}

/// Runs `writes`, inserts `events`, each hashed onto the one before it, and moves the head to
/// the last, in one statement ([`write_and_move_sql`]), checking the rows the writes changed.
async fn write_and_move(
    tx: &mut Transaction<'static, Any>,
    dialect: Dialect,
    writes: Writes<'_>,
    events: &[Event],
) -> Result<(), StoreError> {
    let (Some(first), Some(last)) = (events.first(), events.last()) else {
        return Err(StoreError::corrupt("a transaction with no event"));
    };
    let what = || {
        format!(
            "append events {}–{} and move the audit chain head",
            first.seq, last.seq
        )
    };
    let Writes {
        statements,
        args,
        failed,
        expected,
    } = writes;
    if let Some(failed) = failed {
        return Err(StoreError::corrupt(format!("{}: {failed}", what())));
    }
    let sql = write_and_move_sql(dialect, &statements, args.len() + 1, events.len());
    let mut query = sqlx::query_with(&sql, args);
    for event in events {
        query = query
            .bind(event.seq)
            .bind(&event.at)
            .bind(&event.user)
            .bind(&event.device)
            .bind(&event.kind)
            .bind(&event.subject)
            .bind(&event.detail)
            .bind(&event.prev_hash)
            .bind(&event.hash);
    }
    let query = query.bind(last.seq).bind(&last.hash);
    let (written, moved) = match dialect {
        // sqlx-sqlite sums the rows every statement of the query changed: the events' and the
        // head's are known, the writes' are the rest.
        Dialect::Sqlite => {
            let changed = query
                .execute(&mut **tx)
                .await
                .map_err(StoreError::db(what()))?
                .rows_affected();
            let ours = events.len() as u64 + 1;
            (changed.saturating_sub(ours), changed >= ours)
        }
        Dialect::Postgres => {
            let row = query
                .fetch_one(&mut **tx)
                .await
                .map_err(StoreError::db(what()))?;
            let written: i64 = get(&row, "written", "count the rows written")?;
            let moved: i64 = get(&row, "moved", "count the rows written")?;
            (u64::try_from(written).unwrap_or(0), moved == 1)
        }
    };
    if !moved {
        return Err(StoreError::corrupt(format!(
            "{}: the head did not move",
            what()
        )));
    }
    let (rows, what) = expected;
    if rows != written {
        return Err(StoreError::corrupt(format!(
            "{written} rows changed, not {rows}, while {}",
            what.join("; ")
        )));
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

    async fn store(dir: &tempfile::TempDir) -> Store {
        let url = format!("sqlite://{}", dir.path().join("s.db").display());
        Store::open(&url, Actor::from_env(Some("test")))
            .await
            .expect("open")
    }

    /// The writes that go with a transaction's events are counted before its commit: a count
    /// other than the one expected fails the transaction, rolled back (the store changed under
    /// it), and the expected count commits the writes and the events, chained.
    #[tokio::test]
    async fn writes_with_the_events_commit_only_as_many_rows_as_expected() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = store(&dir).await;
        let before = store.audit_head().await.expect("head");
        let actor = Actor::from_env(Some("test"));
        let write = |expected: u64| {
            let mut writes = Writes::default();
            let at = writes.next_arg();
            writes
                .statement(format!(
                    "UPDATE producer SET updated_at = ${at} WHERE id = ${}",
                    at + 1
                ))
                .bind("2026-12-07T00:00:00Z")
                .bind(1_i64)
                .expect(expected, "touching the producer");
            writes
        };
        // No producer row yet: the update changes none, one was expected.
        let (tx, head) = begin(&store.db).await.expect("begin");
        let head = append(&actor, head, "test.first", "t", serde_json::json!({}));
        let refused = finish_with(
            tx,
            &actor,
            head,
            "test.second",
            "t",
            serde_json::json!({}),
            write(1),
        )
        .await;
        match refused {
            Err(StoreError::Corrupt(message)) => assert!(
                message.contains("0 rows changed, not 1, while touching the producer"),
                "{message}"
            ),
            other => panic!("expected a miscount, got {other:?}"),
        }
        assert_eq!(
            store.audit_head().await.expect("head"),
            before,
            "rolled back"
        );
        assert!(store.events(before.0, 10).await.expect("events").is_empty());

        // As expected: both events written, chained, the head at the second.
        let (tx, head) = begin(&store.db).await.expect("begin");
        let head = append(&actor, head, "test.first", "t", serde_json::json!({}));
        finish_with(
            tx,
            &actor,
            head,
            "test.second",
            "t",
            serde_json::json!({}),
            write(0),
        )
        .await
        .expect("committed");
        let events = store.events(before.0, 10).await.expect("events");
        let kinds: Vec<(i64, &str)> = events.iter().map(|e| (e.seq, e.kind.as_str())).collect();
        assert_eq!(
            kinds,
            [(before.0 + 1, "test.first"), (before.0 + 2, "test.second")]
        );
        assert_eq!(events[1].prev_hash, events[0].hash);
        assert_eq!(
            store.audit_head().await.expect("head"),
            (before.0 + 2, events[1].hash.clone())
        );
        let report = store.verify_audit().await.expect("verify");
        assert_eq!(report.first_bad, None, "{report:?}");
    }
}
