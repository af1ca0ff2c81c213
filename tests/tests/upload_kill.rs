//! `kill -9` of `tracemark upload run` at random moments, 60 times, while batches keep closing
//! and two receivers with faults (`default`: 500, 503, 429, slow, resets before and after they
//! commit) take them; then `tracemark upload run --once` (issue 15): every batch accepted
//! exactly once per target under its one key, never a second document under a key (no 422), and
//! every delivery delivered. On SQLite, and on PostgreSQL when `TRACEMARK_TEST_PG_URL` is set.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tracemark::app::{batches, uploads};
use tracemark_line_tests::common;
use tracemark_sim::erp::faults::FaultProfile;
use tracemark_sim::erp::signature::SigningSecret;
use tracemark_sim::erp::{ErpConfig, ErpHandle, ErpSim};
use tracemark_store::upload::{DeliveryState, UploadFormat};
use tracemark_store::{BatchState, NewBatch, Store};

const KILLS: usize = 60;
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const TARGETS: [(&str, bool); 2] = [("erp", false), ("erp-gzip", true)];

async fn receiver(seed: u64) -> (String, ErpHandle) {
    let mut config = ErpConfig::new(SigningSecret::parse(SECRET).expect("secret"));
    config.faults = FaultProfile::Default;
    config.seed = seed;
    config.slow_delay = Duration::from_millis(30);
    let (addr, handle) = ErpSim::start(config).await.expect("start the receiver");
    (format!("http://{addr}/"), handle)
}

async fn close_batch(store: &Store, n: usize) -> i64 {
    let batch = store
        .create_batch(&NewBatch {
            product_id: "p".into(),
            lot: format!("K{n}"),
            quantity: 10,
            production_date: "2026-12-01".into(),
            expiry_date: None,
            line: Some("line-1".into()),
            simulated: false,
        })
        .await
        .expect("create");
    let actor = common::actor();
    batches::set_state(store, &actor, batch.id, BatchState::Running)
        .await
        .expect("start");
    batches::set_state(store, &actor, batch.id, BatchState::Closed)
        .await
        .expect("close");
    batch.id
}

fn upload_run(db: &str, spool: &Path, once: bool) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(common::bin());
    command
        .args([
            "upload",
            "run",
            "--backoff-base-ms",
            "5",
            "--backoff-cap-ms",
            "50",
        ])
        .args(["--max-retry-after-ms", "20", "--spool-dir"])
        .arg(spool)
        .env("TRACEMARK_DB", db)
        .env("TRACEMARK_USER", "tester")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    if once {
        command.arg("--once");
    }
    command
}

async fn kill_loop(db: &str) {
    let dir = common::tempdir();
    let spool = dir.path().join("spool");
    let store = common::open(db).await;
    store
        .add_product(&common::product("p", "09506000134352"))
        .await
        .expect("add");
    std::fs::write(dir.path().join("secret"), SECRET).expect("secret file");
    let mut receivers = Vec::new();
    for (i, (name, gzip)) in TARGETS.into_iter().enumerate() {
        let (url, handle) = receiver(i as u64 + 11).await;
        uploads::add_target(
            &store,
            &common::actor(),
            uploads::NewTarget {
                name: name.into(),
                url,
                format: UploadFormat::EpcisJson,
                secret_file: Some(dir.path().join("secret")),
                ed25519_key_file: None,
                ca_file: None,
                gzip,
            },
        )
        .await
        .expect("add the target");
        receivers.push(handle);
    }

    let mut moments = common::Rng::from_env_or_time();
    let mut closed = Vec::new();
    for kill in 0..KILLS {
        // A batch closes while the sender runs (the close and its deliveries commit together).
        closed.push(close_batch(&store, kill).await);
        let mut child = upload_run(db, &spool, false)
            .spawn()
            .expect("spawn upload run");
        // The kill moment: anywhere from start-up to deep in a delivery.
        tokio::time::sleep(Duration::from_millis(moments.below(150))).await;
        child.kill().await.expect("kill -9");
    }
    let status = tokio::time::timeout(
        Duration::from_secs(60),
        upload_run(db, &spool, true).status(),
    )
    .await
    .expect("the last run ends")
    .expect("run");
    assert!(status.success(), "the last upload run --once: {status}");

    let deliveries = uploads::status(&store).await.expect("status");
    assert_eq!(deliveries.len(), KILLS * TARGETS.len());
    for (i, (name, _)) in TARGETS.into_iter().enumerate() {
        let expected: BTreeSet<String> = deliveries
            .iter()
            .filter(|d| d.target == name)
            .inspect(|d| assert_eq!(d.state, DeliveryState::Delivered, "{d:?}"))
            .map(|d| d.uuid.clone())
            .collect();
        let accepted = receivers[i].accepted();
        let keys: BTreeSet<String> = accepted.iter().map(|a| a.key.clone()).collect();
        assert_eq!(keys.len(), accepted.len(), "{name}: one copy per key");
        assert_eq!(keys, expected, "{name}: every batch once, under its key");
        let refusals = receivers[i].refusals();
        assert_eq!(
            refusals.get(&422),
            None,
            "{name}: never another body under a key"
        );
        assert_eq!(refusals.get(&400), None, "{name}: no invalid document");
        assert_eq!(refusals.get(&401), None, "{name}: every signature valid");
        println!(
            "{name}: {} accepted, statuses {:?}, faults {:?}, replays {}",
            accepted.len(),
            receivers[i].statuses(),
            receivers[i].faults(),
            receivers[i].replays()
        );
    }
    assert_eq!(closed.len(), KILLS);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_delivering_sqlite() {
    let dir = common::tempdir();
    kill_loop(&common::sqlite_url(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_delivering_postgres() {
    let Some(base) = common::pg_base_url() else {
        return;
    };
    let (url, schema) = common::pg_schema_url(&base).await;
    kill_loop(&url).await;
    common::drop_pg_schema(&base, &schema).await;
}
