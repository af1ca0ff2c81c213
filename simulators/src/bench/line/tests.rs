use std::collections::BTreeMap;
use std::path::Path;

use super::*;
use crate::marker::{Fault, MarkerSim};

/// A line whose marker's serial port and PLC's address are not to be had here: the serial path
/// does not exist and 192.0.2.1 (TEST-NET-1, RFC 5737) is no address of this machine. No broker
/// at a port nothing listens on.
fn config(dir: &Path, broker_port: u16) -> std::path::PathBuf {
    let path = dir.join("bench.toml");
    let text = format!(
        r#"
[line]
id = "bench"
[conveyor]
speed_upm = 60
[markers.cij]
type = "linx_rci"
position_mm = 100
transport = {{ type = "serial", path = "/dev/tracemark-no-such-tty", baud = 19200 }}
[markers.tij]
type = "zipher"
position_mm = 150
transport = {{ type = "tcp", address = "127.0.0.1:0" }}
[readers.cam1]
position_mm = 300
[plcs.line_io]
transport = {{ type = "tcp", address = "192.0.2.1:1502" }}
unit_id = 3
[gate]
position_mm = 500
plc = "line_io"
coil = 0
confirm_input = 0
[mqtt]
url = "mqtt://127.0.0.1:{broker_port}"
"#
    );
    std::fs::write(&path, text).expect("config written");
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

#[test]
fn overrides_are_named_as_the_config_reads_them() {
    let fix = Override::transport(Section::Markers, "cij", "ADDRESS", "127.0.0.1:4000".into());
    assert_eq!(fix.name, "TRACEMARK_MARKERS__CIJ__TRANSPORT__ADDRESS");
    assert_eq!(
        fix.to_string(),
        "export TRACEMARK_MARKERS__CIJ__TRANSPORT__ADDRESS=127.0.0.1:4000"
    );
    let fix = Override::transport(Section::Plcs, "line-io", "PATH", "/dev/pts/3".into());
    assert!(!fix.exportable());
    assert!(fix.to_string().starts_with("# "), "{fix}");
}

#[tokio::test]
async fn devices_move_where_they_can_be_served_and_the_overrides_lead_there() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A config may not say port 0 (tracemark-config refuses it): the marker's TCP address is
    // set to a free port through an override, as a user would.
    let tij_port = free_port();
    let path = config(dir.path(), free_port());
    let mut env = BTreeMap::new();
    env.insert(
        "TRACEMARK_MARKERS__TIJ__TRANSPORT__ADDRESS".to_owned(),
        format!("127.0.0.1:{tij_port}"),
    );
    let line = tracemark_config::load_with_env(&path, env).expect("a valid config");
    let options = LineOptions {
        broker_timeout: Duration::from_secs(10),
        ..LineOptions::default()
    };
    let bench = start_line(&line, &options).await.expect("started");

    let devices = bench.devices();
    let names: Vec<(&str, &str)> = devices
        .iter()
        .map(|d| (d.name.as_str(), d.protocol.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("cij", "linx_rci"),
            ("tij", "zipher"),
            ("line_io", "modbus_tcp")
        ]
    );
    // The serial marker is on a pty, the unbindable PLC on a free local port.
    assert!(
        matches!(devices[0].endpoint, Endpoint::Pty(_)),
        "{}",
        devices[0]
    );
    assert!(devices[0].moved.is_some());
    assert_eq!(
        devices[1].endpoint,
        Endpoint::Tcp(([127, 0, 0, 1], tij_port).into()),
        "a bindable address is served where the config says"
    );
    assert_eq!(devices[1].moved, None);
    assert!(matches!(devices[2].endpoint, Endpoint::Tcp(_)));
    let moved = devices[2].moved.as_ref().expect("moved");
    assert_eq!(moved.configured, "tcp 192.0.2.1:1502");
    assert_eq!(devices[2].detail.as_deref(), Some("unit 3, line I/O map"));

    // No broker: the camera is not started, and the reason says where it looked.
    let [not_started] = bench.not_started() else {
        panic!("one device not started: {:?}", bench.not_started());
    };
    assert_eq!(not_started.name, "cam1");
    assert!(
        not_started
            .reason
            .contains("no MQTT broker answers at 127.0.0.1:"),
        "{not_started}"
    );

    // The overrides, applied to the same file, give the endpoints the simulators serve.
    let overrides: BTreeMap<String, String> = devices
        .iter()
        .filter_map(|d| d.moved.as_ref())
        .map(|m| (m.fix.name.clone(), m.fix.value.clone()))
        .chain([(
            "TRACEMARK_MARKERS__TIJ__TRANSPORT__ADDRESS".to_owned(),
            format!("127.0.0.1:{tij_port}"),
        )])
        .collect();
    let moved = tracemark_config::load_with_env(&path, overrides).expect("still valid");
    let where_config = |transport: &Transport| match transport {
        Transport::Tcp { host, port } => format!("{host}:{port}"),
        Transport::Serial { path, .. } => path.clone(),
    };
    assert_eq!(
        where_config(&moved.markers[0].transport),
        devices[0].endpoint.target()
    );
    assert_eq!(
        where_config(&moved.plcs[0].transport),
        devices[2].endpoint.target()
    );
    let gate = moved.gate.expect("gate");
    assert_eq!(
        where_config(&gate.plc.transport),
        devices[2].endpoint.target()
    );
}

#[tokio::test]
async fn commands_reach_the_device_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut env = BTreeMap::new();
    env.insert(
        "TRACEMARK_MARKERS__TIJ__TRANSPORT__ADDRESS".to_owned(),
        "127.0.0.1:1".to_owned(),
    );
    let line = tracemark_config::load_with_env(&config(dir.path(), free_port()), env)
        .expect("a valid config");
    let options = LineOptions {
        broker_timeout: Duration::from_millis(1),
        ..LineOptions::default()
    };
    let bench = start_line(&line, &options).await.expect("started");
    assert_eq!(
        bench.controls().command("line_io encoder 480"),
        Reply::Silent
    );
    assert_eq!(
        bench.controls().command("plcs.line_io detect"),
        Reply::Say("detect: 1".into())
    );
    let plc = bench.controls().plc("line_io").expect("the PLC");
    assert_eq!(plc.snapshot().encoder(), 480);
    assert_eq!(bench.controls().command("cij fault nak"), Reply::Silent);
    let cij = bench.controls().marker("cij").expect("the marker");
    assert_eq!(cij.faults(), vec![Fault::Nak]);
    assert!(matches!(
        bench.controls().command("press start"),
        Reply::Say(text) if text == "error: no device `press`; devices: cij, tij, line_io"
    ));
    assert_eq!(bench.controls().command("  "), Reply::Silent);
    assert_eq!(bench.controls().command("quit"), Reply::Quit);
}
