//! The Linx driver against the Linx simulator over a real pseudo-terminal, TCP and an in-memory
//! duplex, including every fault. No sleeps: the tests wait for driver events and simulator
//! snapshots; timing-dependent tests run on paused tokio time over the duplex.

use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracemark_drivers::linx::{LinxConfig, LinxMarker};
use tracemark_drivers::marker::{
    Code, CodeId, FaultReason, MarkerConfig, MarkerError, MarkerEvent, MarkerHandle, MarkerState,
    VoidReason, create_marker,
};
use tracemark_drivers::transport::{BoxedStream, SerialSettings, Transport};
use tracemark_sim::linx::{Fault, LinxSim, SimSnapshot};

/// Guard against a hung test; never a synchronisation point.
const GUARD: Duration = Duration::from_secs(20);

enum Link {
    Pty,
    Tcp,
    Duplex,
}

struct Harness {
    sim: LinxSim,
    handle: MarkerHandle,
    codes: mpsc::Sender<Code>,
    events: mpsc::Receiver<MarkerEvent>,
    log: Vec<MarkerEvent>,
    next_code: u64,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn marker_config(high: usize) -> MarkerConfig {
    MarkerConfig {
        low_watermark: 1,
        high_watermark: high,
        poll_interval_ms: 10,
        buffer_full_retry_ms: 500,
        reconnect_min_ms: 20,
        reconnect_max_ms: 200,
    }
}

impl Harness {
    async fn new(link: Link, depth: usize, high: usize, faults: &[Fault]) -> Self {
        let sim = LinxSim::new(depth);
        for fault in faults {
            sim.inject(*fault);
        }
        let mut tasks = Vec::new();
        let transport = match link {
            Link::Tcp => {
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
                let addr = listener.local_addr().expect("bound address");
                let server = sim.clone();
                tasks.push(tokio::spawn(async move {
                    let _ = server.serve_tcp(listener).await;
                }));
                Transport::Tcp(addr.to_string())
            }
            Link::Pty => {
                let (master, slave) = tokio_serial::SerialStream::pair().expect("pty pair");
                let path = tokio_serial::SerialPort::name(&slave).expect("pty path");
                let server = sim.clone();
                tasks.push(tokio::spawn(async move {
                    let _slave = slave;
                    let mut master = master;
                    while server.serve(&mut master).await.is_ok() {}
                }));
                Transport::Serial(SerialSettings {
                    path,
                    baud: 115_200,
                })
            }
            Link::Duplex => {
                let server = sim.clone();
                Transport::custom("duplex", move || {
                    let (client, device) = tokio::io::duplex(4096);
                    let server = server.clone();
                    tokio::spawn(async move {
                        let _ = server.serve(device).await;
                    });
                    Box::pin(async move { Ok(Box::new(client) as BoxedStream) })
                })
            }
        };
        let device = LinxMarker::new(
            transport,
            LinxConfig {
                reply_timeout_ms: 200,
                message: Some("CODES".to_owned()),
            },
        );
        let (codes, code_rx) = mpsc::channel(64);
        let (event_tx, events) = mpsc::channel(1024);
        let (handle, task) = create_marker(device, marker_config(high), code_rx, event_tx);
        tasks.push(tokio::spawn(task.run()));
        let mut harness = Self {
            sim,
            handle,
            codes,
            events,
            log: Vec::new(),
            next_code: 1,
            tasks,
        };
        harness.expect_state(MarkerState::Connected).await;
        harness
    }

    /// Feeds `n` new codes; returns them.
    async fn feed(&mut self, n: u64) -> Vec<Code> {
        let mut fed = Vec::new();
        for _ in 0..n {
            let id = self.next_code;
            self.next_code += 1;
            let code = Code::new(CodeId::new(id), format!("(01)09506000134352(21)S{id:05}"));
            self.codes
                .send(code.clone())
                .await
                .expect("marker takes codes");
            fed.push(code);
        }
        fed
    }

    /// Reads events until one matches; returns it. Everything read is kept in `log`.
    async fn expect(&mut self, what: &str, matches: impl Fn(&MarkerEvent) -> bool) -> MarkerEvent {
        let found = tokio::time::timeout(GUARD, async {
            loop {
                let event = self.events.recv().await.expect("marker task alive");
                self.log.push(event.clone());
                if matches(&event) {
                    return event;
                }
            }
        })
        .await;
        match found {
            Ok(event) => event,
            Err(_) => panic!("no {what} event; events so far: {:#?}", self.log),
        }
    }

    async fn expect_state(&mut self, state: MarkerState) {
        let wanted = state.clone();
        self.expect(&format!("{state:?}"), move |event| {
            *event == MarkerEvent::State(wanted.clone())
        })
        .await;
    }

    async fn expect_printed(&mut self, code: &Code) {
        let id = code.id();
        self.expect(&format!("Printed {id:?}"), move |event| {
            *event == MarkerEvent::Printed { code: id }
        })
        .await;
    }

    async fn sim_until(&self, ready: impl Fn(&SimSnapshot) -> bool) -> SimSnapshot {
        tokio::time::timeout(GUARD, self.sim.wait_until(ready))
            .await
            .expect("simulator reached the expected state")
    }

    /// Events received so far and still queued, without waiting.
    fn drain_log(&mut self) -> &[MarkerEvent] {
        while let Ok(event) = self.events.try_recv() {
            self.log.push(event);
        }
        &self.log
    }

    fn printed_ids(&self) -> Vec<CodeId> {
        self.log
            .iter()
            .filter_map(|event| match event {
                MarkerEvent::Printed { code } => Some(*code),
                _ => None,
            })
            .collect()
    }

    fn voided_ids(&self) -> Vec<(CodeId, VoidReason)> {
        self.log
            .iter()
            .filter_map(|event| match event {
                MarkerEvent::Voided { codes, reason } => {
                    Some(codes.iter().map(move |code| (*code, *reason)))
                }
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// Prints `codes` one print-go at a time, each once the driver has put it in the buffer,
    /// and checks every confirmation against what the simulated head printed.
    async fn print_all(&mut self, codes: &[Code]) {
        for code in codes {
            self.sim_until(|s| s.buffered() > 0).await;
            self.sim.trigger();
            self.expect_printed(code).await;
        }
        let truth: Vec<String> = self.sim.prints().iter().map(|p| p.text()).collect();
        let printed = self.printed_ids();
        assert_eq!(truth.len(), printed.len(), "one confirmation per print");
        for (text, id) in truth.iter().zip(&printed) {
            assert!(
                text.ends_with(&format!("S{:05}", id.get())),
                "confirmed {id:?} but the head printed {text}"
            );
        }
    }
}

async fn happy_path(link: Link) {
    let mut h = Harness::new(link, 8, 3, &[]).await;
    assert_eq!(h.sim.snapshot().message(), None);
    h.handle.start().await.expect("start");
    assert_eq!(h.sim.snapshot().message(), Some("CODES"));
    let codes = h.feed(10).await;
    // The feed loop fills up to the high watermark and no further.
    let full = h.sim_until(|s| s.buffered() == 3).await;
    assert!(full.buffered() <= 3);
    h.print_all(&codes).await;
    assert!(h.sim.buffered().len() <= 3);
    let status = h.handle.status().await.expect("status");
    assert_eq!(status.state(), &MarkerState::Connected);
    assert!(status.printing());
    assert_eq!(*h.handle.state().borrow(), MarkerState::Connected);

    h.handle.stop().await.expect("stop");
    assert!(h.sim.buffered().is_empty(), "stop clears the device buffer");
    assert!(!h.sim.snapshot().printing());
}

#[tokio::test]
async fn prints_are_confirmed_in_order_over_a_pty() {
    happy_path(Link::Pty).await;
}

#[tokio::test]
async fn prints_are_confirmed_in_order_over_tcp() {
    happy_path(Link::Tcp).await;
}

#[tokio::test(start_paused = true)]
async fn prints_are_confirmed_in_order_over_a_duplex() {
    happy_path(Link::Duplex).await;
}

#[tokio::test(start_paused = true)]
async fn buffer_full_makes_the_feed_loop_back_off() {
    let mut h = Harness::new(Link::Duplex, 2, 4, &[Fault::BufferFull]).await;
    h.handle.start().await.unwrap();
    let codes = h.feed(4).await;
    h.expect("BufferFull", |e| {
        matches!(e, MarkerEvent::BufferFull { in_flight: 0 })
    })
    .await;
    // Twenty polls later (200 ms, under the 500 ms retry), no second attempt was made.
    let commands = h.sim.snapshot().commands();
    h.sim_until(|s| s.commands() >= commands + 40).await;
    let attempts = h
        .drain_log()
        .iter()
        .filter(|e| matches!(e, MarkerEvent::BufferFull { .. }))
        .count();
    assert_eq!(attempts, 1, "the feed loop backs off after a full buffer");
    assert!(h.handle.status().await.unwrap().holding());

    // The printer has room again: the retry stores the held code, then the next one, and
    // C-status 42h "now full" stops the loop at the device depth of 2.
    h.sim.clear(Fault::BufferFull);
    h.sim_until(|s| s.buffered() == 2).await;
    let status = h.handle.status().await.unwrap();
    assert_eq!(status.in_flight(), 2);
    assert!(status.holding(), "third code waits for a print");
    h.print_all(&codes).await;
}

#[tokio::test]
async fn nak_faults_the_marker_and_voids_the_refused_code() {
    let mut h = Harness::new(Link::Tcp, 8, 3, &[Fault::Nak]).await;
    h.handle.start().await.unwrap();
    let codes = h.feed(1).await;
    let refused = h
        .expect("Refused", |e| matches!(e, MarkerEvent::Refused(_)))
        .await;
    let MarkerEvent::Refused(refusal) = refused else {
        unreachable!()
    };
    assert_eq!(refusal.reason(), "C-status 0x51 (printer busy)");
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

    // The operator clears the cause and restarts: codes flow again.
    h.sim.clear(Fault::Nak);
    h.handle.start().await.unwrap();
    h.expect_state(MarkerState::Connected).await;
    let more = h.feed(2).await;
    h.print_all(&more).await;
}

#[tokio::test]
async fn disconnect_reconnects_and_settles_the_buffer() {
    let mut h = Harness::new(Link::Tcp, 8, 3, &[]).await;
    h.handle.start().await.unwrap();
    let codes = h.feed(3).await;
    h.sim_until(|s| s.buffered() == 3).await;
    h.sim.trigger();
    h.sim.inject(Fault::Disconnect);
    h.expect_state(MarkerState::Disconnected).await;
    // On reconnection the buffer is settled before the marker reports Connected.
    h.expect("Voided", |e| matches!(e, MarkerEvent::Voided { .. }))
        .await;
    h.expect_state(MarkerState::Connected).await;

    // Code 1 printed before the link dropped: confirmed once, from the counter. Codes 2 and 3
    // were cleared from the buffer on reconnection: voided, never printed.
    assert_eq!(h.printed_ids(), vec![codes[0].id()]);
    assert_eq!(
        h.voided_ids(),
        vec![
            (codes[1].id(), VoidReason::Reconnected),
            (codes[2].id(), VoidReason::Reconnected)
        ]
    );
    assert_eq!(h.sim.prints().len(), 1);
    assert_eq!(h.sim.snapshot().connections(), 2);

    // Printing resumes by itself: the operator had started it.
    let more = h.feed(2).await;
    h.print_all(&more).await;
}

#[tokio::test(start_paused = true)]
async fn stall_times_out_into_a_fault_and_recovers() {
    let mut h = Harness::new(Link::Duplex, 8, 3, &[]).await;
    h.sim.inject(Fault::Stall);
    h.expect("Faulted(NoReply)", |e| {
        matches!(
            e,
            MarkerEvent::State(MarkerState::Faulted(FaultReason::NoReply { .. }))
        )
    })
    .await;
    h.sim.clear(Fault::Stall);
    h.expect_state(MarkerState::Connected).await;
}

#[tokio::test]
async fn head_open_silence_is_a_fault_over_a_pty() {
    let mut h = Harness::new(Link::Pty, 8, 3, &[]).await;
    h.handle.start().await.unwrap();
    let codes = h.feed(2).await;
    h.sim_until(|s| s.buffered() == 2).await;
    h.sim.inject(Fault::HeadOpen);
    h.expect("Faulted(NoReply)", |e| {
        matches!(
            e,
            MarkerEvent::State(MarkerState::Faulted(FaultReason::NoReply { .. }))
        )
    })
    .await;
    assert_eq!(
        h.sim.trigger(),
        tracemark_sim::linx::TriggerOutcome::Ignored
    );
    h.sim.clear(Fault::HeadOpen);
    h.expect("Voided", |e| matches!(e, MarkerEvent::Voided { .. }))
        .await;
    h.expect_state(MarkerState::Connected).await;
    assert_eq!(
        h.voided_ids(),
        vec![
            (codes[0].id(), VoidReason::Reconnected),
            (codes[1].id(), VoidReason::Reconnected)
        ]
    );
    assert!(h.printed_ids().is_empty());
}

async fn garbage_run(link: Link) {
    let mut h = Harness::new(link, 8, 3, &[Fault::Garbage]).await;
    h.handle.start().await.expect("start");
    let codes = h.feed(6).await;
    h.print_all(&codes).await;
    let reconnects = h
        .drain_log()
        .iter()
        .filter(|e| matches!(e, MarkerEvent::State(MarkerState::Disconnected)))
        .count();
    assert_eq!(
        reconnects, 0,
        "noise between replies is skipped, not a link loss"
    );
}

#[tokio::test]
async fn garbage_bytes_are_skipped_without_wrong_confirmations_over_a_pty() {
    garbage_run(Link::Pty).await;
}

#[tokio::test]
async fn garbage_bytes_are_skipped_without_wrong_confirmations_over_tcp() {
    garbage_run(Link::Tcp).await;
}

#[tokio::test]
async fn ink_out_clears_the_buffer_and_reports_codes_in_flight() {
    let mut h = Harness::new(Link::Tcp, 8, 3, &[]).await;
    h.handle.start().await.unwrap();
    let codes = h.feed(4).await;
    h.sim_until(|s| s.buffered() == 3).await;
    h.sim.trigger();
    h.expect_printed(&codes[0]).await;
    // Two left is above the low watermark (1): no refill yet, code 4 stays with the source.
    h.sim_until(|s| s.buffered() == 2).await;

    h.sim.inject(Fault::InkOut);
    h.expect("Faulted(Device)", |e| {
        matches!(
            e,
            MarkerEvent::State(MarkerState::Faulted(FaultReason::Device { .. }))
        )
    })
    .await;
    h.expect("Voided", |e| matches!(e, MarkerEvent::Voided { .. }))
        .await;
    assert!(h.sim.buffered().is_empty(), "the device buffer was cleared");
    assert_eq!(
        h.voided_ids(),
        vec![
            (codes[1].id(), VoidReason::Fault),
            (codes[2].id(), VoidReason::Fault)
        ]
    );
    let refused = h.handle.start().await.unwrap_err();
    assert!(matches!(refused, MarkerError::Faulted(_)), "{refused}");

    h.sim.clear(Fault::InkOut);
    h.expect_state(MarkerState::Connected).await;
    h.handle.start().await.unwrap();
    let mut rest = vec![codes[3].clone()];
    rest.extend(h.feed(1).await);
    h.print_all(&rest).await;
}

#[tokio::test]
async fn reprint_on_empty_is_detected() {
    let mut h = Harness::new(Link::Pty, 8, 3, &[Fault::ReprintOnEmpty]).await;
    h.handle.start().await.unwrap();
    let codes = h.feed(1).await;
    h.print_all(&codes).await;
    // The buffer is empty; a print-go makes the printer reprint the old code.
    assert!(matches!(
        h.sim.trigger(),
        tracemark_sim::linx::TriggerOutcome::Reprinted(_)
    ));
    h.expect("PrintWithoutCode", |e| {
        matches!(e, MarkerEvent::PrintWithoutCode { count: 1 })
    })
    .await;
    h.expect("Faulted(PrintWithoutCode)", |e| {
        matches!(
            e,
            MarkerEvent::State(MarkerState::Faulted(FaultReason::PrintWithoutCode {
                count: 1
            }))
        )
    })
    .await;
    assert!(
        h.drain_log().contains(&MarkerEvent::EmptyPrintGo),
        "the printer's print-go error bit is reported too"
    );
    assert_eq!(
        h.printed_ids(),
        vec![codes[0].id()],
        "the reprint confirms no code"
    );
    h.sim_until(|s| !s.printing()).await;

    // A restart acknowledges the fault.
    h.handle.start().await.unwrap();
    h.expect_state(MarkerState::Connected).await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_voids_everything_not_printed() {
    let mut h = Harness::new(Link::Duplex, 8, 3, &[]).await;
    h.handle.start().await.unwrap();
    let codes = h.feed(5).await;
    h.sim_until(|s| s.buffered() == 3).await;
    h.handle.shutdown().await.unwrap();
    h.expect_state(MarkerState::Disconnected).await;
    let voided: Vec<CodeId> = h.voided_ids().iter().map(|(id, _)| *id).collect();
    assert_eq!(voided[..3], [codes[0].id(), codes[1].id(), codes[2].id()]);
    assert!(h.sim.buffered().is_empty());
    assert!(matches!(
        h.handle.status().await,
        Err(MarkerError::TaskEnded)
    ));
}
