//! Store behaviour on SQLite and PostgreSQL: the same test body runs against both.

#[macro_use]
#[path = "../../controller/tests/common/mod.rs"]
mod common;

use common::*;
use tracemark_store::reconcile::Reconciliation;
use tracemark_store::writer::create_writer;
use tracemark_store::{
    BatchState, CodeRead, CodeState, NewBatch, Producer, Store, StoreError, Transition,
};

const GTIN: &str = "09506000134352";
const GTIN2: &str = "4006381333931";

async fn head(store: &Store) -> (i64, String) {
    store.audit_head().await.expect("read the head")
}

async fn assert_chain_ok(store: &Store) {
    let report = store.verify_audit().await.expect("verify");
    assert_eq!(report.first_bad, None, "{report:?}");
}

async fn master_data(store: Store) {
    let added = store
        .add_product(&product("cable", GTIN2))
        .await
        .expect("add");
    assert_eq!(
        added.key, "04006381333931",
        "GTIN-13 normalised to 14 digits"
    );
    let before = head(&store).await;
    let dup = store.add_product(&product("cable", GTIN)).await;
    assert!(
        matches!(dup, Err(StoreError::Invalid { field: "id", .. })),
        "{dup:?}"
    );
    let dup_gtin = store.add_product(&product("other", GTIN2)).await;
    assert!(matches!(
        dup_gtin,
        Err(StoreError::Invalid { field: "gtin", .. })
    ));
    let bad = store.add_product(&product("bad", "09506000134353")).await;
    assert!(
        matches!(bad, Err(StoreError::Invalid { field: "gtin", .. })),
        "{bad:?}"
    );
    assert_eq!(head(&store).await, before, "refused input writes nothing");
    assert_eq!(store.products().await.expect("list").len(), 1);
    assert_eq!(store.product("cable").await.expect("show"), added);
    assert!(matches!(
        store.product("nope").await,
        Err(StoreError::NotFound {
            what: "product",
            ..
        })
    ));

    let mut producer = Producer {
        name: "某某电缆有限公司".into(),
        uscc: "91350100M000100Y43".into(),
        address: "福建省福州市".into(),
        contact: "0591-00000000".into(),
        business_licence: "91350100M000100Y43".into(),
    };
    assert_eq!(store.producer().await.expect("read"), None);
    store.set_producer(&producer).await.expect("set");
    producer.contact = "0591-11111111".into();
    store.set_producer(&producer).await.expect("update");
    assert_eq!(
        store.producer().await.expect("read"),
        Some(producer.clone())
    );
    producer.uscc = "9135".into();
    let bad = store.set_producer(&producer).await;
    assert!(matches!(
        bad,
        Err(StoreError::Invalid { field: "uscc", .. })
    ));
    assert_chain_ok(&store).await;
}
both!(master_data);

async fn allocation(store: Store) {
    store.add_product(&product("p", GTIN)).await.expect("add");
    let a = store.allocate("p", 1000, None).await.expect("allocate");
    let b = store.allocate("p", 500, None).await.expect("allocate");
    assert_eq!((a.first_counter, b.first_counter), (0, 1000));
    assert_ne!(a.block_id, b.block_id);
    assert_eq!(
        a.codes[1],
        format!("(01)09506000134352(21){}", a.serials[1])
    );
    let mut all: Vec<&String> = a.codes.iter().chain(&b.codes).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 1500);
    assert_eq!(
        {
            let c = store.issued_counts("p").await.expect("counts");
            (c.codes, c.reserved)
        },
        (1500, 1500)
    );
    let record = store.code(&b.codes[0]).await.expect("code");
    assert_eq!((record.counter, record.state), (1000, CodeState::Reserved));
    assert_eq!(record.serial, b.serials[0]);

    let before = head(&store).await;
    assert!(matches!(
        store.allocate("nope", 10, None).await,
        Err(StoreError::NotFound {
            what: "product",
            ..
        })
    ));
    assert!(store.allocate("p", 0, None).await.is_err());
    assert!(store.allocate("p", 10, Some(99)).await.is_err());
    assert_eq!(head(&store).await, before);

    // A small serial space (10^6) stops at 99 codes, the most that keep a guess's chance of
    // hitting a real serial below 1/10,000: an error, never a repeat.
    let mut small = product("small", GTIN2);
    small.serial_length = 6;
    store.add_product(&small).await.expect("add");
    store.allocate("small", 99, None).await.expect("all 99");
    let before = head(&store).await;
    let full = store.allocate("small", 1, None).await;
    assert!(
        matches!(full, Err(StoreError::Invalid { field: "count", .. })),
        "{full:?}"
    );
    assert_eq!(head(&store).await, before);
    assert_eq!(
        {
            let c = store.issued_counts("small").await.expect("counts");
            (c.codes, c.reserved)
        },
        (99, 99)
    );
    assert_chain_ok(&store).await;
}
both!(allocation);

fn change(code: &str, to: CodeState) -> Transition {
    Transition {
        code: code.into(),
        to,
        reason: None,
        read: None,
    }
}

async fn transitions(store: Store) {
    store.add_product(&product("p", GTIN)).await.expect("add");
    let codes = store.allocate("p", 10, None).await.expect("allocate").codes;
    // Valid chain through the life cycle, in one group.
    let results = store
        .transition(&[
            change(&codes[0], CodeState::Sent),
            change(&codes[0], CodeState::Printed),
            change(&codes[0], CodeState::Verified),
            change(&codes[1], CodeState::Voided),
        ])
        .await
        .expect("transition");
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(
        store.code(&codes[0]).await.expect("code").state,
        CodeState::Verified
    );

    let before = head(&store).await;
    // Backwards, skipping, unknown code, missing reason: each refused, nothing written.
    for bad in [
        change(&codes[0], CodeState::Printed),
        change(&codes[2], CodeState::Printed),
        change(&codes[1], CodeState::Sent),
        change("(01)09506000134352(21)999999999999", CodeState::Sent),
        change(&codes[2], CodeState::Rejected),
    ] {
        let err = store.transition_all(std::slice::from_ref(&bad)).await;
        assert!(err.is_err(), "{bad:?} accepted");
    }
    let err = store
        .transition_all(&[change(&codes[0], CodeState::Printed)])
        .await;
    assert!(matches!(
        err,
        Err(StoreError::Transition {
            from: CodeState::Verified,
            to: CodeState::Printed,
            ..
        })
    ));
    // All or nothing: one bad change keeps the good one from being written.
    let mixed = [
        change(&codes[3], CodeState::Sent),
        change(&codes[0], CodeState::Sent),
    ];
    assert!(store.transition_all(&mixed).await.is_err());
    assert_eq!(
        store.code(&codes[3]).await.expect("code").state,
        CodeState::Reserved
    );
    assert_eq!(
        head(&store).await,
        before,
        "refused transitions write nothing"
    );

    // Reject with a reason and the read it rests on; QA destroys; reason and read stay.
    let reject = Transition {
        code: codes[4].clone(),
        to: CodeState::Rejected,
        reason: Some(tracemark_store::RejectReason::LowGrade),
        read: Some(CodeRead {
            grade: Some(tracemark_store::Grade::D),
            data: Some("]d2 smudged".into()),
        }),
    };
    store
        .transition_all(&[
            change(&codes[4], CodeState::Sent),
            change(&codes[4], CodeState::Printed),
            reject,
            change(&codes[4], CodeState::Destroyed),
        ])
        .await
        .expect("reject and destroy");
    let record = store.code(&codes[4]).await.expect("code");
    assert_eq!(record.state, CodeState::Destroyed);
    assert_eq!(record.reason, Some(tracemark_store::RejectReason::LowGrade));
    assert_eq!(
        (record.grade, record.data.as_deref()),
        (Some(tracemark_store::Grade::D), Some("]d2 smudged"))
    );
    // QA acts later, in a transaction of its own (issue 19: the reason was lost then): the
    // reason stays through destroyed and through released.
    for (code, reason) in [
        (&codes[5], tracemark_store::RejectReason::NoRead),
        (&codes[6], tracemark_store::RejectReason::Mismatch),
    ] {
        let mut rejected = change(code, CodeState::Rejected);
        rejected.reason = Some(reason);
        store
            .transition_all(&[
                change(code, CodeState::Sent),
                change(code, CodeState::Printed),
                rejected,
            ])
            .await
            .expect("reject");
    }
    store
        .transition_all(&[change(&codes[5], CodeState::Destroyed)])
        .await
        .expect("destroy");
    store
        .transition_all(&[change(&codes[6], CodeState::Released)])
        .await
        .expect("release");
    let destroyed = store.code(&codes[5]).await.expect("code");
    let released = store.code(&codes[6]).await.expect("code");
    assert_eq!(
        (destroyed.state, destroyed.reason),
        (
            CodeState::Destroyed,
            Some(tracemark_store::RejectReason::NoRead)
        )
    );
    assert_eq!(
        (released.state, released.reason),
        (
            CodeState::Released,
            Some(tracemark_store::RejectReason::Mismatch)
        )
    );
    // A code without a read has none.
    let sent = store.code(&codes[1]).await.expect("code");
    assert_eq!((sent.grade, sent.data), (None, None));

    // A store written before the fix lost those reasons; migration 0010 takes them back from
    // the audit chain. Clear them as the bug did, run the migration's SQL again, and they are
    // back — and the chain, which the migration only reads, still verifies.
    raw(
        &store,
        &format!(
            "UPDATE codes SET reason = NULL WHERE code IN ('{}', '{}', '{}')",
            codes[4], codes[5], codes[6]
        ),
    )
    .await
    .expect("clear the reasons as the bug did");
    assert_eq!(store.code(&codes[5]).await.expect("code").reason, None);
    let migration = if store.is_postgres() {
        include_str!("../../migrations/postgres/0010_restore_reject_reasons.sql")
    } else {
        include_str!("../../migrations/sqlite/0010_restore_reject_reasons.sql")
    };
    raw_script(&store, migration).await.expect("restore");
    for (code, reason) in [
        (&codes[4], tracemark_store::RejectReason::LowGrade),
        (&codes[5], tracemark_store::RejectReason::NoRead),
        (&codes[6], tracemark_store::RejectReason::Mismatch),
    ] {
        assert_eq!(
            store.code(code).await.expect("code").reason,
            Some(reason),
            "{code}"
        );
    }
    assert_chain_ok(&store).await;
}
both!(transitions);

/// A group's reads are written with its states, in one statement (issue 20): each lands on
/// its own code, a release's re-scan beside the read the code was rejected on, a read without
/// a grade as such, and a code read twice in the group keeps the later read; a later group's
/// read onto a row that has one updates it.
async fn group_reads(store: Store) {
    use tracemark_store::{Grade, RejectReason};
    store.add_product(&product("p", GTIN)).await.expect("add");
    let codes = store.allocate("p", 5, None).await.expect("allocate").codes;
    let read = |grade: Option<Grade>, data: &str| {
        Some(CodeRead {
            grade,
            data: Some(data.to_owned()),
        })
    };
    let mut group = Vec::new();
    for code in &codes {
        group.push(change(code, CodeState::Sent));
        group.push(change(code, CodeState::Printed));
    }
    let with = |code: &str, to: CodeState, reason: Option<RejectReason>, read| Transition {
        code: code.to_owned(),
        to,
        reason,
        read,
    };
    group.extend([
        with(
            &codes[0],
            CodeState::Verified,
            None,
            read(Some(Grade::A), "a0"),
        ),
        with(&codes[1], CodeState::Verified, None, read(None, "no grade")),
        with(
            &codes[2],
            CodeState::Rejected,
            Some(RejectReason::LowGrade),
            read(Some(Grade::D), "first"),
        ),
        with(
            &codes[2],
            CodeState::Released,
            None,
            read(Some(Grade::B), "re-scan"),
        ),
        with(
            &codes[3],
            CodeState::Rejected,
            Some(RejectReason::Late),
            read(Some(Grade::C), "early"),
        ),
        with(
            &codes[3],
            CodeState::Destroyed,
            None,
            read(Some(Grade::F), "later"),
        ),
        with(
            &codes[4],
            CodeState::Rejected,
            Some(RejectReason::LowGrade),
            read(Some(Grade::D), "rejected on"),
        ),
    ]);
    store.transition_all(&group).await.expect("one group");
    // A later group's read onto a row that has one (the upsert's update): counted right
    // beside the codes' states, which the same statement sets.
    store
        .transition_all(&[with(
            &codes[4],
            CodeState::Released,
            None,
            read(Some(Grade::A), "released on"),
        )])
        .await
        .expect("a later group");

    let got = |record: tracemark_store::CodeRecord| {
        (
            record.state,
            record.grade,
            record.data,
            record.release_read.map(|r| (r.grade, r.data)),
        )
    };
    assert_eq!(
        got(store.code(&codes[0]).await.expect("code")),
        (CodeState::Verified, Some(Grade::A), Some("a0".into()), None)
    );
    assert_eq!(
        got(store.code(&codes[1]).await.expect("code")),
        (CodeState::Verified, None, Some("no grade".into()), None)
    );
    assert_eq!(
        got(store.code(&codes[2]).await.expect("code")),
        (
            CodeState::Released,
            Some(Grade::D),
            Some("first".into()),
            Some((Some(Grade::B), Some("re-scan".into())))
        )
    );
    assert_eq!(
        got(store.code(&codes[3]).await.expect("code")),
        (
            CodeState::Destroyed,
            Some(Grade::F),
            Some("later".into()),
            None
        )
    );
    assert_eq!(
        got(store.code(&codes[4]).await.expect("code")),
        (
            CodeState::Released,
            Some(Grade::D),
            Some("rejected on".into()),
            Some((Some(Grade::A), Some("released on".into())))
        )
    );
    assert_chain_ok(&store).await;
}
both!(group_reads);

fn new_batch(lot: &str) -> NewBatch {
    NewBatch {
        product_id: "p".into(),
        lot: lot.into(),
        quantity: 100,
        production_date: "2025-03-01".into(),
        expiry_date: Some("2027-03-01".into()),
        line: Some("line-1".into()),
        simulated: false,
    }
}

async fn batches(store: Store) {
    store.add_product(&product("p", GTIN)).await.expect("add");
    let batch = store
        .create_batch(&new_batch("L001"))
        .await
        .expect("create");
    assert_eq!(batch.state, BatchState::Created);
    let before = head(&store).await;
    let dup = store.create_batch(&new_batch("L001")).await;
    assert!(
        matches!(dup, Err(StoreError::Invalid { field: "lot", .. })),
        "{dup:?}"
    );
    let mut bad = new_batch("L002");
    bad.production_date = "2025-13-01".into();
    assert!(matches!(
        store.create_batch(&bad).await,
        Err(StoreError::Invalid {
            field: "production_date",
            ..
        })
    ));
    bad.production_date = "2025-03-01".into();
    bad.expiry_date = Some("2024-01-01".into());
    assert!(matches!(
        store.create_batch(&bad).await,
        Err(StoreError::Invalid {
            field: "expiry",
            ..
        })
    ));
    bad.product_id = "nope".into();
    bad.expiry_date = None;
    assert!(matches!(
        store.create_batch(&bad).await,
        Err(StoreError::NotFound {
            what: "product",
            ..
        })
    ));
    assert!(
        store
            .set_batch_state(batch.id, BatchState::Paused)
            .await
            .is_err()
    );
    assert_eq!(head(&store).await, before);

    store
        .set_batch_state(batch.id, BatchState::Running)
        .await
        .expect("start");
    store
        .set_batch_state(batch.id, BatchState::Paused)
        .await
        .expect("pause");
    store
        .set_batch_state(batch.id, BatchState::Running)
        .await
        .expect("resume");
    // The line's open batch, found by the store: by line, and by line and product.
    let open_batch = |product: Option<&'static str>| {
        let store = store.clone();
        async move {
            store
                .open_batch_of_line("line-1", product)
                .await
                .expect("open batch")
                .map(|b| b.id)
        }
    };
    assert_eq!(open_batch(None).await, Some(batch.id));
    assert_eq!(open_batch(Some("p")).await, Some(batch.id));
    assert_eq!(open_batch(Some("other")).await, None);
    assert_eq!(
        store
            .open_batch_of_line("line-2", None)
            .await
            .expect("none"),
        None
    );
    let codes = store
        .allocate("p", 10, Some(batch.id))
        .await
        .expect("allocate")
        .codes;
    let mut changes = Vec::new();
    for code in &codes[..8] {
        changes.push(change(code, CodeState::Sent));
        changes.push(change(code, CodeState::Printed));
    }
    for code in &codes[..6] {
        changes.push(change(code, CodeState::Verified));
    }
    changes.push(change(&codes[4], CodeState::Sampled));
    for code in &codes[6..8] {
        changes.push(Transition {
            code: code.clone(),
            to: CodeState::Rejected,
            reason: Some(tracemark_store::RejectReason::NoRead),
            read: None,
        });
    }
    changes.push(change(&codes[6], CodeState::Destroyed));
    store.transition_all(&changes).await.expect("run the batch");
    // Packed only into a carton (SPEC §3a): the link and the state change together.
    packing_producer(&store).await;
    let carton = store
        .create_package(batch.id, tracemark_store::PackageLevel::Carton, None)
        .await
        .expect("a carton");
    store.pack(&carton.sscc, &codes[..4]).await.expect("pack");
    let open = Reconciliation::from_counts(&store.batch_counts(batch.id).await.expect("counts"));
    assert!(!open.balanced, "2 reserved, 1 rejected pending");

    store
        .transition_all(&[change(&codes[7], CodeState::Released)])
        .await
        .expect("release");
    let closed = store
        .set_batch_state(batch.id, BatchState::Closed)
        .await
        .expect("close");
    assert_eq!(closed.state, BatchState::Closed);
    assert!(closed.closed_at.is_some());
    let r = Reconciliation::from_counts(&store.batch_counts(batch.id).await.expect("counts"));
    assert!(r.balanced, "{:?}", r.problems);
    assert_eq!(
        (r.allocated, r.voided, r.printed, r.verified, r.rejected),
        (10, 2, 8, 6, 2)
    );
    assert_eq!(
        (r.packed, r.sampled, r.loose, r.destroyed, r.released),
        (4, 1, 1, 1, 1)
    );
    assert!(
        store.allocate("p", 1, Some(batch.id)).await.is_err(),
        "closed batch"
    );
    assert!(
        store
            .set_batch_state(batch.id, BatchState::Running)
            .await
            .is_err()
    );
    assert_eq!(store.batches().await.expect("list").len(), 1);
    assert_eq!(store.batch_count().await.expect("count"), 1);
    assert_eq!(open_batch(None).await, None, "a closed batch is not open");
    assert_chain_ok(&store).await;
}
both!(batches);

async fn group_commit(store: Store) {
    store.add_product(&product("p", GTIN)).await.expect("add");
    let codes = store
        .allocate("p", 2000, None)
        .await
        .expect("allocate")
        .codes;
    let (writer, task) = create_writer(store.clone(), 500);
    let mut waiting = tokio::task::JoinSet::new();
    for code in codes.clone() {
        let writer = writer.clone();
        waiting.spawn(async move { writer.transition(change(&code, CodeState::Sent)).await });
    }
    // One refused change among the accepted ones.
    let refused = writer
        .transition(change(&codes[0], CodeState::Verified))
        .await;
    assert!(refused.is_err());
    while let Some(result) = waiting.join_next().await {
        result.expect("join").expect("transition");
    }
    drop(writer);
    task.await.expect("writer ends when its handles are gone");
    for code in [&codes[0], &codes[1999]] {
        assert_eq!(store.code(code).await.expect("code").state, CodeState::Sent);
    }
    let (events, _) = head(&store).await;
    assert!(
        events < 2000,
        "changes are grouped: {events} events for 2000 changes"
    );
    assert_chain_ok(&store).await;
}
both!(group_commit);

async fn audit_tamper_sqlite_or_pg(store: Store) {
    store.add_product(&product("p", GTIN)).await.expect("add");
    for _ in 0..4 {
        store.allocate("p", 10, None).await.expect("allocate");
    }
    assert_chain_ok(&store).await;
    assert_eq!(store.verify_audit().await.expect("verify").events, 5);
    // The database itself refuses to change or delete events.
    let update = raw(
        &store,
        "UPDATE events SET actor_user = 'mallory' WHERE seq = 2",
    )
    .await;
    assert!(update.is_err(), "UPDATE on events must be refused");
    let delete = raw(&store, "DELETE FROM events WHERE seq = 5").await;
    assert!(delete.is_err(), "DELETE on events must be refused");
    assert_chain_ok(&store).await;
}
both!(audit_tamper_sqlite_or_pg);

async fn tamper_and_verify(store: Store) {
    store.add_product(&product("p", GTIN)).await.expect("add");
    for _ in 0..5 {
        store.allocate("p", 10, None).await.expect("allocate");
    }
    // An attacker with full database rights first disables the protection.
    let disable = if store.is_postgres() {
        vec!["ALTER TABLE events DISABLE TRIGGER USER"]
    } else {
        vec![
            "DROP TRIGGER events_append_only_update",
            "DROP TRIGGER events_append_only_delete",
        ]
    };
    for sql in disable {
        raw(&store, sql).await.expect("disable the triggers");
    }
    // Changed content.
    raw(&store, "UPDATE events SET detail = '{}' WHERE seq = 3")
        .await
        .expect("tamper");
    let report = store.verify_audit().await.expect("verify");
    assert_eq!(
        report.first_bad.as_ref().map(|b| b.seq),
        Some(3),
        "{report:?}"
    );
    assert_eq!(report.events, 2);
}
both!(tamper_and_verify);

async fn deletion_and_reorder_are_found(store: Store) {
    store.add_product(&product("p", GTIN)).await.expect("add");
    for _ in 0..5 {
        store.allocate("p", 10, None).await.expect("allocate");
    }
    let disable = if store.is_postgres() {
        vec!["ALTER TABLE events DISABLE TRIGGER USER"]
    } else {
        vec![
            "DROP TRIGGER events_append_only_update",
            "DROP TRIGGER events_append_only_delete",
        ]
    };
    for sql in disable {
        raw(&store, sql).await.expect("disable the triggers");
    }
    // Reorder: swap events 2 and 3 by renumbering (each row intact, hashes untouched).
    raw(&store, "UPDATE events SET seq = -2 WHERE seq = 2")
        .await
        .expect("swap");
    raw(&store, "UPDATE events SET seq = 2 WHERE seq = 3")
        .await
        .expect("swap");
    raw(&store, "UPDATE events SET seq = 3 WHERE seq = -2")
        .await
        .expect("swap");
    let report = store.verify_audit().await.expect("verify");
    assert_eq!(
        report.first_bad.as_ref().map(|b| b.seq),
        Some(2),
        "{report:?}"
    );
    // Restore the order, then delete the last event: the head no longer matches.
    raw(&store, "UPDATE events SET seq = -2 WHERE seq = 2")
        .await
        .expect("swap");
    raw(&store, "UPDATE events SET seq = 2 WHERE seq = 3")
        .await
        .expect("swap");
    raw(&store, "UPDATE events SET seq = 3 WHERE seq = -2")
        .await
        .expect("swap");
    assert_chain_ok(&store).await;
    raw(&store, "DELETE FROM events WHERE seq = 6")
        .await
        .expect("delete");
    let report = store.verify_audit().await.expect("verify");
    assert_eq!(
        report.first_bad.as_ref().map(|b| b.seq),
        Some(6),
        "{report:?}"
    );
    // A deleted event in the middle.
    raw(&store, "DELETE FROM events WHERE seq = 4")
        .await
        .expect("delete");
    let report = store.verify_audit().await.expect("verify");
    assert_eq!(
        report.first_bad.as_ref().map(|b| b.seq),
        Some(4),
        "{report:?}"
    );
}
both!(deletion_and_reorder_are_found);

#[tokio::test]
async fn corrupt_sqlite_file_is_refused_unchanged() {
    let dir = tempdir();
    let path = dir.path().join("tracemark.db");
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&path, &garbage).expect("write");
    let err = Store::open(&sqlite_url(dir.path()), actor()).await;
    let Err(err) = err else {
        panic!("a corrupt file was opened")
    };
    let message = err.to_string();
    assert!(message.starts_with("db: sqlite://"), "{message}");
    assert!(message.contains("not a database"), "{message}");
    assert!(
        std::fs::read(&path).expect("read") == garbage,
        "file changed"
    );
}

#[tokio::test]
async fn foreign_sqlite_database_is_refused_unchanged() {
    let dir = tempdir();
    let url = sqlite_url(dir.path());
    let pool = sqlx::SqlitePool::connect(&format!("{url}?mode=rwc"))
        .await
        .expect("create");
    sqlx::query("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
        .execute(&pool)
        .await
        .expect("create a foreign table");
    pool.close().await;
    let before = std::fs::read(dir.path().join("tracemark.db")).expect("read");
    let err = Store::open(&url, actor())
        .await
        .err()
        .map(|e| e.to_string());
    assert!(
        err.as_deref()
            .is_some_and(|e| e.contains("not a tracemark store")),
        "{err:?}"
    );
    let after = std::fs::read(dir.path().join("tracemark.db")).expect("read");
    assert!(after == before, "file changed");
}

#[tokio::test]
async fn reopening_keeps_everything() {
    let dir = tempdir();
    let url = sqlite_url(dir.path());
    let store = open(&url).await;
    store.add_product(&product("p", GTIN)).await.expect("add");
    store.allocate("p", 10, None).await.expect("allocate");
    store.close().await;
    let store = open(&url).await;
    let again = store.allocate("p", 10, None).await.expect("allocate");
    assert_eq!(again.first_counter, 10, "the counter survives a restart");
    assert_chain_ok(&store).await;
}

async fn blocks_reserved_ahead(store: Store) {
    store.add_product(&product("p", GTIN)).await.expect("add");
    let block = store.reserve_block("p", 1000).await.expect("reserve");
    assert_eq!(
        (block.first_counter, block.end_counter, block.issued_end),
        (0, 1000, 0)
    );
    // Another controller's allocation comes after the held block.
    let other = store.allocate("p", 10, None).await.expect("allocate");
    assert_eq!(other.first_counter, 1000);
    let a = store
        .issue_from_block("p", block.id, 600, None)
        .await
        .expect("issue");
    let b = store
        .issue_from_block("p", block.id, 400, None)
        .await
        .expect("issue");
    assert_eq!((a.first_counter, b.first_counter), (0, 600));
    assert_eq!(a.block_id, block.id);
    let before = head(&store).await;
    let empty = store.issue_from_block("p", block.id, 1, None).await;
    assert!(
        matches!(empty, Err(StoreError::Invalid { field: "count", .. })),
        "{empty:?}"
    );
    assert!(store.issue_from_block("p", 999, 1, None).await.is_err());
    assert_eq!(head(&store).await, before, "refused issue writes nothing");
    let counts = store.issued_counts("p").await.expect("counts");
    assert_eq!(
        (
            counts.codes,
            counts.issued,
            counts.reserved,
            counts.next_counter
        ),
        (1010, 1010, 1010, 1010)
    );
    let held = store.reserve_block("p", 50).await.expect("reserve");
    let counts = store.issued_counts("p").await.expect("counts");
    assert_eq!(
        (counts.codes, counts.reserved),
        (1010, 1060),
        "held, not yet issued"
    );
    assert_eq!(held.first_counter, 1010);
    assert_chain_ok(&store).await;
}
both!(blocks_reserved_ahead);

/// A page of batches is read as one page, newest first, with the count of all of them.
async fn batch_pages(store: Store) {
    store
        .add_product(&product("p", "09506000134352"))
        .await
        .expect("a product");
    for n in 1..=7 {
        store
            .create_batch(&NewBatch {
                product_id: "p".into(),
                lot: format!("L{n}"),
                quantity: 10,
                production_date: "2025-03-01".into(),
                expiry_date: None,
                line: None,
                simulated: false,
            })
            .await
            .expect("a batch");
    }
    let (first, total) = store.batches_page(0, 3).await.expect("a page");
    assert_eq!(total, 7);
    assert_eq!(
        first.iter().map(|b| b.id).collect::<Vec<_>>(),
        [7, 6, 5],
        "newest first"
    );
    let (last, _) = store.batches_page(6, 3).await.expect("the last page");
    assert_eq!(last.iter().map(|b| b.id).collect::<Vec<_>>(), [1]);
    let (past, total) = store.batches_page(9, 3).await.expect("past the end");
    assert!(past.is_empty());
    assert_eq!(total, 7);
}
both!(batch_pages);
