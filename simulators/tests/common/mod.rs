//! A harness for driving a marker task against a simulator over a real pseudo-terminal, TCP
//! or an in-memory duplex. No sleeps: it waits for driver events and simulator snapshots.
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracemark_drivers::marker::{
    Code, CodeId, FaultReason, MarkerConfig, MarkerDevice, MarkerError, MarkerEvent, MarkerHandle,
    MarkerState, VoidReason, create_marker,
};
use tracemark_drivers::transport::{BoxedStream, SerialSettings, Transport};
use tracemark_sim::{Fault, MarkerSim, SimSnapshot, TriggerOutcome};

/// Reply timeout of the drivers under test: long enough that a loaded CI machine never turns a
/// slow reply into a link loss (that would void codes a test expects to print); the silence tests
/// over a real pty wait this long once. The driver and the simulator share one test runtime, so
/// a process descheduled for longer than this between a request and the simulator's reading it
/// wakes with the driver's timer already expired: 1 s was once too short on a loaded CI machine.
pub const REPLY_TIMEOUT_MS: u64 = 4_000;

/// Guard against a hung test; never a synchronisation point.
pub const GUARD: Duration = Duration::from_secs(20);

pub enum Link {
    Pty,
    Tcp,
    Duplex,
}

pub struct Harness<M: MarkerSim> {
    pub sim: M,
    pub handle: MarkerHandle,
    pub codes: mpsc::Sender<Code>,
    events: mpsc::Receiver<MarkerEvent>,
    pub log: Vec<MarkerEvent>,
    next_code: u64,
    tasks: Vec<JoinHandle<()>>,
    /// Prints the simulator made before this harness (another driver's): not ours to confirm.
    prints_before: usize,
}

impl<M: MarkerSim> Drop for Harness<M> {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

pub fn marker_config(high: usize) -> MarkerConfig {
    MarkerConfig {
        low_watermark: 1,
        high_watermark: high,
        poll_interval_ms: 10,
        buffer_full_retry_ms: 500,
        reconnect_min_ms: 20,
        reconnect_max_ms: 200,
    }
}

impl<M: MarkerSim> Harness<M> {
    /// Connects a marker task for the device `make_device` builds on a transport to `sim`,
    /// and waits for it to report `Connected`.
    pub async fn new<D: MarkerDevice>(
        link: Link,
        sim: M,
        config: MarkerConfig,
        make_device: impl FnOnce(Transport) -> D,
    ) -> Self {
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
                Transport::Serial(SerialSettings::new(path, 115_200))
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
        let prints_before = sim.prints().len();
        let device = make_device(transport);
        let (codes, code_rx) = mpsc::channel(64);
        let (event_tx, events) = mpsc::channel(1024);
        let (handle, task) = create_marker(device, config, code_rx, event_tx);
        tasks.push(tokio::spawn(task.run()));
        let mut harness = Self {
            sim,
            handle,
            codes,
            events,
            log: Vec::new(),
            next_code: 1,
            tasks,
            prints_before,
        };
        harness.expect_state(MarkerState::Connected).await;
        harness
    }

    /// Feeds `n` new codes; returns them.
    pub async fn feed(&mut self, n: u64) -> Vec<Code> {
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
    pub async fn expect(
        &mut self,
        what: &str,
        matches: impl Fn(&MarkerEvent) -> bool,
    ) -> MarkerEvent {
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

    pub async fn expect_state(&mut self, state: MarkerState) {
        let wanted = state.clone();
        self.expect(&format!("{state:?}"), move |event| {
            *event == MarkerEvent::State(wanted.clone())
        })
        .await;
    }

    pub async fn expect_printed(&mut self, code: &Code) {
        let id = code.id();
        self.expect(&format!("Printed {id:?}"), move |event| {
            *event == MarkerEvent::Printed { code: id }
        })
        .await;
    }

    /// Waits until the simulator's snapshot satisfies `ready`; on the guard, fails with the
    /// snapshot and every driver event so far, which tell a hung driver from a hung simulator.
    pub async fn sim_until(&mut self, ready: impl Fn(&SimSnapshot) -> bool + Send) -> SimSnapshot {
        match tokio::time::timeout(GUARD, self.sim.wait_until(ready)).await {
            Ok(snapshot) => snapshot,
            Err(_) => {
                let snapshot = self.sim.snapshot();
                let log = self.drain_log().to_vec();
                panic!(
                    "simulator never reached the expected state: {snapshot:#?}; events: {log:#?}"
                )
            }
        }
    }

    /// Events received so far and still queued, without waiting.
    pub fn drain_log(&mut self) -> &[MarkerEvent] {
        while let Ok(event) = self.events.try_recv() {
            self.log.push(event);
        }
        &self.log
    }

    pub fn printed_ids(&self) -> Vec<CodeId> {
        self.log
            .iter()
            .filter_map(|event| match event {
                MarkerEvent::Printed { code } => Some(*code),
                _ => None,
            })
            .collect()
    }

    pub fn voided_ids(&self) -> Vec<(CodeId, VoidReason)> {
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

    /// The device says full from the start: feeds `n` codes, waits for the one `BufferFull`
    /// (nothing in flight), then for `requests` more device requests — twenty polls, well inside
    /// the 500 ms retry — and checks the feed loop did not try again. Returns the codes.
    pub async fn backs_off_while_full(&mut self, n: u64, requests: u64) -> Vec<Code> {
        let codes = self.feed(n).await;
        self.expect("BufferFull", |e| {
            matches!(e, MarkerEvent::BufferFull { in_flight: 0 })
        })
        .await;
        let commands = self.sim.snapshot().commands();
        self.sim_until(|s| s.commands() >= commands + requests)
            .await;
        let attempts = self
            .drain_log()
            .iter()
            .filter(|e| matches!(e, MarkerEvent::BufferFull { .. }))
            .count();
        assert_eq!(
            attempts, 1,
            "the feed loop backs off while the device is full"
        );
        codes
    }

    /// Starts, fills the device with three codes, prints the first and drops the link
    /// ([`Fault::Disconnect`]): on reconnection the driver must settle the buffer before it
    /// reports `Connected` — the print made before the drop confirmed once, the two codes left
    /// voided — and printing goes on by itself (the operator had started it).
    pub async fn disconnect_settles_and_resumes(&mut self) {
        self.handle.start().await.expect("start");
        let codes = self.feed(3).await;
        self.sim_until(|s| s.buffered() == 3).await;
        assert!(matches!(self.sim.trigger(), TriggerOutcome::Printed(_)));
        self.sim.inject(Fault::Disconnect);
        self.expect_state(MarkerState::Disconnected).await;
        self.expect("Voided", |e| matches!(e, MarkerEvent::Voided { .. }))
            .await;
        self.expect_state(MarkerState::Connected).await;
        assert_eq!(self.printed_ids(), vec![codes[0].id()]);
        assert_eq!(
            self.voided_ids(),
            vec![
                (codes[1].id(), VoidReason::Reconnected),
                (codes[2].id(), VoidReason::Reconnected)
            ]
        );
        assert_eq!(self.sim.prints().len(), self.prints_before + 1);
        assert!(self.sim.snapshot().connections() >= 2);
        assert!(
            !self.sim.faults().contains(&Fault::Disconnect),
            "the disconnect fault clears itself"
        );
        let more = self.feed(2).await;
        self.print_all(&more).await;
    }

    /// With [`Fault::Garbage`] in force since before the driver connected: `n` codes print,
    /// every confirmation matches what the head printed, and the noise never costs the link.
    pub async fn skips_noise(&mut self, n: u64) {
        assert!(
            self.sim.faults().contains(&Fault::Garbage),
            "the harness starts with the garbage fault"
        );
        self.handle.start().await.expect("start");
        let codes = self.feed(n).await;
        self.print_all(&codes).await;
        let reconnects = self
            .drain_log()
            .iter()
            .filter(|e| matches!(e, MarkerEvent::State(MarkerState::Disconnected)))
            .count();
        assert_eq!(reconnects, 0, "noise is skipped, not a link loss");
    }

    /// For a protocol whose replies carry a check: with `n` codes in the device, every reply
    /// turns corrupt ([`Fault::Garbage`]). The driver must end the session confirming nothing,
    /// and once replies are sound again void the `n` codes and print on.
    pub async fn corrupt_replies_end_the_session(&mut self, n: u64) {
        self.handle.start().await.expect("start");
        let codes = self.feed(n).await;
        self.sim_until(|s| s.buffered() as u64 == n).await;
        self.sim.inject(Fault::Garbage);
        self.expect_state(MarkerState::Disconnected).await;
        assert!(self.printed_ids().is_empty());
        self.sim.clear(Fault::Garbage);
        self.expect_state(MarkerState::Connected).await;
        let voided: Vec<_> = codes
            .iter()
            .map(|c| (c.id(), VoidReason::Reconnected))
            .collect();
        assert_eq!(self.voided_ids(), voided);
        let more = self.feed(2).await;
        self.print_all(&more).await;
    }

    /// The device stalls ([`Fault::Stall`]: it reads commands and answers none) with two codes
    /// in it: the driver must fault with no reply once its reply timeout passes, settle when the
    /// device answers again, and print on by itself. Returns the fault's detail.
    pub async fn stall_faults_then_settles(&mut self) -> String {
        let detail = self.falls_silent_then_settles(Fault::Stall, |_| {}).await;
        let more = self.feed(2).await;
        self.print_all(&more).await;
        detail
    }

    /// The print head opens with two codes in the device: it stops answering and printing, the
    /// driver faults with no reply, and settles once the head is closed. Returns the detail.
    pub async fn head_open_faults_then_settles(&mut self) -> String {
        self.falls_silent_then_settles(Fault::HeadOpen, |sim| {
            assert_eq!(
                sim.trigger(),
                TriggerOutcome::Ignored,
                "an open head prints nothing"
            );
        })
        .await
    }

    /// Starts with two codes in the device, then `fault` silences it and `while_silent` runs:
    /// the driver must fault with no reply and, once `fault` clears, void both codes as left
    /// behind at reconnection and report `Connected`, having confirmed nothing.
    async fn falls_silent_then_settles(
        &mut self,
        fault: Fault,
        while_silent: impl FnOnce(&M),
    ) -> String {
        self.handle.start().await.expect("start");
        let codes = self.feed(2).await;
        self.sim_until(|s| s.buffered() == 2).await;
        self.sim.inject(fault);
        let faulted = self
            .expect("Faulted(NoReply)", |e| {
                matches!(
                    e,
                    MarkerEvent::State(MarkerState::Faulted(FaultReason::NoReply { .. }))
                )
            })
            .await;
        let MarkerEvent::State(MarkerState::Faulted(FaultReason::NoReply { detail })) = faulted
        else {
            unreachable!("matched above")
        };
        while_silent(&self.sim);
        self.sim.clear(fault);
        self.expect("Voided", |e| matches!(e, MarkerEvent::Voided { .. }))
            .await;
        self.expect_state(MarkerState::Connected).await;
        assert_eq!(
            self.voided_ids(),
            vec![
                (codes[0].id(), VoidReason::Reconnected),
                (codes[1].id(), VoidReason::Reconnected)
            ]
        );
        assert!(self.printed_ids().is_empty());
        detail
    }

    /// Starts, fills the device with `n` codes and runs it out of ink (or ribbon, or labels):
    /// the driver must fault with `detail`, clear the device and void all `n` codes, and
    /// refuse to start while the fault lasts.
    pub async fn consumable_out_voids_the_buffer(&mut self, n: u64, detail: &str) {
        self.handle.start().await.expect("start");
        let codes = self.feed(n).await;
        self.sim_until(|s| s.buffered() as u64 == n).await;
        self.sim.inject(Fault::InkOut);
        let faulted = self
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
                detail: detail.to_owned()
            }))
        );
        self.expect("Voided", |e| matches!(e, MarkerEvent::Voided { .. }))
            .await;
        assert_eq!(self.sim.snapshot().buffered(), 0, "the device was cleared");
        let voided: Vec<_> = codes.iter().map(|c| (c.id(), VoidReason::Fault)).collect();
        assert_eq!(self.voided_ids(), voided);
        assert!(matches!(
            self.handle.start().await,
            Err(MarkerError::Faulted(_))
        ));
    }

    /// Clears `fault`, waits for the driver to see the device healthy, restarts and prints one
    /// more code.
    pub async fn recovers_from(&mut self, fault: Fault) {
        self.sim.clear(fault);
        self.expect_state(MarkerState::Connected).await;
        self.handle.start().await.expect("start");
        let more = self.feed(1).await;
        self.print_all(&more).await;
    }

    /// With [`Fault::ReprintOnEmpty`] in force: starts, prints one code,
    /// then gives a print-go on the empty buffer, which reprints it. The driver must report one
    /// print without a code, fault, confirm nothing more, and stop the device printing.
    pub async fn reprint_on_empty_faults_and_confirms_nothing(&mut self) {
        self.handle.start().await.expect("start");
        let codes = self.feed(1).await;
        self.print_all(&codes).await;
        assert!(matches!(self.sim.trigger(), TriggerOutcome::Reprinted(_)));
        self.expect("PrintWithoutCode", |e| {
            matches!(e, MarkerEvent::PrintWithoutCode { count: 1 })
        })
        .await;
        self.expect("Faulted(PrintWithoutCode)", |e| {
            *e == MarkerEvent::State(MarkerState::Faulted(FaultReason::PrintWithoutCode {
                count: 1,
            }))
        })
        .await;
        assert_eq!(
            self.printed_ids(),
            vec![codes[0].id()],
            "the reprint confirms no code"
        );
        self.sim_until(|s| !s.printing()).await;
    }

    /// Prints `codes` one print-go at a time, each once the driver has put it in the buffer,
    /// and checks every confirmation against what the simulated head printed.
    pub async fn print_all(&mut self, codes: &[Code]) {
        for code in codes {
            self.sim_until(|s| s.buffered() > 0).await;
            self.sim.trigger();
            self.expect_printed(code).await;
        }
        let truth: Vec<String> = self
            .sim
            .prints()
            .iter()
            .skip(self.prints_before)
            .map(|p| p.text())
            .collect();
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
