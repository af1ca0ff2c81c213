//! The integrator's operations (issue 16 item 4, SPEC §8) on both stores: the line configs
//! a server was given with their validation errors by key path, read again after an edit on
//! disk; each device's state, live for a line the process runs; a probe of simulated devices
//! (the same as `tracemark driver probe`) with every step's round trip; an operator refused
//! (403); a marker of a running line refused (409); bad probes refused naming the member; the
//! HMI page drawing the errors; and `tracemark serve --config` serving them.

#[macro_use]
mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracemark::app::line_configs::LineConfigs;
use tracemark::app::users::{self, Role};
use tracemark::http::server::{HttpServer, LiveOptions, ServeOptions};
use tracemark::http::{LiveLines, LiveView};
use tracemark_sim::MarkerSim;
use tracemark_sim::plc::PlcSim;
use tracemark_store::Store;

const PASSWORD: &str = "correct horse battery";
/// The Linx marker's transport in demo.toml.
const DEMO_MARKER: &str = "transport = { type = \"serial\", path = \"/dev/ttyUSB0\", baud = 9600 }";
/// The PLC's address in demo.toml.
const DEMO_PLC: &str = "127.0.0.1:1502";

async fn listen() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local address");
    (listener, addr)
}

/// demo.toml with `replacements` applied, written into `dir` as `name`, with the label
/// templates it names relative to itself.
fn demo_config(dir: &Path, name: &str, replacements: &[(&str, String)]) -> PathBuf {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../line-configs/demo.toml");
    let mut text = std::fs::read_to_string(&shipped).expect("read demo.toml");
    for (from, to) in replacements {
        assert!(text.contains(from), "demo.toml has no {from:?}");
        text = text.replace(from, to);
    }
    let file = dir.join(name);
    std::fs::write(&file, text).expect("write the config");
    let labels = shipped.with_file_name("labels");
    std::fs::create_dir_all(dir.join("labels")).expect("labels dir");
    for entry in std::fs::read_dir(&labels).expect("line-configs/labels") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), dir.join("labels").join(entry.file_name())).expect("copy");
    }
    file
}

/// A Linx marker simulator and a PLC simulator on ports of their own, and demo.toml pointed at
/// them.
struct Devices {
    marker: tracemark_sim::linx::LinxSim,
    plc: PlcSim,
    config: PathBuf,
}

async fn simulated_devices(dir: &Path) -> Devices {
    let marker = tracemark_sim::linx::LinxSim::new(16);
    let (listener, marker_addr) = listen().await;
    let server = marker.clone();
    tokio::spawn(async move { server.serve_tcp(listener).await });
    let plc = PlcSim::new(1);
    plc.set_encoder(4242);
    let (listener, plc_addr) = listen().await;
    let server = plc.clone();
    tokio::spawn(async move { server.serve_tcp(listener).await });
    let config = demo_config(
        dir,
        "line.toml",
        &[
            (
                DEMO_MARKER,
                format!("transport = {{ type = \"tcp\", address = \"{marker_addr}\" }}"),
            ),
            (DEMO_PLC, plc_addr.to_string()),
        ],
    );
    Devices {
        marker,
        plc,
        config,
    }
}

async fn serve(store: Store, configs: &[PathBuf], lines: LiveLines) -> HttpServer {
    HttpServer::start_live(
        store,
        ServeOptions {
            addr: "127.0.0.1:0".parse().expect("an address"),
            tls: None,
        },
        LiveOptions {
            lines,
            configs: LineConfigs::new(configs.iter().cloned()),
            ..LiveOptions::default()
        },
    )
    .await
    .expect("serve")
}

/// A user of `role` and a bearer token of theirs.
async fn token(store: &Store, name: &str, role: Role) -> String {
    users::add_user(store, &actor(), name, role, PASSWORD)
        .await
        .expect("add a user");
    users::create_token(store, &actor(), name, Some(1))
        .await
        .expect("a token")
        .token
}

async fn get(base: &str, path: &str, token: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("an answer");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn probe(base: &str, config: &str, device: &str, token: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!(
            "{base}/api/v1/line-configs/{config}/devices/{device}/probe"
        ))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("an answer");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn device<'a>(devices: &'a Value, name: &str) -> &'a Value {
    devices
        .as_array()
        .expect("devices")
        .iter()
        .find(|d| d["device"] == name)
        .unwrap_or_else(|| panic!("no {name} in {devices}"))
}

async fn configs_show_their_errors_by_key_and_again_after_an_edit(store: Store) {
    let integrator = token(&store, "chen.jie", Role::Integrator).await;
    let operator = token(&store, "li.wei", Role::Operator).await;
    let dir = tempdir();
    let good = demo_config(dir.path(), "demo.toml", &[]);
    let broken = demo_config(
        dir.path(),
        "broken.toml",
        &[
            ("high_watermark = 12", "hight_watermark = 12".to_owned()),
            (DEMO_PLC, "127.0.0.1:70000".to_owned()),
        ],
    );
    let server = serve(store.clone(), &[good, broken.clone()], LiveLines::none()).await;
    let base = server.url();

    let (status, page) = get(&base, "/api/v1/line-configs", &integrator).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["total"], 2, "{page}");
    let (demo, bad) = (&page["items"][0], &page["items"][1]);
    assert_eq!(demo["valid"], true, "{demo}");
    assert_eq!(demo["line_id"], "demo");
    assert_eq!(demo["errors"], json!([]));
    let inkjet = device(&demo["devices"], "markers.inkjet");
    assert_eq!(inkjet["line"], "not_running", "{inkjet}");
    assert_eq!(inkjet["kind"], "linx_rci");
    assert_eq!(inkjet["abnormal"], false);
    assert_eq!(device(&demo["devices"], "plcs.line_io")["kind"], "line_io");

    assert_eq!(bad["valid"], false, "{bad}");
    assert!(
        bad["file"]
            .as_str()
            .is_some_and(|f| f.ends_with("broken.toml")),
        "{bad}"
    );
    assert!(
        bad["text"]
            .as_str()
            .is_some_and(|t| t.contains("hight_watermark = 12")),
        "{bad}"
    );
    assert_eq!(
        bad["devices"],
        json!([]),
        "an invalid config has no devices"
    );
    let errors: Vec<(String, String)> = bad["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["path"].as_str().unwrap_or_default().to_owned(),
                e["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors
            .iter()
            .any(|(path, message)| path == "markers.inkjet.hight_watermark"
                && message.contains("did you mean `high_watermark`")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|(path, message)| path == "plcs.line_io.transport.address"
                && message.contains("127.0.0.1:70000")),
        "{errors:?}"
    );

    // A config with errors is not probed: it says why, naming the file's errors.
    let (status, problem) = probe(&base, "1", "inkjet", &integrator, json!({})).await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["field"], "config");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("broken.toml: 2 errors")),
        "{problem}"
    );

    // Edited on disk: the next request validates it again.
    let fixed = std::fs::read_to_string(&broken)
        .expect("read")
        .replace("hight_watermark", "high_watermark")
        .replace("127.0.0.1:70000", DEMO_PLC);
    std::fs::write(&broken, fixed).expect("fix the config");
    let (_, page) = get(&base, "/api/v1/line-configs", &integrator).await;
    assert_eq!(page["items"][1]["valid"], true, "{page}");
    assert_eq!(page["items"][1]["errors"], json!([]));

    // Configs are the integrator's; every user reads the devices.
    let (status, problem) = get(&base, "/api/v1/line-configs", &operator).await;
    assert_eq!(status, 403, "{problem}");
    let (status, devices) = get(&base, "/api/v1/devices", &operator).await;
    assert_eq!(status, 200, "{devices}");
    assert_eq!(
        devices["total"], 4,
        "two configs, a marker and a PLC each: {devices}"
    );
    let (status, problem) = probe(&base, "0", "inkjet", &operator, json!({})).await;
    assert_eq!(status, 403, "{problem}");
}
both!(configs_show_their_errors_by_key_and_again_after_an_edit);

async fn probes_of_simulated_devices_report_every_step_with_its_round_trip(store: Store) {
    let integrator = token(&store, "chen.jie", Role::Integrator).await;
    let dir = tempdir();
    let devices = simulated_devices(dir.path()).await;
    let server = serve(
        store.clone(),
        std::slice::from_ref(&devices.config),
        LiveLines::none(),
    )
    .await;
    let base = server.url();

    let (status, report) = probe(&base, "0", "inkjet", &integrator, json!({})).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["device"], "markers.inkjet");
    assert_eq!(report["code"], "TRACEMARK-PROBE");
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
    for step in report["steps"].as_array().expect("steps") {
        assert_eq!(step["ok"], true, "{step}");
        assert!(step["ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{step}");
    }
    // Nothing printed, nothing left to print.
    let snapshot = devices.marker.snapshot();
    assert_eq!(
        (snapshot.buffered(), snapshot.prints()),
        (0, 0),
        "{snapshot:?}"
    );
    assert!(!snapshot.printing(), "{snapshot:?}");

    let (status, report) = probe(
        &base,
        "0",
        "plcs.line_io",
        &integrator,
        json!({"timeout_ms": 1000}),
    )
    .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["poll"]["encoder"], 4242, "{report}");
    assert_eq!(report["steps"][1]["step"], "poll");
    assert!(report["steps"][1]["ms"].is_number(), "{report}");
    // One poll is two reads: nothing written to the PLC.
    assert_eq!(devices.plc.snapshot().requests(), 2);

    // Bad probes, each naming what is wrong.
    for (config, device, body, status, field) in [
        (
            "0",
            "inkjet",
            json!({"timeout_ms": 60_000}),
            400,
            "timeout_ms",
        ),
        ("0", "inkjet", json!({"timeout_ms": 5}), 400, "timeout_ms"),
        ("0", "inkjet", json!({"code": "TAB\there"}), 400, "code"),
        ("0", "inkjet", json!({"colour": "red"}), 400, "colour"),
        ("0", "cam1", json!({}), 400, "device"),
        ("0", "nothing", json!({}), 400, "device"),
        ("7", "inkjet", json!({}), 404, "line config"),
        ("first", "inkjet", json!({}), 400, "config"),
    ] {
        let (got, problem) = probe(&base, config, device, &integrator, body.clone()).await;
        assert_eq!(got, status, "{config}/{device} {body}: {problem}");
        assert_eq!(
            problem["field"], field,
            "{config}/{device} {body}: {problem}"
        );
    }
}
both!(probes_of_simulated_devices_report_every_step_with_its_round_trip);

async fn a_running_lines_marker_is_refused_and_its_state_is_live(store: Store) {
    let integrator = token(&store, "chen.jie", Role::Integrator).await;
    let dir = tempdir();
    let devices = simulated_devices(dir.path()).await;
    // This process "runs" line demo: its live view, as `run --http` publishes it.
    let (line, view) = watch::channel(LiveView::new("demo", 1, false, 100));
    line.send_modify(|v| v.line.marker = "connected".into());
    let server = serve(
        store.clone(),
        std::slice::from_ref(&devices.config),
        LiveLines::none().with("demo", view),
    )
    .await;
    let base = server.url();

    let (_, states) = get(&base, "/api/v1/devices", &integrator).await;
    let inkjet = device(&states["items"], "markers.inkjet");
    assert_eq!(inkjet["line"], "running", "{inkjet}");
    assert_eq!(inkjet["state"], "connected");
    assert_eq!(inkjet["abnormal"], false, "grey when normal: {inkjet}");

    let (status, problem) = probe(&base, "0", "inkjet", &integrator, json!({})).await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["field"], "device");
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("markers.inkjet") && detail.contains("running now"),
        "{detail}"
    );
    assert_eq!(
        devices.marker.snapshot().commands(),
        0,
        "the marker was not touched"
    );
    // A PLC is only read: it may be probed while its line runs.
    let (status, report) = probe(&base, "0", "line_io", &integrator, json!({})).await;
    assert_eq!((status, &report["ok"]), (200, &json!(true)), "{report}");

    // The marker faults: its state says so, in colour.
    line.send_modify(|v| {
        v.line.marker = "faulted: ink low".into();
        v.line.alarm = Some("marker inkjet faulted: ink low".into());
    });
    let (_, states) = get(&base, "/api/v1/devices", &integrator).await;
    let inkjet = device(&states["items"], "markers.inkjet");
    assert_eq!(inkjet["state"], "faulted: ink low", "{inkjet}");
    assert_eq!(inkjet["abnormal"], true, "{inkjet}");

    // The run ends (its report is set): the marker may be probed again.
    line.send_modify(|v| v.report = Some(json!({"balanced": true})));
    let (_, states) = get(&base, "/api/v1/devices", &integrator).await;
    assert_eq!(
        device(&states["items"], "markers.inkjet")["line"],
        "finished"
    );
    let (status, report) = probe(&base, "0", "inkjet", &integrator, json!({})).await;
    assert_eq!((status, &report["ok"]), (200, &json!(true)), "{report}");
}
both!(a_running_lines_marker_is_refused_and_its_state_is_live);

/// Logs `name` in and returns the session cookie (`name=value`).
async fn session_cookie(base: &str, name: &str) -> String {
    let login = reqwest::Client::new()
        .post(format!("{base}/api/v1/session"))
        .json(&json!({"name": name, "password": PASSWORD}))
        .send()
        .await
        .expect("an answer");
    assert_eq!(login.status().as_u16(), 200);
    login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned()
}

async fn page(base: &str, cookie: &str) -> String {
    let response = reqwest::Client::new()
        .get(format!("{base}/integrator"))
        .header("cookie", cookie)
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status().as_u16(), 200);
    response.text().await.expect("the page")
}

async fn the_page_shows_errors_in_colour_and_probes_only_to_the_integrator(store: Store) {
    token(&store, "chen.jie", Role::Integrator).await;
    token(&store, "li.wei", Role::Operator).await;
    let dir = tempdir();
    let good = demo_config(dir.path(), "demo.toml", &[]);
    let broken = demo_config(
        dir.path(),
        "broken.toml",
        &[("position_mm = 700", "position_mm = 200".to_owned())],
    );
    let server = serve(store.clone(), &[good, broken], LiveLines::none()).await;
    let base = server.url();

    let html = page(&base, &session_cookie(&base, "chen.jie").await).await;
    assert!(
        html.contains("readers.cam1.position_mm"),
        "the error names its key"
    );
    assert!(html.contains("is not after the last marker (250 mm)"));
    assert_eq!(
        html.matches("class=\"config-errors abnormal\"").count(),
        1,
        "red only for the invalid config"
    );
    assert!(html.contains("data-probe-device=\"markers.inkjet\""));
    assert!(html.contains("/hmi/integrator.js"));

    let html = page(&base, &session_cookie(&base, "li.wei").await).await;
    assert!(
        html.contains("markers.inkjet"),
        "every user sees the devices"
    );
    assert!(
        !html.contains("data-probe-device"),
        "no probe for an operator"
    );
    assert!(
        !html.contains("readers.cam1.position_mm"),
        "configs are the integrator's"
    );
}
both!(the_page_shows_errors_in_colour_and_probes_only_to_the_integrator);

/// `tracemark serve --config FILE --config FILE`: the configs it names, by index.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_shows_the_configs_it_is_given() {
    let dir = tempdir();
    let db = sqlite_url(dir.path());
    let store = open(&db).await;
    let integrator = token(&store, "chen.jie", Role::Integrator).await;
    store.close().await;
    let demo = demo_config(dir.path(), "demo.toml", &[]);
    let missing = dir.path().join("missing.toml");
    let mut child = tokio::process::Command::new(bin())
        .args(["serve", "--http", "127.0.0.1:0", "--config"])
        .arg(&demo)
        .arg("--config")
        .arg(&missing)
        .env("TRACEMARK_DB", &db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start tracemark serve");
    let stdout = child.stdout.take().expect("stdout");
    let first = tokio::time::timeout(
        Duration::from_secs(30),
        BufReader::new(stdout).lines().next_line(),
    )
    .await
    .expect("serve says where it listens")
    .expect("read stdout")
    .expect("a line");
    let base = first
        .strip_prefix("tracemark: serving ")
        .and_then(|u| u.strip_suffix("/api/v1"))
        .unwrap_or_else(|| panic!("not the URL line: {first}"))
        .to_owned();

    let (status, page) = get(&base, "/api/v1/line-configs", &integrator).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"][0]["valid"], true, "{page}");
    let absent = &page["items"][1];
    assert_eq!(absent["valid"], false, "{absent}");
    assert_eq!(absent["text"], Value::Null);
    assert!(
        absent["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("cannot read the file")),
        "{absent}"
    );
    let _ = child.kill().await;
}
