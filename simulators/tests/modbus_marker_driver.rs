//! The Modbus register marker driver against its simulator: the marker model through
//! `create_marker` over real Modbus TCP on port 0 (and an in-memory duplex on paused time for
//! the silence timeouts), every fault, and a session over Modbus RTU on a real pseudo-terminal.
//! No sleeps: the tests wait for driver events and simulator snapshots.

mod common;

use std::time::Duration;

use tokio::net::TcpListener;

use common::{Harness, Link, REPLY_TIMEOUT_MS, marker_config};
use tracemark_drivers::marker::{
    DeviceSession, FaultReason, LinkError, MarkerDevice, MarkerEvent, MarkerState, PrintProgress,
    PushOutcome, VoidReason,
};
use tracemark_drivers::modbus_marker::{ModbusMarker, ModbusMarkerMap};
use tracemark_drivers::transport::{SerialSettings, Transport};
use tracemark_sim::modbus_marker::ModbusMarkerSim;
use tracemark_sim::{Fault, MarkerSim, TriggerOutcome};

const UNIT: u8 = 1;

fn device(transport: Transport, unit_id: u8) -> ModbusMarker {
    ModbusMarker::new(
        transport,
        unit_id,
        ModbusMarkerMap::default(),
        Duration::from_millis(REPLY_TIMEOUT_MS),
    )
    .expect("the default map is valid")
}

/// A marker task on `link` to a simulator holding `depth` codes, with `faults`.
async fn marker(
    link: Link,
    depth: usize,
    high: usize,
    faults: &[Fault],
) -> Harness<ModbusMarkerSim> {
    let sim = ModbusMarkerSim::new(depth);
    for fault in faults {
        sim.inject(*fault);
    }
    Harness::new(link, sim, marker_config(high), |transport| {
        device(transport, UNIT)
    })
    .await
}

fn is_faulted(event: &MarkerEvent, check: impl Fn(&FaultReason) -> bool) -> bool {
    matches!(event, MarkerEvent::State(MarkerState::Faulted(reason)) if check(reason))
}

#[tokio::test]
async fn codes_are_loaded_and_confirmed_in_order_by_the_counter_over_tcp() {
    let mut h = marker(Link::Tcp, 16, 3, &[]).await;
    assert!(!h.sim.snapshot().printing());
    h.handle.start().await.expect("start");
    assert!(h.sim.snapshot().printing());
    let codes = h.feed(8).await;
    h.sim_until(|s| s.buffered() == 3).await;
    assert_eq!(
        h.sim.buffered()[0],
        codes[0].text(),
        "the text went through the registers"
    );
    h.print_all(&codes).await;
    h.handle.stop().await.expect("stop");
    assert!(h.sim.buffered().is_empty(), "stop clears the buffer");
    assert!(!h.sim.snapshot().printing());
}

#[tokio::test(start_paused = true)]
async fn codes_are_confirmed_over_an_mbap_duplex() {
    let mut h = marker(Link::Duplex, 16, 3, &[]).await;
    h.handle.start().await.expect("start");
    let codes = h.feed(5).await;
    h.print_all(&codes).await;
}

#[tokio::test]
async fn a_full_buffer_makes_the_feed_loop_back_off() {
    let mut h = marker(Link::Tcp, 2, 4, &[]).await;
    h.handle.start().await.unwrap();
    let codes = h.feed(4).await;
    // Two codes fit; the third load is refused busy with the buffer-full bit set.
    h.expect("BufferFull", |e| {
        matches!(e, MarkerEvent::BufferFull { in_flight: 2 })
    })
    .await;
    assert_eq!(h.sim.buffered().len(), 2);
    h.print_all(&codes).await;
}

#[tokio::test]
async fn the_buffer_full_fault_holds_codes_until_it_clears() {
    let mut h = marker(Link::Tcp, 16, 3, &[Fault::BufferFull]).await;
    h.handle.start().await.unwrap();
    let codes = h.feed(2).await;
    h.expect("BufferFull", |e| {
        matches!(e, MarkerEvent::BufferFull { in_flight: 0 })
    })
    .await;
    assert!(h.sim.buffered().is_empty());
    h.sim.clear(Fault::BufferFull);
    h.print_all(&codes).await;
}

#[tokio::test]
async fn busy_exception_to_a_code_write_is_a_refusal_with_its_code() {
    let mut h = marker(Link::Tcp, 16, 3, &[Fault::Nak]).await;
    h.handle.start().await.unwrap();
    let codes = h.feed(1).await;
    let MarkerEvent::Refused(refusal) = h
        .expect("Refused", |e| matches!(e, MarkerEvent::Refused(_)))
        .await
    else {
        unreachable!()
    };
    assert_eq!(refusal.request(), "code field write (FC 16)");
    assert_eq!(refusal.reason(), "exception 06h server device busy");
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
async fn disconnect_reconnects_and_settles_by_the_counter() {
    let mut h = marker(Link::Tcp, 16, 3, &[]).await;
    h.disconnect_settles_and_resumes().await;
}

#[tokio::test(start_paused = true)]
async fn stall_times_out_into_a_fault_and_recovers() {
    let mut h = marker(Link::Duplex, 16, 3, &[]).await;
    h.stall_faults_then_settles().await;
}

#[tokio::test]
async fn head_open_silence_is_a_fault_and_the_reconnection_settles() {
    let mut h = marker(Link::Tcp, 16, 3, &[]).await;
    let detail = h.head_open_faults_then_settles().await;
    assert!(detail.contains("to unit 1 at tcp://"), "{detail}");
    assert!(detail.contains("check the unit id"), "{detail}");
}

#[tokio::test]
async fn ink_out_faults_clears_the_buffer_and_refuses_start() {
    let mut h = marker(Link::Tcp, 16, 3, &[]).await;
    h.consumable_out_voids_the_buffer(3, "ink or consumable out (status bit 1)")
        .await;
    h.recovers_from(Fault::InkOut).await;
}

#[tokio::test]
async fn reprint_on_empty_is_a_print_without_code_from_the_counter() {
    let mut h = marker(Link::Tcp, 16, 3, &[Fault::ReprintOnEmpty]).await;
    h.reprint_on_empty_faults_and_confirms_nothing().await;
    h.handle.start().await.unwrap();
    h.expect_state(MarkerState::Connected).await;
}

#[tokio::test]
async fn an_empty_print_go_is_reported_and_never_reprints_old_data() {
    let mut h = marker(Link::Tcp, 16, 3, &[]).await;
    h.handle.start().await.unwrap();
    let codes = h.feed(1).await;
    h.print_all(&codes).await;
    assert_eq!(h.sim.trigger(), TriggerOutcome::Empty);
    h.expect("EmptyPrintGo", |e| matches!(e, MarkerEvent::EmptyPrintGo))
        .await;
    let snapshot = h.sim.snapshot();
    assert_eq!((snapshot.print_gos(), snapshot.prints()), (2, 1));
    assert_eq!(
        h.sim.prints().len(),
        1,
        "nothing printed on the empty print-go"
    );
    // Printing goes on: the next code prints and is confirmed, nothing without a code.
    let more = h.feed(1).await;
    h.print_all(&more).await;
    assert!(
        !h.drain_log()
            .iter()
            .any(|e| matches!(e, MarkerEvent::PrintWithoutCode { .. }))
    );
}

#[tokio::test]
async fn a_corrupt_mbap_reply_ends_the_session_without_wrong_confirmations() {
    let mut h = marker(Link::Tcp, 16, 3, &[]).await;
    h.corrupt_replies_end_the_session(2).await;
}

#[tokio::test]
async fn a_wrong_unit_id_times_out_with_a_clear_message_over_tcp() {
    let sim = ModbusMarkerSim::new(16);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
    let addr = listener.local_addr().expect("bound address");
    let serving = {
        let sim = sim.clone();
        tokio::spawn(async move { sim.serve_tcp(listener).await })
    };
    let mut other = ModbusMarker::new(
        Transport::Tcp(addr.to_string()),
        9,
        ModbusMarkerMap::default(),
        Duration::from_millis(200),
    )
    .expect("valid map");
    let mut session = other.connect().await.expect("connects");
    let Err(error @ LinkError::Timeout { .. }) = session.poll().await else {
        panic!("expected a timeout");
    };
    assert_eq!(
        error.to_string(),
        format!(
            "no reply to status read (FC 04) to unit 9 at tcp://{addr} (check the unit id) \
             within 200ms"
        )
    );
    assert_eq!(
        sim.snapshot().commands(),
        1,
        "the request arrived, unanswered"
    );
    serving.abort();
}

#[tokio::test]
async fn a_session_over_modbus_rtu_on_a_pty() {
    let sim = ModbusMarkerSim::new(4);
    let (master, slave) = tokio_serial::SerialStream::pair().expect("pty pair");
    let path = tokio_serial::SerialPort::name(&slave).expect("pty path");
    let serving = {
        let sim = sim.clone();
        tokio::spawn(async move {
            let _slave = slave;
            sim.serve_rtu(master).await
        })
    };
    let serial = Transport::Serial(SerialSettings::new(path, 115_200));
    let mut marker = device(serial.clone(), UNIT);
    let mut session = marker.connect().await.expect("pty opens");
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
    for text in ["RTU-1", "RTU-2"] {
        assert_eq!(
            session.push(0, text).await.expect("link"),
            PushOutcome::Accepted { now_full: false }
        );
    }
    assert_eq!(sim.buffered(), vec!["RTU-1", "RTU-2"]);
    assert!(matches!(sim.trigger(), TriggerOutcome::Printed(p) if p.text() == "RTU-1"));
    assert_eq!(
        session.poll().await.expect("polled").progress,
        PrintProgress::Counter(1)
    );
    // Another unit id on the same line: silence, reported as a timeout naming the unit.
    drop(session);
    let mut other = ModbusMarker::new(
        serial,
        7,
        ModbusMarkerMap::default(),
        Duration::from_millis(200),
    )
    .expect("valid map");
    let mut session = other.connect().await.expect("pty opens");
    let Err(LinkError::Timeout { request, .. }) = session.poll().await else {
        panic!("expected a timeout");
    };
    assert!(request.contains("to unit 7 at serial:"), "{request}");
    serving.abort();
}

#[test]
fn the_config_fills_every_key_it_leaves_out_and_refuses_unknown_ones() {
    use tracemark_drivers::modbus_marker::ModbusMarkerConfig;
    use tracemark_drivers::modbus_marker::map::{LoadSignal, StatusMap};
    let config: ModbusMarkerConfig = serde_json::from_str(
        r#"{"unit_id": 5, "registers": {"code_registers": 10,
            "load": {"type": "coil", "address": 7},
            "status": {"register": 5, "fault_bit": 2}}}"#,
    )
    .expect("parses");
    assert_eq!(config.unit_id, 5);
    assert_eq!(config.reply_timeout_ms, 1_000);
    let map = &config.registers;
    assert_eq!((map.code_register, map.code_registers), (16, 10));
    assert_eq!(map.load, LoadSignal::Coil { address: 7 });
    assert_eq!(
        map.status,
        StatusMap {
            register: 5,
            fault_bit: Some(2),
            consumable_out_bit: None,
            buffer_full_bit: None,
            empty_print_go_bit: None,
            buffer_count_register: None,
            ..StatusMap::default()
        },
        "a status table names its own bits"
    );
    let default: ModbusMarkerConfig = serde_json::from_str("{}").expect("parses");
    assert_eq!(default.registers, ModbusMarkerMap::default());
    let load: LoadSignal =
        serde_json::from_str(r#"{"type": "register", "address": 9}"#).expect("parses");
    assert_eq!(
        load,
        LoadSignal::Register {
            address: 9,
            value: 1
        }
    );
    for bad in [
        r#"{"registers": {"code_regs": 1}}"#,
        r#"{"registers": {"load": {"type": "coil", "address": 1, "value": 1}}}"#,
        r#"{"registers": {"byte_order": "middle"}}"#,
    ] {
        assert!(
            serde_json::from_str::<ModbusMarkerConfig>(bad).is_err(),
            "{bad}"
        );
    }
    assert!(
        ModbusMarker::from_config(
            Transport::Tcp("127.0.0.1:502".into()),
            &ModbusMarkerConfig {
                registers: ModbusMarkerMap {
                    code_registers: 0,
                    ..ModbusMarkerMap::default()
                },
                ..ModbusMarkerConfig::default()
            }
        )
        .is_err_and(|e| e
            .to_string()
            .starts_with("modbus marker register map: code_registers"))
    );
}
