//! The line I/O client (`tracemark_drivers::lineio`) against the PLC simulator over real
//! Modbus TCP on 127.0.0.1. No sleeps: the simulator is driven synchronously and waited on
//! through `wait_until`.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tracemark_drivers::lineio::{
    LineIo, LineIoError, LineIoMap, LineIoPoll, RejectOutcome, RejectStatus, StackLight,
};
use tracemark_drivers::transport::{SerialSettings, Transport};
use tracemark_sim::plc::{PlcFault, PlcSim, PlcSnapshot};

/// Guard against a hung test; never a synchronisation point.
const GUARD: Duration = Duration::from_secs(20);
/// Reply timeout when a reply is expected.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Reply timeout when none is expected: the wait is what the test measures.
const SHORT_TIMEOUT: Duration = Duration::from_millis(200);
const UNIT: u8 = 3;
/// Half the gate window in the queue tests, encoder counts.
const HALF: u64 = 50;

struct Plc {
    sim: PlcSim,
    transport: Transport,
    server: JoinHandle<std::io::Result<()>>,
}

impl Drop for Plc {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Plc {
    async fn start() -> Self {
        let sim = PlcSim::new(UNIT);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let addr = listener.local_addr().expect("bound address");
        let server = {
            let sim = sim.clone();
            tokio::spawn(async move { sim.serve_tcp(listener).await })
        };
        Self {
            sim,
            transport: Transport::Tcp(addr.to_string()),
            server,
        }
    }

    /// The PLC on a pseudo-terminal, speaking Modbus RTU (`tracemark-sim plc --pty`).
    fn start_rtu() -> Self {
        let sim = PlcSim::new(UNIT);
        let (master, slave) = tokio_serial::SerialStream::pair().expect("pty pair");
        let path = tokio_serial::SerialPort::name(&slave).expect("pty path");
        let server = {
            let sim = sim.clone();
            tokio::spawn(async move {
                let _slave = slave;
                sim.serve_rtu(master).await
            })
        };
        Self {
            sim,
            transport: Transport::Serial(SerialSettings::new(path, 115_200)),
            server,
        }
    }

    async fn connect(&self) -> LineIo {
        LineIo::connect(&self.transport, UNIT, LineIoMap::default(), TIMEOUT)
            .await
            .expect("connects")
    }

    /// A connection with the gate timing set: half window [`HALF`], confirm timeout 20 ms; the
    /// baseline poll taken.
    async fn connect_queue(&self) -> LineIo {
        let mut io = self.connect().await;
        io.set_gate_timing(HALF, Duration::from_millis(20))
            .await
            .expect("gate timing");
        io.poll().await.expect("baseline poll");
        io
    }

    async fn until(&self, what: &str, ready: impl Fn(&PlcSnapshot) -> bool) -> PlcSnapshot {
        match tokio::time::timeout(GUARD, self.sim.wait_until(ready)).await {
            Ok(snapshot) => snapshot,
            Err(_) => panic!(
                "simulator never reached: {what}; now {:?}",
                self.sim.snapshot()
            ),
        }
    }
}

#[tokio::test]
async fn detections_arrive_with_their_latched_counts_in_order() {
    let plc = Plc::start().await;
    plc.sim.set_encoder(500);
    plc.sim.detect(); // before the baseline: not reported
    let mut io = plc.connect().await;
    let baseline = io.poll().await.expect("baseline poll");
    assert_eq!(baseline.encoder, 500);
    assert!(baseline.detections.is_empty());
    assert!(baseline.line_running == Some(true));

    for at in [600, 750, 900] {
        plc.sim.set_encoder(at);
        plc.sim.detect();
    }
    plc.sim.set_encoder(950);
    let poll = io.poll().await.expect("poll");
    assert_eq!(poll.encoder, 950);
    assert_eq!(poll.detections, vec![600, 750, 900]);
    assert_eq!(poll.missed, 0);

    let quiet = io.poll().await.expect("poll");
    assert!(
        quiet.detections.is_empty(),
        "each detection is reported once"
    );
}

#[tokio::test]
async fn more_than_sixteen_detections_between_polls_are_counted_as_missed() {
    let plc = Plc::start().await;
    let mut io = plc.connect().await;
    io.poll().await.expect("baseline poll");
    for unit in 1..=20u64 {
        plc.sim.set_encoder(unit * 100);
        plc.sim.detect();
    }
    let poll = io.poll().await.expect("poll");
    assert_eq!(poll.missed, 4);
    let kept: Vec<u64> = (5..=20).map(|unit| unit * 100).collect();
    assert_eq!(poll.detections, kept, "the last 16, oldest first");
}

#[tokio::test]
async fn encoder_wrap_across_2_pow_32_extends_to_u64() {
    let plc = Plc::start().await;
    let wrap = 1u64 << 32;
    plc.sim.set_encoder(wrap - 1_000);
    let mut io = plc.connect().await;
    assert_eq!(io.poll().await.expect("baseline").encoder, wrap - 1_000);
    plc.sim.set_encoder(wrap - 10);
    plc.sim.detect();
    plc.sim.set_encoder(wrap + 20);
    plc.sim.detect();
    plc.sim.set_encoder(wrap + 500);
    let poll = io.poll().await.expect("poll across the wrap");
    assert_eq!(poll.encoder, wrap + 500);
    assert_eq!(poll.detections, vec![wrap - 10, wrap + 20]);
    // Round again, in steps of less than 2^31 as a poll loop sees a running line.
    let steps = [
        wrap + (1 << 30),
        wrap + (2 << 30),
        wrap + (3 << 30),
        2 * wrap + 7,
    ];
    let mut seen = Vec::new();
    for at in steps {
        plc.sim.set_encoder(at);
        seen.push(io.poll().await.expect("poll").encoder);
    }
    assert_eq!(seen, steps);
}

#[tokio::test]
async fn gate_on_is_confirmed_and_off_releases() {
    let plc = Plc::start().await;
    let mut io = plc.connect().await;
    io.set_gate(true).await.expect("gate on");
    assert!(plc.sim.gate_diverting());
    assert!(io.poll().await.expect("poll").gate_confirmed == Some(true));
    io.set_gate(false).await.expect("gate off");
    assert!(!plc.sim.gate_diverting());
    assert!(io.poll().await.expect("poll").gate_confirmed == Some(false));
    assert_eq!(plc.sim.snapshot().gate_fires(), 1);
}

#[tokio::test]
async fn gate_jam_leaves_the_coil_on_without_confirm() {
    let plc = Plc::start().await;
    plc.sim.inject(PlcFault::GateJam);
    let mut io = plc.connect().await;
    io.set_gate(true).await.expect("gate on");
    assert!(plc.sim.snapshot().gate_coil());
    assert!(io.poll().await.expect("poll").gate_confirmed == Some(false));
    plc.sim.clear(PlcFault::GateJam);
    assert!(io.poll().await.expect("poll").gate_confirmed == Some(true));
}

#[tokio::test]
async fn watchdog_expiry_diverts_and_lights_red_until_requests_resume() {
    let plc = Plc::start().await;
    let mut io = plc.connect().await;
    io.set_stack_light(StackLight::Green).await.expect("green");
    io.set_watchdog(Duration::from_millis(100))
        .await
        .expect("watchdog set");
    assert_eq!(plc.sim.snapshot().watchdog_ms(), 100);
    // No more requests: the PLC fails safe on its own.
    let tripped = plc
        .until("watchdog tripped", PlcSnapshot::watchdog_tripped)
        .await;
    assert!(!tripped.gate_coil(), "the host never switched the gate on");
    assert!(tripped.gate_diverting() && tripped.gate_confirm());
    assert!(plc.sim.gate_diverting());
    assert_eq!(tripped.stack_light(), [true, false, true]);
    assert_eq!(tripped.watchdog_trips(), 1);

    // A request ends it; the watchdog stays armed.
    io.poll().await.expect("poll");
    assert!(!plc.sim.gate_diverting());
    io.set_watchdog(Duration::ZERO).await.expect("watchdog off");
    assert_eq!(plc.sim.snapshot().watchdog_ms(), 0);
}

#[tokio::test]
async fn wrong_unit_id_times_out_with_a_message_naming_the_unit_id() {
    let plc = Plc::start().await;
    let mut io = LineIo::connect(
        &plc.transport,
        UNIT + 1,
        LineIoMap::default(),
        SHORT_TIMEOUT,
    )
    .await
    .expect("connects");
    let error = tokio::time::timeout(GUARD, io.poll())
        .await
        .expect("gave up within the guard")
        .expect_err("no answer");
    assert!(matches!(error, LineIoError::Timeout { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains(&format!("unit {}", UNIT + 1)), "{message}");
    assert!(message.contains("check the unit id"), "{message}");
    assert_eq!(plc.sim.snapshot().requests(), 0);
}

#[tokio::test]
async fn address_outside_the_plc_map_is_an_illegal_data_address() {
    let plc = Plc::start().await;
    // The controller's map puts the input block 4 registers later than the PLC has it.
    let map = LineIoMap {
        input_registers: 4,
        ..LineIoMap::default()
    };
    let mut io = LineIo::connect(&plc.transport, UNIT, map, TIMEOUT)
        .await
        .expect("connects");
    let error = io.poll().await.expect_err("refused");
    assert_eq!(
        error.to_string(),
        "illegal data address 0x0004 reading input registers (FC 04): check the PLC's register map"
    );
    assert!(!error.is_link_error());
    // The link stays usable after an exception.
    io.set_gate(true)
        .await
        .expect("gate on after the exception");
}

#[tokio::test]
async fn stack_light_and_line_stop_reach_the_coils() {
    let plc = Plc::start().await;
    let mut io = plc.connect().await;
    io.set_stack_light(StackLight::Amber).await.expect("amber");
    assert_eq!(plc.sim.snapshot().stack_light(), [false, true, false]);
    io.set_stack_light(StackLight::Red).await.expect("red");
    assert_eq!(plc.sim.snapshot().stack_light(), [true, false, false]);
    io.set_stack_light(StackLight::Off).await.expect("off");
    assert_eq!(plc.sim.snapshot().stack_light(), [false, false, false]);
    io.request_line_stop(true).await.expect("stop");
    let poll = io.poll().await.expect("poll");
    assert!(plc.sim.snapshot().line_stop());
    assert!(poll.line_running == Some(false));
}

#[tokio::test]
async fn stall_times_out_and_disconnect_drops_the_link_until_cleared() {
    let plc = Plc::start().await;
    let mut io = LineIo::connect(&plc.transport, UNIT, LineIoMap::default(), SHORT_TIMEOUT)
        .await
        .expect("connects");
    plc.sim.inject(PlcFault::Stall);
    let error = io.set_gate(true).await.expect_err("stalled");
    assert!(matches!(error, LineIoError::Timeout { .. }), "{error:?}");
    plc.sim.clear(PlcFault::Stall);

    let mut io = plc.connect().await;
    io.poll().await.expect("poll");
    plc.sim.inject(PlcFault::Disconnect);
    let error = io.poll().await.expect_err("dropped");
    assert!(error.is_link_error(), "{error:?}");
    assert!(matches!(error, LineIoError::Io { .. }), "{error:?}");
    plc.sim.clear(PlcFault::Disconnect);
    let mut io = plc.connect().await;
    io.poll().await.expect("poll after reconnecting");
}

/// Reject `seq`'s outcome in a poll (slot `seq % 16`).
fn outcome(poll: &LineIoPoll, seq: u32) -> RejectOutcome {
    poll.rejects[seq as usize % 16]
}

fn outcome_of(seq: u32, status: RejectStatus) -> RejectOutcome {
    RejectOutcome { seq, status }
}

#[tokio::test]
async fn a_queued_reject_diverts_in_its_window_and_poll_reports_it() {
    let plc = Plc::start().await;
    let mut io = plc.connect_queue().await;
    let snapshot = plc.sim.snapshot();
    assert_eq!(
        (
            snapshot.gate_half_window(),
            snapshot.gate_confirm_timeout_ms()
        ),
        (50, 20)
    );
    io.queue_reject(1, 1_000).await.expect("queued");
    let poll = io.poll().await.expect("poll");
    assert_eq!(outcome(&poll, 1), outcome_of(1, RejectStatus::Pending));
    assert_eq!(poll.rejects.len(), 16);

    plc.sim.set_encoder(949);
    let poll = io.poll().await.expect("poll");
    assert!(
        poll.gate_confirmed == Some(false),
        "the window opens at fire_at - half"
    );
    assert_eq!(outcome(&poll, 1).status, RejectStatus::Pending);

    plc.sim.set_encoder(950);
    let poll = io.poll().await.expect("poll");
    assert!(poll.gate_confirmed == Some(true));
    assert_eq!(outcome(&poll, 1), outcome_of(1, RejectStatus::Diverted));
    assert!(!plc.sim.snapshot().gate_coil(), "the PLC, not the coil");

    plc.sim.set_encoder(1_050);
    let poll = io.poll().await.expect("poll");
    assert!(
        poll.gate_confirmed == Some(false),
        "the window closes at fire_at + half"
    );
    assert_eq!(outcome(&poll, 1), outcome_of(1, RejectStatus::Diverted));
    let snapshot = plc.sim.snapshot();
    assert_eq!((snapshot.rejects_diverted(), snapshot.gate_fires()), (1, 1));
    // The twin's question agrees with the window.
    let seen: Vec<bool> = [949, 950, 1_000, 1_049, 1_050]
        .into_iter()
        .map(|at| plc.sim.diverting_at(at))
        .collect();
    assert_eq!(seen, [false, true, true, true, false]);
}

#[tokio::test]
async fn a_window_crossed_in_one_encoder_jump_is_diverted() {
    let plc = Plc::start().await;
    let mut io = plc.connect_queue().await;
    io.queue_reject(2, 2_000).await.expect("queued");
    plc.sim.set_encoder(5_000);
    let poll = io.poll().await.expect("poll");
    assert_eq!(outcome(&poll, 2), outcome_of(2, RejectStatus::Diverted));
    assert!(poll.gate_confirmed == Some(false), "past the window now");
    assert!(plc.sim.diverting_at(2_000));
    assert!(!plc.sim.diverting_at(5_000));
    assert_eq!(plc.sim.snapshot().gate_fires(), 1);
}

#[tokio::test]
async fn gate_jam_turns_a_queued_reject_into_a_gate_fault() {
    let plc = Plc::start().await;
    let mut io = plc.connect_queue().await;
    plc.sim.inject(PlcFault::GateJam);
    io.queue_reject(3, 1_000).await.expect("queued");
    plc.sim.set_encoder(1_000);
    let poll = io.poll().await.expect("poll");
    assert!(poll.gate_confirmed == Some(false));
    assert_eq!(outcome(&poll, 3).status, RejectStatus::Pending);
    assert!(
        plc.sim.gate_diverting(),
        "the output is on; the gate is stuck"
    );
    plc.sim.set_encoder(1_050);
    let poll = io.poll().await.expect("poll");
    assert_eq!(outcome(&poll, 3), outcome_of(3, RejectStatus::Fault));
    let snapshot = plc.sim.snapshot();
    assert_eq!(
        (snapshot.rejects_faulted(), snapshot.rejects_diverted()),
        (1, 0)
    );
}

#[tokio::test]
async fn a_reject_written_past_fire_at_is_late_and_does_not_switch() {
    let plc = Plc::start().await;
    let mut io = plc.connect_queue().await;
    plc.sim.set_encoder(1_001);
    io.queue_reject(4, 1_000).await.expect("queued");
    let poll = io.poll().await.expect("poll");
    assert_eq!(outcome(&poll, 4), outcome_of(4, RejectStatus::Late));
    assert!(
        poll.gate_confirmed == Some(false),
        "switching now would divert the next unit"
    );
    let snapshot = plc.sim.snapshot();
    assert!(!snapshot.gate_diverting());
    assert_eq!((snapshot.rejects_late(), snapshot.gate_fires()), (1, 0));
    assert!(!plc.sim.diverting_at(1_000));
    plc.sim.set_encoder(1_100);
    let poll = io.poll().await.expect("poll");
    assert_eq!(
        outcome(&poll, 4).status,
        RejectStatus::Late,
        "it stays late"
    );

    // Forced on (coil 0) from before fire_at and still on: the unit went out; not late.
    io.set_gate(true).await.expect("force divert");
    plc.sim.set_encoder(1_300);
    io.queue_reject(5, 1_200).await.expect("queued");
    let poll = io.poll().await.expect("poll");
    assert_eq!(outcome(&poll, 5), outcome_of(5, RejectStatus::Diverted));
    io.set_gate(false).await.expect("release");
}

#[tokio::test]
async fn a_re_sent_seq_after_reconnecting_changes_nothing() {
    let plc = Plc::start().await;
    let mut io = plc.connect_queue().await;
    io.queue_reject(6, 1_000).await.expect("queued");
    plc.sim.set_encoder(1_000);
    drop(io);
    // The controller lost the link, reconnects and re-sends what it has not seen resolved.
    let mut io = plc.connect_queue().await;
    io.queue_reject(6, 1_000).await.expect("re-sent");
    io.queue_reject(6, 7_777)
        .await
        .expect("re-sent, other fire_at");
    let poll = io.poll().await.expect("poll");
    assert_eq!(outcome(&poll, 6), outcome_of(6, RejectStatus::Diverted));
    let snapshot = plc.sim.snapshot();
    assert_eq!(
        (snapshot.rejects_queued(), snapshot.rejects_diverted()),
        (1, 1)
    );
    assert_eq!(snapshot.gate_fires(), 1);
    assert!(
        !plc.sim.diverting_at(7_777),
        "the re-sent fire_at was ignored"
    );
}

#[tokio::test]
async fn seventeen_rejects_wrap_the_sixteen_slots() {
    let plc = Plc::start().await;
    let mut io = plc.connect_queue().await;
    for seq in 1..=17u32 {
        io.queue_reject(seq, 10_000 + 200 * u64::from(seq))
            .await
            .expect("queued");
    }
    let poll = io.poll().await.expect("poll");
    let seqs: Vec<u32> = poll.rejects.iter().map(|outcome| outcome.seq).collect();
    assert_eq!(
        seqs,
        [16, 17, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]
    );
    let snapshot = plc.sim.snapshot();
    assert_eq!(snapshot.reject_status(1), None, "slot 1 now holds 17");
    assert_eq!(snapshot.rejects_queued(), 17);
    assert_eq!(snapshot.rejects_pending(), 16);
    // The line runs through every window, one encoder step per 100 counts.
    for at in (10_000..=14_000).step_by(100) {
        plc.sim.set_encoder(at);
    }
    let poll = io.poll().await.expect("poll");
    assert!(
        poll.rejects
            .iter()
            .all(|outcome| outcome.status == RejectStatus::Diverted),
        "{:?}",
        poll.rejects
    );
    let snapshot = plc.sim.snapshot();
    assert_eq!(snapshot.rejects_diverted(), 16);
    assert!(
        !plc.sim.diverting_at(10_200),
        "reject 1 was replaced before its window"
    );
}

#[tokio::test]
async fn gate_timing_out_of_range_and_a_bad_map_send_nothing() {
    let plc = Plc::start().await;
    let mut io = plc.connect().await;
    let error = io
        .set_gate_timing(70_000, Duration::from_millis(20))
        .await
        .expect_err("over u16");
    assert!(matches!(error, LineIoError::Config(_)), "{error:?}");
    let error = io
        .set_gate_timing(50, Duration::from_secs(70))
        .await
        .expect_err("over 65,535 ms");
    assert!(error.to_string().contains("65,535 ms"), "{error}");
    let error = io.queue_reject(0, 1_000).await.expect_err("seq 0");
    assert!(matches!(error, LineIoError::Config(_)), "{error:?}");
    assert_eq!(plc.sim.snapshot().requests(), 0, "nothing was sent");

    let map = LineIoMap {
        reject_queue_registers: 0,
        gate_confirm_timeout_register: 1,
        ..LineIoMap::default()
    };
    let error = LineIo::connect(&plc.transport, UNIT, map, TIMEOUT)
        .await
        .expect_err("bad map");
    assert_eq!(
        error.to_string(),
        "line I/O configuration: gate_confirm_timeout_register: holding register 1 is also \
         gate_half_window_register; reject_queue_registers: holding registers 0–63 overlap \
         watchdog_register (holding register 0); reject_queue_registers: holding registers 0–63 \
         overlap gate_half_window_register (holding register 1); reject_queue_registers: holding \
         registers 0–63 overlap gate_confirm_timeout_register (holding register 1)"
    );
}

#[tokio::test]
async fn an_fc16_byte_count_that_disagrees_is_exception_03_and_the_link_stays() {
    let plc = Plc::start().await;
    let addr = match &plc.transport {
        Transport::Tcp(addr) => addr.clone(),
        other => panic!("a TCP simulator, got {other:?}"),
    };
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    let bad = [
        0x00, 0x09, 0x00, 0x00, 0x00, 0x0C, // transaction 9, protocol 0, length 12
        UNIT, 0x10, 0x00, 0x10, // unit, FC 16, address 16
        0x00, 0x02, 0x05, // quantity 2, byte count 5 (not 4)
        0x00, 0x00, 0x00, 0x01, 0x00,
    ];
    let fc03 = [
        0x00, 0x0A, 0x00, 0x00, 0x00, 0x06, // transaction 10, length 6
        UNIT, 0x03, 0x00, 0x01, 0x00, 0x01, // FC 03, HR 1, quantity 1
    ];
    let mut both = bad.to_vec();
    both.extend(fc03);
    tokio::time::timeout(GUARD, async {
        stream.write_all(&both).await.expect("sent");
        let mut reply = [0u8; 9];
        stream
            .read_exact(&mut reply)
            .await
            .expect("exception reply");
        assert_eq!(
            reply,
            [0x00, 0x09, 0x00, 0x00, 0x00, 0x03, UNIT, 0x90, 0x03],
            "FC 16 + 80h, exception 03 Illegal Data Value (V1.1b3 §6.12, §7)"
        );
        let mut reply = [0u8; 11];
        stream.read_exact(&mut reply).await.expect("FC 03 reply");
        assert_eq!(
            reply,
            [
                0x00, 0x0A, 0x00, 0x00, 0x00, 0x05, UNIT, 0x03, 0x02, 0x00, 0x00
            ]
        );
    })
    .await
    .expect("answers in time");
    assert_eq!(plc.sim.snapshot().rejects_queued(), 0);
}

#[tokio::test]
async fn over_modbus_rtu_on_a_pty_detections_arrive_and_a_queued_reject_diverts() {
    let plc = Plc::start_rtu();
    let mut io = plc.connect_queue().await;
    plc.sim.set_encoder(400);
    plc.sim.detect();
    let poll = io.poll().await.expect("poll over RTU");
    assert_eq!(poll.encoder, 400);
    assert_eq!(poll.detections, vec![400]);
    io.queue_reject(1, 1_000).await.expect("FC 16 over RTU");
    plc.sim.set_encoder(1_000);
    let poll = io.poll().await.expect("poll");
    assert!(poll.gate_confirmed == Some(true));
    assert_eq!(outcome(&poll, 1), outcome_of(1, RejectStatus::Diverted));

    // Another unit id on the same serial line: no answer, and the error names the unit.
    drop(io);
    let mut other = LineIo::connect(
        &plc.transport,
        UNIT + 1,
        LineIoMap::default(),
        SHORT_TIMEOUT,
    )
    .await
    .expect("the pty opens again");
    let error = tokio::time::timeout(GUARD, other.poll())
        .await
        .expect("gave up within the guard")
        .expect_err("no answer for another unit");
    assert!(
        error.to_string().contains(&format!("unit {}", UNIT + 1)),
        "{error}"
    );
}

/// A map moved away from the defaults, with every entry somewhere else (`[plcs.<name>.map]`).
fn relocated_map() -> LineIoMap {
    LineIoMap {
        input_registers: 1_000,
        gate_confirm_input: 20,
        line_running_input: 17,
        gate_coil: 30,
        line_stop_coil: 31,
        stack_light_red_coil: 40,
        stack_light_amber_coil: 42,
        stack_light_green_coil: 44,
        watchdog_register: 500,
        gate_half_window_register: 501,
        gate_confirm_timeout_register: 503,
        reject_queue_registers: 2_000,
    }
}

/// The simulator serves a relocated map to a client configured with it: detections, the gate
/// timing, a queued reject diverted in its window, the stack light — and the default addresses
/// are no longer the PLC's.
#[tokio::test]
async fn a_relocated_map_is_served_at_its_addresses() {
    let sim = PlcSim::with_map(UNIT, relocated_map());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
    let transport = Transport::Tcp(listener.local_addr().expect("bound").to_string());
    let plc = Plc {
        server: {
            let sim = sim.clone();
            tokio::spawn(async move { sim.serve_tcp(listener).await })
        },
        sim,
        transport,
    };
    let mut io = LineIo::connect(&plc.transport, UNIT, relocated_map(), TIMEOUT)
        .await
        .expect("connects");
    io.set_gate_timing(HALF, Duration::from_millis(20))
        .await
        .expect("gate timing at 501 and 503");
    let snapshot = plc.sim.snapshot();
    assert_eq!(
        (
            snapshot.gate_half_window(),
            snapshot.gate_confirm_timeout_ms()
        ),
        (50, 20)
    );
    plc.sim.set_encoder(300);
    let baseline = io.poll().await.expect("baseline poll");
    assert_eq!(baseline.encoder, 300);
    assert!(
        baseline.line_running == Some(true),
        "line running at input 17"
    );
    plc.sim.set_encoder(400);
    plc.sim.detect();
    io.queue_reject(1, 1_000).await.expect("queued at 2000");
    plc.sim.set_encoder(960);
    let poll = io.poll().await.expect("poll");
    assert_eq!(poll.detections, vec![400]);
    assert!(
        poll.gate_confirmed == Some(true),
        "gate confirm at input 20"
    );
    assert_eq!(outcome(&poll, 1), outcome_of(1, RejectStatus::Diverted));
    io.set_stack_light(StackLight::Amber)
        .await
        .expect("amber at coil 42");
    assert_eq!(plc.sim.snapshot().stack_light(), [false, true, false]);
    io.request_line_stop(true).await.expect("stop at coil 31");
    assert!(plc.sim.snapshot().line_stop());

    // A client on the default map finds nothing where it looks for the gate coil.
    let mut default = LineIo::connect(&plc.transport, UNIT, LineIoMap::default(), TIMEOUT)
        .await
        .expect("connects");
    let refused = default.set_gate(true).await;
    assert!(
        matches!(refused, Err(LineIoError::Exception { .. })),
        "{refused:?}"
    );
}
