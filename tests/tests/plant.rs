//! A plant: several controllers, one per line, on one PostgreSQL (issue 18 items 3 and 4,
//! docs/plant.md "Many controllers on one PostgreSQL"). Each test makes a database of its own
//! (`TRACEMARK_TEST_PG_URL`'s server) or, for the failover, a primary and a synchronous standby
//! of its own; the controllers are processes of the built binaries, killed with SIGKILL.
//!
//! What every test checks at the end, with plain SQL (`tracemark_line_tests::plant`): no two
//! serial blocks of a product share a counter, no code text twice, every code inside its
//! block's issued range and the code rows exactly what the blocks issued, every batch's codes
//! from its own line's blocks only; `issued_counts` agrees; the audit chain verifies.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use tracemark_line_tests::common::{self, clusters::Clusters};
use tracemark_line_tests::plant::{FreshDatabase, PlantState};
use tracemark_line_tests::{assert_clean_run, line_config, one_line_at_a_time};
use tracemark_store::{CodeState, Store};

/// How often a test looks at the store the controllers write.
const POLL: Duration = Duration::from_millis(50);

/// `tracemark simulate` of line `line` making `product`, on `db`: the demo line's config with
/// the line's id and product set by `TRACEMARK_LINE__ID` and `TRACEMARK_LINE__PRODUCT`, as a
/// plant sets each controller's (docs/line-config.md). Its stderr goes to `stderr`.
fn simulate(
    db: &str,
    config: &Path,
    (line, product): (&str, &str),
    (units, speed): (u64, u32),
    stderr: &Path,
) -> tokio::process::Child {
    tokio::process::Command::new(common::bin())
        .arg("simulate")
        .arg("--config")
        .arg(config)
        .args(["--units", &units.to_string(), "--speed", &speed.to_string()])
        .arg("--json")
        .env("TRACEMARK_DB", db)
        .env("TRACEMARK_USER", "tester")
        .env("TRACEMARK_LINE__ID", line)
        .env("TRACEMARK_LINE__PRODUCT", product)
        // Several real-time lines in debug builds on a 2-core machine that runs other work too:
        // the Linx simulator's answer to a status poll came later than demo.toml's 300 ms now
        // and then (a marker fault, and the run not clean). These tests are about the store.
        .env("TRACEMARK_MARKERS__INKJET__TIMEOUT_MS", "1500")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(stderr).expect("stderr file"))
        .kill_on_drop(true)
        .spawn()
        .expect("start tracemark simulate")
}

/// Units of line `line`'s batches verified (packed ones included), if its batch exists yet.
async fn verified_on_line(store: &Store, line: &str) -> Option<i64> {
    let batches = store.batches().await.ok()?;
    let batch = batches.iter().find(|b| b.line.as_deref() == Some(line))?;
    let counts = store.batch_counts(batch.id).await.ok()?;
    Some(
        counts
            .iter()
            .filter(|(state, _)| matches!(state, CodeState::Verified | CodeState::Packed))
            .map(|(_, n)| n)
            .sum(),
    )
}

/// Waits until every line of `lines` has verified `n` units; fails after a minute with the
/// lines' stderr. The controllers announce nothing to the test: it looks at the store.
async fn wait_verified(db: &str, lines: &[&str], n: i64, stderr: &[PathBuf]) {
    let waited = tokio::time::timeout(Duration::from_secs(60), async {
        let mut poll = tokio::time::interval(POLL);
        loop {
            poll.tick().await;
            let Ok(store) = Store::open(db, common::actor()).await else {
                continue;
            };
            let mut all = true;
            for line in lines {
                all &= verified_on_line(&store, line).await.unwrap_or(0) >= n;
            }
            store.close().await;
            if all {
                return;
            }
        }
    })
    .await;
    if waited.is_err() {
        let logs: Vec<String> = stderr
            .iter()
            .map(|path| std::fs::read_to_string(path).unwrap_or_default())
            .collect();
        panic!(
            "lines {lines:?} never verified {n} units:\n{}",
            logs.join("\n---\n")
        );
    }
}

/// `tracemark audit verify` on `db` succeeds and says the chain is intact.
fn assert_audit_verifies(db: &str) {
    let out = common::tracemark(db, &["audit", "verify"]);
    let stdout = common::stdout(&out);
    assert!(
        out.status.success() && stdout.contains("audit chain ok"),
        "{stdout}{}",
        common::stderr(&out)
    );
}

/// The store's own count of `product` agrees with the rows: codes = serials issued, every
/// reserved counter below the next one.
async fn assert_issued_counts(store: &Store, product: &str, state: &PlantState) {
    let counts = store.issued_counts(product).await.expect("issued counts");
    let blocks = state.blocks.iter().filter(|b| b.product == product);
    let (issued, reserved) = blocks.fold((0, 0), |(issued, reserved), b| {
        (issued + b.issued_end - b.first, reserved + b.end - b.first)
    });
    assert_eq!(counts.codes, counts.issued, "{product}: {counts:?}");
    assert_eq!(counts.issued, issued, "{product}: {counts:?}");
    assert_eq!(counts.reserved, reserved, "{product}: {counts:?}");
    assert!(
        counts.reserved <= counts.next_counter,
        "{product}: {counts:?}"
    );
}

/// Three lines, three `tracemark simulate` processes, started at once on one empty PostgreSQL
/// database (each migrates it, each adds the product its line makes; two lines make the same
/// one). `kill -9` of one line in the middle of its batch leaves the other two running to a
/// clean end; restarted at once beside them, it resumes its batch and ends clean. No two
/// blocks overlap, every code of a batch comes from blocks its own line reserved, every batch
/// closes balanced, the audit chain verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_lines_on_one_postgres_one_killed_the_others_run_on() {
    let Some(base) = common::pg_base_url() else {
        return;
    };
    let _lines = one_line_at_a_time().await;
    let database = FreshDatabase::create(&base, "many_lines").await;
    let dir = common::tempdir();
    let db = database.url.as_str();
    let config = line_config("demo.toml");
    let lines = [
        ("plant-a", "demo-widget"),
        ("plant-b", "demo-widget"),
        ("plant-c", "widget-c"),
    ];
    // Three real-time lines (controller, twin, camera rendering and decoding each) on a 2-core
    // machine: at 900 units/min the belt takes 0.28 s from the camera to the gate, well above
    // the stalls of a loaded machine (at 1,500 a line sometimes decided a reject too late).
    let (units, speed) = (120, 900);
    let stderr: Vec<PathBuf> = lines
        .iter()
        .map(|(line, _)| dir.path().join(format!("{line}.stderr")))
        .collect();
    let started = Instant::now();
    let mut children: Vec<_> = lines
        .iter()
        .zip(&stderr)
        .map(|(line, err)| simulate(db, &config, *line, (units, speed), err))
        .collect();
    // Line b, in the middle of its batch (the others have verified as many).
    wait_verified(db, &["plant-a", "plant-b", "plant-c"], 25, &stderr).await;
    let mut killed = children.remove(1);
    killed.start_kill().expect("SIGKILL line b");
    killed.wait().await.expect("reap line b");
    let killed_at = started.elapsed();
    // Restarted at once, beside the two still running: it resumes its open batch, settles
    // what the kill left in flight, and ends clean.
    let restart = 40;
    let restarted = simulate(db, &config, lines[1], (restart, speed), &stderr[1]);
    for ((line, _), (child, err)) in [lines[0], lines[2]]
        .iter()
        .zip(children.into_iter().zip([&stderr[0], &stderr[2]]))
    {
        let out = child.wait_with_output().await.expect("the line ends");
        let out = with_stderr(out, err);
        let s = assert_clean_run(&out, units);
        assert_eq!(s["line_id"], *line, "{s:#}");
        assert_eq!(s["closed_balanced"], true, "{s:#}");
        // demo.toml packs: the lines' cartons take SSCCs from the one counter they share.
        assert!(s["cartons"].as_u64().unwrap_or(0) > 0, "{s:#}");
        assert_eq!(s["aggregation_disagreements"], 0, "{s:#}");
    }
    let others_done = started.elapsed();
    let out = restarted.wait_with_output().await.expect("line b ends");
    let s = assert_clean_run(&with_stderr(out, &stderr[1]), restart);
    assert_eq!(s["line_id"], "plant-b", "{s:#}");
    assert!(
        s["recovered"]["voided"].as_i64().unwrap_or(0)
            + s["recovered"]["rejected_late"].as_i64().unwrap_or(0)
            > 0,
        "the kill left nothing in flight to settle: {s:#}"
    );
    println!(
        "killed line b at {:.1} s, lines a and c done at {:.1} s, b's restart done at {:.1} s",
        killed_at.as_secs_f64(),
        others_done.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );

    let store = common::open(db).await;
    let batches = store.batches().await.expect("batches");
    assert_eq!(
        batches.len(),
        3,
        "one batch per line, b's resumed: {batches:?}"
    );
    for batch in &batches {
        let report = tracemark::app::batches::report(&store, batch.id)
            .await
            .expect("batch report");
        assert!(
            report.reconciliation.balanced,
            "batch {} of line {:?}: {:?}",
            batch.id, batch.line, report.reconciliation
        );
    }
    let state = PlantState::read(db).await;
    state.assert_consistent();
    state.assert_batches_issued_by_their_own_line("simulate");
    // Line b's restart took a block of its own: the rest of the block the kill abandoned is
    // never issued, by it or by line a on the same product.
    let owners = |product: &str| {
        state
            .blocks
            .iter()
            .filter(|b| b.product == product)
            .map(|b| b.owner.as_str())
            .collect::<Vec<_>>()
    };
    let demo = owners("demo-widget");
    assert_eq!(
        demo.iter().filter(|o| **o == "simulate@plant-b").count(),
        2,
        "{demo:?}"
    );
    assert!(demo.contains(&"simulate@plant-a"), "{demo:?}");
    assert_eq!(owners("widget-c"), ["simulate@plant-c"]);
    for product in ["demo-widget", "widget-c"] {
        assert_issued_counts(&store, product, &state).await;
    }
    // The two products have GTINs of their own (`commissioning::demo_gtin`).
    let products = store.products().await.expect("products");
    assert_eq!(products.len(), 2, "{products:?}");
    assert_ne!(products[0].key, products[1].key);
    store.close().await;
    assert_audit_verifies(db);
    database.drop_now().await;
}

/// `out` with the stderr written to `path` (the child's stderr went to a file, so a failure
/// message shows it).
fn with_stderr(mut out: Output, path: &Path) -> Output {
    out.stderr = std::fs::read(path).unwrap_or_default();
    out
}

/// How one of the four controllers of [`four_controllers_one_product_random_kill_9`]
/// allocates.
#[derive(Debug, Clone, Copy)]
enum Allocator {
    /// The line's path (`line::feeder`): reserve a block of 10,000, issue 500 at a time from
    /// it (`block_issuer`, a bin of this crate).
    Blocks,
    /// `tracemark codes allocate`: a block reserved and issued whole in each transaction of
    /// 5,000.
    CodesAllocate,
}

/// The codes each of the four controllers issues.
const CODES_EACH: i64 = 100_000;

/// One of the four controllers: device `device`, the `remaining` codes of its share.
fn allocator(db: &str, device: &str, kind: Allocator, remaining: i64) -> tokio::process::Child {
    let count = remaining.to_string();
    let mut command = match kind {
        Allocator::Blocks => {
            let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_block_issuer"));
            command.args(["--product", "p1", "--count", &count, "--chunk", "500"]);
            command
        }
        Allocator::CodesAllocate => {
            let mut command = tokio::process::Command::new(common::bin());
            command.args(["codes", "allocate", "--product", "p1", "--count", &count]);
            command.args(["--chunk", "5000", "--out", "/dev/null"]);
            command
        }
    };
    command
        .env("TRACEMARK_DB", db)
        .env("TRACEMARK_USER", "tester")
        .env("TRACEMARK_DEVICE", device)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start an allocating controller")
}

/// Codes issued from blocks `device` owns.
async fn issued_by(db: &str, device: &str) -> i64 {
    PlantState::read(db)
        .await
        .codes_by_owner
        .get(device)
        .copied()
        .unwrap_or(0)
}

/// Issue 18's test: four controller processes on one PostgreSQL, 100,000 codes each for one
/// product, with random `kill -9`: no code issued twice. Two allocate as a line does (blocks
/// reserved ahead, codes issued from them in chunks), two as `tracemark codes allocate` does
/// (issued whole in one transaction); all four contend for the same product's counter. Six
/// times, at a random moment, one of them is killed with SIGKILL and restarted with what is
/// left of its share (counted in the store: what it had issued stays issued). At the end each
/// has issued exactly its 100,000 and the checks of this file hold for the 400,000 codes.
///
/// The allocation path only, not whole lines: 100,000 codes is 83 minutes of a line at
/// 1,200 units/min; here it takes seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_controllers_one_product_random_kill_9() {
    let Some(base) = common::pg_base_url() else {
        return;
    };
    let _lines = one_line_at_a_time().await;
    let database = FreshDatabase::create(&base, "four_allocators").await;
    let db = database.url.as_str();
    let store = common::open(db).await;
    store
        .add_product(&common::product("p1", "09506000134352"))
        .await
        .expect("add the product");
    let controllers = [
        ("line-1", Allocator::Blocks),
        ("line-2", Allocator::Blocks),
        ("export-3", Allocator::CodesAllocate),
        ("export-4", Allocator::CodesAllocate),
    ];
    let started = Instant::now();
    let mut running: Vec<Option<tokio::process::Child>> = controllers
        .iter()
        .map(|(device, kind)| Some(allocator(db, device, *kind, CODES_EACH)))
        .collect();
    let mut rng = common::Rng::from_env_or_time();
    let mut kills = Vec::new();
    while kills.len() < 6 {
        // A random moment: what the test is about, not a wait for something to happen. Short
        // enough that six fall within the run: the two `codes allocate` controllers finish in
        // a second or two, and a finished controller cannot be killed (at 150–750 ms a fast
        // machine ended the run after two kills).
        tokio::time::sleep(Duration::from_millis(50 + rng.below(250))).await;
        let alive: Vec<usize> = (0..controllers.len())
            .filter(|i| running[*i].is_some())
            .collect();
        if alive.is_empty() {
            break;
        }
        let i = alive[rng.below(alive.len() as u64) as usize];
        let Some(mut child) = running[i].take() else {
            continue;
        };
        let (device, kind) = controllers[i];
        if let Some(status) = child.try_wait().expect("poll the controller") {
            assert!(status.success(), "{device} failed: {status}");
            continue;
        }
        child.start_kill().expect("SIGKILL");
        child.wait().await.expect("reap");
        let remaining = CODES_EACH - issued_by(db, device).await;
        kills.push((device, remaining));
        if remaining > 0 {
            running[i] = Some(allocator(db, device, kind, remaining));
        }
    }
    for (i, child) in running.into_iter().enumerate() {
        if let Some(child) = child {
            let out = child.wait_with_output().await.expect("the controller ends");
            assert!(
                out.status.success(),
                "{}: {}",
                controllers[i].0,
                common::stderr(&out)
            );
        }
    }
    println!(
        "4 × {CODES_EACH} codes in {:.1} s; killed (device, codes left): {kills:?}",
        started.elapsed().as_secs_f64()
    );
    assert!(
        kills.len() >= 3,
        "the controllers ended before the test could kill them: {kills:?}"
    );

    let state = PlantState::read(db).await;
    state.assert_consistent();
    for (device, _) in controllers {
        assert_eq!(
            state.codes_by_owner.get(device).copied(),
            Some(CODES_EACH),
            "{device}"
        );
    }
    assert_eq!(state.codes, 4 * CODES_EACH);
    assert_issued_counts(&store, "p1", &state).await;
    store.close().await;
    assert_audit_verifies(db);
    database.drop_now().await;
}

/// Issue 18's test: failover to a promoted standby while two lines run. Two `tracemark
/// simulate` processes, two lines making the same product, on the two-host URL of a primary
/// and a synchronous standby made for the test (`common::clusters`). With both lines in the
/// middle of their batches, the primary dies (`pg_ctl stop -m immediate`) and the standby is
/// promoted: both lines continue on the new primary and end clean — every unit accounted for,
/// balanced, agreeing with their twins, every case packed and labelled — and nothing is issued
/// twice. No store error at all: a group whose COMMIT's answer the failover swallowed is
/// recognised by its journal number and not applied again, and packing waits for the line's
/// records and tries a dropped step again (docs/plant.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_lines_ride_through_a_failover() {
    let Some(clusters) = Clusters::start_or_skip() else {
        return;
    };
    let _lines = one_line_at_a_time().await;
    let dir = common::tempdir();
    let config = line_config("demo.toml");
    let db = clusters.url();
    let lines = [("failover-a", "demo-widget"), ("failover-b", "demo-widget")];
    let (units, speed) = (150, 1000);
    let stderr: Vec<PathBuf> = lines
        .iter()
        .map(|(line, _)| dir.path().join(format!("{line}.stderr")))
        .collect();
    let started = Instant::now();
    let children: Vec<_> = lines
        .iter()
        .zip(&stderr)
        .map(|(line, err)| simulate(&db, &config, *line, (units, speed), err))
        .collect();
    wait_verified(&db, &["failover-a", "failover-b"], 30, &stderr).await;
    let primary_lost = started.elapsed();
    clusters
        .pg_ctl(0, &["-m", "immediate", "-w", "stop"])
        .expect("stop the primary");
    clusters
        .pg_ctl(1, &["-w", "promote"])
        .expect("promote the standby");
    let promoted = started.elapsed();
    for ((line, _), (child, err)) in lines.iter().zip(children.into_iter().zip(&stderr)) {
        let out = with_stderr(child.wait_with_output().await.expect("the line ends"), err);
        let s = assert_clean_run(&out, units);
        assert_eq!(s["line_id"], *line, "{s:#}");
        assert_eq!(s["closed_balanced"], true, "{s:#}");
        assert_eq!(s["aggregation_disagreements"], 0, "{s:#}");
        assert_eq!(s["loose"], 0, "{s:#}");
        assert_eq!(s["labels"]["failed"], 0, "{s:#}");
        // The line's store saw the primary go and found the promoted one (store/src/sql/hosts.rs).
        let log = common::stderr(&out);
        assert!(
            log.contains("PostgreSQL primary lost")
                && log.contains("the store continues on the new primary"),
            "{line}: {log}"
        );
    }
    println!(
        "primary lost at {:.1} s, standby promoted at {:.1} s, both lines done at {:.1} s",
        primary_lost.as_secs_f64(),
        promoted.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );

    let new_primary = format!(
        "postgres://postgres@127.0.0.1:{}/postgres",
        clusters.ports[1]
    );
    let state = PlantState::read(&new_primary).await;
    state.assert_consistent();
    state.assert_batches_issued_by_their_own_line("simulate");
    let store = common::open(&db).await;
    for batch in store.batches().await.expect("batches") {
        let report = tracemark::app::batches::report(&store, batch.id)
            .await
            .expect("batch report");
        assert!(
            report.reconciliation.balanced,
            "{:?}",
            report.reconciliation
        );
    }
    assert_issued_counts(&store, "demo-widget", &state).await;
    store.close().await;
    assert_audit_verifies(&db);
}

#[test]
fn the_database_of_a_url_is_replaced() {
    use tracemark_line_tests::plant::with_database;
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/test", "h_x"),
        "postgres://postgres@127.0.0.1:5432/h_x"
    );
    assert_eq!(
        with_database(
            "postgres://u:p@db1:5432,db2:5432/plant?sslmode=disable",
            "h_x"
        ),
        "postgres://u:p@db1:5432,db2:5432/h_x?sslmode=disable"
    );
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1", "h_x"),
        "postgres://postgres@127.0.0.1/h_x"
    );
}

/// Sessions of `db` inside a transaction and waiting for their controller, now.
async fn idle_in_transaction(db: &str) -> i64 {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(db).await.expect("connect");
    let n = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
         AND state = 'idle in transaction'",
    )
    .fetch_one(&mut conn)
    .await
    .expect("pg_stat_activity");
    let _ = conn.close().await;
    n
}

/// Sends `signal` (`STOP`, `CONT`) to process `pid`.
fn signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{signal} {pid}");
}

/// A controller frozen inside a transaction (SIGSTOP: as a paused VM, or a host gone without
/// closing its connections) holds the audit head's row lock, which every writing transaction
/// of every controller takes first. The server ends such a session after
/// `idle_in_transaction_session_timeout` (the store sets 10 s unless the URL says otherwise;
/// 2 s here), so the other controllers go on: they finish their share while it is still
/// frozen. Thawed, it finds its session gone, asks again, and finishes too; nothing is issued
/// twice. (Without the timeout the others wait as long as the frozen one: seen on this
/// machine before the store set it, in 5 freezes of 6.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_frozen_in_a_transaction_does_not_stop_the_others() {
    let Some(base) = common::pg_base_url() else {
        return;
    };
    let _lines = one_line_at_a_time().await;
    let database = FreshDatabase::create(&base, "frozen").await;
    let db = format!(
        "{}?options[idle_in_transaction_session_timeout]=2s",
        database.url
    );
    let store = common::open(&db).await;
    store
        .add_product(&common::product("p1", "09506000134352"))
        .await
        .expect("add the product");
    let mut rng = common::Rng::from_env_or_time();
    let share = 40_000;
    let spawn = |device: &str| {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_block_issuer"));
        command
            .args([
                "--product",
                "p1",
                "--count",
                &share.to_string(),
                "--chunk",
                "500",
            ])
            .env("TRACEMARK_DB", &db)
            .env("TRACEMARK_DEVICE", device)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start block_issuer")
    };
    // Freeze the first at random moments until it is caught inside a transaction: the
    // others' transactions last milliseconds, a frozen one stays.
    let mut frozen = spawn("frozen-1");
    let pid = frozen.id().expect("running");
    let others = [spawn("line-2"), spawn("line-3")];
    let mut caught = false;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(50 + rng.below(200))).await;
        signal(pid, "STOP");
        tokio::time::sleep(Duration::from_millis(300)).await;
        if idle_in_transaction(&db).await > 0 {
            caught = true;
            break;
        }
        signal(pid, "CONT");
    }
    assert!(caught, "never froze it inside a transaction");
    let froze = Instant::now();
    for other in others {
        let out = tokio::time::timeout(Duration::from_secs(30), other.wait_with_output())
            .await
            .expect("the others finish while one is frozen")
            .expect("wait");
        assert!(out.status.success(), "{}", common::stderr(&out));
    }
    let others_done = froze.elapsed();
    assert!(
        matches!(frozen.try_wait(), Ok(None)),
        "the frozen one is still there"
    );
    signal(pid, "CONT");
    let out = frozen
        .wait_with_output()
        .await
        .expect("the thawed one ends");
    assert!(out.status.success(), "{}", common::stderr(&out));
    println!(
        "the others finished {:.1} s after the freeze; the thawed one: {}",
        others_done.as_secs_f64(),
        common::stderr(&out).lines().next().unwrap_or("no retry")
    );
    let state = PlantState::read(&db).await;
    state.assert_consistent();
    for device in ["frozen-1", "line-2", "line-3"] {
        assert_eq!(
            state.codes_by_owner.get(device).copied(),
            Some(share),
            "{device}"
        );
    }
    assert_issued_counts(&store, "p1", &state).await;
    store.close().await;
    assert_audit_verifies(&db);
    database.drop_now().await;
}
