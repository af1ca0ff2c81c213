//! The line I/O client (`tracemark_drivers::lineio`) against the PLC simulator over real
//! Modbus TCP on 127.0.0.1. No sleeps: the simulator is driven synchronously and waited on
//! through `wait_until`.

use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tracemark_drivers::lineio::{LineIo, LineIoError, LineIoMap, StackLight};
use tracemark_drivers::transport::Transport;
use tracemark_sim::plc::{PlcFault, PlcSim, PlcSnapshot};

/// Guard against a hung test; never a synchronisation point.
const GUARD: Duration = Duration::from_secs(20);
/// Reply timeout when a reply is expected.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Reply timeout when none is expected: the wait is what the test measures.
const SHORT_TIMEOUT: Duration = Duration::from_millis(200);
const UNIT: u8 = 3;

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

    async fn connect(&self) -> LineIo {
        LineIo::connect(&self.transport, UNIT, LineIoMap::default(), TIMEOUT)
            .await
            .expect("connects")
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
    assert!(baseline.line_running);

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
    assert!(io.poll().await.expect("poll").gate_confirmed);
    io.set_gate(false).await.expect("gate off");
    assert!(!plc.sim.gate_diverting());
    assert!(!io.poll().await.expect("poll").gate_confirmed);
    assert_eq!(plc.sim.snapshot().gate_fires(), 1);
}

#[tokio::test]
async fn gate_jam_leaves_the_coil_on_without_confirm() {
    let plc = Plc::start().await;
    plc.sim.inject(PlcFault::GateJam);
    let mut io = plc.connect().await;
    io.set_gate(true).await.expect("gate on");
    assert!(plc.sim.snapshot().gate_coil());
    assert!(!io.poll().await.expect("poll").gate_confirmed);
    plc.sim.clear(PlcFault::GateJam);
    assert!(io.poll().await.expect("poll").gate_confirmed);
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
    assert!(!poll.line_running);
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
