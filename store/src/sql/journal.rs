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

use super::Db;
use super::allocation::insert_codes;
use super::audit::{begin, finish};
use super::codes::apply;
use crate::journal::IssueRange;
use crate::locate::Location;
use crate::{Actor, Product, StoreError, Transition, now};

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

/// The last number of `journal` applied, of `mark`'s kind (0: none).
async fn through(
    tx: &mut Transaction<'static, Any>,
    journal: &str,
    mark: Mark,
) -> Result<i64, StoreError> {
    let seq: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT {} FROM journal_marks WHERE journal_id = $1",
        mark.column()
    ))
    .bind(journal)
    .fetch_optional(&mut **tx)
    .await
    .map_err(StoreError::db(format!(
        "read the mark of journal {journal}"
    )))?;
    Ok(seq.unwrap_or(0))
}

/// Moves `journal`'s `mark` to `seq`, in the transaction that applies it.
async fn move_mark(
    tx: &mut Transaction<'static, Any>,
    journal: &str,
    mark: Mark,
    seq: i64,
) -> Result<(), StoreError> {
    let column = mark.column();
    let (issues, changes) = match mark {
        Mark::Issues => (seq, 0),
        Mark::Changes => (0, seq),
    };
    sqlx::query(&format!(
        "INSERT INTO journal_marks (journal_id, issues_through, changes_through, at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (journal_id) DO UPDATE \
         SET {column} = excluded.{column}, at = excluded.at"
    ))
    .bind(journal)
    .bind(issues)
    .bind(changes)
    .bind(now())
    .execute(&mut **tx)
    .await
    .map_err(StoreError::db(format!(
        "move the mark of journal {journal}"
    )))?;
    Ok(())
}

/// Issues the codes of `ranges` (each under its journal number) in one transaction with one
/// `codes.issue` event: each range must start where its block's issued serials end. Ranges
/// at or below the journal's mark are skipped (without a journal, none is). `products` has
/// every range's product.
pub(crate) async fn issue(
    db: &Db,
    actor: &Actor,
    products: &HashMap<String, Product>,
    ranges: &[(i64, &IssueRange)],
    journal: Option<&str>,
) -> Result<(), StoreError> {
    let (mut tx, head) = begin(db).await?;
    let done = match journal {
        Some(journal) => through(&mut tx, journal, Mark::Issues).await?,
        None => i64::MIN,
    };
    let fresh: Vec<&(i64, &IssueRange)> = ranges.iter().filter(|(seq, _)| *seq > done).collect();
    let Some(&&(last, first_range)) = fresh.last() else {
        // All applied before: nothing is written, the chain head stays where it was.
        return Ok(());
    };
    let mut issued = Vec::with_capacity(fresh.len());
    let mut count = 0usize;
    for &&(_, range) in &fresh {
        let product = products
            .get(&range.product_id)
            .ok_or_else(|| StoreError::NotFound {
                what: "product",
                id: range.product_id.clone(),
            })?;
        take_range(&mut tx, range).await?;
        let allocation = insert_codes(
            &mut tx,
            db.dialect,
            &head,
            product,
            range.block_id,
            (range.first_counter, range.end_counter),
            range.batch,
        )
        .await?;
        count += allocation.codes.len();
        issued.push(issued_detail(range, &allocation.codes));
    }
    let mut detail = json!({ "count": count, "ranges": issued });
    if let Some(journal) = journal {
        move_mark(&mut tx, journal, Mark::Issues, last).await?;
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

/// Moves the block's issued end over `range`, which must start where it stands.
async fn take_range(
    tx: &mut Transaction<'static, Any>,
    range: &IssueRange,
) -> Result<(), StoreError> {
    let moved = sqlx::query(
        "UPDATE serial_blocks SET issued_end = $1 \
         WHERE id = $2 AND product_id = $3 AND issued_end = $4 AND $1 <= end_counter",
    )
    .bind(range.end_counter)
    .bind(range.block_id)
    .bind(&range.product_id)
    .bind(range.first_counter)
    .execute(&mut **tx)
    .await
    .map_err(StoreError::db(format!(
        "take serials {}..{} of block {}",
        range.first_counter, range.end_counter, range.block_id
    )))?
    .rows_affected();
    if moved == 1 {
        return Ok(());
    }
    Err(StoreError::invalid(
        "issue",
        format!(
            "serials {}..{} of {} are not the next of block {} (not this controller's, issued \
             already, or beyond its end)",
            range.first_counter, range.end_counter, range.product_id, range.block_id
        ),
    ))
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
    let (mut tx, head) = begin(db).await?;
    let done = through(&mut tx, journal, Mark::Changes).await?;
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
    let (results, detail) = apply(&mut tx, db.dialect, &head, &fresh, located, false).await?;
    answers.extend(results);
    if let Some(mut detail) = detail {
        detail["journal"] = json!(journal);
        detail["through"] = json!(last);
        move_mark(&mut tx, journal, Mark::Changes, last).await?;
        finish(tx, actor, head, "codes.transition", "codes", detail).await?;
    }
    Ok(answers)
}
