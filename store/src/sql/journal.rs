//! The central side of the edge journal (`crate::journal`, issue 18 item 2): the writes of a
//! controller that keeps a journal carry their journal sequence number, and each transaction
//! moves the journal's mark (table `journal_marks`) to it. A write whose number is at or below
//! the mark was applied already — its commit's answer was lost, or the controller died before
//! it removed the entry from its journal — and is skipped, so nothing is applied twice.
//!
//! Issued codes and state changes have a mark each: a forwarded run of entries is applied as
//! one transaction of its issues, then one of its changes. That order is safe because an
//! entry's codes are issued before any change to them is recorded, and issuing a code changes
//! no other.

use std::collections::HashMap;

use serde_json::json;
use sqlx::{Any, Transaction};

use super::allocation::{Serials, insert_codes};
use super::audit::{Head, begin, begin_with, finish};
use super::codes::apply;
use super::{Db, Dialect, get};
use crate::journal::IssueRange;
use crate::locate::Location;
use crate::serial::SerialIssuer;
use crate::{Actor, StoreError, Transition, now};

/// Which of a journal's two marks.
#[derive(Debug, Clone, Copy)]
enum Mark {
    Issues,
    Changes,
}

impl Mark {
    fn column(self) -> &'static str {
        match self {
            Mark::Issues => "issues_through",
            Mark::Changes => "changes_through",
        }
    }
}

/// Opens the transaction that applies `journal`'s entries through number `last`, in one round
/// trip: advances the audit head ([`begin_with`]), reads the mark of `mark`'s kind as it was
/// (0: none), and moves it to `last` unless it stands there or beyond. Answers the mark as it
/// was. A caller with nothing fresh (everything at or below it) drops the transaction, which
/// rolls the move back with the head's; otherwise the mark moves in the transaction that
/// applies the entries, as the module docs require.
///
/// SQLite runs the query's two statements in turn, so the `RETURNING` subquery reads the mark
/// before the upsert moves it. PostgreSQL runs a data-modifying `WITH` against one snapshot,
/// so its subquery also reads the mark as it was (PostgreSQL manual, "WITH Queries", 7.8.4);
/// the upsert takes its row from the head's update, which so runs first and takes the head's
/// lock before the mark's (the order every writer takes them in, `begin`).
async fn begin_at_mark(
    db: &Db,
    journal: &str,
    mark: Mark,
    last: i64,
) -> Result<(Transaction<'static, Any>, Head, i64), StoreError> {
    let column = mark.column();
    let (issues, changes) = match mark {
        Mark::Issues => (last, 0),
        Mark::Changes => (0, last),
    };
    let sql = match db.dialect {
        Dialect::Sqlite => format!(
            "UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash, \
             (SELECT {column} FROM journal_marks WHERE journal_id = $1) AS through; \
             INSERT INTO journal_marks (journal_id, issues_through, changes_through, at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (journal_id) DO UPDATE \
             SET {column} = max({column}, excluded.{column}), at = excluded.at"
        ),
        Dialect::Postgres => format!(
            "WITH head AS (UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, \
             hash, (SELECT {column} FROM journal_marks WHERE journal_id = $1) AS through), \
             moved AS (INSERT INTO journal_marks \
             (journal_id, issues_through, changes_through, at) \
             SELECT $1, $2, $3, $4 FROM head ON CONFLICT (journal_id) DO UPDATE \
             SET {column} = GREATEST(journal_marks.{column}, excluded.{column}), \
             at = excluded.at) \
             SELECT seq, hash, through FROM head"
        ),
    };
    let query = sqlx::query(&sql)
        .bind(journal)
        .bind(issues)
        .bind(changes)
        .bind(now());
    let (tx, head, row) = begin_with(db, query).await?;
    let through: Option<i64> = get(
        &row,
        "through",
        &format!("read the mark of journal {journal}"),
    )?;
    Ok((tx, head, through.unwrap_or(0)))
}

/// Issues the codes of `ranges` (each under its journal number) in one transaction with one
/// `codes.issue` event: each range must start where its block's issued serials end. Ranges
/// at or below the journal's mark are skipped (without a journal, none is). `issuers` has
/// every range's product. A range costs one round trip ([`insert_codes`] takes its serials).
pub(crate) async fn issue(
    db: &Db,
    actor: &Actor,
    issuers: &HashMap<String, SerialIssuer>,
    ranges: &[(i64, &IssueRange)],
    journal: Option<&str>,
) -> Result<(), StoreError> {
    let last_seq = ranges.iter().map(|(seq, _)| *seq).max().unwrap_or(i64::MIN);
    let (mut tx, head, done) = match journal {
        Some(journal) => begin_at_mark(db, journal, Mark::Issues, last_seq).await?,
        None => {
            let (tx, head) = begin(db).await?;
            (tx, head, i64::MIN)
        }
    };
    let fresh: Vec<&(i64, &IssueRange)> = ranges.iter().filter(|(seq, _)| *seq > done).collect();
    let Some(&&(last, first_range)) = fresh.last() else {
        // All applied before: nothing is written, the chain head stays where it was.
        return Ok(());
    };
    let mut issued = Vec::with_capacity(fresh.len());
    let mut count = 0usize;
    for &&(_, range) in &fresh {
        let issuer = issuers
            .get(&range.product_id)
            .ok_or_else(|| StoreError::NotFound {
                what: "product",
                id: range.product_id.clone(),
            })?;
        let allocation = insert_codes(
            &mut tx,
            &head,
            issuer,
            range.block_id,
            (range.first_counter, range.end_counter),
            range.batch,
            Serials::ToTake,
        )
        .await?;
        count += allocation.codes.len();
        issued.push(issued_detail(range, &allocation.codes));
    }
    let mut detail = json!({ "count": count, "ranges": issued });
    if let Some(journal) = journal {
        // The mark moved with the head (`begin_at_mark`).
        detail["journal"] = json!(journal);
        detail["through"] = json!(last);
    }
    finish(
        tx,
        actor,
        head,
        "codes.issue",
        &first_range.product_id,
        detail,
    )
    .await
}

/// One range of a `codes.issue` event. Its bytes are hashed into the chain: keep the keys and
/// their order.
fn issued_detail(range: &IssueRange, codes: &[String]) -> serde_json::Value {
    use sha2::Digest;
    let digest = hex::encode(sha2::Sha256::digest(codes.join("\n").as_bytes()));
    json!({
        "block": range.block_id, "first_counter": range.first_counter, "count": codes.len(),
        "batch": range.batch, "first_code": codes.first(), "codes_sha256": digest,
    })
}

/// Applies the state changes of `entries` (each under its journal number, in order) in one
/// transaction with one `codes.transition` event; entries at or below the journal's mark are
/// skipped (answered `Ok`: they were applied). The answers follow the changes of `entries`
/// in order.
pub(crate) async fn changes(
    db: &Db,
    actor: &Actor,
    entries: &[(i64, &[Transition])],
    located: &HashMap<&str, Location>,
    journal: &str,
) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    let last_seq = entries
        .iter()
        .map(|(seq, _)| *seq)
        .max()
        .unwrap_or(i64::MIN);
    let (mut tx, head, done) = begin_at_mark(db, journal, Mark::Changes, last_seq).await?;
    let skipped: usize = entries
        .iter()
        .take_while(|(seq, _)| *seq <= done)
        .map(|(_, changes)| changes.len())
        .sum();
    let fresh: Vec<Transition> = entries
        .iter()
        .filter(|(seq, _)| *seq > done)
        .flat_map(|(_, changes)| changes.iter().cloned())
        .collect();
    let mut answers: Vec<Result<(), StoreError>> = (0..skipped).map(|_| Ok(())).collect();
    let Some(&(last, _)) = entries.last().filter(|(seq, _)| *seq > done) else {
        return Ok(answers);
    };
    let (results, applied) = apply(&mut tx, db.dialect, &head, &fresh, located, false).await?;
    answers.extend(results);
    if let Some(mut applied) = applied {
        applied.detail["journal"] = json!(journal);
        applied.detail["through"] = json!(last);
        applied.finish(tx, actor, head).await?;
    }
    Ok(answers)
}
