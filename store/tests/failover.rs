//! Failover to a promoted standby (issue 18 item 4), on this machine: the test makes its own
//! primary and a synchronous streaming standby (`initdb`, `pg_basebackup`, `pg_ctl`), writes
//! through a `Store` opened on a two-host URL, kills the primary, promotes the standby, and
//! shows the same `Store` continuing on the new primary with nothing committed lost and no
//! serial block allocated twice. The clusters are removed even when the test fails.
//!
//! Without the PostgreSQL server tools it prints `skipped: <why>` and passes, except when `CI`
//! is set. `TRACEMARK_PG_BIN` names their directory when it is not a usual one.

#[macro_use]
#[path = "../../controller/tests/common/mod.rs"]
mod common;

use sqlx::Connection as _;

use common::clusters::{Clusters, free_port};
use common::*;
use tracemark_store::{Block, Store};

const GTIN: &str = "09506000134352";

fn disjoint(blocks: &[Block]) -> bool {
    let mut spans: Vec<(i64, i64)> = blocks
        .iter()
        .map(|b| (b.first_counter, b.end_counter))
        .collect();
    spans.sort();
    spans.windows(2).all(|w| w[0].1 <= w[1].0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_continues_on_a_promoted_standby() {
    let Some(clusters) = Clusters::start_or_skip() else {
        return;
    };
    // A URL naming no primary is refused, every host's answer named, the password not.
    let dead = free_port();
    let standbys_only = format!(
        "postgres://postgres:secret@127.0.0.1:{dead},127.0.0.1:{}/postgres",
        clusters.ports[1]
    );
    let error = Store::open(&standbys_only, actor())
        .await
        .expect_err("no primary")
        .to_string();
    assert!(error.contains("no host is a reachable primary"), "{error}");
    assert!(error.contains(&format!("127.0.0.1:{dead}: ")), "{error}");
    assert!(error.contains("in recovery"), "{error}");
    assert!(!error.contains("secret"), "{error}");

    // The primary first; the store opens on it.
    let store = Store::open(&clusters.url(), actor()).await.expect("open");
    store.add_product(&product("p1", GTIN)).await.expect("add");
    let mut blocks = Vec::new();
    for _ in 0..5 {
        blocks.push(store.reserve_block("p1", 1000).await.expect("reserve"));
    }
    let codes = store.allocate("p1", 200, None).await.expect("allocate");
    let before = store.issued_counts("p1").await.expect("counts");
    // The standby is synchronous: what the primary answered is on the standby.
    let primary_url = format!(
        "postgres://postgres@127.0.0.1:{}/postgres",
        clusters.ports[0]
    );
    let mut primary = sqlx::PgConnection::connect(&primary_url)
        .await
        .expect("connect to the primary");
    let sync: String = sqlx::query_scalar("SELECT sync_state FROM pg_stat_replication")
        .fetch_one(&mut primary)
        .await
        .expect("replication state");
    assert_eq!(sync, "sync");
    drop(primary);
    let head = store.audit_head().await.expect("head");

    // The primary dies (no clean shutdown); an allocation asked for now waits in the pool
    // until the store finds the new primary.
    clusters
        .pg_ctl(0, &["-m", "immediate", "-w", "stop"])
        .expect("stop the primary");
    let pending = {
        let store = store.clone();
        tokio::spawn(async move { store.reserve_block("p1", 1000).await })
    };
    clusters
        .pg_ctl(1, &["-w", "promote"])
        .expect("promote the standby");
    let during = pending
        .await
        .expect("the pending task")
        .expect("reserve across the failover");
    blocks.push(during);
    let after = store
        .reserve_block("p1", 1000)
        .await
        .expect("reserve after");
    blocks.push(after);
    let issued = store
        .issue_from_block("p1", blocks[0].id, 10, None)
        .await
        .expect("issue from a block reserved before the failover");

    // Everything committed before the failover is on the new primary: the synchronous
    // standby had it before the primary answered.
    let (seq, _) = store.audit_head().await.expect("head after");
    assert!(seq > head.0, "the chain continued from {head:?}");
    let now = store.issued_counts("p1").await.expect("counts after");
    assert_eq!(now.reserved, before.reserved + 2000);
    assert_eq!(now.codes, before.codes + 10);
    assert_eq!(now.issued, now.codes);
    assert_eq!(issued.first_counter, blocks[0].first_counter);
    assert!(
        store.code(&codes.codes[199]).await.is_ok(),
        "a code from before"
    );
    // No block twice: the new primary's counter went on from the last committed block.
    assert!(disjoint(&blocks), "{blocks:?}");
    assert!(blocks[5].first_counter >= blocks[4].end_counter);
    let report = store.verify_audit().await.expect("verify");
    assert!(report.first_bad.is_none(), "{report:?}");
    store.close().await;
}
