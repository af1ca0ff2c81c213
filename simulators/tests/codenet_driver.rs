//! The Codenet driver against the Codenet simulator over a real pseudo-terminal, TCP and an
//! in-memory duplex, including every fault, and the `tracemark-sim codenet` subcommand. No
//! sleeps: the tests wait for driver events and simulator snapshots; timing-dependent tests run
//! on paused tokio time over the duplex.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{GUARD, Harness, Link, REPLY_TIMEOUT_MS, marker_config};
use tokio::io::{AsyncBufReadExt, BufReader};
use tracemark_drivers::codenet::message::{Command, Identity, ProductCount};
use tracemark_drivers::codenet::{Answer, CodenetConfig, CodenetLink, CodenetMarker};
use tracemark_drivers::marker::{FaultReason, MarkerEvent, MarkerState, VoidReason};
use tracemark_drivers::transport::Transport;
use tracemark_sim::codenet::CodenetSim;
use tracemark_sim::{Fault, MarkerSim, TriggerOutcome};

/// A Codenet marker task on `link` to a simulator whose external data queue holds `depth`
/// entries, with `faults`, filling up to `high` codes.
async fn codenet(link: Link, depth: usize, high: usize, faults: &[Fault]) -> Harness<CodenetSim> {
    let sim = CodenetSim::new(depth);
    for fault in faults {
        sim.inject(*fault);
    }
    Harness::new(link, sim, marker_config(high), |transport: Transport| {
        CodenetMarker::new(
            transport,
            CodenetConfig {
                reply_timeout_ms: REPLY_TIMEOUT_MS,
                message: Some("2".to_owned()),
                ..CodenetConfig::default()
            },
        )
    })
    .await
}

async fn happy_path(link: Link) {
    let mut h = codenet(link, 32, 3, &[]).await;
    assert!(!h.sim.snapshot().printing());
    assert_eq!(h.sim.snapshot().message(), None);
    h.handle.start().await.expect("start");
    let snapshot = h.sim.snapshot();
    assert!(snapshot.printing(), "print enable (Q1Y) sent");
    assert_eq!(
        snapshot.message(),
        Some("002"),
        "message 2 assigned (P1002)"
    );
    let codes = h.feed(8).await;
    // The feed loop fills up to the high watermark and no further.
    let full = h.sim_until(|s| s.buffered() == 3).await;
    assert!(full.buffered() <= 3);
    h.print_all(&codes).await;
    assert!(h.sim.queued().len() <= 3);
    let status = h.handle.status().await.expect("status");
    assert_eq!(status.state(), &MarkerState::Connected);
    assert!(status.printing());

    h.handle.stop().await.expect("stop");
    assert!(
        h.sim.queued().is_empty(),
        "stop empties the queue (OE00000)"
    );
    assert!(!h.sim.snapshot().printing(), "stop disables printing (Q1N)");
}

#[tokio::test]
async fn prints_are_confirmed_in_order_by_the_product_count_over_a_pty() {
    happy_path(Link::Pty).await;
}

#[tokio::test]
async fn prints_are_confirmed_in_order_by_the_product_count_over_tcp() {
    happy_path(Link::Tcp).await;
}

#[tokio::test(start_paused = true)]
async fn prints_are_confirmed_in_order_by_the_product_count_over_a_duplex() {
    happy_path(Link::Duplex).await;
}

#[tokio::test(start_paused = true)]
async fn queue_full_nak_makes_the_feed_loop_back_off() {
    let mut h = codenet(Link::Duplex, 2, 4, &[Fault::BufferFull]).await;
    h.handle.start().await.unwrap();
    // Twenty polls: two requests each.
    let codes = h.backs_off_while_full(4, 40).await;
    assert!(h.handle.status().await.unwrap().holding());
    assert!(
        !h.drain_log()
            .iter()
            .any(|e| matches!(e, MarkerEvent::Refused(_))),
        "a full queue is not a refusal"
    );

    // The printer has room again: the retry stores the held code and the next one; the third
    // push finds the two-entry queue full.
    h.sim.clear(Fault::BufferFull);
    h.sim_until(|s| s.buffered() == 2).await;
    h.print_all(&codes).await;
}

#[tokio::test]
async fn nak_faults_the_marker_and_voids_the_refused_code() {
    let mut h = codenet(Link::Tcp, 32, 3, &[Fault::Nak]).await;
    h.handle.start().await.unwrap();
    let codes = h.feed(1).await;
    let refused = h
        .expect("Refused", |e| matches!(e, MarkerEvent::Refused(_)))
        .await;
    let MarkerEvent::Refused(refusal) = refused else {
        unreachable!()
    };
    assert_eq!(refusal.request(), "external data (OE)");
    assert_eq!(refusal.reason(), "NAK 003");
    h.expect("Faulted(Refused)", |e| {
        matches!(
            e,
            MarkerEvent::State(MarkerState::Faulted(FaultReason::Refused(_)))
        )
    })
    .await;
    h.expect("Voided", |e| matches!(e, MarkerEvent::Voided { .. }))
        .await;
    assert_eq!(h.voided_ids(), vec![(codes[0].id(), VoidReason::Fault)]);
    assert!(!h.sim.snapshot().printing(), "the fault disabled printing");

    // The operator clears the cause and restarts: codes flow again.
    h.sim.clear(Fault::Nak);
    h.handle.start().await.unwrap();
    h.expect_state(MarkerState::Connected).await;
    let more = h.feed(2).await;
    h.print_all(&more).await;
}

#[tokio::test]
async fn disconnect_reconnects_and_settles_the_queue_by_the_product_count() {
    let mut h = codenet(Link::Tcp, 32, 3, &[]).await;
    h.disconnect_settles_and_resumes().await;
    assert_eq!(h.sim.snapshot().connections(), 2);
}

#[tokio::test(start_paused = true)]
async fn stall_times_out_into_a_fault_and_recovers() {
    let mut h = codenet(Link::Duplex, 32, 3, &[]).await;
    h.stall_faults_then_settles().await;
}

#[tokio::test]
async fn head_open_silence_is_a_fault_over_a_pty() {
    let mut h = codenet(Link::Pty, 32, 3, &[]).await;
    h.head_open_faults_then_settles().await;
}

#[tokio::test]
async fn noise_before_replies_is_skipped_without_wrong_confirmations_over_a_pty() {
    let mut h = codenet(Link::Pty, 32, 3, &[Fault::Garbage]).await;
    h.skips_noise(5).await;
}

#[tokio::test]
async fn noise_before_replies_is_skipped_without_wrong_confirmations_over_tcp() {
    let mut h = codenet(Link::Tcp, 32, 3, &[Fault::Garbage]).await;
    h.skips_noise(5).await;
}

#[tokio::test]
async fn ink_out_empties_the_queue_and_voids_the_codes_in_flight() {
    let mut h = codenet(Link::Tcp, 32, 3, &[]).await;
    h.consumable_out_voids_the_buffer(3, "not ready: red lamp, status code 201")
        .await;
    // The fault disabled printing: further print-gos print nothing.
    assert_eq!(h.sim.trigger(), TriggerOutcome::Ignored);
    h.recovers_from(Fault::InkOut).await;
}

#[tokio::test]
async fn reprint_on_empty_is_a_fault_never_a_silent_reprint() {
    let mut h = codenet(Link::Pty, 32, 3, &[Fault::ReprintOnEmpty]).await;
    h.reprint_on_empty_faults_and_confirms_nothing().await;
    // The fault disabled printing: further print-gos print nothing.
    assert_eq!(h.sim.trigger(), TriggerOutcome::Ignored);
    h.handle.start().await.unwrap();
    h.expect_state(MarkerState::Connected).await;
}

#[tokio::test(start_paused = true)]
async fn an_empty_print_go_prints_nothing_and_confirms_nothing() {
    let mut h = codenet(Link::Duplex, 32, 3, &[]).await;
    h.handle.start().await.unwrap();
    let codes = h.feed(1).await;
    h.print_all(&codes).await;
    assert_eq!(h.sim.trigger(), TriggerOutcome::Empty);
    // Ten polls later: no confirmation, no print without a code, still connected.
    let commands = h.sim.snapshot().commands();
    h.sim_until(|s| s.commands() >= commands + 20).await;
    let log = h.drain_log().to_vec();
    assert_eq!(h.printed_ids(), vec![codes[0].id()], "{log:#?}");
    assert!(
        !log.iter().any(|e| matches!(
            e,
            MarkerEvent::PrintWithoutCode { .. } | MarkerEvent::State(MarkerState::Faulted(_))
        )),
        "{log:#?}"
    );
    assert_eq!(h.sim.prints().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_codenet_subcommand_prints_its_address_first_and_answers_on_it() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tracemark-sim"))
        .args(["codenet", "--tcp", "127.0.0.1:0", "--depth", "4"])
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
    let addr = first
        .strip_prefix("listening: ")
        .unwrap_or_else(|| panic!("first line is `listening: ADDR`, got `{first}`"));
    let stream = Transport::Tcp(addr.to_owned())
        .open()
        .await
        .expect("transport opens");
    let mut link = CodenetLink::new(stream, Duration::from_secs(5));
    let Answer::Data(identity) = link.request(&Command::Identity).await.expect("identity") else {
        panic!("identity is a data reply");
    };
    assert!(
        Identity::parse(&identity)
            .expect("A…")
            .0
            .contains("CODENET")
    );
    let Answer::Data(count) = link
        .request(&Command::QueryProductCount)
        .await
        .expect("product count")
    else {
        panic!("the product count is a data reply");
    };
    assert_eq!(ProductCount::parse(&count).expect("T1…").get(), 0);
    assert_eq!(
        link.request(&Command::SetPrintEnable(true))
            .await
            .expect("enable"),
        Answer::Ack
    );
    child.kill().await.expect("simulator stops");
}
