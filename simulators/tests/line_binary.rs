//! `tracemark-sim line --config FILE`: every device of a line config starts, each says where it
//! is (and the override, when that is not where the config says), one `# ready` line follows,
//! the devices answer their protocols there, and the process ends when its stdin closes. And
//! every single-device subcommand ends when its stdin closes.
//!
//! Addresses: a serial path that does not exist (served on a pty), 192.0.2.1 (TEST-NET-1, RFC
//! 5737: no address of this machine, so a free local port), and a free port of 127.0.0.1 (a
//! config may not say port 0). No sleeps: each step waits for a line the simulator prints.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tracemark_drivers::linx::LinxLink;
use tracemark_drivers::linx::message::{self, JetState, PrinterStatus};
use tracemark_drivers::transport::{SerialSettings, Transport};

/// Guard against a hung test; never a synchronisation point.
const GUARD: Duration = Duration::from_secs(20);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn broker_url() -> Option<String> {
    match std::env::var("TRACEMARK_TEST_MQTT") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var_os("CI").is_some() {
                panic!("TRACEMARK_TEST_MQTT not set, and CI is set: MQTT tests must run");
            }
            println!("skipped: TRACEMARK_TEST_MQTT not set");
            None
        }
    }
}

/// A line with a Linx marker on a serial port that does not exist, a Zipher coder at an
/// address of another machine, the PLC (unit 3) at `plc_port` of 127.0.0.1, and a camera on
/// the broker at `mqtt`.
fn write_config(dir: &Path, plc_port: u16, mqtt: &str) -> std::path::PathBuf {
    let path = dir.join("bench-line.toml");
    let text = format!(
        r#"
[line]
id = "bench{pid}"
[conveyor]
speed_upm = 60
[markers.cij]
type = "linx_rci"
position_mm = 100
transport = {{ type = "serial", path = "/dev/tracemark-no-such-tty", baud = 9600 }}
[markers.tij]
type = "zipher"
position_mm = 150
transport = {{ type = "tcp", address = "192.0.2.1:3002" }}
[readers.cam1]
position_mm = 300
[plcs.line_io]
transport = {{ type = "tcp", address = "127.0.0.1:{plc_port}" }}
unit_id = 3
[gate]
position_mm = 500
plc = "line_io"
coil = 0
confirm_input = 0
[mqtt]
url = "{mqtt}"
"#,
        pid = std::process::id()
    );
    std::fs::write(&path, text).expect("config written");
    path
}

/// `tracemark-sim line` running, with what it printed up to `# ready`.
struct Line {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
    /// `section-word name` → (protocol, endpoint kind, target).
    devices: BTreeMap<String, (String, String, String)>,
    /// Override name → value.
    exports: BTreeMap<String, String>,
    /// Lines about devices not started.
    not_started: Vec<String>,
    ready: String,
}

impl Line {
    async fn start(config: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tracemark-sim"))
            .args(["line", "--config"])
            .arg(config)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("tracemark-sim starts");
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
        let (mut devices, mut exports, mut not_started) =
            (BTreeMap::new(), BTreeMap::new(), Vec::new());
        let ready = loop {
            let line = tokio::time::timeout(GUARD, stdout.next_line())
                .await
                .expect("the ready line in time")
                .expect("stdout readable")
                .expect("a `# ready` line before stdout ends");
            if line.starts_with("# ready") {
                break line;
            }
            if let Some(export) = line.strip_prefix("export ") {
                let (name, value) = export.split_once('=').expect("export NAME=VALUE");
                exports.insert(name.to_owned(), value.to_owned());
            } else if line.contains(": not started: ") {
                not_started.push(line);
            } else {
                // `# marker cij: linx_rci on pty /dev/pts/7 …`
                let words: Vec<&str> = line.split_whitespace().collect();
                let ["#", device, name, protocol, "on", kind, target, ..] = words.as_slice() else {
                    panic!("a device line, got `{line}`");
                };
                devices.insert(
                    format!("{device} {}", name.trim_end_matches(':')),
                    (
                        (*protocol).to_owned(),
                        (*kind).to_owned(),
                        target.trim_end_matches(',').to_owned(),
                    ),
                );
            }
        };
        Line {
            child,
            stdin,
            stdout,
            devices,
            exports,
            not_started,
            ready,
        }
    }

    fn device(&self, key: &str) -> (&str, &str, &str) {
        let (protocol, kind, target) = self
            .devices
            .get(key)
            .unwrap_or_else(|| panic!("no `{key}` in {:?}", self.devices));
        (protocol, kind, target)
    }

    /// Sends one command that answers nothing.
    async fn send(&mut self, command: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin
            .write_all(format!("{command}\n").as_bytes())
            .await
            .expect("stdin writable");
    }

    /// Sends one command and returns the line it answers.
    async fn command(&mut self, command: &str) -> String {
        self.send(command).await;
        tokio::time::timeout(GUARD, self.stdout.next_line())
            .await
            .expect("an answer in time")
            .expect("stdout readable")
            .expect("an answer")
    }

    /// Closes stdin and waits (bounded) for the process to end; kills it if it does not.
    async fn close_stdin_and_wait(mut self) -> std::process::ExitStatus {
        drop(self.stdin.take());
        exits_in_time(&mut self.child).await
    }
}

async fn exits_in_time(child: &mut Child) -> std::process::ExitStatus {
    match tokio::time::timeout(GUARD, child.wait()).await {
        Ok(status) => status.expect("waited"),
        Err(_) => {
            child.kill().await.expect("killed");
            panic!("still running {GUARD:?} after its stdin closed");
        }
    }
}

async fn linx_status(path: &str) -> PrinterStatus {
    let transport = Transport::Serial(SerialSettings::new(path.to_owned(), 9_600));
    let stream = transport.open().await.expect("the pty opens");
    let mut link = LinxLink::new(stream, Duration::from_secs(5));
    let reply = link
        .request(&message::Command::bare(message::command::PRINTER_STATUS))
        .await
        .expect("status reply");
    assert!(reply.accepted());
    PrinterStatus::decode(reply.data()).expect("status data")
}

/// `GST` → `STS|overall|error|job|batch|total|` (docs/protocols/zipher.md), raw over TCP.
async fn zipher_status(addr: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("the coder listens");
    stream.write_all(b"GST\r").await.expect("sent");
    let mut reply = Vec::new();
    let mut reader = BufReader::new(stream);
    tokio::time::timeout(GUARD, reader.read_until(b'\r', &mut reply))
        .await
        .expect("a reply in time")
        .expect("readable");
    String::from_utf8(reply).expect("text")
}

/// Input registers 0–3: the encoder count and the detections count, u32 high word first
/// (docs/protocols/line-io.md).
async fn plc_counts(addr: &str, unit: u8) -> (u32, u32) {
    use tokio_modbus::client::Reader as _;
    let addr = addr.parse().expect("a socket address");
    let mut plc = tokio_modbus::client::tcp::connect_slave(addr, tokio_modbus::Slave(unit))
        .await
        .expect("the PLC takes Modbus TCP");
    let words = tokio::time::timeout(GUARD, plc.read_input_registers(0, 4))
        .await
        .expect("an answer in time")
        .expect("link")
        .expect("no exception");
    let u32_at = |i: usize| (u32::from(words[i]) << 16) | u32::from(words[i + 1]);
    (u32_at(0), u32_at(2))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn line_serves_every_device_of_the_config_until_stdin_closes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plc_port = free_port();
    // No broker at a port nothing listens on: the camera is not started, and says why.
    let mqtt = format!("mqtt://127.0.0.1:{}", free_port());
    let mut line = Line::start(&write_config(dir.path(), plc_port, &mqtt)).await;
    assert!(
        line.ready.starts_with("# ready: 3 of 4 devices"),
        "{}",
        line.ready
    );

    // The serial marker: on a pty, with the override that leads there.
    let (protocol, kind, pty) = line.device("marker cij");
    assert_eq!((protocol, kind), ("linx_rci", "pty"));
    assert_eq!(
        line.exports.get("TRACEMARK_MARKERS__CIJ__TRANSPORT__PATH"),
        Some(&pty.to_owned())
    );
    let status = linx_status(pty).await;
    assert_eq!(status.jet(), JetState::Running);

    // The coder at another machine's address: on a free local port.
    let (protocol, kind, tij) = line.device("marker tij");
    assert_eq!((protocol, kind), ("zipher", "tcp"));
    assert_eq!(
        line.exports
            .get("TRACEMARK_MARKERS__TIJ__TRANSPORT__ADDRESS"),
        Some(&tij.to_owned())
    );
    let reply = zipher_status(tij).await;
    assert!(reply.starts_with("STS|"), "{reply:?}");

    // The PLC where the config says (unless that port was taken meanwhile: then the override
    // says where), its encoder moved by a command on stdin.
    let (protocol, kind, plc) = line.device("plc line_io");
    assert_eq!((protocol, kind), ("modbus_tcp", "tcp"));
    let plc = plc.to_owned();
    match line
        .exports
        .get("TRACEMARK_PLCS__LINE_IO__TRANSPORT__ADDRESS")
    {
        Some(moved) => assert_eq!(moved, &plc),
        None => assert_eq!(plc, format!("127.0.0.1:{plc_port}")),
    }
    assert_eq!(plc_counts(&plc, 3).await, (0, 0));
    // `encoder N` answers nothing; the `detect` after it answers once both are done.
    line.send("line_io encoder 70000").await;
    assert_eq!(line.command("line_io detect").await, "detect: 1");
    assert_eq!(plc_counts(&plc, 3).await, (70_000, 1));
    assert!(
        line.command("press start")
            .await
            .starts_with("error: no device `press`"),
    );

    assert_eq!(line.not_started.len(), 1, "{:?}", line.not_started);
    assert!(
        line.not_started[0].starts_with(&format!(
            "# reader cam1: not started: no MQTT broker answers at {}",
            mqtt.trim_start_matches("mqtt://")
        )),
        "{}",
        line.not_started[0]
    );

    let status = line.close_stdin_and_wait().await;
    assert!(status.success(), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn line_camera_publishes_to_the_configured_broker() {
    let Some(url) = broker_url() else { return };
    let (host, port) = url
        .strip_prefix("mqtt://")
        .and_then(|r| r.rsplit_once(':'))
        .map(|(h, p)| (h.to_owned(), p.parse::<u16>().expect("port")))
        .expect("mqtt://host:port");
    let dir = tempfile::tempdir().expect("tempdir");
    let line_id = format!("bench{}", std::process::id());

    // Subscribe first, and wait for the broker's SubAck (the readiness signal).
    let (client, mut events) =
        AsyncClient::new(MqttOptions::new(format!("{line_id}-test"), host, port), 16);
    client
        .subscribe(
            format!("tracemark/{line_id}/vision/cam1/result"),
            QoS::AtLeastOnce,
        )
        .await
        .expect("subscribe");
    tokio::time::timeout(GUARD, async {
        loop {
            if let Event::Incoming(Packet::SubAck(_)) = events.poll().await.expect("broker") {
                break;
            }
        }
    })
    .await
    .expect("subscribed in time");

    let line = Line::start(&write_config(dir.path(), free_port(), &url)).await;
    assert!(line.not_started.is_empty(), "{:?}", line.not_started);
    let (protocol, kind, feed) = line.device("reader cam1");
    assert_eq!((protocol, kind), ("vision", "tcp"));
    let feed = tokio::net::TcpStream::connect(feed).await.expect("feed");
    let (read, mut write) = feed.into_split();
    write
        .write_all(b"450 (01)09506000134352(21)000000000007\n")
        .await
        .expect("fed");
    let mut replies = BufReader::new(read).lines();
    let reply = tokio::time::timeout(GUARD, replies.next_line())
        .await
        .expect("a reply in time")
        .expect("readable")
        .expect("a reply");
    assert!(reply.starts_with("ok "), "{reply}");
    let payload = tokio::time::timeout(GUARD, async {
        loop {
            if let Event::Incoming(Packet::Publish(publish)) = events.poll().await.expect("broker")
            {
                break publish.payload;
            }
        }
    })
    .await
    .expect("a result in time");
    let result: serde_json::Value = serde_json::from_slice(&payload).expect("JSON");
    assert_eq!(result["reader"], "cam1");
    assert_eq!(result["encoder"], 450);
    let status = line.close_stdin_and_wait().await;
    assert!(status.success(), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn line_reports_every_config_error_and_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("broken.toml");
    std::fs::write(
        &path,
        "[line]\nid = \"x\"\n[conveyor]\nspeed_upm = 60\n[markers.m]\ntype = \"inkjet\"\n\
         position_mm = 10\ntransport = { type = \"tcp\", address = \"nowhere\" }\n",
    )
    .expect("written");
    let output = Command::new(env!("CARGO_BIN_EXE_tracemark-sim"))
        .args(["line", "--config"])
        .arg(&path)
        .stdin(Stdio::piped())
        .output();
    let output = tokio::time::timeout(GUARD, output)
        .await
        .expect("ends in time")
        .expect("runs");
    assert!(!output.status.success());
    assert!(output.stdout.is_empty(), "nothing is ready");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("markers.m.type"), "{stderr}");
    assert!(stderr.contains("markers.m.transport"), "{stderr}");
}

/// Every single-device subcommand ends when its stdin closes, whatever it serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_device_subcommand_ends_when_its_stdin_closes() {
    let nobody = format!("mqtt://127.0.0.1:{}", free_port());
    let cases: [&[&str]; 9] = [
        &["linx", "--tcp", "127.0.0.1:0"],
        &["linx", "--pty"],
        &["zipher", "--tcp", "127.0.0.1:0", "--rate", "60"],
        &["codenet", "--tcp", "127.0.0.1:0"],
        &["zpl", "--tcp", "127.0.0.1:0"],
        &["modbus-marker", "--pty"],
        &["ascii", "--tcp", "127.0.0.1:0", "--print-go", "127.0.0.1:0"],
        &[
            "plc",
            "--tcp",
            "127.0.0.1:0",
            "--rate",
            "60",
            "--pitch-counts",
            "100",
        ],
        &[
            "vision",
            "--mqtt",
            &nobody,
            "--line",
            "x",
            "--feed",
            "127.0.0.1:0",
        ],
    ];
    for args in cases {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tracemark-sim"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("tracemark-sim starts");
        let stdin = child.stdin.take().expect("stdin is piped");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        // Serving: the first line says where.
        let first = tokio::time::timeout(GUARD, stdout.next_line())
            .await
            .expect("first line in time")
            .expect("readable")
            .unwrap_or_else(|| panic!("{args:?}: a first line"));
        assert!(
            first.starts_with("listening: ") || first.starts_with("pty: "),
            "{args:?}: {first}"
        );
        drop(stdin);
        let status = exits_in_time(&mut child).await;
        assert!(status.success(), "{args:?}: {status}");
    }
}
