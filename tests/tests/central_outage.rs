//! A central store outage in the middle of a batch (issue 18, docs/plant.md "Riding through a
//! central outage"), on both stacks: the line runs on through it on the codes in hand, its
//! records wait in the edge journal and reach the store once it answers — also when the
//! controller is killed with `kill -9` during the outage and started again. Nothing is lost or
//! issued twice, the batch balances against ground truth, the audit chain verifies and the
//! journal is empty afterwards. The line packs by case camera and labels its packages (the
//! demo line): packing waits for the journal to reach the store, then packs every case.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use sqlx::Connection;
use tracemark_line_tests::{Stack, assert_clean_run, on_both_stacks, one_line_at_a_time};
use tracemark_store::journal::Journal;

/// The demo line, with its case camera packing station and label station, written into the
/// site's directory.
fn config(site: &tracemark_line_tests::Site) -> String {
    let demo = std::fs::read_to_string(tracemark_line_tests::line_config("demo.toml"))
        .expect("the demo config");
    assert!(
        demo.contains("[packing.label]"),
        "the demo line packs and labels"
    );
    let path = site.dir.path().join("line.toml");
    tracemark_line_tests::write_line_config(&path, &demo);
    path.display().to_string()
}

/// `text` without its ANSI colour sequences (`ESC [ … m`), as the human log format writes them.
fn without_ansi(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

/// Records the journal at `path` holds, read without writing it (the controller owns it).
async fn journaled(path: &Path) -> u64 {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .read_only(true);
    let Ok(mut conn) = sqlx::SqliteConnection::connect_with(&options).await else {
        return 0;
    };
    let records: Result<i64, _> =
        sqlx::query_scalar("SELECT COALESCE(SUM(records), 0) FROM entries")
            .fetch_one(&mut conn)
            .await;
    records.map_or(0, |n| u64::try_from(n).unwrap_or(0))
}

async fn assert_after(site: &tracemark_line_tests::Site, journal: &Path) {
    let store = site.open().await;
    let report = store.verify_audit().await.expect("verify");
    assert!(report.first_bad.is_none(), "{report:?}");
    let batch = store.batches().await.expect("batches")[0].clone();
    let counts = store
        .issued_counts(&batch.product_id)
        .await
        .expect("counts");
    assert_eq!(counts.codes, counts.issued, "every code issued once");
    store.close().await;
    let journal = Journal::open(journal).await.expect("the journal");
    assert_eq!(
        journal.size().await.expect("size").records,
        0,
        "the journal is forwarded"
    );
}

/// A 4-second outage in the middle of a 400-unit batch (16 s at 1,500 units/min): the run
/// ends clean and balanced, the line never stopped and the marker never ran empty.
async fn an_outage_in_the_middle_of_a_batch(stack: Stack) {
    let Some(site) = stack.site().await else {
        return;
    };
    let _line = one_line_at_a_time().await;
    let journal = site.dir.path().join("journal.db");
    let journal_arg = journal.display().to_string();
    let config = config(&site);
    let out = site
        .run(
            "simulate",
            &[
                "--config",
                &config,
                "--units",
                "400",
                "--speed",
                "1500",
                "--store-fault",
                "outage:3s:4s",
                "--journal",
                &journal_arg,
            ],
        )
        .await;
    let s = assert_clean_run(&out, 400);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the line's records go to the edge journal"),
        "the outage met the line: {stderr}"
    );
    // Logged in the line's span (`line{line=demo…}`; the plant stack suffixes the id): a
    // process running many lines says which one it was.
    let plain = without_ansi(&stderr);
    assert!(
        plain
            .lines()
            .any(|l| l.contains("line{line=demo") && l.contains("go to the edge journal")),
        "the writer's warning names its line: {plain}"
    );
    assert_eq!(s["line"]["line_stops"], 0, "{s:#}");
    assert_eq!(s["line"]["underruns"], 0, "{s:#}");
    // Packing waited for the journal and then packed every case: none failed (store_errors,
    // above), none left loose, every carton holds the units physically in its case.
    assert_eq!(s["aggregation_disagreements"], 0, "{s:#}");
    assert_eq!(s["loose"], 0, "{s:#}");
    assert!(s["cartons"].as_u64().unwrap_or(0) >= 400 / 12, "{s:#}");
    assert_eq!(s["labels"]["failed"], 0, "{s:#}");
    assert_after(&site, &journal).await;
    site.finish().await;
}

/// `kill -9` while the store is away and records wait in the journal; the next run forwards
/// them before it settles the batch, and the batch closes balanced.
async fn sigkill_during_an_outage_then_restart(stack: Stack) {
    let Some(site) = stack.site().await else {
        return;
    };
    let _line = one_line_at_a_time().await;
    let journal = site.dir.path().join("journal.db");
    let journal_arg = journal.display().to_string();
    let config = config(&site);
    let mut child = site
        .command(
            "simulate",
            &[
                "--config",
                &config,
                "--units",
                "1500",
                "--speed",
                "1500",
                "--store-fault",
                "outage:3s:60s",
                "--journal",
                &journal_arg,
            ],
        )
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(site.stderr_path()).expect("stderr file"))
        .spawn()
        .expect("start the line");
    // Killed once a few hundred records wait in the journal (the journal is the signal).
    let mut poll = tokio::time::interval(Duration::from_millis(100));
    let waited = tokio::time::timeout(Duration::from_secs(60), async {
        while journaled(&journal).await < 300 {
            poll.tick().await;
        }
    })
    .await;
    assert!(
        waited.is_ok(),
        "nothing journaled: {}",
        std::fs::read_to_string(site.stderr_path()).unwrap_or_default()
    );
    child.start_kill().expect("SIGKILL the controller");
    child.wait().await.expect("reap it");
    assert!(
        journaled(&journal).await >= 300,
        "the journal kept its records"
    );

    let out = site
        .run(
            "simulate",
            &[
                "--config",
                &config,
                "--units",
                "100",
                "--speed",
                "1500",
                "--journal",
                &journal_arg,
            ],
        )
        .await;
    assert_clean_run(&out, 100);
    assert_after(&site, &journal).await;
    site.finish().await;
}

on_both_stacks!(
    an_outage_in_the_middle_of_a_batch,
    sigkill_during_an_outage_then_restart
);
