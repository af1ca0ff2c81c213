//! `tracemark-sim plc`: announces its address on the first stdout line, answers the line I/O
//! client over Modbus TCP or Modbus RTU on a pseudo-terminal, and takes commands on stdin.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tracemark_drivers::lineio::{LineIo, LineIoMap};
use tracemark_drivers::transport::{SerialSettings, Transport};

/// Guard against a hung test; never a synchronisation point.
const GUARD: Duration = Duration::from_secs(20);

struct Sim {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    transport: Transport,
}

impl Sim {
    async fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tracemark-sim"))
            .arg("plc")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("tracemark-sim starts");
        let stdin = child.stdin.take().expect("stdin is piped");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
        let first = Self::line_of(&mut stdout).await;
        let transport = if let Some(addr) = first.strip_prefix("listening: ") {
            Transport::Tcp(addr.to_owned())
        } else if let Some(path) = first.strip_prefix("pty: ") {
            Transport::Serial(SerialSettings::new(path, 19_200))
        } else {
            panic!("first line is `listening: ADDR` or `pty: PATH`, got `{first}`")
        };
        Self {
            child,
            stdin,
            stdout,
            transport,
        }
    }

    async fn line_of(stdout: &mut Lines<BufReader<ChildStdout>>) -> String {
        tokio::time::timeout(GUARD, stdout.next_line())
            .await
            .expect("a line in time")
            .expect("stdout readable")
            .expect("a line")
    }

    /// Sends a command and returns the next stdout line (the command's reply, or the reply to a
    /// `status` sent after it).
    async fn command(&mut self, command: &str) -> String {
        self.stdin
            .write_all(format!("{command}\n").as_bytes())
            .await
            .expect("command sent");
        Self::line_of(&mut self.stdout).await
    }

    async fn connect(&self, unit: u8) -> LineIo {
        LineIo::connect(
            &self.transport,
            unit,
            LineIoMap::default(),
            Duration::from_secs(5),
        )
        .await
        .expect("connects")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plc_announces_its_address_and_follows_stdin_commands() {
    let mut sim = Sim::start(&["--tcp", "127.0.0.1:0", "--unit-id", "5"]).await;
    let mut io = sim.connect(5).await;
    assert!(io.poll().await.expect("baseline").detections.is_empty());

    sim.command("encoder 1234\nstatus").await;
    assert_eq!(sim.command("detect").await, "detect: 1");
    let poll = io.poll().await.expect("poll");
    assert_eq!(poll.encoder, 1_234);
    assert_eq!(poll.detections, vec![1_234]);

    io.set_gate(true).await.expect("gate on");
    assert!(io.poll().await.expect("poll").gate_confirmed == Some(true));
    let status = sim.command("fault gate-jam\nstatus").await;
    assert!(status.starts_with("status: "), "{status}");
    assert!(status.contains("GateJam"), "{status}");
    assert!(io.poll().await.expect("poll").gate_confirmed == Some(false));

    sim.command("clear gate-jam\nstatus").await;
    io.set_gate(false).await.expect("gate off");

    // A queued reject, diverted as the encoder passes its window; `status` shows the counts.
    io.set_gate_timing(10, Duration::from_millis(20))
        .await
        .expect("gate timing");
    io.queue_reject(1, 2_000).await.expect("queued");
    let status = sim.command("encoder 1995\nstatus").await;
    assert!(
        status.contains("queued: 1, pending: 0, diverted: 1, faulted: 0, late: 0"),
        "{status}"
    );

    let error = sim.command("fault sticky").await;
    assert!(
        error.starts_with("error: unknown fault `sticky`"),
        "{error}"
    );

    sim.stdin.write_all(b"quit\n").await.expect("quit sent");
    let exit = tokio::time::timeout(GUARD, sim.child.wait())
        .await
        .expect("exits in time")
        .expect("exit status");
    assert!(exit.success(), "{exit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plc_rate_runs_the_conveyor_with_a_detection_every_pitch() {
    let sim = Sim::start(&[
        "--tcp",
        "127.0.0.1:0",
        "--rate",
        "6000",
        "--pitch-counts",
        "250",
    ])
    .await;
    let mut io = sim.connect(1).await;
    io.poll().await.expect("baseline");
    // Polling is how the controller sees the line; keep polling until three units passed.
    let detections = tokio::time::timeout(GUARD, async {
        let mut seen = Vec::new();
        while seen.len() < 3 {
            let poll = io.poll().await.expect("poll");
            assert_eq!(poll.missed, 0);
            assert!(poll.line_running == Some(true));
            seen.extend(poll.detections);
        }
        seen
    })
    .await
    .expect("units pass in time");
    for pair in detections.windows(2) {
        assert_eq!(pair[1] - pair[0], 250, "{detections:?}");
    }
    assert!(detections.iter().all(|at| at % 250 == 0), "{detections:?}");
}

#[tokio::test]
async fn plc_rate_needs_a_pitch() {
    let output = Command::new(env!("CARGO_BIN_EXE_tracemark-sim"))
        .args(["plc", "--tcp", "127.0.0.1:0", "--rate", "60"])
        .stdin(Stdio::null())
        .output();
    let output = tokio::time::timeout(GUARD, output)
        .await
        .expect("exits in time")
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--pitch-counts"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plc_pty_serves_modbus_rtu() {
    let mut sim = Sim::start(&["--pty", "--unit-id", "2"]).await;
    let mut io = sim.connect(2).await;
    assert!(io.poll().await.expect("baseline").detections.is_empty());
    sim.command("encoder 777\nstatus").await;
    assert_eq!(sim.command("detect").await, "detect: 1");
    let poll = io.poll().await.expect("poll over RTU");
    assert_eq!((poll.encoder, poll.detections), (777, vec![777]));
    io.set_gate(true).await.expect("a coil write over RTU");
    assert!(io.poll().await.expect("poll").gate_confirmed == Some(true));
    io.set_gate(false).await.expect("gate off");
    assert!(io.poll().await.expect("poll").gate_confirmed == Some(false));
}
