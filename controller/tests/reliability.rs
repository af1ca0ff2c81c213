//! Reliability: allocation survives SIGKILL at random moments, and concurrent controllers on
//! one PostgreSQL never collide.

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;

const KILLS: usize = 20;

fn spawn_allocate(url: &str, out: &Path, count: u32, chunk: u32) -> Child {
    Command::new(bin())
        .args(["codes", "allocate", "--product", "cable", "--chunk"])
        .arg(chunk.to_string())
        .arg("--count")
        .arg(count.to_string())
        .arg("--out")
        .arg(out)
        .env("TRACEMARK_DB", url)
        .env("TRACEMARK_USER", "tester")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tracemark codes allocate")
}

/// The child's URL: on PostgreSQL its sessions carry `app` as application name.
fn child_url(url: &str, app: &str) -> String {
    if url.starts_with("postgres") {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}application_name={app}")
    } else {
        url.to_owned()
    }
}

/// Waits until the server has ended every session named `app` (PostgreSQL only; SQLite has no
/// server, and a killed process's transaction is rolled back by the next opener).
async fn wait_for_sessions_to_end(url: &str, app: &str) {
    if !url.starts_with("postgres") {
        return;
    }
    let pool = sqlx::PgPool::connect(url).await.expect("connect");
    for _ in 0..2_000 {
        let live: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1")
                .bind(app)
                .fetch_one(&pool)
                .await
                .expect("read pg_stat_activity");
        if live == 0 {
            pool.close().await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the killed child's sessions ({app}) did not end within 10 s");
}

/// Complete lines of an export; a line cut by the kill is ignored (its code is in the store).
fn exported(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = match text.rfind('\n') {
        Some(end) => &text[..=end],
        None => "",
    };
    complete.lines().map(str::to_owned).collect()
}

async fn stored_codes(url: &str) -> Vec<String> {
    let store = open(url).await;
    let counts = store.issued_counts("cable").await.expect("counts");
    let codes = counts.codes;
    assert_eq!(
        (codes, counts.reserved, counts.next_counter),
        (counts.issued, counts.issued, counts.issued),
        "every counter below next_counter is in a block, issued as a code: they commit together"
    );
    let report = store.verify_audit().await.expect("verify");
    assert_eq!(
        report.first_bad, None,
        "audit chain after a kill: {report:?}"
    );
    store.close().await;
    let all: Vec<String> = if url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(url).await.expect("connect");
        let rows = sqlx::query_scalar("SELECT code FROM codes")
            .fetch_all(&pool)
            .await;
        pool.close().await;
        rows.expect("read codes")
    } else {
        let pool = sqlx::SqlitePool::connect(url).await.expect("connect");
        let rows = sqlx::query_scalar("SELECT code FROM codes")
            .fetch_all(&pool)
            .await;
        pool.close().await;
        rows.expect("read codes")
    };
    assert_eq!(all.len() as i64, codes);
    all
}

async fn kill_and_restart(url: &str, dir: &Path) {
    let store = open(url).await;
    store
        .add_product(&product("cable", "09506000134352"))
        .await
        .expect("add the product");
    store.close().await;
    let mut rng = Rng::from_env_or_time();
    let mut exported_codes: HashSet<String> = HashSet::new();
    let mut kills = 0;
    let mut runs = 0;
    while kills < KILLS {
        runs += 1;
        assert!(
            runs < KILLS * 4,
            "the child finished before being killed too often"
        );
        let out = dir.join(format!("run-{runs}.txt"));
        let app = format!("tm_kill_{runs}");
        let child_url = child_url(url, &app);
        let mut child = spawn_allocate(&child_url, &out, 1_000_000, 1 + rng.below(2000) as u32);
        // The random delay picks the moment of the kill; nothing waits on it for correctness.
        std::thread::sleep(Duration::from_millis(5 + rng.below(600)));
        if child.try_wait().expect("poll the child").is_none() {
            child.kill().expect("SIGKILL");
            kills += 1;
        }
        let status = child.wait().expect("reap the child");
        // A COMMIT the child sent just before dying may still be running on the server; the
        // restart must see the database as the child left it, so wait for its sessions to end.
        wait_for_sessions_to_end(url, &app).await;
        // Restart: the store opens, verifies, and every exported code is in it exactly once.
        let stored: HashSet<String> = stored_codes(url).await.into_iter().collect();
        for code in exported(&out) {
            assert!(
                stored.contains(&code),
                "exported {code} is not in the store"
            );
            assert!(
                exported_codes.insert(code.clone()),
                "{code} was issued twice (run {runs}, status {status:?})"
            );
        }
    }
    // After all the kills, a run to completion still works and continues the counters.
    let out = dir.join("final.txt");
    let mut child = spawn_allocate(url, &out, 1000, 100);
    let status = child.wait().expect("wait");
    assert!(status.success(), "final run: {status:?}");
    let last = exported(&out);
    assert_eq!(last.len(), 1000);
    for code in last {
        assert!(exported_codes.insert(code), "issued twice after restarts");
    }
    let verify = tracemark(url, &["audit", "verify"]);
    assert!(verify.status.success(), "{}", stderr(&verify));
    println!(
        "{kills} kills in {runs} runs, {} codes exported, {} stored",
        exported_codes.len(),
        stored_codes(url).await.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_allocation_sqlite() {
    let dir = tempdir();
    kill_and_restart(&sqlite_url(dir.path()), dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_allocation_postgres() {
    let Some(base) = pg_base_url() else { return };
    let (url, schema) = pg_schema_url(&base).await;
    let dir = tempdir();
    kill_and_restart(&url, dir.path()).await;
    drop_pg_schema(&base, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_controllers_share_one_postgres() {
    let Some(base) = pg_base_url() else { return };
    let (url, schema) = pg_schema_url(&base).await;
    let store = open(&url).await;
    store
        .add_product(&product("cable", "09506000134352"))
        .await
        .expect("add the product");
    store.close().await;
    let dir = tempdir();
    let outs = [dir.path().join("a.txt"), dir.path().join("b.txt")];
    // Small chunks make the two processes interleave many reservations.
    let children: Vec<Child> = outs
        .iter()
        .map(|out| spawn_allocate(&url, out, 20_000, 250))
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut seen = HashSet::new();
    for out in &outs {
        let codes = exported(out);
        assert_eq!(codes.len(), 20_000);
        for code in codes {
            assert!(
                seen.insert(code.clone()),
                "{code} issued to both controllers"
            );
        }
    }
    assert_eq!(stored_codes(&url).await.len(), 40_000);
    drop_pg_schema(&base, &schema).await;
}

/// A state change of many codes is one transaction: after SIGKILL at a random moment, either
/// every code moved or none did, and the audit chain holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_state_change_is_all_or_nothing() {
    let dir = tempdir();
    let url = sqlite_url(dir.path());
    let store = open(&url).await;
    store
        .add_product(&product("cable", "09506000134352"))
        .await
        .expect("add the product");
    let mut rng = Rng::from_env_or_time();
    let mut kills = 0;
    let mut round = 0;
    while kills < KILLS {
        round += 1;
        assert!(
            round < KILLS * 4,
            "the child finished before being killed too often"
        );
        let allocation = store.allocate("cable", 5000, None).await.expect("allocate");
        let codes = allocation.codes;
        let first_counter = allocation.first_counter;
        let mut child = Command::new(bin())
            .args(["codes", "set-state", "--to", "sent"])
            .args(&codes)
            .env("TRACEMARK_DB", &url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tracemark codes set-state");
        // The random delay picks the moment of the kill; nothing waits on it for correctness.
        std::thread::sleep(Duration::from_millis(rng.below(150)));
        if child.try_wait().expect("poll the child").is_none() {
            child.kill().expect("SIGKILL");
            kills += 1;
        }
        let status = child.wait().expect("reap the child");
        let pool = sqlx::SqlitePool::connect(&url).await.expect("connect");
        let states: Vec<(String, i64)> = sqlx::query_as(
            "SELECT state, COUNT(*) FROM codes WHERE counter >= $1 AND counter < $2 GROUP BY state",
        )
        .bind(first_counter)
        .bind(first_counter + 5000)
        .fetch_all(&pool)
        .await
        .expect("count states");
        pool.close().await;
        assert_eq!(
            states.len(),
            1,
            "round {round} ({status:?}): partly applied: {states:?}"
        );
        let report = store.verify_audit().await.expect("verify");
        assert_eq!(report.first_bad, None, "round {round}: {report:?}");
    }
    println!("{kills} kills in {round} rounds");
}
