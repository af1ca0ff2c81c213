//! The `tracemark-sim` binary: announces its transport on the first stdout line and answers
//! RCI requests on it.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tracemark_drivers::linx::LinxLink;
use tracemark_drivers::linx::message::{self, JetState, PrintState, PrinterStatus};
use tracemark_drivers::transport::{SerialSettings, Transport};

/// Guard against a hung test; never a synchronisation point.
const GUARD: Duration = Duration::from_secs(20);

/// Starts the simulator and returns it with its first stdout line.
async fn start(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tracemark-sim"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("tracemark-sim starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(GUARD, lines.next_line())
        .await
        .expect("first line in time")
        .expect("stdout readable")
        .expect("a first line");
    (child, first)
}

async fn status_over(transport: Transport) -> PrinterStatus {
    let stream = transport.open().await.expect("transport opens");
    let mut link = LinxLink::new(stream, Duration::from_secs(5));
    let reply = link
        .request(&message::Command::bare(message::command::PRINTER_STATUS))
        .await
        .expect("status reply");
    assert!(reply.accepted());
    assert_eq!(reply.printer_status(), 0);
    PrinterStatus::decode(reply.data()).expect("status data")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linx_pty_prints_its_path_first_and_answers_status() {
    let (mut child, first) = start(&["linx", "--pty", "--depth", "4"]).await;
    let path = first
        .strip_prefix("pty: ")
        .unwrap_or_else(|| panic!("first line is `pty: PATH`, got `{first}`"));
    assert!(path.starts_with("/dev/"), "{path}");
    let status = status_over(Transport::Serial(SerialSettings::new(
        path.to_owned(),
        9_600,
    )))
    .await;
    assert_eq!(status.jet(), JetState::Running);
    assert_eq!(status.print(), PrintState::Idle);
    child.kill().await.expect("simulator stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linx_tcp_prints_its_address_first_and_answers_status() {
    let (mut child, first) = start(&["linx", "--tcp", "127.0.0.1:0"]).await;
    let addr = first
        .strip_prefix("listening: ")
        .unwrap_or_else(|| panic!("first line is `listening: ADDR`, got `{first}`"));
    let status = status_over(Transport::Tcp(addr.to_owned())).await;
    assert_eq!(status.jet(), JetState::Running);
    child.kill().await.expect("simulator stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linx_ink_out_flag_is_reported_in_status() {
    let (mut child, first) = start(&["linx", "--tcp", "127.0.0.1:0", "--fault", "ink-out"]).await;
    let addr = first.strip_prefix("listening: ").expect("listening line");
    let status = status_over_faulted(Transport::Tcp(addr.to_owned())).await;
    assert_eq!(status, (0x07, JetState::Fault));
    child.kill().await.expect("simulator stops");
}

async fn status_over_faulted(transport: Transport) -> (u8, JetState) {
    let stream = transport.open().await.expect("transport opens");
    let mut link = LinxLink::new(stream, Duration::from_secs(5));
    let reply = link
        .request(&message::Command::bare(message::command::PRINTER_STATUS))
        .await
        .expect("status reply");
    let status = PrinterStatus::decode(reply.data()).expect("status data");
    (reply.printer_status(), status.jet())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zipher_tcp_prints_its_address_first_and_answers_get_state() {
    use tracemark_drivers::zipher::ZipherLink;
    use tracemark_drivers::zipher::codec::{MachineState, OverallState};

    let (mut child, first) = start(&["zipher", "--tcp", "127.0.0.1:0", "--depth", "4"]).await;
    let addr = first
        .strip_prefix("listening: ")
        .unwrap_or_else(|| panic!("first line is `listening: ADDR`, got `{first}`"));
    let stream = Transport::Tcp(addr.to_owned())
        .open()
        .await
        .expect("transport opens");
    let mut link = ZipherLink::new(stream, Duration::from_secs(5));
    let reply = link.request("GST", &[]).await.expect("GST reply");
    let state = MachineState::decode(&reply).expect("STS reply");
    assert_eq!(state.overall(), OverallState::Offline);
    let max = link.request("SGM", &[]).await.expect("SGM reply");
    assert_eq!(
        tracemark_drivers::zipher::codec::decode_number(&max, "SGM"),
        Ok(4)
    );
    child.kill().await.expect("simulator stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zipher_pty_prints_its_path_first() {
    let (mut child, first) = start(&["zipher", "--pty"]).await;
    assert!(first.starts_with("pty: /dev/"), "{first}");
    child.kill().await.expect("simulator stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_print_go_coil_written_over_modbus_tcp_prints_the_next_record() {
    use tracemark_drivers::zipher::ZipherLink;
    use tracemark_drivers::zipher::codec::{Response, decode_number};
    let mut child = Command::new(env!("CARGO_BIN_EXE_tracemark-sim"))
        .args([
            "zipher",
            "--tcp",
            "127.0.0.1:0",
            "--print-go",
            "127.0.0.1:0",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("tracemark-sim starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
    let mut next_line = async || {
        tokio::time::timeout(GUARD, lines.next_line())
            .await
            .expect("a line in time")
            .expect("stdout readable")
            .expect("a line")
    };
    let first = next_line().await;
    let marker = first
        .strip_prefix("listening: ")
        .expect("listening: ADDR first");
    let second = next_line().await;
    let print_go: std::net::SocketAddr = second
        .strip_prefix("print-go: ")
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("print-go: ADDR second, got `{second}`"));

    let stream = Transport::Tcp(marker.to_owned())
        .open()
        .await
        .expect("connects");
    let mut coder = ZipherLink::new(stream, Duration::from_secs(5));
    for (command, fields) in [
        ("SEL", vec!["CODES"]),
        ("SHO", vec!["SERIAL"]),
        ("SST", vec!["3"]),
        ("SID", vec!["1", "(01)09506000134352(21)GO0001"]),
    ] {
        let reply = coder.request(command, &fields).await.expect("a reply");
        assert_eq!(reply, Response::Ack, "{command}");
    }
    let mut plc = tokio_modbus::client::tcp::connect(print_go)
        .await
        .expect("the print-go port takes Modbus TCP");
    use tokio_modbus::client::Writer as _;
    plc.write_single_coil(0, true)
        .await
        .expect("link")
        .expect("coil 0 written");
    let last = coder.request("SLR", &[]).await.expect("SLR reply");
    assert_eq!(decode_number(&last, "SLR"), Ok(1), "{last:?}");
    let refused = plc.write_single_coil(7, true).await.expect("link");
    assert!(refused.is_err(), "coil 7 is not the print-go: {refused:?}");
    child.kill().await.expect("stopped");
}
