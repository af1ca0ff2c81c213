//! `tracemark demo --http ADDR`: the live view answers while the line runs, holds the report
//! after it, and Ctrl-C ends the process with the report printed.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tracemark_line_tests::common::{bin, sqlite_url, tempdir};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_serves_its_live_view_and_report_over_http() {
    let dir = tempdir();
    let mut child = Command::new(bin())
        .args([
            "demo",
            "--units",
            "80",
            "--speed",
            "3000",
            "--faults",
            "none",
            "--json",
            "--http",
            "127.0.0.1:0",
        ])
        .env("TRACEMARK_DB", sqlite_url(dir.path()))
        .env("TRACEMARK_USER", "tester")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tracemark demo");
    // The first thing the demo says on stderr, once it listens, is where; once its report is
    // in the view, it says the view stays up.
    let stderr = child.stderr.take().expect("stderr");
    let (url_tx, url_rx) = tokio::sync::oneshot::channel();
    let (reported_tx, mut reported) = tokio::sync::oneshot::channel();
    let stderr_reader = std::thread::spawn(move || {
        let mut url_tx = Some(url_tx);
        let mut reported_tx = Some(reported_tx);
        let mut text = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("http: ")
                && let Some(tx) = url_tx.take()
            {
                let _ = tx.send(url.to_owned());
            }
            if line.starts_with("the live view stays on")
                && let Some(tx) = reported_tx.take()
            {
                let _ = tx.send(());
            }
            text.push_str(&line);
            text.push('\n');
        }
        text
    });
    let url = tokio::time::timeout(Duration::from_secs(60), url_rx)
        .await
        .expect("the demo names its address within a minute")
        .expect("the demo names its address");

    let client = reqwest::Client::new();
    let page = client
        .get(format!("{url}live"))
        .send()
        .await
        .expect("GET /live")
        .text()
        .await
        .expect("page");
    assert!(page.contains("/api/line") && page.contains("Rejects by reason"));

    // The line's figures while it runs, sampled (the page polls too; 80 units take under two
    // seconds) until the demo says its report is in; then the report: the server keeps both.
    let mut sample = tokio::time::interval(Duration::from_millis(100));
    let mut seen_running = false;
    let finished = tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            tokio::select! {
                reported = &mut reported => return reported,
                _ = sample.tick() => {
                    let view = line_view(&client, &url).await;
                    seen_running |= view["report"].is_null()
                        && view["line"]["printed"].as_u64().unwrap_or(0) > 0;
                }
            }
        }
    })
    .await;
    finished
        .expect("the demo reports within two minutes")
        .expect("the demo says its report is in");
    let view = line_view(&client, &url).await;
    assert!(seen_running, "the view showed the line running: {view:#}");
    let report = &view["report"];
    assert_eq!(report["units"], 80, "{view:#}");
    assert_eq!(report["escapes"], 0, "{view:#}");
    assert_eq!(report["balanced"], true, "{view:#}");
    assert_eq!(view["line"]["verified"], 80, "{view:#}");

    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let out = child.wait_with_output().expect("the demo ends on Ctrl-C");
    let stderr = stderr_reader.join().unwrap_or_default();
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary: Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("JSON summary");
    assert_eq!(&summary, report, "the page's report is the printed one");
}

/// `GET /api/line`, which always knows the batch's target.
async fn line_view(client: &reqwest::Client, url: &str) -> Value {
    let view: Value = client
        .get(format!("{url}api/line"))
        .send()
        .await
        .expect("GET /api/line")
        .json()
        .await
        .expect("JSON");
    assert_eq!(view["units_target"], 80, "{view:#}");
    view
}
