//! `simulate` and `demo` keep to scratch records (issue 19): without `--db` they write a store of
//! their own and leave the production default byte for byte as it was; given a store that holds
//! production batches they refuse unless asked; what they write is marked simulated and
//! carries the device `simulate@<line>` or `demo@<line>`.

use std::path::Path;
use std::process::Output;

use tracemark_line_tests::common;
use tracemark_line_tests::{assert_clean_run, line_config, one_line_at_a_time};

/// A checksum of an SQLite store's bytes: its file and write-ahead log, if any (SipHash with
/// fixed keys: the same bytes give the same sum within the test).
fn checksum(db: &Path) -> (usize, u64) {
    use std::hash::{DefaultHasher, Hasher};
    let mut bytes = std::fs::read(db).expect("read the store");
    let wal = db.with_extension("db-wal");
    if let Ok(more) = std::fs::read(&wal) {
        bytes.extend(more);
    }
    let mut hasher = DefaultHasher::new();
    hasher.write(&bytes);
    (bytes.len(), hasher.finish())
}

/// A production store in `dir/tracemark.db` (the default `--db`): a product and one batch the
/// plant registered, written by the `tracemark` commands an integrator would use (processes
/// that have ended, so the file is at rest when its checksum is taken).
async fn production_store(dir: &Path) -> std::path::PathBuf {
    let steps: [&[&str]; 2] = [
        &[
            "product",
            "add",
            "--id",
            "helmet",
            "--gtin",
            "09506000139999",
            "--name",
            "Helmet",
        ],
        &[
            "batch",
            "create",
            "--product",
            "helmet",
            "--lot",
            "L2026-1",
            "--quantity",
            "100",
            "--production-date",
            "2026-12-01",
            "--line",
            "helmet-1",
        ],
    ];
    for args in steps {
        let out = tracemark_in(dir, args).await;
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    dir.join("tracemark.db")
}

/// `tracemark ARGS…` in `dir`, with no `TRACEMARK_DB`: the command picks its store.
async fn tracemark_in(dir: &Path, args: &[&str]) -> Output {
    tokio::process::Command::new(common::bin())
        .args(args)
        .current_dir(dir)
        .env_remove("TRACEMARK_DB")
        .env("TRACEMARK_USER", "integrator")
        .kill_on_drop(true)
        .output()
        .await
        .expect("run tracemark")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_without_db_leaves_the_production_store_byte_identical() {
    let _line = one_line_at_a_time().await;
    let dir = common::tempdir();
    let production = production_store(dir.path()).await;
    let before = checksum(&production);
    let config = line_config("demo.toml");
    let config = config.to_str().expect("a UTF-8 path");
    let out = tracemark_in(
        dir.path(),
        &["simulate", "--config", config, "--units", "20", "--json"],
    )
    .await;
    assert_clean_run(&out, 20);
    assert_eq!(
        checksum(&production),
        before,
        "simulate wrote into the production default"
    );
    // Its records are in the scratch store, marked and attributed to `simulate` on its line.
    let scratch = dir.path().join("tracemark-scratch.db");
    let store = common::open(&format!("sqlite://{}", scratch.display())).await;
    let batches = store.batches().await.expect("batches");
    assert_eq!(batches.len(), 1, "{batches:?}");
    assert!(batches[0].simulated, "{:?}", batches[0]);
    let events = store.events(0, 100_000).await.expect("events");
    let by_simulate = events
        .iter()
        .filter(|e| e.device == "simulate@demo" && e.user == "integrator")
        .count();
    assert!(by_simulate > 0, "no event from device simulate@demo");
    assert!(
        events
            .iter()
            .filter(|e| e.kind.starts_with("batch.") || e.kind == "codes.transition")
            .all(|e| e.device == "simulate@demo"),
        "every batch and code event of the run is the simulation's"
    );
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_refuses_a_store_with_production_batches_unless_asked() {
    let _line = one_line_at_a_time().await;
    let dir = common::tempdir();
    let production = production_store(dir.path()).await;
    let url = format!("sqlite://{}", production.display());
    let events = || async {
        let store = common::open(&url).await;
        let events = store.events(0, 100_000).await.expect("events");
        store.close().await;
        events
    };
    let before = events().await;
    let config = line_config("demo.toml");
    let config = config.to_str().expect("a UTF-8 path");
    let refused = tracemark_in(
        dir.path(),
        &[
            "simulate", "--db", &url, "--config", config, "--units", "20",
        ],
    )
    .await;
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{err}");
    assert!(
        err.contains("1 production batch") && err.contains("--allow-production-store"),
        "{err}"
    );
    assert_eq!(events().await, before, "a refusal records nothing");

    // Asked explicitly, it runs there, and its batch is marked simulated.
    let allowed = tracemark_in(
        dir.path(),
        &[
            "simulate",
            "--db",
            &url,
            "--allow-production-store",
            "--config",
            config,
            "--units",
            "20",
            "--json",
        ],
    )
    .await;
    assert_clean_run(&allowed, 20);
    let store = common::open(&url).await;
    let batches = store.batches().await.expect("batches");
    let flags: Vec<(String, bool)> = batches
        .iter()
        .map(|b| (b.lot.clone(), b.simulated))
        .collect();
    assert_eq!(flags.len(), 2, "{flags:?}");
    assert!(flags.contains(&("L2026-1".to_owned(), false)), "{flags:?}");
    assert_eq!(flags.iter().filter(|(_, simulated)| *simulated).count(), 1);
    store.close().await;
}
