//! The demo ends by delivering its closed batch to an ERP receiver it starts for the run
//! (issue 15 item 5), through a target that lives only for that run: nothing is left
//! configured for a later `upload run` to chase. A target the user configured gets the batch
//! queued by the close like any other, and `tracemark upload run --once` delivers it — the
//! outbox end to end through the command line, on both stacks.

use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use tracemark_line_tests::common;
use tracemark_line_tests::{Site, Stack, assert_clean_run, on_both_stacks, one_line_at_a_time};
use tracemark_sim::erp::signature::SigningSecret;
use tracemark_sim::erp::{ErpConfig, ErpSim};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Guard against a hung child; never a synchronisation point.
const GUARD: Duration = Duration::from_secs(120);

/// `tracemark ARGS…` on the site's store (no `--mqtt`, no `--json` added).
async fn tracemark(site: &Site, args: &[&str]) -> Output {
    let run = tokio::process::Command::new(common::bin())
        .args(args)
        .env("TRACEMARK_DB", &site.db)
        .env("TRACEMARK_USER", "tester")
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(GUARD, run)
        .await
        .expect("tracemark ends")
        .expect("run tracemark")
}

fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

async fn demo_delivers_its_batch_and_queues_it_for_configured_targets(stack: Stack) {
    let Some(site) = stack.site().await else {
        return;
    };
    let (addr, erp) = ErpSim::start(ErpConfig::new(
        SigningSecret::parse(SECRET).expect("secret"),
    ))
    .await
    .expect("start the user's ERP receiver");
    let secret_file = site.dir.path().join("erp.secret");
    std::fs::write(&secret_file, SECRET).expect("write the secret");
    let url = format!("http://{addr}/epcis");
    let added = tracemark(
        &site,
        &[
            "upload",
            "target",
            "add",
            "erp",
            "--url",
            &url,
            "--format",
            "epcis-json",
            "--secret-file",
            secret_file.to_str().expect("a UTF-8 path"),
        ],
    )
    .await;
    assert!(added.status.success(), "{added:?}");

    let demo = {
        let _line = one_line_at_a_time().await;
        site.run("demo", &["--units", "60", "--speed", "3000"])
            .await
    };
    let summary = assert_clean_run(&demo, 60);
    let upload = &summary["upload"];
    assert_eq!(upload["delivery"]["status"], 200, "{summary:#}");
    assert_eq!(upload["delivery"]["attempts"], 1, "{summary:#}");
    assert_eq!(upload["same_body"], true, "{summary:#}");
    // The units' commissioning (an event per audit event that printed some: the line's
    // writer groups them, docs/upload.md), and for each carton and pallet its SSCC's
    // commissioning and its aggregation.
    let packages =
        summary["cartons"].as_u64().unwrap_or(0) + summary["pallets"].as_u64().unwrap_or(0);
    assert!(packages > 0, "{summary:#}");
    assert!(
        upload["events"].as_u64().unwrap_or(0) > 2 * packages,
        "{summary:#}"
    );
    assert_eq!(summary["upload_queued"], 1, "{summary:#}");
    // The demo's receiver is gone with the run, and so is its target.
    let targets = json_of(&tracemark(&site, &["upload", "target", "list", "--json"]).await);
    let names: Vec<&str> = targets
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["erp"]);

    // The demo's dock shipped the packed batch through the dispatch station; the shipment is a
    // document of its own, queued beside the batch's (docs/shipping.md "What upload sends").
    let dock = &summary["dispatch"];
    assert!(
        dock["order"]
            .as_str()
            .is_some_and(|o| o.starts_with("DEMO-")),
        "{summary:#}"
    );
    assert!(
        dock["shipment"]["quantity"].as_u64().unwrap_or(0) > 0,
        "{summary:#}"
    );
    let status = json_of(&tracemark(&site, &["upload", "status", "--json"]).await);
    let deliveries = status.as_array().expect("an array");
    assert_eq!(deliveries.len(), 2, "{status:#}");
    assert!(
        deliveries.iter().all(|d| d["state"] == "pending"),
        "{status:#}"
    );
    let batch_delivery = deliveries
        .iter()
        .find(|d| d["shipment_id"].is_null())
        .expect("the batch's delivery");
    assert_eq!(
        batch_delivery["batch_id"], upload["delivery"]["batch_id"],
        "{status:#}"
    );
    assert!(
        deliveries
            .iter()
            .any(|d| d["shipment_id"] == dock["shipment"]["id"]),
        "{status:#}"
    );
    let key = batch_delivery["uuid"].as_str().expect("a key").to_owned();
    assert_ne!(
        upload["delivery"]["uuid"].as_str(),
        Some(key.as_str()),
        "the demo's delivery has its own key"
    );

    let spool = site.dir.path().join("spool");
    let run = json_of(
        &tracemark(
            &site,
            &[
                "upload",
                "run",
                "--once",
                "--json",
                "--spool-dir",
                spool.to_str().expect("a UTF-8 path"),
            ],
        )
        .await,
    );
    assert_eq!(
        run["delivered"].as_array().map(Vec::len),
        Some(2),
        "{run:#}"
    );
    assert_eq!(run["failed"].as_array().map(Vec::len), Some(0), "{run:#}");
    let accepted = erp.accepted();
    assert_eq!(accepted.len(), 2);
    let batch_document = accepted
        .iter()
        .find(|a| a.key == key)
        .expect("the batch's document");
    // An EPCIS document names its batch by the lot (the ILMD's lotNumber).
    assert!(batch_document.batch_id.is_some(), "{batch_document:?}");
    assert_eq!(
        batch_document.events,
        upload["events"].as_u64().map(|e| e as usize),
        "the same document the demo's receiver took"
    );
    let status = json_of(&tracemark(&site, &["upload", "status", "--json"]).await);
    assert!(
        status
            .as_array()
            .is_some_and(|all| all.iter().all(|d| d["state"] == "delivered")),
        "{status:#}"
    );
    // Nothing left: a second run makes no attempt.
    let again = json_of(
        &tracemark(
            &site,
            &[
                "upload",
                "run",
                "--once",
                "--json",
                "--spool-dir",
                spool.to_str().expect("a UTF-8 path"),
            ],
        )
        .await,
    );
    assert_eq!(again["attempts"], 0, "{again:#}");
    site.finish().await;
}

on_both_stacks!(demo_delivers_its_batch_and_queues_it_for_configured_targets);
