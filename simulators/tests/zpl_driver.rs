//! The ZPL driver against the ZPL simulator over a real pseudo-terminal, TCP and an in-memory
//! duplex, including every fault. No sleeps: the tests wait for driver events and simulator
//! snapshots; timing-dependent tests run on paused tokio time over the duplex.

mod common;

use std::time::Duration;

use common::{Harness, Link, REPLY_TIMEOUT_MS, marker_config};
use tracemark_drivers::marker::{
    Code, CodeId, FaultReason, MarkerConfig, MarkerEvent, MarkerState, VoidReason,
};
use tracemark_drivers::transport::Transport;
use tracemark_drivers::zpl::codec::{
    APPLICATOR_MODE, LabelTemplate, TemplateName, encode_store_template,
};
use tracemark_drivers::zpl::status::PrintMode;
use tracemark_drivers::zpl::{ZplConfig, ZplField, ZplLink, ZplPrinter};
use tracemark_sim::zpl::ZplSim;
use tracemark_sim::{Fault, MarkerSim, TriggerOutcome};

const TEMPLATE: &str =
    "^FO50,50^BXN,8,200^FN1^FS^FO50,330^A0N,30,30^FN1^FS^FO50,370^A0N,30,30^FN2^FS";
const PRODUCT: &str = "ACME Widget 500 g";

fn zpl_config(max_queued_labels: u64) -> ZplConfig {
    ZplConfig {
        reply_timeout_ms: REPLY_TIMEOUT_MS,
        template_body: Some(TEMPLATE.to_owned()),
        fields: vec![ZplField {
            number: 2,
            data: PRODUCT.to_owned(),
        }],
        max_queued_labels,
        ..ZplConfig::default()
    }
}

/// A ZPL printer task on `link` to a simulator holding `depth` labels, with `faults`; the
/// driver lets at most `depth` labels wait and fills up to `high`.
async fn zpl(link: Link, depth: usize, high: usize, faults: &[Fault]) -> Harness<ZplSim> {
    let sim = ZplSim::new(depth);
    for fault in faults {
        sim.inject(*fault);
    }
    zpl_on(link, sim, marker_config(high), zpl_config(depth as u64)).await
}

async fn zpl_on(
    link: Link,
    sim: ZplSim,
    marker: MarkerConfig,
    config: ZplConfig,
) -> Harness<ZplSim> {
    Harness::new(link, sim, marker, move |transport: Transport| {
        ZplPrinter::new(transport, config)
    })
    .await
}

async fn happy_path(link: Link) {
    let mut h = zpl(link, 16, 3, &[]).await;
    assert!(
        !h.sim.snapshot().printing(),
        "connecting pauses the printer"
    );
    h.handle.start().await.expect("start");
    let snapshot = h.sim.snapshot();
    assert!(snapshot.printing());
    assert_eq!(snapshot.message(), Some("R:TRACE.ZPL"), "template stored");
    assert_eq!(h.sim.print_mode(), PrintMode::Applicator);
    let codes = h.feed(8).await;
    h.sim_until(|s| s.buffered() == 3).await;
    h.print_all(&codes).await;
    assert!(
        h.sim
            .printed_fields()
            .iter()
            .all(|fields| fields.get(&2).map(String::as_str) == Some(PRODUCT)),
        "every label carries the fixed field"
    );
    assert!(h.sim.buffered().len() <= 3);
    h.handle.stop().await.expect("stop");
    assert!(h.sim.buffered().is_empty(), "stop cancels every label");
    assert!(!h.sim.snapshot().printing());
    assert_eq!(h.sim.discarded(), 0);
}

#[tokio::test]
async fn labels_are_confirmed_in_order_over_a_pty() {
    happy_path(Link::Pty).await;
}

#[tokio::test]
async fn labels_are_confirmed_in_order_over_tcp() {
    happy_path(Link::Tcp).await;
}

#[tokio::test(start_paused = true)]
async fn labels_are_confirmed_in_order_over_a_duplex() {
    happy_path(Link::Duplex).await;
}

#[tokio::test(start_paused = true)]
async fn a_full_receive_buffer_makes_the_feed_loop_back_off() {
    let mut h = zpl(Link::Duplex, 2, 4, &[Fault::BufferFull]).await;
    h.handle.start().await.unwrap();
    // Twenty polls: three requests each.
    let codes = h.backs_off_while_full(4, 60).await;
    assert_eq!(
        h.sim.discarded(),
        0,
        "nothing is sent while the printer says full"
    );
    h.sim.clear(Fault::BufferFull);
    // The retry sends two labels; the driver's own limit (two) holds the third back.
    h.sim_until(|s| s.buffered() == 2).await;
    let status = h.handle.status().await.unwrap();
    assert_eq!(status.in_flight(), 2);
    assert!(status.holding());
    h.print_all(&codes).await;
    assert_eq!(h.sim.discarded(), 0);
}

#[tokio::test]
async fn the_configured_limit_keeps_labels_out_of_a_deep_printer() {
    let sim = ZplSim::new(16);
    let mut h = zpl_on(Link::Tcp, sim, marker_config(6), zpl_config(2)).await;
    h.handle.start().await.unwrap();
    let codes = h.feed(5).await;
    h.sim_until(|s| s.buffered() == 2).await;
    let status = h.handle.status().await.unwrap();
    assert_eq!(
        status.in_flight(),
        2,
        "two waiting, not the high watermark's six"
    );
    assert!(status.holding());
    h.print_all(&codes).await;
    assert!(h.sim.buffered().len() <= 2);
}

#[tokio::test]
async fn refused_labels_fault_the_printer_and_are_voided() {
    let mut h = zpl(Link::Tcp, 16, 3, &[Fault::Nak]).await;
    h.handle.start().await.unwrap();
    let codes = h.feed(1).await;
    let faulted = h
        .expect("Faulted(Device)", |e| {
            matches!(
                e,
                MarkerEvent::State(MarkerState::Faulted(FaultReason::Device { .. }))
            )
        })
        .await;
    assert_eq!(
        faulted,
        MarkerEvent::State(MarkerState::Faulted(FaultReason::Device {
            detail: "printer discarded 1 label(s) it was sent (format refused or receive \
                     buffer overflow)"
                .to_owned()
        }))
    );
    h.expect("Voided", |e| matches!(e, MarkerEvent::Voided { .. }))
        .await;
    assert_eq!(h.voided_ids(), vec![(codes[0].id(), VoidReason::Fault)]);
    assert_eq!(h.sim.discarded(), 1);
    assert!(h.printed_ids().is_empty());
    h.sim.clear(Fault::Nak);
    h.expect_state(MarkerState::Connected).await;
    h.handle.start().await.unwrap();
    let more = h.feed(2).await;
    h.print_all(&more).await;
}

#[tokio::test]
async fn disconnect_reconnects_and_settles_by_the_odometer() {
    let mut h = zpl(Link::Tcp, 16, 3, &[]).await;
    h.disconnect_settles_and_resumes().await;
    assert_eq!(h.sim.snapshot().connections(), 2);
}

#[tokio::test(start_paused = true)]
async fn silence_times_out_into_a_fault_and_recovers() {
    let mut h = zpl(Link::Duplex, 16, 3, &[]).await;
    let detail = h.stall_faults_then_settles().await;
    assert!(detail.starts_with("label odometer"), "{detail}");
}

#[tokio::test]
async fn head_open_silence_is_a_fault_over_a_pty() {
    let mut h = zpl(Link::Pty, 16, 3, &[]).await;
    h.head_open_faults_then_settles().await;
}

#[tokio::test]
async fn noise_is_skipped_without_wrong_confirmations_over_a_pty() {
    let mut h = zpl(Link::Pty, 16, 3, &[Fault::Garbage]).await;
    h.skips_noise(5).await;
}

#[tokio::test]
async fn noise_is_skipped_without_wrong_confirmations_over_tcp() {
    let mut h = zpl(Link::Tcp, 16, 3, &[Fault::Garbage]).await;
    h.skips_noise(5).await;
}

#[tokio::test]
async fn ribbon_out_cancels_the_labels_and_voids_them() {
    let mut h = zpl(Link::Tcp, 16, 3, &[]).await;
    h.consumable_out_voids_the_buffer(3, "ribbon out").await;
    h.recovers_from(Fault::InkOut).await;
}

#[tokio::test]
async fn reprint_on_empty_is_detected_from_the_odometer() {
    let mut h = zpl(Link::Pty, 16, 3, &[Fault::ReprintOnEmpty]).await;
    h.reprint_on_empty_faults_and_confirms_nothing().await;
    h.handle.start().await.unwrap();
    h.expect_state(MarkerState::Connected).await;
}

#[tokio::test]
async fn codes_with_command_prefixes_print_exactly() {
    let mut h = zpl(Link::Tcp, 16, 3, &[]).await;
    h.handle.start().await.unwrap();
    let texts = [
        "(21)^A~B_S00001",
        "01095060001343521727123110ABC\u{1d}21_5E~S00002",
    ];
    let codes: Vec<Code> = texts
        .iter()
        .zip(1..)
        .map(|(text, id)| Code::new(CodeId::new(id), *text))
        .collect();
    for code in &codes {
        h.codes.send(code.clone()).await.unwrap();
    }
    h.print_all(&codes).await;
    let printed: Vec<String> = h.sim.prints().iter().map(|p| p.text()).collect();
    assert_eq!(printed, texts);
}

#[tokio::test(start_paused = true)]
async fn a_restarted_driver_does_not_count_earlier_prints() {
    // A previous run left the printer with a stored template and one label printed.
    let sim = ZplSim::new(16);
    let (client, device) = tokio::io::duplex(4096);
    let server = sim.clone();
    let serving = tokio::spawn(async move { server.serve(device).await });
    let mut link = ZplLink::new(client, Duration::from_secs(1));
    let name = TemplateName::parse("R:TRACE.ZPL").unwrap();
    link.send(APPLICATOR_MODE).await.unwrap();
    link.send(&encode_store_template(&name, TEMPLATE, 1).unwrap())
        .await
        .unwrap();
    let mut label = Vec::new();
    LabelTemplate::new(&name, 1, &[])
        .unwrap()
        .encode_label("OLD", &mut label)
        .unwrap();
    link.send(&label).await.unwrap();
    assert_eq!(link.label_count().await.unwrap(), 0);
    assert!(matches!(sim.trigger(), TriggerOutcome::Printed(_)));
    assert_eq!(link.label_count().await.unwrap(), 1);
    drop(link);
    serving.await.expect("served").expect("no i/o error");

    let mut h = zpl_on(Link::Duplex, sim, marker_config(3), zpl_config(16)).await;
    h.handle.start().await.unwrap();
    let codes = h.feed(3).await;
    h.sim_until(|s| s.buffered() == 3).await;
    let commands = h.sim.snapshot().commands();
    h.sim_until(|s| s.commands() >= commands + 30).await;
    assert!(h.printed_ids().is_empty(), "{:#?}", h.drain_log());
    assert!(
        !h.drain_log()
            .iter()
            .any(|e| matches!(e, MarkerEvent::PrintWithoutCode { .. }))
    );
    h.print_all(&codes).await;
}

#[tokio::test(start_paused = true)]
async fn a_four_deep_buffer_never_underruns_at_100_units_per_second() {
    let config = MarkerConfig {
        low_watermark: 2,
        ..marker_config(4)
    };
    let mut h = zpl_on(Link::Duplex, ZplSim::new(4), config, zpl_config(4)).await;
    h.handle.start().await.expect("start");
    let codes = h.codes.clone();
    let feeder = tokio::spawn(async move {
        for id in 1..=1_000u64 {
            let code = Code::new(CodeId::new(id), format!("(21)S{id:05}"));
            if codes.send(code).await.is_err() {
                return;
            }
        }
    });
    h.sim_until(|s| s.buffered() == 4).await;
    let sim = h.sim.clone();
    let line = tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_millis(10));
        for _ in 0..1_000 {
            ticker.tick().await;
            sim.trigger();
        }
    });
    let (line, _) = tokio::join!(
        line,
        h.expect("Printed 1000", |e| {
            *e == MarkerEvent::Printed {
                code: CodeId::new(1_000),
            }
        })
    );
    line.expect("line ran");
    feeder.await.expect("feeder done");
    let snapshot = h.sim.snapshot();
    assert_eq!(snapshot.prints(), 1_000);
    assert_eq!(
        snapshot.print_gos(),
        1_000,
        "every start-print found a label"
    );
    assert_eq!(h.printed_ids().len(), 1_000);
    assert!(
        h.printed_ids().iter().zip(1..).all(|(id, n)| id.get() == n),
        "confirmed in order"
    );
    assert!(
        !h.drain_log()
            .iter()
            .any(|e| matches!(e, MarkerEvent::PrintWithoutCode { .. }))
    );
}
