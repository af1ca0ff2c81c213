//! `tracemark driver probe`: each marker kind and the PLC against their simulators, on the
//! shipped line configs pointed at ports bound here (port 0); the failures an integrator meets
//! (wrong port, wrong unit id, unknown device) with their exit status and hint.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use tokio::net::TcpListener;
use tracemark_sim::plc::PlcSim;
use tracemark_sim::{MarkerSim, TriggerOutcome};

/// The Linx marker's transport in demo.toml.
const DEMO_MARKER: &str = "transport = { type = \"serial\", path = \"/dev/ttyUSB0\", baud = 9600 }";
/// The PLC's address in demo.toml.
const DEMO_PLC: &str = "127.0.0.1:1502";

async fn listen() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local address");
    (listener, addr)
}

fn tcp(addr: SocketAddr) -> String {
    format!("transport = {{ type = \"tcp\", address = \"{addr}\" }}")
}

/// A shipped line config with `replacements` applied, written into `dir`.
fn config(dir: &Path, shipped: &str, replacements: &[(&str, String)]) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../line-configs")
        .join(shipped);
    let mut text = std::fs::read_to_string(&path).expect("read the shipped config");
    for (from, to) in replacements {
        assert!(text.contains(from), "{shipped} has no {from:?}");
        text = text.replace(from, to);
    }
    let file = dir.join(shipped);
    std::fs::write(&file, text).expect("write the config");
    // The files a config names relative to itself (label templates) come along.
    let labels = path.with_file_name("labels");
    std::fs::create_dir_all(dir.join("labels")).expect("labels dir");
    for entry in std::fs::read_dir(&labels).expect("line-configs/labels") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), dir.join("labels").join(entry.file_name())).expect("copy");
    }
    file
}

/// Runs `tracemark driver probe --config FILE ARGS…` off the runtime, so the simulators keep
/// serving while it runs.
async fn probe(config: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(bin());
    command
        .args(["driver", "probe", "--config"])
        .arg(config)
        .args(args);
    tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("run tracemark driver probe")
}

/// The verdict of the last `step` line of the text report (`ok` or `FAILED`).
fn verdict(text: &str, step: &str) -> Option<String> {
    text.lines()
        .rev()
        .filter_map(|line| line.strip_prefix(step))
        .find(|rest| rest.starts_with(' '))
        .and_then(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
}

/// The probe passed and says so, step by step.
fn assert_passed(out: &Output, device: &str) {
    let text = stdout(out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(out));
    assert!(text.contains("connect tcp://127.0.0.1:"), "{text}");
    for step in ["status", "stop", "load", "clear"] {
        assert_eq!(
            verdict(&text, step).as_deref(),
            Some("ok"),
            "{step} in {text}"
        );
    }
    assert!(text.contains("\"TRACEMARK-PROBE\" accepted"), "{text}");
    assert!(text.contains(" ms"), "{text}");
    assert!(!text.contains("FAILED"), "{text}");
    assert!(
        text.contains(&format!("{device} passed every step")),
        "{text}"
    );
}

/// Nothing printed, nothing left to print, printing off: a print-go now prints nothing.
fn assert_nothing_printed<M: MarkerSim>(sim: &M) {
    let snapshot = sim.snapshot();
    assert_eq!(snapshot.buffered(), 0, "{snapshot:?}");
    assert_eq!(snapshot.prints(), 0, "{snapshot:?}");
    assert!(!snapshot.printing(), "{snapshot:?}");
    assert!(
        snapshot.commands() >= 4,
        "the probe talked to it: {snapshot:?}"
    );
    assert!(matches!(
        sim.trigger(),
        TriggerOutcome::Ignored | TriggerOutcome::Empty
    ));
    assert!(sim.prints().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linx_marker_probes_and_nothing_is_printed() {
    let sim = tracemark_sim::linx::LinxSim::new(16);
    let (listener, addr) = listen().await;
    let server = sim.clone();
    tokio::spawn(async move { server.serve_tcp(listener).await });
    let dir = tempdir();
    let file = config(dir.path(), "demo.toml", &[(DEMO_MARKER, tcp(addr))]);

    let out = probe(&file, &["--device", "inkjet"]).await;
    assert_passed(&out, "markers.inkjet");
    assert!(stdout(&out).contains("print count 0"), "{}", stdout(&out));
    assert!(sim.buffered().is_empty());
    assert_nothing_printed(&sim);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zipher_marker_probes_and_nothing_is_printed() {
    let sim = tracemark_sim::zipher::ZipherSim::new(16);
    let (listener, addr) = listen().await;
    let server = sim.clone();
    tokio::spawn(async move { server.serve_tcp(listener).await });
    let dir = tempdir();
    let file = config(
        dir.path(),
        "pharma-carton.toml",
        &[("192.168.10.21:3002", addr.to_string())],
    );

    let out = probe(&file, &["--device", "markers.tij"]).await;
    assert_passed(&out, "markers.tij");
    assert!(sim.buffered().is_empty());
    assert_nothing_printed(&sim);
}

/// Probes `device` of the shipped config `shipped`, its marker at `address` moved to `sim`
/// (with the config's template and device-description files beside it).
async fn probes_and_prints_nothing<M: MarkerSim>(
    sim: M,
    shipped: &str,
    address: &str,
    device: &str,
) {
    let (listener, addr) = listen().await;
    let server = sim.clone();
    tokio::spawn(async move { server.serve_tcp(listener).await });
    let dir = tempdir();
    let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../line-configs");
    for (folder, file) in [
        ("labels", "unit-label.zpl"),
        ("devices", "keyence-md-x.toml"),
    ] {
        std::fs::create_dir_all(dir.path().join(folder)).expect("mkdir");
        std::fs::copy(
            configs.join(folder).join(file),
            dir.path().join(folder).join(file),
        )
        .expect("copy a config's file");
    }
    let file = config(dir.path(), shipped, &[(address, addr.to_string())]);
    let out = probe(&file, &["--device", device]).await;
    assert_passed(&out, &format!("markers.{device}"));
    assert_nothing_printed(&sim);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codenet_zpl_and_ascii_markers_probe_and_nothing_is_printed() {
    let codenet = tracemark_sim::codenet::CodenetSim::new(32);
    probes_and_prints_nothing(codenet, "cosmetics.toml", "192.168.60.11:7000", "cij").await;
    let zpl = tracemark_sim::zpl::ZplSim::new(8);
    probes_and_prints_nothing(
        zpl,
        "appliance-labels.toml",
        "192.168.40.10:9100",
        "labeller",
    )
    .await;
    let description = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../line-configs/devices/keyence-md-x.toml"),
    )
    .expect("the Keyence description");
    let config = tracemark_drivers::ascii::AsciiConfig::from_toml(&description).expect("valid");
    let laser = tracemark_sim::ascii::AsciiSim::new(config, 1);
    probes_and_prints_nothing(laser, "breaker-laser.toml", "192.168.50.20:50002", "laser").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modbus_marker_probes_with_the_configs_map_and_nothing_is_printed() {
    let dir = tempdir();
    let (listener, addr) = listen().await;
    let file = config(
        dir.path(),
        "cable.toml",
        &[(
            "transport = { type = \"serial\", path = \"/dev/ttyUSB1\", baud = 19200, parity = \
             \"even\" }",
            tcp(addr),
        )],
    );
    // The simulator serves the config's own register map at its unit id (3), as `simulate`
    // does: the probe must use both.
    let line = tracemark::config::load(&file).expect("cable.toml loads");
    let tracemark::config::MarkerKind::ModbusMarker { unit_id, registers } = &line.markers[0].kind
    else {
        panic!("cable.toml's marker is a modbus_marker");
    };
    let sim =
        tracemark_sim::modbus_marker::ModbusMarkerSim::with_map(registers.clone(), *unit_id, 4);
    let server = sim.clone();
    tokio::spawn(async move { server.serve_tcp(listener).await });

    let out = probe(&file, &["--device", "cij"]).await;
    assert_passed(&out, "markers.cij");
    assert!(stdout(&out).contains("unit 3"), "{}", stdout(&out));
    assert!(sim.buffered().is_empty());
    assert_nothing_printed(&sim);

    // A code longer than the 64-character field is refused before anything is sent.
    let commands = sim.snapshot().commands();
    let long = "X".repeat(65);
    let out = probe(&file, &["--device", "cij", "--code", &long]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--code"), "{}", stderr(&out));
    assert_eq!(sim.snapshot().commands(), commands);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_marker_that_refuses_the_code_fails_and_is_still_cleared() {
    let sim = tracemark_sim::linx::LinxSim::new(16);
    sim.inject(tracemark_sim::Fault::Nak);
    let (listener, addr) = listen().await;
    let server = sim.clone();
    tokio::spawn(async move { server.serve_tcp(listener).await });
    let dir = tempdir();
    let file = config(dir.path(), "demo.toml", &[(DEMO_MARKER, tcp(addr))]);

    let out = probe(&file, &["--device", "inkjet"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert_eq!(verdict(&text, "load").as_deref(), Some("FAILED"), "{text}");
    let err = stderr(&out);
    assert!(
        err.contains("markers.inkjet failed the probe at load"),
        "{err}"
    );
    assert!(err.contains("hint: "), "{err}");
    assert_eq!(verdict(&text, "clear").as_deref(), Some("ok"), "{text}");
    sim.clear(tracemark_sim::Fault::Nak);
    assert_nothing_printed(&sim);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plc_probe_reads_the_inputs_and_writes_nothing() {
    let plc = PlcSim::new(1);
    plc.set_encoder(123_456);
    // Two units went by the photocell before the probe.
    plc.detect();
    plc.detect();
    let (listener, addr) = listen().await;
    let server = plc.clone();
    tokio::spawn(async move { server.serve_tcp(listener).await });
    let dir = tempdir();
    let file = config(dir.path(), "demo.toml", &[(DEMO_PLC, addr.to_string())]);

    let out = probe(&file, &["--device", "line_io"]).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(text.contains(&format!("connect tcp://{addr} ok")), "{text}");
    assert!(
        text.contains(
            "encoder 123456, photocell count 2, gate confirm off, line running, reject queue 0 \
             pending"
        ),
        "{text}"
    );
    assert!(text.contains("plcs.line_io passed every step"), "{text}");
    // One poll is two reads (FC 04, FC 02): no coil, register or queue slot was written.
    let snapshot = plc.snapshot();
    assert_eq!(snapshot.requests(), 2, "{snapshot:?}");
    assert_eq!(snapshot.rejects_queued(), 0);
    assert_eq!(snapshot.watchdog_ms(), 0);
    assert!(!snapshot.gate_coil() && !snapshot.line_stop());
    assert_eq!(snapshot.stack_light(), [false; 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_output_is_one_object() {
    let plc = PlcSim::new(1);
    plc.set_encoder(42);
    let (listener, addr) = listen().await;
    let server = plc.clone();
    tokio::spawn(async move { server.serve_tcp(listener).await });
    let sim = tracemark_sim::linx::LinxSim::new(16);
    let (marker_listener, marker_addr) = listen().await;
    let server = sim.clone();
    tokio::spawn(async move { server.serve_tcp(marker_listener).await });
    let dir = tempdir();
    let file = config(
        dir.path(),
        "demo.toml",
        &[
            (DEMO_PLC, addr.to_string()),
            (DEMO_MARKER, tcp(marker_addr)),
        ],
    );

    let out = probe(&file, &["--device", "plcs.line_io", "--json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("one JSON object");
    assert_eq!(report["ok"], true);
    assert_eq!(report["device"], "plcs.line_io");
    assert_eq!(report["unit_id"], 1);
    assert_eq!(report["poll"]["encoder"], 42);
    assert_eq!(report["poll"]["photocell_count"], 0);
    assert_eq!(report["poll"]["line_running"], true);
    assert_eq!(report["steps"][1]["step"], "poll");
    assert!(report["steps"][1]["ms"].is_number());

    let out = probe(&file, &["--device", "inkjet", "--json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("one JSON object");
    let steps: Vec<&str> = report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["step"].as_str().expect("a step name"))
        .collect();
    assert_eq!(
        steps,
        ["connect", "status", "stop", "load", "status", "clear"]
    );
    assert_eq!(report["code"], "TRACEMARK-PROBE");
    assert_eq!(report["code_left"], false);
    assert_eq!(report["steps"][1]["status"]["print_count"], 0);
    assert_nothing_printed(&sim);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_port_fails_with_a_hint() {
    // A port that was free a moment ago: nothing listens on it now.
    let (listener, addr) = listen().await;
    drop(listener);
    let dir = tempdir();
    let file = config(dir.path(), "demo.toml", &[(DEMO_MARKER, tcp(addr))]);

    let out = probe(&file, &["--device", "inkjet"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains(&format!("connect tcp://{addr} FAILED")),
        "{}",
        stdout(&out)
    );
    let err = stderr(&out);
    assert!(
        err.contains("markers.inkjet failed the probe at connect: cannot open"),
        "{err}"
    );
    assert!(err.contains("hint: check the address and port"), "{err}");

    let out = probe(&file, &["--device", "inkjet", "--json"]).await;
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("one JSON object");
    assert_eq!(report["ok"], false);
    assert!(
        report["hint"]
            .as_str()
            .is_some_and(|h| h.starts_with("check the address and port")),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_plc_unit_id_fails_naming_the_unit() {
    let plc = PlcSim::new(1);
    let (listener, addr) = listen().await;
    let server = plc.clone();
    tokio::spawn(async move { server.serve_tcp(listener).await });
    let dir = tempdir();
    let file = config(
        dir.path(),
        "demo.toml",
        &[
            (DEMO_PLC, addr.to_string()),
            ("unit_id = 1", "unit_id = 7".to_owned()),
        ],
    );

    let out = probe(&file, &["--device", "line_io", "--timeout", "300ms"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert_eq!(verdict(&text, "poll").as_deref(), Some("FAILED"), "{text}");
    let err = stderr(&out);
    assert!(err.contains("no answer from unit 7"), "{err}");
    assert!(err.contains("hint: check the unit id"), "{err}");
}

#[test]
fn unknown_device_exits_2_listing_the_devices() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../line-configs/demo.toml");
    let run = |device: &str| {
        Command::new(bin())
            .args(["driver", "probe", "--config"])
            .arg(&demo)
            .args(["--device", device])
            .output()
            .expect("run tracemark driver probe")
    };
    let out = run("printer9");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--device: no device \"printer9\""), "{err}");
    assert!(
        err.contains("markers.inkjet (linx_rci), plcs.line_io (line I/O)"),
        "{err}"
    );
    assert!(stdout(&out).is_empty());

    let out = run("cam1");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("readers.cam1 is a camera"),
        "{}",
        stderr(&out)
    );

    let out = run("plcs.inkjet");
    assert_eq!(out.status.code(), Some(2));
}
