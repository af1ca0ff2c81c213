//! The uploads, users and packing pages in real headless Chromium (issue 16 tests), on
//! `tracemark demo --http` after a short run (36 units: about a second of line) that leaves a
//! closed batch delivered to the demo's ERP receiver. Then, in the same store: a delivery that
//! failed, and an open carton of three units. An administrator adds an integrator on the users
//! page and makes a token for them (shown once), then revokes it; the new user logs in and retries the failed
//! delivery on the uploads page; QA takes a unit out of the carton on the packing page and its
//! count drops. Each page's screenshot is kept for docs/hmi.md. Without Chromium this prints
//! `skipped: …` and passes, unless `CI` is set.

use std::process::Command;
use std::time::Duration;

use tracemark::app::uploads::{self, NewTarget};
use tracemark::app::users::{self, Role};
use tracemark::app::{batches, packing};
use tracemark_line_tests::common::browser::Browser;
use tracemark_line_tests::common::{actor, verified_batch};
use tracemark_line_tests::{Stack, one_line_at_a_time};
use tracemark_store::upload::UploadFormat;
use tracemark_store::{BatchState, NewBatch, PackageLevel, Store};

const PASSWORD: &str = "correct horse battery";
/// The demo's product (line-configs/demo.toml), which the run registered.
const PRODUCT: &str = "demo-widget";
/// How long the demo may take to run its few units and close the batch.
const RUN_END: Duration = Duration::from_secs(120);

/// Waits (polling the store under a deadline: the demo says nothing when its run ends) until
/// the demo's batch is closed.
async fn wait_closed(store: &Store) {
    let deadline = tokio::time::Instant::now() + RUN_END;
    loop {
        let all = batches::list(store).await.expect("the batches");
        if all.iter().any(|b| b.state == BatchState::Closed) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the demo's batch did not close: {all:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A closed batch whose delivery to target `erp` failed (the target was removed while it was
/// pending) and may be retried (the target is back): the batch's number.
async fn failed_delivery(store: &Store) -> i64 {
    let bench = actor();
    let target = || NewTarget {
        name: "erp".into(),
        // Port 9 (discard): an attempt fails and stays pending.
        url: "http://127.0.0.1:9/in".into(),
        format: UploadFormat::Platform,
        secret_file: None,
        ed25519_key_file: None,
        ca_file: None,
        gzip: false,
    };
    uploads::add_target(store, &bench, target())
        .await
        .expect("a target");
    let batch = batches::create(
        store,
        &bench,
        &NewBatch {
            product_id: PRODUCT.into(),
            lot: "UP1".into(),
            quantity: 10,
            production_date: "2025-03-01".into(),
            expiry_date: None,
            line: None,
            simulated: false,
        },
    )
    .await
    .expect("a batch");
    for state in [BatchState::Running, BatchState::Closed] {
        batches::set_state(store, &bench, batch.id, state)
            .await
            .expect("run and close the batch");
    }
    uploads::remove_target(store, &bench, "erp")
        .await
        .expect("remove the target");
    uploads::add_target(store, &bench, target())
        .await
        .expect("the target again");
    batch.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_integrator_and_qa_use_their_pages() {
    let Some(browser) = Browser::start("hmi-admin").await else {
        return;
    };
    let _line = one_line_at_a_time().await;
    let site = Stack::Embedded
        .site()
        .await
        .expect("the embedded stack needs no service");
    let store = site.open().await;
    users::add_user(&store, &actor(), "boss", Role::Admin, PASSWORD)
        .await
        .expect("an administrator");
    users::add_user(&store, &actor(), "wang.fang", Role::Qa, PASSWORD)
        .await
        .expect("a QA user");
    store.close().await;

    let demo = site
        .demo_with_http(&["--units", "36", "--speed", "3000"])
        .await;
    let mut child = demo.child;
    let base = demo.url.trim_end_matches('/').to_owned();

    // After the run, beside the demo's batch: a failed delivery and an open carton.
    let store = site.open().await;
    wait_closed(&store).await;
    let failed = failed_delivery(&store).await;
    let (batch, codes) = verified_batch(&store, PRODUCT, "L2", 3).await;
    let carton = packing::new_package(&store, &actor(), batch.id, PackageLevel::Carton, Some(4))
        .await
        .expect("a carton (the demo set the SSCC coding)")
        .sscc;
    packing::add(&store, &actor(), &carton, &codes)
        .await
        .expect("pack three units");

    browser
        .guard(async {
            // The administrator adds an integrator, and makes them a token (shown once).
            browser.log_in(&base, "boss", PASSWORD).await;
            browser.open(&format!("{base}/users")).await;
            browser.type_into("#add-user-name", "zhou.int").await;
            browser
                .wait_for("#add-user-role")
                .await
                .select_by_value("integrator")
                .await
                .expect("choose the role");
            browser.type_into("#add-user-password", PASSWORD).await;
            browser.click("#add-user-submit").await;
            let row = "tr[data-user='zhou.int']";
            browser
                .wait_text(&format!("{row} td.role"), "the new integrator", |t| {
                    t == "integrator"
                })
                .await;
            browser.click(&format!("{row} [data-create-token]")).await;
            let token = browser
                .wait_text("#new-token-value", "the new token", |t| !t.is_empty())
                .await;
            let _ = browser.screenshot("users").await;
            let session = reqwest::Client::new()
                .get(format!("{base}/api/v1/session"))
                .bearer_auth(token.trim())
                .send()
                .await
                .expect("an answer");
            assert_eq!(session.status().as_u16(), 200, "the token works");

            // ... and revokes it from the token list (after the page's confirmation): the
            // token is refused from then on.
            browser.open(&format!("{base}/users")).await;
            let token_row = "tr[data-token-user='zhou.int']";
            browser
                .client()
                .execute("window.confirm = () => true;", Vec::new())
                .await
                .expect("accept the page's confirmation");
            browser
                .click(&format!("{token_row} [data-revoke-token]"))
                .await;
            browser
                .wait_text(&format!("{token_row} td.token-state"), "revoked", |t| {
                    t == "revoked"
                })
                .await;
            let refused = reqwest::Client::new()
                .get(format!("{base}/api/v1/session"))
                .bearer_auth(token.trim())
                .send()
                .await
                .expect("an answer");
            assert_eq!(
                refused.status().as_u16(),
                401,
                "the revoked token is refused"
            );
            browser.log_out().await;

            // The new integrator logs in and retries the failed delivery.
            browser.log_in(&base, "zhou.int", PASSWORD).await;
            browser.open(&format!("{base}/uploads")).await;
            let delivery = format!("tr[data-delivery='{failed}/erp']");
            browser
                .wait_text(&format!("{delivery} td.state"), "failed", |t| t == "failed")
                .await;
            let _ = browser.screenshot("uploads").await;
            browser
                .click(&format!("{delivery} [data-retry-batch]"))
                .await;
            browser
                .wait_text(&format!("{delivery} td.state"), "pending again", |t| {
                    t == "pending"
                })
                .await;
            assert!(
                !browser
                    .displayed(&format!("{delivery} [data-retry-batch]"))
                    .await
            );
            // No user controls for an integrator.
            browser.open(&format!("{base}/users")).await;
            assert!(!browser.displayed("#add-user").await);
            browser.log_out().await;

            // QA takes a unit out of the carton: its count drops from 3 to 2.
            browser.log_in(&base, "wang.fang", PASSWORD).await;
            browser.open(&format!("{base}/packing?sscc={carton}")).await;
            browser
                .wait_text("#package-count", "3 units", |t| t == "3")
                .await;
            let _ = browser.screenshot("packing").await;
            browser
                .click(&format!("tr[data-unit='{}'] [data-remove]", codes[0]))
                .await;
            browser
                .wait_text("#package-count", "2 units", |t| t == "2")
                .await;
            assert!(
                !browser
                    .displayed(&format!("tr[data-unit='{}']", codes[0]))
                    .await
            );
            // A refusal shows the API's problem on the page: an open carton cannot be
            // reopened (409).
            browser.click("[data-pack-op='reopen']").await;
            browser
                .wait_text("#problem", "the refusal", |t| t.starts_with("409"))
                .await;
        })
        .await;
    browser.close().await;
    let contents = packing::show(&store, &carton).await.expect("the carton");
    assert_eq!(contents.units, codes[1..].to_vec());
    store.close().await;

    let pid = child.id().expect("the demo runs until Ctrl-C");
    let _ = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status();
    let _ = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
    site.finish().await;
}
