//! Backup and restore across dialects: a PostgreSQL store backs up into an SQLite file, which
//! restores into an empty PostgreSQL database (or a new SQLite file) with everything intact.

mod common;

use common::*;
use tracemark_store::backup::{restore, restore_into_postgres};
use tracemark_store::{Batch, CodeRead, CodeState, Store, StoreError, Transition};

const GTIN: &str = "09506000134352";

/// What a restore must bring back, read through the store: products, codes per product,
/// batches.
async fn contents(store: &Store) -> (Vec<String>, Vec<i64>, Vec<Batch>) {
    let products = store.products().await.expect("products");
    let mut codes = Vec::new();
    for product in &products {
        codes.push(
            store
                .issued_counts(&product.id)
                .await
                .expect("counts")
                .codes,
        );
    }
    let ids = products.into_iter().map(|p| p.id).collect();
    (ids, codes, store.batches().await.expect("batches"))
}

async fn fill(store: &Store) -> Vec<String> {
    store.add_product(&product("p", GTIN)).await.expect("add p");
    store
        .add_product(&product("q", "09506000134369"))
        .await
        .expect("add q");
    let batch = running_batch(store, "p", 100).await;
    let issued = store
        .allocate("p", 30, Some(batch.id))
        .await
        .expect("allocate p");
    store.allocate("q", 12_000, None).await.expect("allocate q");
    let sent: Vec<Transition> = issued.codes[..10]
        .iter()
        .map(|code| Transition {
            code: code.clone(),
            to: CodeState::Sent,
            reason: None,
            read: None,
        })
        .collect();
    store.transition_all(&sent).await.expect("send");
    // Five printed and decided, with the reads they were decided on (a restore keeps those).
    let mut decided: Vec<Transition> = issued.codes[5..10]
        .iter()
        .map(|code| Transition::to(code.clone(), CodeState::Printed))
        .collect();
    for (i, code) in issued.codes[5..10].iter().enumerate() {
        decided.push(if i < 3 {
            Transition {
                read: Some(CodeRead {
                    grade: Some(tracemark_store::Grade::A),
                    data: Some(format!("scan of {code}")),
                }),
                ..Transition::to(code.clone(), CodeState::Verified)
            }
        } else {
            Transition {
                reason: Some(tracemark_store::RejectReason::NoRead),
                read: Some(CodeRead::default()),
                ..Transition::to(code.clone(), CodeState::Rejected)
            }
        });
    }
    store.transition_all(&decided).await.expect("decide");
    issued.codes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_backup_restores_into_postgres_and_sqlite() {
    let Some(base) = pg_base_url() else { return };
    let (url, schema) = pg_schema_url(&base).await;
    let original = open(&url).await;
    let codes = fill(&original).await;
    let dir = tempdir();
    let snapshot = dir.path().join("plant.db");
    let report = original.backup(&snapshot).await.expect("backup");
    let (head, _) = original.audit_head().await.expect("head");
    assert_eq!(report.events, head);
    assert!(
        original.backup(&snapshot).await.is_err(),
        "never overwrite a backup"
    );

    // Into an empty PostgreSQL schema.
    let (restored_url, restored_schema) = pg_schema_url(&base).await;
    let restored_report = restore_into_postgres(&snapshot, &restored_url, 1000, actor())
        .await
        .expect("restore into PostgreSQL");
    assert_eq!(
        restored_report.events,
        head + 1,
        "plus the counters.skip event"
    );
    let restored = open(&restored_url).await;
    assert_eq!(contents(&restored).await, contents(&original).await);
    for code in &codes[..12] {
        let (before, after) = (
            original.code(code).await.expect("original code"),
            restored.code(code).await.expect("restored code"),
        );
        assert_eq!(before, after, "{code}");
    }
    let verified = restored.code(&codes[5]).await.expect("restored code");
    assert_eq!(
        verified.grade,
        Some(tracemark_store::Grade::A),
        "{verified:?}"
    );
    // The restored store goes on: new codes past the gap, new block and batch ids.
    let more = restored.allocate("p", 5, None).await.expect("allocate");
    assert_eq!(more.first_counter, 1030);
    let blocks_before = original
        .allocate("p", 1, None)
        .await
        .expect("allocate")
        .block_id;
    assert_eq!(
        more.block_id, blocks_before,
        "identity continues after the copied ids"
    );
    let verify = restored.verify_audit().await.expect("verify");
    assert_eq!(verify.first_bad, None, "{verify:?}");
    // A database that already holds data is refused, and left as it was.
    let again = restore_into_postgres(&snapshot, &restored_url, 1000, actor()).await;
    assert!(
        matches!(&again, Err(StoreError::Invalid { field: "db", reason }) if reason.contains("already holds")),
        "{again:?}"
    );
    restored.close().await;

    // The same file restores into SQLite.
    let sqlite_path = dir.path().join("line.db");
    restore(&snapshot, &sqlite_path, 1000, actor())
        .await
        .expect("restore into SQLite");
    let local = open(&format!("sqlite://{}", sqlite_path.display())).await;
    let local_code = local.code(&codes[0]).await.expect("code");
    assert_eq!(local_code.state, CodeState::Sent);
    local.close().await;

    original.close().await;
    drop_pg_schema(&base, &schema).await;
    drop_pg_schema(&base, &restored_schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_moves_to_postgres_with_the_cli() {
    let Some(base) = pg_base_url() else { return };
    let dir = tempdir();
    let url = sqlite_url(dir.path());
    let local = open(&url).await;
    let codes = fill(&local).await;
    local.close().await;
    let snapshot = dir.path().join("snapshot.db");
    let snap = snapshot.display().to_string();
    let out = tracemark(&url, &["backup", "--out", &snap]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (pg_url, schema) = pg_schema_url(&base).await;
    let out = tracemark(&pg_url, &["restore", &snap, "--counter-gap", "500"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("into PostgreSQL"), "{}", stdout(&out));
    let out = tracemark(&pg_url, &["codes", "show", &codes[3]]);
    assert!(
        stdout(&out).contains("\"state\": \"sent\""),
        "{}",
        stdout(&out)
    );
    let out = tracemark(&pg_url, &["audit", "verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A second restore into the same database is refused with exit status 2.
    let out = tracemark(&pg_url, &["restore", &snap]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    drop_pg_schema(&base, &schema).await;
}
