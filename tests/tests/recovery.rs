//! The line survives what plants do to it: `kill -9` of the controller in the middle of a
//! batch, a broker restart, and Ctrl-C of `tracemark run` — on both stacks. Nothing is issued
//! twice, nothing is lost, and every batch closes balanced.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tracemark_line_tests::common::{self, mosquitto};
use tracemark_line_tests::{Stack, assert_clean_run, on_both_stacks, one_line_at_a_time};
use tracemark_store::{BatchState, CodeState, NewBatch};

/// `kill -9` of the controller in the middle of a batch, then a restart: the batch resumes,
/// what the dead run left in flight is settled, nothing is issued twice, and the batch closes
/// balanced with an intact audit chain.
async fn sigkill_in_the_middle_of_a_batch_then_restart_resumes_it(stack: Stack) {
    let Some(site) = stack.site().await else {
        return;
    };
    let _line = one_line_at_a_time().await;
    let mut child = site
        .command("demo", &["--units", "2000", "--speed", "3000"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(site.stderr_path()).expect("stderr file"))
        .spawn()
        .expect("start the demo");
    let store = site.wait_verified(100).await;
    child.start_kill().expect("SIGKILL the controller");
    child.wait().await.expect("reap it");
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

    let out = site
        .run("demo", &["--units", "100", "--speed", "3000"])
        .await;
    let s = assert_clean_run(&out, 100);
    let recovered = s["recovered"]["voided"].as_i64().unwrap_or(-1)
        + s["recovered"]["rejected_late"].as_i64().unwrap_or(-1);
    assert_eq!(recovered, left_in_flight, "{s:#}");
    let store = site.open().await;
    let batches = store.batches().await.expect("batches");
    assert_eq!(
        batches.len(),
        1,
        "the restart resumed the batch, no new one"
    );
    assert_eq!(batches[0].state, BatchState::Closed);
    let audit = store.verify_audit().await.expect("verify");
    assert!(audit.first_bad.is_none(), "{audit:?}");
    store.close().await;
    site.finish().await;
}

/// The broker (a private Mosquitto, so it can be restarted) goes down in the middle of a batch:
/// results wait in the controller's persistent session or come too late (those units are
/// diverted as `late`); nothing escapes, everything reconciles.
async fn broker_restart_in_the_middle_of_a_batch(stack: Stack) {
    let Some(binary) = mosquitto::mosquitto() else {
        return;
    };
    let Some(mut site) = stack.site().await else {
        return;
    };
    let _line = one_line_at_a_time().await;
    let mut broker = mosquitto::Broker::new(binary, site.dir.path());
    broker.start();
    site.mqtt = Some(format!("mqtt://127.0.0.1:{}", broker.port));
    let child = site
        .command("demo", &["--units", "400", "--speed", "3000"])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(site.stderr_path()).expect("stderr file"))
        .spawn()
        .expect("start the demo");
    site.wait_verified(100).await.close().await;
    broker.stop();
    broker.start();
    let out = child.wait_with_output().await.expect("the demo ends");
    let s = assert_clean_run(&out, 400);
    assert!(s["verified"].as_i64().unwrap_or(0) > 100, "{s:#}");
    site.finish().await;
}

/// `tracemark run` on the shipped demo config, its devices moved by
/// `TRACEMARK_<SECTION>__<KEY>` overrides to simulators served here (the Linx on a
/// pseudo-terminal, the PLC over TCP) and to Mosquitto: it fills the marker and starts
/// printing; Ctrl-C (SIGINT) stops it gracefully — the marker buffer is cleared, every code it
/// held is voided, the batch stays open to resume. Meanwhile it delivers, in the background,
/// a batch another line closed to the store's upload target (issue 15 item 3).
async fn run_fills_the_marker_and_stops_gracefully_on_ctrl_c(stack: Stack) {
    use tracemark_sim::MarkerSim;
    let Some(mqtt) = common::mqtt_url() else {
        return;
    };
    let Some(site) = stack.site().await else {
        return;
    };
    let _line = one_line_at_a_time().await;

    // The demo's marker is on a serial port: serve it on a pseudo-terminal and point the
    // port's path there (a serial transport cannot be turned into a TCP one by overrides).
    let marker = tracemark_sim::linx::LinxSim::new(16);
    let (master, slave) = tokio_serial::SerialStream::pair().expect("pty pair");
    let marker_path = tokio_serial::SerialPort::name(&slave).expect("pty path");
    let server = marker.clone();
    tokio::spawn(async move {
        // The slave end stays open here, so the driver's reconnections find the pty.
        let _slave = slave;
        let mut master = master;
        while server.serve_serial(&mut master).await.is_ok() {}
    });
    let plc = tracemark_sim::plc::PlcSim::new(1);
    let plc_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let plc_addr = plc_listener.local_addr().expect("addr");
    let server = plc.clone();
    tokio::spawn(async move { server.serve_tcp(plc_listener).await });

    let line_id = format!("run-test-{}", std::process::id());
    let overrides = [
        ("TRACEMARK_LINE__ID", line_id.clone()),
        ("TRACEMARK_MARKERS__INKJET__TRANSPORT__PATH", marker_path),
        (
            "TRACEMARK_PLCS__LINE_IO__TRANSPORT__ADDRESS",
            plc_addr.to_string(),
        ),
        ("TRACEMARK_MQTT__URL", mqtt),
    ];

    let store = site.open().await;
    // demo.toml packs (a case camera): a plant store needs its SSCC prefix for that.
    common::packing_producer(&store).await;
    store
        .add_product(&tracemark::commissioning::demo_product(
            "demo-widget",
            tracemark_store::Grade::C,
        ))
        .await
        .expect("product");
    let batch = store
        .create_batch(&NewBatch {
            product_id: "demo-widget".into(),
            lot: "RUN-1".into(),
            quantity: 100,
            production_date: "2026-11-22".into(),
            expiry_date: None,
            line: Some(line_id.clone()),
            simulated: false,
        })
        .await
        .expect("batch");
    store
        .set_batch_state(batch.id, BatchState::Running)
        .await
        .expect("start");
    // A batch another line closed, waiting for the ERP: `run` delivers it in the background.
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let secret_file = site.dir.path().join("erp.secret");
    std::fs::write(&secret_file, secret).expect("write the secret");
    let (erp_addr, erp) = tracemark_sim::erp::ErpSim::start(tracemark_sim::erp::ErpConfig::new(
        tracemark_sim::erp::signature::SigningSecret::parse(secret).expect("secret"),
    ))
    .await
    .expect("start the ERP receiver");
    tracemark::app::uploads::add_target(
        &store,
        &common::actor(),
        tracemark::app::uploads::NewTarget {
            name: "erp".into(),
            url: format!("http://{erp_addr}/epcis"),
            format: tracemark_store::upload::UploadFormat::EpcisJson,
            secret_file: Some(secret_file),
            ed25519_key_file: None,
            ca_file: None,
            gzip: false,
        },
    )
    .await
    .expect("add the upload target");
    let other = store
        .create_batch(&NewBatch {
            product_id: "demo-widget".into(),
            lot: "OTHER-LINE".into(),
            quantity: 10,
            production_date: "2026-11-22".into(),
            expiry_date: None,
            line: Some("another-line".into()),
            simulated: false,
        })
        .await
        .expect("batch");
    for state in [BatchState::Running, BatchState::Closed] {
        store.set_batch_state(other.id, state).await.expect("close");
    }

    let child = tokio::process::Command::new(common::bin())
        .args(["run", "--config"])
        .arg(tracemark_line_tests::line_config("demo.toml"))
        .arg("--upload-spool-dir")
        .arg(site.dir.path().join("upload-spool"))
        .envs(overrides)
        .env("TRACEMARK_DB", &site.db)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(site.stderr_path()).expect("stderr file"))
        .kill_on_drop(true)
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
        std::fs::read_to_string(site.stderr_path()).unwrap_or_default()
    );
    assert!(!plc.snapshot().line_stop(), "the line was released");
    let delivered = tokio::time::timeout(Duration::from_secs(30), erp.wait_accepted(1)).await;
    assert!(
        delivered.is_ok(),
        "the closed batch never reached the ERP: {}",
        std::fs::read_to_string(site.stderr_path()).unwrap_or_default()
    );

    let pid = child.id().expect("running").to_string();
    let status = tokio::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .await
        .expect("kill");
    assert!(status.success());
    let out = child.wait_with_output().await.expect("tracemark run ends");
    assert!(
        out.status.success(),
        "{}",
        std::fs::read_to_string(site.stderr_path()).unwrap_or_default()
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
    let delivery = store.delivery(other.id, "erp").await.expect("delivery");
    assert_eq!(
        delivery.state,
        tracemark_store::upload::DeliveryState::Delivered
    );
    let accepted = erp.accepted();
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].key, delivery.uuid);
    store.close().await;
    site.finish().await;
}

on_both_stacks!(
    sigkill_in_the_middle_of_a_batch_then_restart_resumes_it,
    broker_restart_in_the_middle_of_a_batch,
    run_fills_the_marker_and_stops_gracefully_on_ctrl_c,
);
