//! The HMI in real headless Chromium (issue 16 tests), on `tracemark demo --http` with users
//! made beforehand: an operator logs in and sees the line's count rise live, pauses and resumes
//! the batch; the operator sees no QA controls and the API refuses them (403); QA logs in,
//! destroys a reject and sees the reconciliation change; the language switch turns the pages
//! to Chinese. Chromium comes from Debian (`scripts/install-chromium.sh`); without it this prints
//! `skipped: …` and passes, unless `CI` is set. A failing step keeps a screenshot.

use std::process::Command;
use std::time::Duration;

use tracemark::app::users::{self, Role};
use tracemark_line_tests::common::actor;
use tracemark_line_tests::common::browser::Browser;
use tracemark_line_tests::{Stack, one_line_at_a_time};

/// 1,500 units at 3,000 a minute with heavy camera damage: half a minute of line, long enough to
/// log in and see the count twice, with rejects left for QA (`--keep-open`).
const UNITS: u64 = 1500;
const PASSWORD: &str = "correct horse battery";
const END: Duration = Duration::from_secs(120);

fn number(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_and_qa_work_the_line_from_the_browser() {
    let Some(browser) = Browser::start("hmi").await else {
        return;
    };
    let _line = one_line_at_a_time().await;
    let site = Stack::Embedded
        .site()
        .await
        .expect("the embedded stack needs no service");
    let store = site.open().await;
    users::add_user(&store, &actor(), "li.wei", Role::Operator, PASSWORD)
        .await
        .expect("an operator");
    users::add_user(&store, &actor(), "zhang.qa", Role::Qa, PASSWORD)
        .await
        .expect("a QA user");
    let operator_token = users::create_token(&store, &actor(), "li.wei", Some(1))
        .await
        .expect("a token")
        .token;
    store.close().await;

    let demo = site
        .demo_with_http(&[
            "--units",
            &UNITS.to_string(),
            "--speed",
            "3000",
            "--faults",
            "heavy",
            "--keep-open",
        ])
        .await;
    let mut child = demo.child;
    let base = demo.url.trim_end_matches('/').to_owned();

    browser
        .guard(async {
            // The operator: the count rises live on the overview.
            browser.log_in(&base, "li.wei", PASSWORD).await;
            let first = browser
                .wait_text(".line-panel .units", "units", |t| {
                    number(t).is_some_and(|n| n > 0)
                })
                .await;
            let first = number(&first).unwrap_or(0);
            browser
                .wait_text(".line-panel .units", "a rising count", |t| {
                    number(t).is_some_and(|n| n > first)
                })
                .await;
            // Kept beside the failure screenshots, for docs/hmi.md.
            let _ = browser.screenshot("overview").await;
            // Pause and resume the batch from its page.
            let batch = browser
                .text(".line-panel .batch-id")
                .await
                .trim()
                .to_owned();
            browser.open(&format!("{base}/batches/{batch}")).await;
            browser
                .click(".controls[data-batch] [data-action=paused]")
                .await;
            browser
                .wait_text("#batch-state", "paused", |t| t == "paused")
                .await;
            assert_eq!(
                browser
                    .wait_for("#batch-state")
                    .await
                    .attr("data-state")
                    .await
                    .expect("the state attribute")
                    .as_deref(),
                Some("paused")
            );
            browser
                .click(".controls[data-batch] [data-action=running]")
                .await;
            browser
                .wait_text("#batch-state", "running", |t| t == "running")
                .await;
            // No QA controls for an operator, and the API refuses them.
            browser.open(&format!("{base}/qa?batch={batch}")).await;
            assert!(!browser.displayed("[data-destroy]").await);
            let refused = reqwest::Client::new()
                .post(format!("{base}/api/v1/qa/destroy"))
                .bearer_auth(&operator_token)
                .json(&serde_json::json!({"codes": ["x"]}))
                .send()
                .await
                .expect("an answer");
            assert_eq!(refused.status().as_u16(), 403);
            browser.click("#logout").await;
            browser.wait_for("#login-form").await;

            // The run ends; QA destroys a reject and the reconciliation shows it.
            browser.log_in(&base, "zhang.qa", PASSWORD).await;
            // Heavy damage rejects about one unit in seven: the page, reloaded, shows some
            // awaiting QA within seconds (a poll under a deadline: the page does not push).
            let deadline = tokio::time::Instant::now() + END;
            loop {
                browser.open(&format!("{base}/batches/{batch}")).await;
                if number(&browser.text("#rec-awaiting-qa").await).is_some_and(|n| n > 0) {
                    break;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "no reject awaiting QA"
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            let destroyed_before = number(&browser.text("#rec-destroyed").await).unwrap_or(0);
            browser.open(&format!("{base}/qa?batch={batch}")).await;
            assert!(browser.displayed("[data-destroy]").await);
            let _ = browser.screenshot("qa").await;
            browser.click("[data-destroy]").await;
            browser.wait_for("#rejects").await;
            browser.open(&format!("{base}/batches/{batch}")).await;
            browser
                .wait_text("#rec-destroyed", "one more destroyed", |t| {
                    number(t).is_some_and(|n| n == destroyed_before + 1)
                })
                .await;

            // The language switch.
            let select = browser.wait_for("#language").await;
            select
                .select_by_value("zh-CN")
                .await
                .expect("choose Chinese");
            browser
                .wait_text("header nav a[href='/batches']", "批次", |t| t == "批次")
                .await;
            let _ = browser.screenshot("batch-zh-CN").await;
        })
        .await;
    browser.close().await;

    let pid = child.id().expect("the demo runs until Ctrl-C");
    let _ = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status();
    let _ = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
    site.finish().await;
}
