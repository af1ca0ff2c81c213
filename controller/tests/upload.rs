//! The outbox and the delivery (SPEC §6, issue 15 item 3) against the ERP receiver simulator,
//! on SQLite and PostgreSQL: a closed batch reaches every target once with one key; a wrong
//! secret fails for good and nothing is stored, a retry after the fix delivers; faults (503 with
//! Retry-After, 500, a reset after the receiver committed) end in exactly one accepted copy; a
//! target down when the batch closes is delivered once it is up.

#[macro_use]
mod common;

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::*;
use tracemark::app::{batches, uploads};
use tracemark::upload::deliver::SenderConfig;
use tracemark::upload::run::RunReport;
use tracemark_sim::erp::faults::FaultKind;
use tracemark_sim::erp::signature::{PublicKey, SigningSecret};
use tracemark_sim::erp::{ErpConfig, ErpHandle, ErpSim};
use tracemark_store::upload::{DeliveryState, UploadFormat};
use tracemark_store::{BatchState, NewBatch, Store};

/// Guard against a hung test; never a synchronisation point.
const GUARD: Duration = Duration::from_secs(60);
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const WRONG_SECRET: &str = "whsec_c2VjcmV0LW9mLWFub3RoZXItZW5kcG9pbnQ=";
const SEED: [u8; 32] = [7; 32];

fn sender(dir: &Path) -> SenderConfig {
    let mut config = SenderConfig::new(dir.join("spool"));
    config.backoff.base = Duration::from_millis(5);
    config.backoff.cap = Duration::from_millis(40);
    config.backoff.max_retry_after = Duration::from_millis(20);
    config.request_timeout = Duration::from_secs(20);
    config
}

async fn receiver(config: ErpConfig) -> (String, ErpHandle) {
    let (addr, handle) = ErpSim::start(config).await.expect("start the receiver");
    (format!("http://{addr}/epcis"), handle)
}

fn erp_config() -> ErpConfig {
    ErpConfig::new(SigningSecret::parse(SECRET).expect("secret"))
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write a key file");
    path
}

async fn add_target(store: &Store, name: &str, url: &str, secret: &Path, gzip: bool) {
    uploads::add_target(
        store,
        &actor(),
        uploads::NewTarget {
            name: name.into(),
            url: url.into(),
            format: UploadFormat::EpcisJson,
            secret_file: Some(secret.to_owned()),
            ed25519_key_file: None,
            ca_file: None,
            gzip,
        },
    )
    .await
    .expect("add the target");
}

/// A product and a closed batch with lot `lot`.
async fn closed_batch(store: &Store, lot: &str) -> i64 {
    if store.product("p").await.is_err() {
        store
            .add_product(&product("p", "09506000134352"))
            .await
            .expect("add");
    }
    let batch = store
        .create_batch(&NewBatch {
            product_id: "p".into(),
            lot: lot.into(),
            quantity: 10,
            production_date: "2026-12-01".into(),
            expiry_date: None,
            line: Some("line-1".into()),
            simulated: false,
        })
        .await
        .expect("create");
    batches::set_state(store, &actor(), batch.id, BatchState::Running)
        .await
        .expect("start");
    batches::set_state(store, &actor(), batch.id, BatchState::Closed)
        .await
        .expect("close");
    batch.id
}

async fn run_once(store: &Store, config: &SenderConfig) -> RunReport {
    let actor = actor();
    let run = uploads::run(store, &actor, config, true, std::future::pending());
    tokio::time::timeout(GUARD, run)
        .await
        .expect("the run ends")
        .expect("the run succeeds")
}

/// Keys the receiver accepted, sorted.
fn accepted_keys(handle: &ErpHandle) -> Vec<String> {
    let mut keys: Vec<String> = handle.accepted().into_iter().map(|a| a.key).collect();
    keys.sort();
    keys
}

async fn closed_batches_reach_every_target_once(store: Store) {
    let dir = tempdir();
    let secret = write(dir.path(), "erp.secret", SECRET);
    let key_file = write(
        dir.path(),
        "erp.key",
        &format!("whsk_{}", STANDARD.encode(SEED)),
    );
    let (plain_url, plain) = receiver(erp_config()).await;
    let mut signed_config = erp_config();
    let verifying = ed25519_dalek::SigningKey::from_bytes(&SEED).verifying_key();
    signed_config.public_key = Some(PublicKey::from_bytes(&verifying.to_bytes()).expect("key"));
    let (signed_url, signed) = receiver(signed_config).await;
    add_target(&store, "erp", &plain_url, &secret, false).await;
    uploads::add_target(
        &store,
        &actor(),
        uploads::NewTarget {
            name: "erp-signed".into(),
            url: signed_url,
            format: UploadFormat::EpcisJson,
            secret_file: Some(secret.clone()),
            ed25519_key_file: Some(key_file),
            ca_file: None,
            gzip: true,
        },
    )
    .await
    .expect("add the signed target");

    let first = closed_batch(&store, "A").await;
    let second = closed_batch(&store, "B").await;
    // Enqueued with the close: two per batch, pending, keys distinct.
    let deliveries = uploads::status(&store).await.expect("status");
    assert_eq!(deliveries.len(), 4);
    assert!(deliveries.iter().all(|d| d.state == DeliveryState::Pending));

    let report = run_once(&store, &sender(dir.path())).await;
    assert_eq!(report.delivered.len(), 4, "{report:?}");
    assert!(report.failed.is_empty());
    let deliveries = uploads::status(&store).await.expect("status");
    for d in &deliveries {
        assert_eq!(d.state, DeliveryState::Delivered, "{d:?}");
        assert_eq!(d.attempts, 1);
        assert_eq!(d.last_status, Some(200));
        assert!(d.body_sha256.is_some());
    }
    let keys_of = |target: &str| {
        let mut keys: Vec<String> = deliveries
            .iter()
            .filter(|d| d.target == target)
            .map(|d| d.uuid.clone())
            .collect();
        keys.sort();
        keys
    };
    assert_eq!(accepted_keys(&plain), keys_of("erp"));
    assert_eq!(accepted_keys(&signed), keys_of("erp-signed"));
    assert!(signed.accepted().iter().all(|a| a.gzip));
    assert!(plain.accepted().iter().all(|a| !a.gzip));
    assert_eq!(
        deliveries.iter().map(|d| d.batch_id).collect::<Vec<_>>(),
        [first, first, second, second]
    );
    // Nothing left to send: a second run makes no attempt.
    let again = run_once(&store, &sender(dir.path())).await;
    assert_eq!(again.attempts, 0);
    assert_eq!(plain.accepted().len(), 2);
}
both!(closed_batches_reach_every_target_once);

async fn a_wrong_secret_fails_for_good_and_a_retry_after_the_fix_delivers(store: Store) {
    let dir = tempdir();
    let secret = write(dir.path(), "erp.secret", WRONG_SECRET);
    let (url, erp) = receiver(erp_config()).await;
    add_target(&store, "erp", &url, &secret, false).await;
    let batch = closed_batch(&store, "A").await;

    let report = run_once(&store, &sender(dir.path())).await;
    assert_eq!(report.failed.len(), 1, "{report:?}");
    let failed = store.delivery(batch, "erp").await.expect("delivery");
    assert_eq!(failed.state, DeliveryState::Failed);
    assert_eq!(failed.last_status, Some(401));
    assert!(
        failed.last_error.as_deref().unwrap_or("").contains("401"),
        "{failed:?}"
    );
    assert!(erp.accepted().is_empty(), "the receiver stored nothing");
    // Failed stays failed: no run touches it.
    assert_eq!(run_once(&store, &sender(dir.path())).await.attempts, 0);

    std::fs::write(&secret, SECRET).expect("fix the secret");
    let pending = uploads::retry(&store, &actor(), batch, "erp")
        .await
        .expect("retry");
    assert_eq!(pending.state, DeliveryState::Pending);
    assert_eq!(pending.uuid, failed.uuid, "the same key");
    let report = run_once(&store, &sender(dir.path())).await;
    assert_eq!(report.delivered.len(), 1, "{report:?}");
    assert_eq!(accepted_keys(&erp), vec![failed.uuid.clone()]);
    let delivered = store.delivery(batch, "erp").await.expect("delivery");
    assert_eq!(delivered.state, DeliveryState::Delivered);
    assert_eq!(delivered.body_sha256, failed.body_sha256, "the same body");
    // Retrying a delivered one is refused.
    assert!(
        uploads::retry(&store, &actor(), batch, "erp")
            .await
            .is_err()
    );
}
both!(a_wrong_secret_fails_for_good_and_a_retry_after_the_fix_delivers);

async fn faults_end_in_one_accepted_copy(store: Store) {
    let dir = tempdir();
    let secret = write(dir.path(), "erp.secret", SECRET);
    let mut config = erp_config();
    config.fault_script = vec![
        Some(FaultKind::Unavailable),
        Some(FaultKind::InternalError),
        Some(FaultKind::ResetAfterCommit),
    ];
    let (url, erp) = receiver(config).await;
    add_target(&store, "erp", &url, &secret, true).await;
    let batch = closed_batch(&store, "A").await;

    let report = run_once(&store, &sender(dir.path())).await;
    assert_eq!(report.delivered.len(), 1, "{report:?}");
    let delivery = store.delivery(batch, "erp").await.expect("delivery");
    assert_eq!(delivery.state, DeliveryState::Delivered);
    assert_eq!(
        delivery.attempts, 4,
        "503, 500, reset, then the replayed answer"
    );
    assert_eq!(accepted_keys(&erp), vec![delivery.uuid.clone()]);
    assert_eq!(
        erp.replays(),
        1,
        "the retry after the reset got the stored answer"
    );
}
both!(faults_end_in_one_accepted_copy);

async fn a_target_down_is_delivered_once_it_is_up(store: Store) {
    let dir = tempdir();
    let secret = write(dir.path(), "erp.secret", SECRET);
    // A port nobody listens on, for now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("reserve a port")
        .port();
    add_target(
        &store,
        "erp",
        &format!("http://127.0.0.1:{port}/"),
        &secret,
        false,
    )
    .await;
    let batch = closed_batch(&store, "A").await;

    let run = {
        let (store, config) = (store.clone(), sender(dir.path()));
        tokio::spawn(async move { run_once(&store, &config).await })
    };
    // Wait until the sender has been refused a few times.
    let waited = tokio::time::timeout(GUARD, async {
        loop {
            let d = store.delivery(batch, "erp").await.expect("delivery");
            if d.attempts >= 3 {
                return d;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the sender retries");
    assert_eq!(waited.state, DeliveryState::Pending);
    assert_eq!(waited.last_status, None, "no answer: {waited:?}");

    let mut config = erp_config();
    config.listen = format!("127.0.0.1:{port}");
    let (_, erp) = receiver(config).await;
    let report = tokio::time::timeout(GUARD, run)
        .await
        .expect("the run ends")
        .expect("the run task");
    assert_eq!(report.delivered.len(), 1, "{report:?}");
    assert_eq!(accepted_keys(&erp), vec![waited.uuid.clone()]);
}
both!(a_target_down_is_delivered_once_it_is_up);

async fn a_changed_body_is_never_sent_and_a_lost_one_is_rendered_again(store: Store) {
    let dir = tempdir();
    let secret = write(dir.path(), "erp.secret", WRONG_SECRET);
    let (url, erp) = receiver(erp_config()).await;
    add_target(&store, "erp", &url, &secret, true).await;
    let batch = closed_batch(&store, "A").await;
    let config = sender(dir.path());
    run_once(&store, &config).await;
    let failed = store.delivery(batch, "erp").await.expect("delivery");
    let recorded = failed
        .body_sha256
        .clone()
        .expect("recorded before the first POST");
    let spool = config.spool_dir.join(format!("{}.body", failed.uuid));
    assert!(spool.is_file(), "kept for the retry");

    // Someone edits the spool file: the delivery fails rather than send it.
    std::fs::write(&spool, b"{\"not\": \"the document\"}").expect("tamper");
    std::fs::write(&secret, SECRET).expect("fix the secret");
    uploads::retry(&store, &actor(), batch, "erp")
        .await
        .expect("retry");
    let report = run_once(&store, &config).await;
    assert_eq!(report.failed.len(), 1, "{report:?}");
    let refused = store.delivery(batch, "erp").await.expect("delivery");
    let error = refused.last_error.clone().unwrap_or_default();
    assert!(
        error.contains(&recorded),
        "names the recorded hash: {error}"
    );
    assert!(erp.accepted().is_empty());

    // The file lost: rendered again from the store, the same bytes, delivered.
    std::fs::remove_file(&spool).expect("lose the spool file");
    uploads::retry(&store, &actor(), batch, "erp")
        .await
        .expect("retry");
    let report = run_once(&store, &config).await;
    assert_eq!(report.delivered.len(), 1, "{report:?}");
    let delivered = store.delivery(batch, "erp").await.expect("delivery");
    assert_eq!(delivered.body_sha256.as_deref(), Some(recorded.as_str()));
    assert_eq!(accepted_keys(&erp), vec![failed.uuid.clone()]);
    assert!(!spool.exists(), "removed once delivered");
}
both!(a_changed_body_is_never_sent_and_a_lost_one_is_rendered_again);

/// A receiver that answers every POST with `status`.
async fn answering(status: u16) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let code = axum::http::StatusCode::from_u16(status).expect("status");
    let router = axum::Router::new().fallback(move || async move { (code, "{\"seen\": true}") });
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}/")
}

async fn conflict_is_delivered_and_forbidden_fails(store: Store) {
    let dir = tempdir();
    let secret = write(dir.path(), "erp.secret", SECRET);
    add_target(&store, "has-it", &answering(409).await, &secret, false).await;
    add_target(&store, "forbids", &answering(403).await, &secret, false).await;
    let batch = closed_batch(&store, "A").await;
    let report = run_once(&store, &sender(dir.path())).await;
    assert_eq!(report.delivered.len(), 1, "{report:?}");
    assert_eq!(report.failed.len(), 1, "{report:?}");
    let has_it = store.delivery(batch, "has-it").await.expect("delivery");
    assert_eq!(has_it.state, DeliveryState::Delivered);
    assert_eq!(has_it.last_status, Some(409));
    assert_eq!(has_it.last_reply.as_deref(), Some("{\"seen\": true}"));
    let forbids = store.delivery(batch, "forbids").await.expect("delivery");
    assert_eq!(forbids.state, DeliveryState::Failed);
    assert_eq!(forbids.attempts, 1, "not retried");
}
both!(conflict_is_delivered_and_forbidden_fails);
