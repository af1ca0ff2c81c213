//! The edge journal (issue 18 item 2) on SQLite and PostgreSQL: a writer that cannot reach the
//! store journals the line's records (codes issued from a held block, state changes with their
//! reads) and answers; once the store answers it forwards them in order, and a journal
//! forwarded again — a crash between the store's commit and the journal's removal — applies
//! nothing twice.

#[macro_use]
#[path = "../../controller/tests/common/mod.rs"]
mod common;

use common::*;
use std::time::Duration;

use tracemark_store::fault::Outage;
use tracemark_store::journal::{Entry, IssueRange, Journal};
use tracemark_store::writer::{DEFAULT_MAX_GROUP, WriterHandle, create_writer_with_journal};
use tracemark_store::{CodeRead, CodeState, Grade, RejectReason, Store, Transition};

const GTIN: &str = "09506000134352";

async fn open_with(url: &str, outage: &Outage) -> Store {
    Store::open_with_outage(url, actor(), outage.clone())
        .await
        .expect("open the store behind the fault")
}

/// A held block of `p1` and the batch to issue for.
async fn block_and_batch(store: &Store) -> (tracemark_store::Block, i64) {
    store.add_product(&product("p1", GTIN)).await.expect("add");
    let batch = running_batch(store, "p1", 100).await.id;
    let block = store.reserve_block("p1", 100).await.expect("reserve");
    (block, batch)
}

fn range(block: &tracemark_store::Block, from: i64, to: i64, batch: i64) -> IssueRange {
    IssueRange {
        product_id: "p1".into(),
        block_id: block.id,
        first_counter: block.first_counter + from,
        end_counter: block.first_counter + to,
        batch: Some(batch),
    }
}

/// A writer on `store` with its journal in `dir`, gathering for `linger`.
async fn writer_with_journal(
    store: &Store,
    dir: &std::path::Path,
    linger: Duration,
) -> (WriterHandle, tokio::task::JoinHandle<()>) {
    let journal = Journal::open(&dir.join("journal.db"))
        .await
        .expect("journal");
    create_writer_with_journal(store.clone(), DEFAULT_MAX_GROUP, linger, journal)
        .await
        .expect("writer")
}

fn verified(code: &str) -> Transition {
    Transition {
        code: code.to_owned(),
        to: CodeState::Verified,
        reason: None,
        read: Some(CodeRead {
            grade: Some(Grade::B),
            data: Some(code.to_owned()),
        }),
    }
}

/// Through an outage the writer answers from the journal; afterwards every record is in the
/// store in order, the journal is empty, and the audit chain verifies.
async fn records_ride_an_outage(store: Store) {
    let outage = store.outage().expect("opened with an outage").clone();
    let dir = tempdir();
    let (block, batch) = block_and_batch(&store).await;
    let issuer = store.serial_issuer("p1").await.expect("issuer");
    let (writer, task) = writer_with_journal(&store, dir.path(), Duration::ZERO).await;
    let mut status = writer.status();

    // Before the outage: committed at once, the journal stays empty.
    writer
        .issue(range(&block, 0, 4, batch))
        .await
        .expect("issue");
    let (_, before) = issuer
        .codes(block.first_counter, block.first_counter + 4)
        .expect("codes");
    writer
        .transition(Transition::to(before[0].as_str(), CodeState::Sent))
        .await
        .expect("sent");
    assert_eq!(status.borrow().spooled, 0);

    outage.begin();
    // Answered during the outage: issued from the held block and changed, all journaled.
    writer
        .issue(range(&block, 4, 8, batch))
        .await
        .expect("issue");
    let (_, during) = issuer
        .codes(block.first_counter + 4, block.first_counter + 8)
        .expect("codes");
    for code in &during {
        writer
            .transition(Transition::to(code.as_str(), CodeState::Sent))
            .await
            .expect("sent");
        writer
            .transition(Transition::to(code.as_str(), CodeState::Printed))
            .await
            .expect("printed");
    }
    writer
        .transition(verified(&during[0]))
        .await
        .expect("verified");
    writer
        .transition(Transition {
            code: during[1].clone(),
            to: CodeState::Rejected,
            reason: Some(RejectReason::LowGrade),
            read: Some(CodeRead {
                grade: Some(Grade::D),
                data: Some(during[1].clone()),
            }),
        })
        .await
        .expect("rejected");
    let spooled = status
        .wait_for(|s| s.unreachable && s.spooled >= 4 + 10)
        .await
        .expect("spooling")
        .spooled;
    assert_eq!(spooled, 14, "4 codes issued and 10 changes in the journal");

    outage.end();
    status
        .wait_for(|s| !s.unreachable && s.spooled == 0)
        .await
        .expect("forwarded");
    // After the journal, straight to the store again.
    writer
        .transition(Transition {
            code: during[2].clone(),
            to: CodeState::Rejected,
            reason: Some(RejectReason::NoRead),
            read: Some(CodeRead::default()),
        })
        .await
        .expect("rejected after");
    drop(writer);
    task.await.expect("the writer ends");

    let states: Vec<CodeState> = {
        let mut states = Vec::new();
        for code in &during {
            states.push(store.code(code).await.expect("issued code").state);
        }
        states
    };
    assert_eq!(
        states,
        vec![
            CodeState::Verified,
            CodeState::Rejected,
            CodeState::Rejected,
            CodeState::Printed
        ]
    );
    let counts = store.issued_counts("p1").await.expect("counts");
    assert_eq!((counts.codes, counts.issued), (8, 8));
    let report = store.verify_audit().await.expect("verify");
    assert!(report.first_bad.is_none(), "{report:?}");
    let journal = Journal::open(&dir.path().join("journal.db"))
        .await
        .expect("journal");
    assert_eq!(journal.size().await.expect("size").entries, 0);
}

/// The line's writer gathers changes for a while before it commits them, but an issue is
/// committed at once, on its own — the feeder hands its codes to the marker only once they are
/// recorded — and the changes gathered before it go on gathering. While the store cannot be
/// reached, the issue goes to the journal and the changes gathered before it follow it there.
async fn an_issue_does_not_linger(store: Store) {
    let outage = store.outage().expect("opened with an outage").clone();
    let dir = tempdir();
    let (block, batch) = block_and_batch(&store).await;
    let issuer = store.serial_issuer("p1").await.expect("issuer");
    let hour = Duration::from_secs(3600);
    let (writer, task) = writer_with_journal(&store, dir.path(), hour).await;
    let mut status = writer.status();
    // Nothing lingers before an issue on its own.
    let bounded = Duration::from_secs(60);
    tokio::time::timeout(bounded, writer.issue(range(&block, 0, 4, batch)))
        .await
        .expect("an issue alone is not held for the linger")
        .expect("issue");
    let (_, codes) = issuer
        .codes(block.first_counter, block.first_counter + 4)
        .expect("codes");
    let mut sent = writer
        .submit(Transition::to(codes[0].as_str(), CodeState::Sent))
        .await
        .expect("queued");
    // A change on its own waits out the linger (an hour here).
    let pending = Duration::from_millis(100);
    assert!(
        tokio::time::timeout(pending, &mut sent).await.is_err(),
        "a change alone was committed before the linger ended"
    );
    tokio::time::timeout(bounded, writer.issue(range(&block, 4, 8, batch)))
        .await
        .expect("an issue does not wait for the changes gathered before it")
        .expect("issue");
    assert_eq!(store.issued_counts("p1").await.expect("counts").issued, 8);
    // The change gathered before the issue still lingers.
    assert!(
        tokio::time::timeout(pending, &mut sent).await.is_err(),
        "the issue took the changes gathered before it along"
    );
    assert_eq!(
        store.code(&codes[0]).await.expect("code").state,
        CodeState::Reserved
    );

    // The store goes away: the next issue is journaled, and the change follows it.
    outage.begin();
    tokio::time::timeout(bounded, writer.issue(range(&block, 8, 12, batch)))
        .await
        .expect("an issue during the outage")
        .expect("journaled");
    tokio::time::timeout(bounded, sent)
        .await
        .expect("the change follows the issue into the journal")
        .expect("journaled");
    assert_eq!(
        status.borrow().spooled,
        4 + 1,
        "4 codes issued and a change"
    );
    outage.end();
    status
        .wait_for(|s| !s.unreachable && s.spooled == 0)
        .await
        .expect("forwarded");
    assert_eq!(
        store.code(&codes[0]).await.expect("code").state,
        CodeState::Sent
    );
    assert_eq!(store.issued_counts("p1").await.expect("counts").issued, 12);
    drop(writer);
    task.await.expect("the writer ends");
    let report = store.verify_audit().await.expect("verify");
    assert!(report.first_bad.is_none(), "{report:?}");
}

both!(forwarded_again_applies_nothing_twice);

/// A crash after the store committed a forwarded run and before the journal removed it: the
/// same entries are forwarded again, and the marks skip every one of them.
async fn forwarded_again_applies_nothing_twice(store: Store) {
    let dir = tempdir();
    let (block, batch) = block_and_batch(&store).await;
    let issuer = store.serial_issuer("p1").await.expect("issuer");
    let (_, codes) = issuer
        .codes(block.first_counter, block.first_counter + 3)
        .expect("codes");
    let journal = Journal::open(&dir.path().join("journal.db"))
        .await
        .expect("journal");
    let entries = vec![
        (
            journal.next_seq(),
            Entry::Issues(vec![range(&block, 0, 3, batch)]),
        ),
        (
            journal.next_seq(),
            Entry::Changes(
                codes
                    .iter()
                    .map(|c| Transition::to(c.as_str(), CodeState::Sent))
                    .collect(),
            ),
        ),
        (
            journal.next_seq(),
            Entry::Changes(vec![
                Transition::to(codes[0].as_str(), CodeState::Printed),
                verified(&codes[0]),
            ]),
        ),
    ];
    journal.append(&entries).await.expect("append");
    let forwarded = store
        .forward_journal(&journal, 1_000)
        .await
        .expect("forward");
    assert_eq!((forwarded.entries, forwarded.records), (3, 8));
    assert!(forwarded.refused.is_empty(), "{:?}", forwarded.refused);
    let (events, _) = store.audit_head().await.expect("head");

    // The removal "lost": the same entries, same numbers, forwarded again.
    journal.append(&entries).await.expect("append again");
    let again = store
        .forward_journal(&journal, 1_000)
        .await
        .expect("forward");
    assert_eq!(again.entries, 3);
    assert!(
        again.refused.is_empty(),
        "nothing refused: {:?}",
        again.refused
    );
    assert_eq!(
        store.audit_head().await.expect("head").0,
        events,
        "nothing written the second time"
    );
    assert_eq!(
        store.code(&codes[0]).await.expect("code").state,
        CodeState::Verified
    );
    assert_eq!(
        store.code(&codes[2]).await.expect("code").state,
        CodeState::Sent
    );
    assert_eq!(store.issued_counts("p1").await.expect("counts").codes, 3);
    assert_eq!(journal.size().await.expect("size").entries, 0);

    // Forwarded again with one entry more: the marks skip the three and apply only the new
    // one — one event (its changes), no issue event.
    let mut more = entries.clone();
    more.push((
        journal.next_seq(),
        Entry::Changes(vec![Transition::to(codes[1].as_str(), CodeState::Printed)]),
    ));
    journal.append(&more).await.expect("append with one more");
    let last = store
        .forward_journal(&journal, 1_000)
        .await
        .expect("forward");
    assert_eq!(last.entries, 4);
    assert!(last.refused.is_empty(), "{:?}", last.refused);
    assert_eq!(
        store.audit_head().await.expect("head").0,
        events + 1,
        "only the new entry's event"
    );
    assert_eq!(
        store.code(&codes[1]).await.expect("code").state,
        CodeState::Printed
    );
    assert_eq!(
        store.code(&codes[0]).await.expect("code").state,
        CodeState::Verified,
        "the skipped entries' changes are not made again"
    );
    // And once more: the mark moved with that entry, nothing is written.
    journal.append(&more).await.expect("append again");
    store
        .forward_journal(&journal, 1_000)
        .await
        .expect("forward");
    assert_eq!(store.audit_head().await.expect("head").0, events + 1);

    // A range that is not the block's next (issued already, without the journal's number)
    // is refused, not issued twice.
    let foreign = Journal::open(&dir.path().join("other.db"))
        .await
        .expect("journal");
    let seq = foreign.next_seq();
    foreign
        .append(&[(seq, Entry::Issues(vec![range(&block, 0, 3, batch)]))])
        .await
        .expect("append");
    let refused = store
        .forward_journal(&foreign, 1_000)
        .await
        .expect_err("refused");
    assert!(
        refused.to_string().contains("are not the next"),
        "{refused}"
    );
    assert_eq!(store.issued_counts("p1").await.expect("counts").codes, 3);
}

mod sqlite {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn records_ride_an_outage() {
        let dir = tempdir();
        let store = open_with(&sqlite_url(dir.path()), &Outage::manual()).await;
        super::records_ride_an_outage(store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_issue_does_not_linger() {
        let dir = tempdir();
        let store = open_with(&sqlite_url(dir.path()), &Outage::manual()).await;
        super::an_issue_does_not_linger(store).await;
    }
}

mod postgres {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn records_ride_an_outage() {
        let Some(base) = pg_base_url() else { return };
        let (url, schema) = pg_schema_url(&base).await;
        let store = open_with(&url, &Outage::manual()).await;
        super::records_ride_an_outage(store.clone()).await;
        store.close().await;
        drop_pg_schema(&base, &schema).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_issue_does_not_linger() {
        let Some(base) = pg_base_url() else { return };
        let (url, schema) = pg_schema_url(&base).await;
        let store = open_with(&url, &Outage::manual()).await;
        super::an_issue_does_not_linger(store.clone()).await;
        store.close().await;
        drop_pg_schema(&base, &schema).await;
    }
}
