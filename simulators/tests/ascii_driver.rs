//! The generic ASCII driver against the ASCII simulator, both configured from the same
//! description — tracemark's reference dialect and the two real devices of
//! `docs/protocols/ascii.md` — over a real pseudo-terminal, TCP and an in-memory duplex,
//! including every fault. No sleeps: the tests wait for driver events and simulator snapshots;
//! timing-dependent tests run on paused tokio time over the duplex.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{GUARD, Harness, Link, REPLY_TIMEOUT_MS, marker_config};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tracemark_drivers::ascii::{AsciiConfig, AsciiMarker};
use tracemark_drivers::marker::{
    Code, CodeId, DeviceSession, FaultReason, MarkerDevice, MarkerError, MarkerEvent, MarkerState,
    PrintProgress, PushOutcome, VoidReason,
};
use tracemark_drivers::transport::Transport;
use tracemark_sim::ascii::AsciiSim;
use tracemark_sim::{Fault, MarkerSim, TriggerOutcome};

const PANASONIC: &str = include_str!("../../line-configs/devices/panasonic-lp-gs.toml");
const KEYENCE: &str = include_str!("../../line-configs/devices/keyence-md-x.toml");

fn description(text: &str) -> AsciiConfig {
    AsciiConfig::from_toml(text)
        .expect("a valid description")
        .with_reply_timeout(Duration::from_millis(REPLY_TIMEOUT_MS))
}

fn reference() -> AsciiConfig {
    AsciiConfig::default().with_reply_timeout(Duration::from_millis(REPLY_TIMEOUT_MS))
}

/// An ASCII marker task on `link` to a simulator of `config` holding `depth` codes, with
/// `faults`, keeping `high` codes in flight.
async fn marker(
    link: Link,
    config: AsciiConfig,
    depth: usize,
    high: usize,
    faults: &[Fault],
) -> Harness<AsciiSim> {
    let sim = AsciiSim::new(config.clone(), depth);
    for fault in faults {
        sim.inject(*fault);
    }
    Harness::new(
        link,
        sim,
        marker_config(high),
        move |transport: Transport| AsciiMarker::new(transport, config),
    )
    .await
}

fn is_faulted(event: &MarkerEvent, check: impl Fn(&FaultReason) -> bool) -> bool {
    matches!(event, MarkerEvent::State(MarkerState::Faulted(reason)) if check(reason))
}

async fn happy_path(link: Link) {
    let mut h = marker(link, reference(), 16, 3, &[]).await;
    assert!(!h.sim.snapshot().printing());
    h.handle.start().await.expect("start");
    assert!(h.sim.snapshot().printing());
    let codes = h.feed(8).await;
    h.sim_until(|s| s.buffered() == 3).await;
    assert_eq!(
        h.sim.buffered()[0],
        codes[0].text(),
        "the code went through the template"
    );
    h.print_all(&codes).await;
    h.handle.stop().await.expect("stop");
    assert!(h.sim.buffered().is_empty(), "stop clears the buffer");
    assert!(!h.sim.snapshot().printing());
}

#[tokio::test]
async fn codes_are_confirmed_by_the_print_counter_over_a_pty() {
    happy_path(Link::Pty).await;
}

#[tokio::test]
async fn codes_are_confirmed_by_the_print_counter_over_tcp() {
    happy_path(Link::Tcp).await;
}

#[tokio::test(start_paused = true)]
async fn codes_are_confirmed_by_the_print_counter_over_a_duplex() {
    happy_path(Link::Duplex).await;
}

/// A real device's description: one code in the laser at a time, each confirmed by the
/// counter before the next is sent.
async fn one_slot_laser(link: Link, text: &str) {
    let mut h = marker(link, description(text), 1, 3, &[]).await;
    h.handle.start().await.expect("start");
    let codes = h.feed(4).await;
    h.sim_until(|s| s.buffered() == 1).await;
    let status = h.handle.status().await.expect("status");
    assert_eq!(
        status.in_flight(),
        1,
        "depth 1: one code waits for its print"
    );
    assert_eq!(h.sim.buffered(), vec![codes[0].text().to_owned()]);
    h.print_all(&codes).await;
    assert!(
        !h.drain_log()
            .iter()
            .any(|e| matches!(e, MarkerEvent::BufferFull { .. } | MarkerEvent::Refused(_))),
        "the driver never pushes into a full slot: {:#?}",
        h.log
    );
    h.handle.stop().await.expect("stop");
    assert!(h.sim.buffered().is_empty());
}

#[tokio::test]
async fn a_panasonic_lp_gs_description_over_a_pty() {
    one_slot_laser(Link::Pty, PANASONIC).await;
}

#[tokio::test]
async fn a_panasonic_lp_gs_description_over_tcp() {
    one_slot_laser(Link::Tcp, PANASONIC).await;
}

#[tokio::test]
async fn a_keyence_md_x_description_over_tcp() {
    one_slot_laser(Link::Tcp, KEYENCE).await;
}

#[tokio::test]
async fn a_keyence_md_x_description_over_a_pty() {
    one_slot_laser(Link::Pty, KEYENCE).await;
}

#[tokio::test]
async fn a_full_buffer_makes_the_feed_loop_back_off() {
    let mut h = marker(Link::Tcp, reference(), 2, 4, &[]).await;
    h.handle.start().await.unwrap();
    let codes = h.feed(4).await;
    // Two codes fit; the third load is answered FULL.
    h.expect("BufferFull", |e| {
        matches!(e, MarkerEvent::BufferFull { in_flight: 2 })
    })
    .await;
    assert_eq!(h.sim.buffered().len(), 2);
    h.print_all(&codes).await;
}

#[tokio::test(start_paused = true)]
async fn the_buffer_full_fault_holds_codes_until_it_clears() {
    let mut h = marker(Link::Duplex, reference(), 16, 3, &[Fault::BufferFull]).await;
    h.handle.start().await.unwrap();
    // Twenty polls: status and counter each.
    let codes = h.backs_off_while_full(2, 40).await;
    assert!(h.sim.buffered().is_empty());
    h.sim.clear(Fault::BufferFull);
    h.print_all(&codes).await;
}

#[tokio::test]
async fn a_nak_to_a_load_is_a_refusal_with_its_reason() {
    let mut h = marker(Link::Tcp, reference(), 16, 3, &[Fault::Nak]).await;
    h.handle.start().await.unwrap();
    let codes = h.feed(1).await;
    let MarkerEvent::Refused(refusal) = h
        .expect("Refused", |e| matches!(e, MarkerEvent::Refused(_)))
        .await
    else {
        unreachable!()
    };
    assert_eq!(refusal.request(), "code load");
    assert_eq!(refusal.reason(), "1 (command refused)");
    h.expect("Faulted(Refused)", |e| {
        is_faulted(e, |r| matches!(r, FaultReason::Refused(_)))
    })
    .await;
    h.expect("Voided", |e| matches!(e, MarkerEvent::Voided { .. }))
        .await;
    assert_eq!(h.voided_ids(), vec![(codes[0].id(), VoidReason::Fault)]);
    h.sim.clear(Fault::Nak);
    h.handle.start().await.unwrap();
    let more = h.feed(2).await;
    h.print_all(&more).await;
}

#[tokio::test]
async fn a_code_with_a_framing_byte_is_refused_before_sending() {
    let mut h = marker(Link::Tcp, reference(), 16, 3, &[]).await;
    h.handle.start().await.unwrap();
    let commands = h.sim.snapshot().commands();
    h.codes
        .send(Code::new(CodeId::new(900), "A1\u{3}B2"))
        .await
        .expect("marker takes codes");
    let MarkerEvent::Refused(refusal) = h
        .expect("Refused", |e| matches!(e, MarkerEvent::Refused(_)))
        .await
    else {
        unreachable!()
    };
    assert_eq!(
        refusal.reason(),
        "byte `\\x03` at position 2 of the code is a framing byte (prefix or suffix)"
    );
    h.expect("Voided", |e| matches!(e, MarkerEvent::Voided { .. }))
        .await;
    assert_eq!(h.voided_ids(), vec![(CodeId::new(900), VoidReason::Fault)]);
    assert!(h.sim.buffered().is_empty(), "nothing reached the buffer");
    assert!(
        h.sim.snapshot().commands() > commands,
        "the stop and clear went out"
    );
}

#[tokio::test]
async fn disconnect_reconnects_and_settles_by_the_counter() {
    let mut h = marker(Link::Tcp, reference(), 16, 3, &[]).await;
    h.disconnect_settles_and_resumes().await;
}

#[tokio::test(start_paused = true)]
async fn stall_times_out_into_a_fault_and_recovers() {
    let mut h = marker(Link::Duplex, reference(), 16, 3, &[]).await;
    let detail = h.stall_faults_then_settles().await;
    assert!(
        detail.starts_with("status query (status.query): no reply to"),
        "{detail}"
    );
}

#[tokio::test]
async fn head_open_silence_is_a_fault_over_a_pty() {
    let mut h = marker(Link::Pty, reference(), 16, 3, &[]).await;
    h.head_open_faults_then_settles().await;
}

async fn noise_is_skipped(link: Link, config: AsciiConfig, depth: usize) {
    let mut h = marker(link, config, depth, 3, &[Fault::Garbage]).await;
    h.skips_noise(5).await;
}

#[tokio::test]
async fn noise_before_the_reply_prefix_is_skipped_over_a_pty() {
    noise_is_skipped(Link::Pty, reference(), 16).await;
}

#[tokio::test]
async fn noise_before_the_reply_prefix_is_skipped_over_tcp() {
    noise_is_skipped(Link::Tcp, reference(), 16).await;
}

#[tokio::test]
async fn noise_lines_without_a_checksum_are_skipped_keyence_over_tcp() {
    noise_is_skipped(Link::Tcp, description(KEYENCE), 1).await;
}

#[tokio::test]
async fn a_reply_with_a_bad_checksum_ends_the_session_without_wrong_confirmations() {
    // Panasonic replies have no start byte of their own: the noise frame reaches the check sum.
    let mut h = marker(Link::Tcp, description(PANASONIC), 1, 3, &[]).await;
    h.corrupt_replies_end_the_session(1).await;
}

async fn ink_out(config: AsciiConfig, depth: usize, high: usize, detail: &str) {
    let mut h = marker(Link::Tcp, config, depth, high, &[]).await;
    h.handle.start().await.expect("start");
    let codes = h.feed(high as u64).await;
    h.sim_until(|s| s.buffered() == depth.min(high)).await;
    h.sim.inject(Fault::InkOut);
    let faulted = h
        .expect("Faulted(Device)", |e| {
            is_faulted(e, |r| matches!(r, FaultReason::Device { .. }))
        })
        .await;
    assert_eq!(
        faulted,
        MarkerEvent::State(MarkerState::Faulted(FaultReason::Device {
            detail: detail.to_owned()
        }))
    );
    h.expect("Voided", |e| matches!(e, MarkerEvent::Voided { .. }))
        .await;
    assert!(h.sim.buffered().is_empty());
    let voided: Vec<CodeId> = h.voided_ids().iter().map(|(id, _)| *id).collect();
    assert_eq!(voided[0], codes[0].id());
    assert!(
        h.voided_ids()
            .iter()
            .all(|(_, reason)| *reason == VoidReason::Fault)
    );
    assert!(matches!(
        h.handle.start().await,
        Err(MarkerError::Faulted(_))
    ));
    h.sim.clear(Fault::InkOut);
    h.expect_state(MarkerState::Connected).await;
    h.handle.start().await.expect("start");
    let more = h.feed(1).await;
    h.print_all(&more).await;
}

#[tokio::test]
async fn ink_out_faults_clears_the_buffer_and_refuses_start() {
    ink_out(reference(), 16, 3, "state FAULT; ink out (fault E12)").await;
}

#[tokio::test]
async fn a_keyence_error_state_is_a_device_fault() {
    ink_out(
        description(KEYENCE),
        1,
        1,
        "error occurring (RX,Error gives its code) (state 1)",
    )
    .await;
}

#[tokio::test]
async fn reprint_on_empty_is_a_print_without_code_from_the_counter() {
    let mut h = marker(Link::Pty, reference(), 16, 3, &[Fault::ReprintOnEmpty]).await;
    h.reprint_on_empty_faults_and_confirms_nothing().await;
    h.handle.start().await.unwrap();
    h.expect_state(MarkerState::Connected).await;
}

#[tokio::test]
async fn an_empty_print_go_prints_nothing_and_printing_goes_on() {
    let mut h = marker(Link::Tcp, reference(), 16, 3, &[]).await;
    h.handle.start().await.unwrap();
    let codes = h.feed(1).await;
    h.print_all(&codes).await;
    assert_eq!(h.sim.trigger(), TriggerOutcome::Empty);
    let more = h.feed(1).await;
    h.print_all(&more).await;
    assert!(
        !h.drain_log()
            .iter()
            .any(|e| matches!(e, MarkerEvent::PrintWithoutCode { .. }))
    );
}

/// Starts `tracemark-sim` with `args`; returns it and its first stdout line.
async fn start_binary(
    args: &[&str],
) -> (
    tokio::process::Child,
    tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    String,
) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tracemark-sim"))
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
    (child, lines, first)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_a_description_file_over_tcp() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../line-configs/devices/keyence-md-x.toml"
    );
    let (mut child, mut lines, first) = start_binary(&[
        "ascii",
        "--tcp",
        "127.0.0.1:0",
        "--config",
        path,
        "--depth",
        "1",
    ])
    .await;
    let addr = first
        .strip_prefix("listening: ")
        .unwrap_or_else(|| panic!("first line is `listening: ADDR`, got `{first}`"));
    let mut device = AsciiMarker::new(Transport::Tcp(addr.to_owned()), description(KEYENCE));
    let mut session = device.connect().await.expect("connects");
    session
        .stop_and_clear()
        .await
        .expect("link")
        .expect("cleared");
    assert_eq!(
        session.poll().await.expect("polled").progress,
        PrintProgress::Counter(0)
    );
    session.start().await.expect("link").expect("started");
    assert_eq!(
        session.push(1, "CODE-1").await.expect("link"),
        PushOutcome::Accepted { now_full: true }
    );
    let mut stdin = child.stdin.take().expect("stdin is piped");
    stdin.write_all(b"trigger\n").await.expect("stdin writable");
    let line = tokio::time::timeout(GUARD, lines.next_line())
        .await
        .expect("a reply in time")
        .expect("stdout readable")
        .expect("a line");
    assert!(line.starts_with("trigger: Printed"), "{line}");
    assert_eq!(
        session.poll().await.expect("polled").progress,
        PrintProgress::Counter(1)
    );
    child.kill().await.expect("simulator stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_the_reference_dialect_without_a_file_over_a_pty() {
    let (mut child, _lines, first) = start_binary(&["ascii", "--pty"]).await;
    let path = first
        .strip_prefix("pty: ")
        .unwrap_or_else(|| panic!("first line is `pty: PATH`, got `{first}`"));
    let serial = tracemark_drivers::transport::SerialSettings::new(path.to_owned(), 115_200);
    let mut device = AsciiMarker::new(Transport::Serial(serial), reference());
    let mut session = device.connect().await.expect("pty opens");
    session
        .stop_and_clear()
        .await
        .expect("link")
        .expect("cleared");
    let status = session.poll().await.expect("polled");
    assert_eq!(status.progress, PrintProgress::Counter(0));
    assert_eq!(status.fault, None);
    child.kill().await.expect("simulator stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_description_file_is_reported_with_its_key() {
    let dir = std::env::temp_dir().join(format!("tracemark-ascii-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("bad.toml");
    std::fs::write(
        &path,
        "[commands]\nload = 'L {cod}'\nclear = 'C'\n[replies]\nack = 'OK'\nnak = 'NG'\n\
         [counter]\nquery = 'N'\nreply = 'N {count}'\n",
    )
    .expect("write");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_tracemark-sim"))
        .args(["ascii", "--tcp", "127.0.0.1:0", "--config"])
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .await
        .expect("tracemark-sim runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("commands.load: unknown placeholder `{cod}`"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

/// The driver's own pace over TCP against the simulator: push, print, poll. Reported, not
/// asserted (the machine may be loaded); run with `--ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check"]
async fn throughput_over_tcp() {
    let sim = AsciiSim::new(reference(), 16);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind port 0");
    let addr = listener.local_addr().expect("address");
    let serving = {
        let sim = sim.clone();
        tokio::spawn(async move { sim.serve_tcp(listener).await })
    };
    let mut device = AsciiMarker::new(Transport::Tcp(addr.to_string()), reference());
    let mut session = device.connect().await.expect("connects");
    session
        .stop_and_clear()
        .await
        .expect("link")
        .expect("cleared");
    session.start().await.expect("link").expect("started");
    let codes = 5_000u64;
    let started = std::time::Instant::now();
    for index in 1..=codes {
        let text = format!("(01)09506000134352(21)S{index:07}");
        let outcome = session.push(index, &text).await.expect("link");
        assert_eq!(outcome, PushOutcome::Accepted { now_full: false });
        assert!(matches!(sim.trigger(), TriggerOutcome::Printed(_)));
        if index % 8 == 0 {
            session.poll().await.expect("polled");
        }
    }
    let status = session.poll().await.expect("polled");
    let elapsed = started.elapsed();
    assert_eq!(status.progress, PrintProgress::Counter(codes));
    println!(
        "{codes} codes in {elapsed:?}: {:.0} codes/s (one load per code, a poll per 8 codes)",
        codes as f64 / elapsed.as_secs_f64()
    );
    serving.abort();
}
