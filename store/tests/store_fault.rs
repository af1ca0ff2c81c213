//! Injected store outages (`--store-fault`, issue 18 item 5) on SQLite and PostgreSQL: during
//! the outage a store operation fails at once with an error that says the store is
//! unreachable; afterwards the same store works again, and nothing is half-written.

#[macro_use]
#[path = "../../controller/tests/common/mod.rs"]
mod common;

use common::*;
use tracemark_store::fault::{Outage, StoreFault};
use tracemark_store::{Store, StoreError};

const GTIN: &str = "09506000134352";

async fn open_with(url: &str, outage: &Outage) -> Store {
    Store::open_with_outage(url, actor(), outage.clone())
        .await
        .expect("open the store behind the fault")
}

fn assert_unreachable(result: Result<impl std::fmt::Debug, StoreError>, what: &str) {
    match result {
        Err(error) => assert!(
            error.is_unreachable(),
            "{what}: not a connection error: {error}"
        ),
        Ok(value) => panic!("{what} worked during the outage: {value:?}"),
    }
}

/// Reads and writes fail during the outage and work after it; the counts and the audit chain
/// show nothing was half-written and no serial was issued twice.
async fn outage_then_recovery(store: Store) {
    let outage = store.outage().expect("opened with an outage").clone();
    store.add_product(&product("p1", GTIN)).await.expect("add");
    let before = store.allocate("p1", 50, None).await.expect("allocate");
    let block = store.reserve_block("p1", 100).await.expect("reserve");

    outage.begin();
    assert_unreachable(store.allocate("p1", 50, None).await, "allocate");
    assert_unreachable(store.reserve_block("p1", 10).await, "reserve a block");
    assert_unreachable(
        store.issue_from_block("p1", block.id, 5, None).await,
        "issue",
    );
    assert_unreachable(store.products().await, "read the products");
    assert_unreachable(store.audit_head().await, "read the audit head");

    outage.end();
    let after = store
        .allocate("p1", 50, None)
        .await
        .expect("allocate after");
    let issued = store
        .issue_from_block("p1", block.id, 5, None)
        .await
        .expect("issue after");
    assert_eq!(after.first_counter, block.end_counter, "no serial reused");
    assert!(before.first_counter + 50 <= block.first_counter);
    assert_eq!(issued.first_counter, block.first_counter);
    let counts = store.issued_counts("p1").await.expect("counts");
    assert_eq!(counts.codes, 105);
    assert_eq!(counts.issued, counts.codes);
    assert_eq!(counts.reserved, 200);
    let report = store.verify_audit().await.expect("verify");
    assert!(report.first_bad.is_none(), "{report:?}");
}

/// The windows of `--store-fault` turn the switch on their own, counted from opening (the
/// window starts late enough for the migrations of a fresh store to be done).
async fn scheduled_outage(store: Store) {
    let outage = store.outage().expect("opened with an outage").clone();
    let mut state = outage.subscribe();
    state
        .wait_for(|down| *down)
        .await
        .expect("the outage begins");
    assert_unreachable(store.products().await, "read the products");
    state
        .wait_for(|down| !*down)
        .await
        .expect("the outage ends");
    store.add_product(&product("p1", GTIN)).await.expect("add");
    store.allocate("p1", 10, None).await.expect("allocate");
}

/// PostgreSQL: a transaction on a connection the proxy drops is rolled back by the server, so
/// an operation running as the outage begins is either all there or not at all.
async fn cut_connections_roll_back(store: Store) {
    let outage = store.outage().expect("opened with an outage").clone();
    store.add_product(&product("p1", GTIN)).await.expect("add");
    // The outage begins once allocations are under way (a readiness signal, not a sleep).
    let (done, mut answers) = tokio::sync::mpsc::unbounded_channel();
    let racing = {
        let store = store.clone();
        tokio::spawn(async move {
            for _ in 0..20 {
                let outcome = store.allocate("p1", 500, None).await.map(|a| a.codes.len());
                let _ = done.send(outcome);
            }
        })
    };
    let mut outcomes = Vec::new();
    while outcomes.len() < 3 {
        outcomes.push(answers.recv().await.expect("an answer"));
    }
    outage.begin();
    racing.await.expect("the racing task");
    outage.end();
    while let Ok(outcome) = answers.try_recv() {
        outcomes.push(outcome);
    }
    assert_eq!(outcomes.len(), 20);
    assert!(
        outcomes.iter().any(Result::is_err),
        "some allocation met the outage"
    );
    let committed: usize = outcomes.iter().filter_map(|o| o.as_ref().ok()).sum();
    for failed in outcomes.iter().filter_map(|o| o.as_ref().err()) {
        assert!(failed.is_unreachable(), "{failed}");
    }
    let counts = store.issued_counts("p1").await.expect("counts");
    // A commit whose answer the cut lost is in the store though its call failed: at least
    // what was answered, each block whole, and never a code without its block.
    assert!(counts.codes >= i64::try_from(committed).expect("count"));
    assert_eq!(counts.codes % 500, 0);
    assert_eq!(counts.issued, counts.codes);
    assert_eq!(counts.reserved, counts.codes);
    let report = store.verify_audit().await.expect("verify");
    assert!(report.first_bad.is_none(), "{report:?}");
}

fn window(at_ms: u64, ms: u64) -> StoreFault {
    format!("outage:{at_ms}ms:{ms}ms").parse().expect("a fault")
}

mod sqlite {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn outage_then_recovery() {
        let dir = tempdir();
        let store = open_with(&sqlite_url(dir.path()), &Outage::manual()).await;
        super::outage_then_recovery(store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn scheduled_outage() {
        let dir = tempdir();
        let outage = Outage::scheduled(&[window(2000, 1000)]);
        let store = open_with(&sqlite_url(dir.path()), &outage).await;
        super::scheduled_outage(store).await;
    }
}

mod postgres {
    use super::*;

    async fn run<F: std::future::Future<Output = ()>>(outage: Outage, body: fn(Store) -> F) {
        let Some(base) = pg_base_url() else { return };
        let (url, schema) = pg_schema_url(&base).await;
        let store = open_with(&url, &outage).await;
        body(store.clone()).await;
        store.close().await;
        drop_pg_schema(&base, &schema).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn outage_then_recovery() {
        run(Outage::manual(), super::outage_then_recovery).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn scheduled_outage() {
        run(
            Outage::scheduled(&[window(2000, 1000)]),
            super::scheduled_outage,
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cut_connections_roll_back() {
        run(Outage::manual(), super::cut_connections_roll_back).await;
    }
}
