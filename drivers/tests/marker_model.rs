//! The marker model against a scripted in-memory device, on paused time: the three ways a
//! device confirms prints (event, counter, index), a refused stop, a counter reset across a
//! reconnection, and the reconnection back-off. Wire protocols are tested against their
//! simulators in `simulators/tests/`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use tracemark_drivers::marker::{
    Code, CodeId, DeviceSession, DeviceStatus, LinkError, MarkerConfig, MarkerDevice, MarkerEvent,
    MarkerHandle, MarkerState, PrintProgress, PushOutcome, Refusal, VoidReason, create_marker,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Confirms {
    Events,
    Counter,
    Index,
}

#[derive(Debug)]
struct Device {
    confirms: Confirms,
    depth: usize,
    buffer: VecDeque<(u64, String)>,
    printing: bool,
    count: u64,
    unreported: u64,
    last_index: u64,
    refuse_stop: bool,
    link_up: bool,
    connects: Vec<Instant>,
}

#[derive(Debug)]
struct Inner {
    device: Mutex<Device>,
    /// Wakes tests waiting for the device to change.
    changed: Notify,
}

type Shared = Arc<Inner>;

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Device> {
    shared.device.lock().expect("device lock")
}

fn trigger(shared: &Shared) -> bool {
    let mut device = lock(shared);
    if !device.printing {
        return false;
    }
    match device.buffer.pop_front() {
        Some((index, _)) => {
            device.count += 1;
            device.unreported += 1;
            device.last_index = index;
            true
        }
        None => false,
    }
}

#[derive(Debug, Clone)]
struct Scripted(Shared);

struct Session(Shared);

impl Session {
    fn link(&self) -> Result<std::sync::MutexGuard<'_, Device>, LinkError> {
        let device = lock(&self.0);
        if device.link_up {
            Ok(device)
        } else {
            Err(LinkError::Closed)
        }
    }
}

impl MarkerDevice for Scripted {
    type Session = Session;

    async fn connect(&mut self) -> Result<Session, LinkError> {
        let mut device = lock(&self.0);
        device.connects.push(Instant::now());
        if device.link_up {
            Ok(Session(self.0.clone()))
        } else {
            Err(LinkError::Closed)
        }
    }

    fn describe(&self) -> String {
        "scripted".to_owned()
    }
}

impl DeviceSession for Session {
    async fn stop_and_clear(&mut self) -> Result<Result<(), Refusal>, LinkError> {
        let mut device = self.link()?;
        device.printing = false;
        if device.refuse_stop {
            return Ok(Err(Refusal::new("stop", "busy")));
        }
        device.buffer.clear();
        Ok(Ok(()))
    }

    async fn start(&mut self) -> Result<Result<(), Refusal>, LinkError> {
        self.link()?.printing = true;
        Ok(Ok(()))
    }

    async fn push(&mut self, index: u64, text: &str) -> Result<PushOutcome, LinkError> {
        let mut device = self.link()?;
        if device.buffer.len() >= device.depth {
            return Ok(PushOutcome::BufferFull);
        }
        device.buffer.push_back((index, text.to_owned()));
        drop(device);
        self.0.changed.notify_waiters();
        Ok(PushOutcome::Accepted { now_full: false })
    }

    async fn poll(&mut self) -> Result<DeviceStatus, LinkError> {
        let mut device = self.link()?;
        let progress = match device.confirms {
            Confirms::Events => PrintProgress::Printed(std::mem::take(&mut device.unreported)),
            Confirms::Counter => PrintProgress::Counter(device.count),
            Confirms::Index => PrintProgress::LastIndex(device.last_index),
        };
        Ok(DeviceStatus {
            progress,
            fault: None,
            empty_print_gos: 0,
            unmatched_prints: 0,
        })
    }
}

struct Harness {
    device: Shared,
    handle: MarkerHandle,
    codes: mpsc::Sender<Code>,
    events: mpsc::Receiver<MarkerEvent>,
    log: Vec<MarkerEvent>,
}

impl Harness {
    fn new(confirms: Confirms, config: MarkerConfig, link_up: bool) -> Self {
        let device = Arc::new(Inner {
            device: Mutex::new(Device {
                confirms,
                depth: 8,
                buffer: VecDeque::new(),
                printing: false,
                count: 100,
                unreported: 0,
                last_index: 0,
                refuse_stop: false,
                link_up,
                connects: Vec::new(),
            }),
            changed: Notify::new(),
        });
        let (codes, code_rx) = mpsc::channel(64);
        let (event_tx, events) = mpsc::channel(1024);
        let (handle, task) = create_marker(Scripted(device.clone()), config, code_rx, event_tx);
        tokio::spawn(task.run());
        Self {
            device,
            handle,
            codes,
            events,
            log: Vec::new(),
        }
    }

    async fn expect(&mut self, matches: impl Fn(&MarkerEvent) -> bool) -> MarkerEvent {
        loop {
            let event = tokio::time::timeout(Duration::from_secs(60), self.events.recv())
                .await
                .unwrap_or_else(|_| panic!("no expected event; so far: {:#?}", self.log))
                .expect("task alive");
            self.log.push(event.clone());
            if matches(&event) {
                return event;
            }
        }
    }

    async fn feed(&self, ids: std::ops::RangeInclusive<u64>) {
        for id in ids {
            let code = Code::new(CodeId::new(id), format!("C{id}"));
            self.codes.send(code).await.expect("marker takes codes");
        }
    }

    async fn buffered(&self, n: usize) {
        loop {
            let changed = self.device.changed.notified();
            if lock(&self.device).buffer.len() >= n {
                return;
            }
            changed.await;
        }
    }
}

fn config() -> MarkerConfig {
    MarkerConfig {
        low_watermark: 1,
        high_watermark: 3,
        poll_interval_ms: 10,
        buffer_full_retry_ms: 100,
        reconnect_min_ms: 100,
        reconnect_max_ms: 400,
    }
}

async fn confirms_in_order(confirms: Confirms) {
    let mut h = Harness::new(confirms, config(), true);
    h.expect(|e| *e == MarkerEvent::State(MarkerState::Connected))
        .await;
    h.handle.start().await.expect("start");
    h.feed(1..=5).await;
    for id in 1..=5 {
        h.buffered(1).await;
        assert!(trigger(&h.device));
        h.expect(|e| {
            *e == MarkerEvent::Printed {
                code: CodeId::new(id),
            }
        })
        .await;
    }
    let printed: Vec<u64> = h
        .log
        .iter()
        .filter_map(|e| match e {
            MarkerEvent::Printed { code } => Some(code.get()),
            _ => None,
        })
        .collect();
    assert_eq!(printed, [1, 2, 3, 4, 5]);
}

#[tokio::test(start_paused = true)]
async fn print_events_confirm_codes_in_order() {
    confirms_in_order(Confirms::Events).await;
}

#[tokio::test(start_paused = true)]
async fn a_polled_counter_confirms_codes_in_order() {
    confirms_in_order(Confirms::Counter).await;
}

#[tokio::test(start_paused = true)]
async fn a_last_printed_index_confirms_codes_in_order() {
    confirms_in_order(Confirms::Index).await;
}

#[tokio::test(start_paused = true)]
async fn a_refused_stop_leaves_codes_unconfirmed_not_void() {
    let mut h = Harness::new(Confirms::Counter, config(), true);
    h.expect(|e| *e == MarkerEvent::State(MarkerState::Connected))
        .await;
    h.handle.start().await.expect("start");
    h.feed(1..=2).await;
    h.buffered(2).await;
    lock(&h.device).refuse_stop = true;
    h.handle.stop().await.expect("stop answers");
    let event = h
        .expect(|e| matches!(e, MarkerEvent::Unconfirmed { .. }))
        .await;
    assert_eq!(
        event,
        MarkerEvent::Unconfirmed {
            codes: vec![CodeId::new(1), CodeId::new(2)]
        }
    );
    assert!(
        !h.log
            .iter()
            .any(|e| matches!(e, MarkerEvent::Voided { .. }))
    );
}

#[tokio::test(start_paused = true)]
async fn a_counter_reset_across_a_reconnection_leaves_codes_unconfirmed() {
    let mut h = Harness::new(Confirms::Counter, config(), true);
    h.expect(|e| *e == MarkerEvent::State(MarkerState::Connected))
        .await;
    h.handle.start().await.expect("start");
    h.feed(1..=2).await;
    h.buffered(2).await;
    {
        let mut device = lock(&h.device);
        device.link_up = false;
        device.count = 0; // power cycle
    }
    h.expect(|e| *e == MarkerEvent::State(MarkerState::Disconnected))
        .await;
    lock(&h.device).link_up = true;
    let event = h
        .expect(|e| matches!(e, MarkerEvent::Unconfirmed { .. }))
        .await;
    assert_eq!(
        event,
        MarkerEvent::Unconfirmed {
            codes: vec![CodeId::new(1), CodeId::new(2)]
        }
    );
    h.expect(|e| *e == MarkerEvent::State(MarkerState::Connected))
        .await;
    // Printing resumes with the next codes, confirmed against the new counter.
    h.feed(3..=3).await;
    h.buffered(1).await;
    assert!(trigger(&h.device));
    h.expect(|e| {
        *e == MarkerEvent::Printed {
            code: CodeId::new(3),
        }
    })
    .await;
    assert!(!h.log.iter().any(|e| matches!(
        e,
        MarkerEvent::Voided {
            reason: VoidReason::Reconnected,
            ..
        }
    )));
}

#[tokio::test(start_paused = true)]
async fn reconnection_backs_off_exponentially_up_to_the_maximum() {
    let mut h = Harness::new(Confirms::Counter, config(), false);
    while lock(&h.device).connects.len() < 6 {
        h.expect(|e| *e == MarkerEvent::State(MarkerState::Disconnected))
            .await;
    }
    let connects = lock(&h.device).connects.clone();
    let gaps: Vec<u128> = connects
        .windows(2)
        .map(|pair| (pair[1] - pair[0]).as_millis())
        .collect();
    assert_eq!(gaps[..5], [100, 200, 400, 400, 400]);
    lock(&h.device).link_up = true;
    h.expect(|e| *e == MarkerEvent::State(MarkerState::Connected))
        .await;
}
