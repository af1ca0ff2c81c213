//! The whole line end to end: `tracemark demo` — the line runtime against the line twin, devices
//! over their real protocols (Linx RCI over a pty, Modbus TCP, MQTT) — compared unit by unit
//! with ground truth. Every run must end with no escape, no duplicate, nothing unaccounted and a
//! balanced reconciliation.

mod common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{bin, open, pg_base_url, pg_schema_url, sqlite_url, tempdir};
use serde_json::Value;
use tracemark::store::{BatchState, CodeState};

/// One line at a time: each run is a real-time line (controller, twin, camera rendering and
/// decoding) and this machine has two cores; runs side by side would test the scheduler.
static ONE_LINE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs `tracemark demo` with `args` on `db` and returns its output.
fn demo(db: &str, args: &[&str]) -> Output {
    let _line = ONE_LINE_AT_A_TIME.blocking_lock();
    demo_unlocked(db, args)
}

fn demo_unlocked(db: &str, args: &[&str]) -> Output {
    Command::new(bin())
        .arg("demo")
        .args(args)
        .env("TRACEMARK_DB", db)
        .env("TRACEMARK_USER", "tester")
        .output()
        .expect("run tracemark demo")
}

/// The JSON summary on the last line of stdout.
fn summary(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| {
        panic!(
            "no JSON summary ({e}); stdout:\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Asserts what every run must end with, and returns the summary.
fn assert_clean_run(out: &Output, units: u64) -> Value {
    let s = summary(out);
    let context = format!("{s:#}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "demo failed: {context}");
    assert_eq!(s["units"], units, "{context}");
    for zero in ["escapes", "duplicates", "unaccounted"] {
        assert_eq!(s[zero], 0, "{zero}: {context}");
    }
    assert_eq!(s["balanced"], true, "{context}");
    assert_eq!(s["closed_balanced"], true, "{context}");
    assert_eq!(
        s["disagreements"].as_array().map(Vec::len),
        Some(0),
        "{context}"
    );
    assert_eq!(s["line"]["store_errors"], 0, "{context}");
    // Every code issued is accounted for: printed or voided.
    let (allocated, printed, voided) = (
        s["allocated"].as_i64().unwrap_or(-1),
        s["printed"].as_i64().unwrap_or(-1),
        s["voided"].as_i64().unwrap_or(-1),
    );
    assert_eq!(allocated, printed + voided, "{context}");
    s
}

#[test]
fn demo_without_faults_verifies_every_unit() {
    let dir = tempdir();
    let out = demo(
        &sqlite_url(dir.path()),
        &[
            "--units", "120", "--speed", "3000", "--faults", "none", "--json",
        ],
    );
    let s = assert_clean_run(&out, 120);
    assert_eq!(s["verified"], 120, "{s:#}");
    assert_eq!(s["rejected"], 0, "{s:#}");
    assert_eq!(s["false_rejects"], 0, "{s:#}");
    assert_eq!(s["line"]["underruns"], 0, "{s:#}");
}

#[test]
fn demo_with_heavy_damage_diverts_every_bad_unit() {
    let dir = tempdir();
    let out = demo(
        &sqlite_url(dir.path()),
        &[
            "--units", "200", "--speed", "3000", "--faults", "heavy", "--json",
        ],
    );
    let s = assert_clean_run(&out, 200);
    let rejected = s["rejected"].as_i64().unwrap_or(0);
    assert!(rejected >= 8, "heavy damage rejects many units: {s:#}");
    assert!(
        s["diverted"].as_u64().unwrap_or(0) >= rejected as u64,
        "{s:#}"
    );
    let reasons = &s["line"]["rejected"];
    assert!(reasons["no_read"].as_u64().unwrap_or(0) > 0, "{s:#}");
}

#[test]
fn demo_with_default_damage_reconciles() {
    let dir = tempdir();
    let out = demo(
        &sqlite_url(dir.path()),
        &["--units", "200", "--speed", "3000", "--json"],
    );
    assert_clean_run(&out, 200);
}

/// A clean-camera demo of 200 units at 1,500 units/min with `fault` injected on the marker.
fn demo_with_marker_fault(fault: &str) -> Value {
    let dir = tempdir();
    let out = demo(
        &sqlite_url(dir.path()),
        &[
            "--units",
            "200",
            "--speed",
            "1500",
            "--faults",
            "none",
            "--marker-fault",
            fault,
            "--json",
        ],
    );
    let s = assert_clean_run(&out, 200);
    // Units that went by the marker while it could not print are known to carry nothing: no
    // good unit is rejected, and no print is put on the wrong unit.
    assert_eq!(s["false_rejects"], 0, "{s:#}");
    assert_eq!(
        s["line"]["rejected"]["mismatch"].as_u64().unwrap_or(0),
        0,
        "{s:#}"
    );
    s
}

#[test]
fn demo_rides_through_a_marker_disconnect() {
    demo_with_marker_fault("80:disconnect");
}

/// Ink out for 50 units: the marker faults (its buffer voided), units go by unprinted and are
/// diverted as `no_read`; nothing escapes and the batch reconciles.
#[test]
fn demo_rides_through_an_ink_out_fault() {
    let s = demo_with_marker_fault("60:ink-out");
    assert!(s["unprinted"].as_u64().unwrap_or(0) > 0, "{s:#}");
    assert!(
        s["line"]["rejected"]["no_read"].as_u64().unwrap_or(0) > 0,
        "{s:#}"
    );
    assert!(
        s["line"]["passed_unprinted"].as_u64().unwrap_or(0) > 0,
        "{s:#}"
    );
}

#[test]
fn demo_with_bad_arguments_says_what_is_wrong() {
    let dir = tempdir();
    let out = demo(&sqlite_url(dir.path()), &["--marker-fault", "x:disconnect"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a unit number"), "{stderr}");
    let out = demo(&sqlite_url(dir.path()), &["--marker-fault", "3:melt"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("disconnect"));
}

/// `kill -9` of the controller in the middle of a batch, then a restart: the batch resumes,
/// what the dead run left in flight is settled, nothing is issued twice, and the batch closes
/// balanced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_in_the_middle_of_a_batch_then_restart_resumes_it() {
    let _line = ONE_LINE_AT_A_TIME.lock().await;
    let dir = tempdir();
    let db = sqlite_url(dir.path());
    let mut child = Command::new(bin())
        .args(["demo", "--units", "2000", "--speed", "3000", "--json"])
        .env("TRACEMARK_DB", &db)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("stderr")).expect("stderr file"))
        .spawn()
        .expect("start the demo");
    let store = wait_verified(&db, 100, dir.path()).await;
    child.kill().expect("SIGKILL the controller");
    child.wait().expect("reap it");
    let batch = store.batches().await.expect("batches")[0].clone();
    assert_eq!(
        batch.state,
        BatchState::Running,
        "the killed run left it open"
    );
    let before = store.batch_counts(batch.id).await.expect("counts");
    let left_in_flight: i64 = before
        .iter()
        .filter(|(s, _)| {
            matches!(
                s,
                CodeState::Reserved | CodeState::Sent | CodeState::Printed
            )
        })
        .map(|(_, n)| n)
        .sum();
    store.close().await;

    let out = demo_unlocked(&db, &["--units", "100", "--speed", "3000", "--json"]);
    let s = assert_clean_run(&out, 100);
    let recovered = s["recovered"]["voided"].as_i64().unwrap_or(-1)
        + s["recovered"]["rejected_late"].as_i64().unwrap_or(-1);
    assert_eq!(recovered, left_in_flight, "{s:#}");
    let store = open(&db).await;
    let batches = store.batches().await.expect("batches");
    assert_eq!(
        batches.len(),
        1,
        "the restart resumed the batch, no new one"
    );
    assert_eq!(batches[0].state, BatchState::Closed);
    let audit = store.verify_audit().await.expect("verify");
    assert!(audit.first_bad.is_none(), "{audit:?}");
}

/// The same line on PostgreSQL and Mosquitto (the plant-scale store and broker).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_on_postgres_and_mosquitto() {
    let Some(base) = pg_base_url() else {
        return;
    };
    let Some(mqtt) = common::mqtt_url() else {
        return;
    };
    let _line = ONE_LINE_AT_A_TIME.lock().await;
    let (url, schema) = pg_schema_url(&base).await;
    let out = demo_unlocked(
        &url,
        &[
            "--units", "150", "--speed", "3000", "--mqtt", &mqtt, "--json",
        ],
    );
    let s = assert_clean_run(&out, 150);
    common::drop_pg_schema(&base, &schema).await;

    // The controller published its state for the plant (retained): the final counters.
    let line = s["line_id"].as_str().expect("line id").to_owned();
    let state = retained(&mqtt, &format!("tracemark/{line}/state")).await;
    assert_eq!(state["units"], 150, "{state:#}");
    assert_eq!(state["verified"], s["line"]["verified"], "{state:#}");
}

/// The retained message on `topic`.
async fn retained(url: &str, topic: &str) -> Value {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    let rest = url.trim_start_matches("mqtt://");
    let (host, port) = rest.rsplit_once(':').expect("host:port");
    let mut options = MqttOptions::new(
        format!("test-state-{}", std::process::id()),
        host,
        port.parse().expect("port"),
    );
    options.set_keep_alive(Duration::from_secs(10));
    let (client, mut events) = AsyncClient::new(options, 16);
    client
        .subscribe(topic, QoS::AtLeastOnce)
        .await
        .expect("subscribe");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let event = tokio::time::timeout_at(deadline, events.poll())
            .await
            .expect("a retained state within 10 s")
            .expect("broker connection");
        if let Event::Incoming(Packet::Publish(publish)) = event {
            return serde_json::from_slice(&publish.payload).expect("state JSON");
        }
    }
}

/// Virtual commissioning of the pharma carton line: a Zipher-style coder over TCP, a stricter
/// grade, a shorter pitch.
#[test]
fn simulate_commissions_the_pharma_carton_line() {
    let _line = ONE_LINE_AT_A_TIME.blocking_lock();
    let dir = tempdir();
    let config =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../line-configs/pharma-carton.toml");
    let out = Command::new(bin())
        .args(["simulate", "--config"])
        .arg(&config)
        .args(["--units", "120", "--faults", "heavy", "--json"])
        .env("TRACEMARK_DB", sqlite_url(dir.path()))
        .output()
        .expect("run tracemark simulate");
    let s = assert_clean_run(&out, 120);
    assert_eq!(s["line_id"], "pharma-1");
    // Heavy damage against `max_consecutive_rejects = 3` stops the line now and then; the run
    // (acknowledged automatically) still ends reconciled.
    assert!(s["rejected"].as_i64().unwrap_or(0) > 0, "{s:#}");
}

/// Runs `tracemark simulate` of `config` (in line-configs/) with `args`.
fn simulate(config: &str, args: &[&str]) -> Output {
    let _line = ONE_LINE_AT_A_TIME.blocking_lock();
    let dir = tempdir();
    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../line-configs")
        .join(config);
    Command::new(bin())
        .args(["simulate", "--config"])
        .arg(&config)
        .args(args)
        .arg("--json")
        .env("TRACEMARK_DB", sqlite_url(dir.path()))
        .output()
        .expect("run tracemark simulate")
}

/// Virtual commissioning of the cable line: a Modbus register printer over RTU on a
/// pseudo-terminal, described by the config's register map; heavy camera damage, at four times
/// the line's speed so the test is short.
#[test]
fn simulate_commissions_the_cable_line() {
    let out = simulate(
        "cable.toml",
        &["--units", "40", "--speed", "120", "--faults", "heavy"],
    );
    let s = assert_clean_run(&out, 40);
    assert_eq!(s["line_id"], "cable-3");
    assert!(s["rejected"].as_i64().unwrap_or(0) > 0, "{s:#}");
}

/// The cable line's printer runs out of ink at coil 10: its status bit faults it, the coils
/// that go by unprinted are diverted, none is a false reject, and the batch reconciles.
#[test]
fn the_cable_line_rides_through_an_ink_out_over_modbus() {
    let out = simulate(
        "cable.toml",
        &[
            "--units",
            "40",
            "--speed",
            "120",
            "--faults",
            "none",
            "--marker-fault",
            "10:ink-out",
        ],
    );
    let s = assert_clean_run(&out, 40);
    assert!(s["unprinted"].as_u64().unwrap_or(0) > 0, "{s:#}");
    assert_eq!(s["false_rejects"], 0, "{s:#}");
}

/// Waits until the demo running on `db` has verified `n` units (polled: another process writes
/// the store); on timeout, fails with the demo's stderr (written to `dir/stderr`).
async fn wait_verified(db: &str, n: i64, dir: &std::path::Path) -> tracemark::store::Store {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(store) = tracemark::store::Store::open(db, common::actor()).await {
            let batches = store.batches().await.unwrap_or_default();
            if let Some(batch) = batches.first()
                && let Ok(counts) = store.batch_counts(batch.id).await
                && counts
                    .iter()
                    .any(|(state, count)| *state == CodeState::Verified && *count >= n)
            {
                return store;
            }
            store.close().await;
        }
        assert!(
            Instant::now() < deadline,
            "the demo never verified {n} units: {}",
            std::fs::read_to_string(dir.join("stderr")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The broker restarts in the middle of a batch: results wait in the controller's persistent
/// session or come too late (those units are diverted as `late`); nothing escapes, everything
/// reconciles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_restart_in_the_middle_of_a_batch() {
    let Some(binary) = common::mosquitto::mosquitto() else {
        return;
    };
    let _line = ONE_LINE_AT_A_TIME.lock().await;
    let dir = tempdir();
    let mut broker = common::mosquitto::Broker::new(binary, dir.path());
    broker.start();
    let db = sqlite_url(dir.path());
    let url = format!("mqtt://127.0.0.1:{}", broker.port);
    let child = Command::new(bin())
        .args([
            "demo", "--units", "400", "--speed", "3000", "--mqtt", &url, "--json",
        ])
        .env("TRACEMARK_DB", &db)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.path().join("stderr")).expect("stderr file"))
        .spawn()
        .expect("start the demo");
    let store = wait_verified(&db, 100, dir.path()).await;
    store.close().await;
    broker.stop();
    broker.start();
    let out = child.wait_with_output().expect("the demo ends");
    let s = assert_clean_run(&out, 400);
    assert!(s["verified"].as_i64().unwrap_or(0) > 100, "{s:#}");
}

/// `tracemark run` against devices it reaches over TCP (the Linx and PLC simulators, served
/// here) and Mosquitto: it fills the marker and starts printing; Ctrl-C (SIGINT) stops it
/// gracefully — the marker buffer is cleared, every code it held is voided, the batch stays
/// open to resume.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_fills_the_marker_and_stops_gracefully_on_ctrl_c() {
    use tracemark_sim::MarkerSim;
    let Some(mqtt) = common::mqtt_url() else {
        return;
    };
    let _line = ONE_LINE_AT_A_TIME.lock().await;
    let dir = tempdir();
    let db = sqlite_url(dir.path());

    let marker = tracemark_sim::linx::LinxSim::new(16);
    let marker_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let marker_addr = marker_listener.local_addr().expect("addr");
    let server = marker.clone();
    tokio::spawn(async move { server.serve_tcp(marker_listener).await });
    let plc = tracemark_sim::plc::PlcSim::new(1);
    let plc_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let plc_addr = plc_listener.local_addr().expect("addr");
    let server = plc.clone();
    tokio::spawn(async move { server.serve_tcp(plc_listener).await });

    let line_id = format!("run-test-{}", std::process::id());
    let demo = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../line-configs/demo.toml"),
    )
    .expect("demo.toml");
    let config = demo
        .replace("id = \"demo\"", &format!("id = \"{line_id}\""))
        .replace(
            "transport = { type = \"serial\", path = \"/dev/ttyUSB0\", baud = 9600 }",
            &format!("transport = {{ type = \"tcp\", address = \"{marker_addr}\" }}"),
        )
        .replace("127.0.0.1:1502", &plc_addr.to_string())
        .replace("mqtt://127.0.0.1:1883", &mqtt);
    let config_path = dir.path().join("line.toml");
    std::fs::write(&config_path, config).expect("write the config");

    let store = open(&db).await;
    store
        .add_product(&tracemark::commissioning::demo_product("demo-widget", 'C'))
        .await
        .expect("product");
    let batch = store
        .create_batch(&tracemark::store::NewBatch {
            product_id: "demo-widget".into(),
            lot: "RUN-1".into(),
            quantity: 100,
            production_date: "2026-11-22".into(),
            expiry_date: None,
            line: Some(line_id.clone()),
        })
        .await
        .expect("batch");
    store
        .set_batch_state(batch.id, BatchState::Running)
        .await
        .expect("start");

    let child = Command::new(bin())
        .args(["run", "--config"])
        .arg(&config_path)
        .env("TRACEMARK_DB", &db)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.path().join("stderr")).expect("stderr file"))
        .spawn()
        .expect("start tracemark run");
    // Readiness: the marker prints and holds codes (the feed loop filled it).
    let ready = tokio::time::timeout(
        Duration::from_secs(30),
        marker.wait_until(|s| s.printing() && s.buffered() >= 4),
    )
    .await;
    assert!(
        ready.is_ok(),
        "the marker was never filled: {}",
        std::fs::read_to_string(dir.path().join("stderr")).unwrap_or_default()
    );
    assert!(!plc.snapshot().line_stop(), "the line was released");

    let pid = child.id().to_string();
    let status = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let out = child.wait_with_output().expect("tracemark run ends");
    assert!(
        out.status.success(),
        "{}",
        std::fs::read_to_string(dir.path().join("stderr")).unwrap_or_default()
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("the run report");
    assert_eq!(report["stats"]["store_errors"], 0, "{report:#}");

    let snapshot = marker.snapshot();
    assert!(
        !snapshot.printing() && snapshot.buffered() == 0,
        "{snapshot:?}"
    );
    assert!(plc.snapshot().line_stop(), "the line is held stopped");
    let counts = store.batch_counts(batch.id).await.expect("counts");
    assert!(
        counts.iter().all(|(state, _)| *state == CodeState::Voided),
        "nothing printed, everything voided: {counts:?}"
    );
    assert_eq!(
        store.batch(batch.id).await.expect("batch").state,
        BatchState::Running,
        "the batch stays open to resume"
    );
}
