//! The line I/O task: polls the PLC for the encoder, the photocell and the reject outcomes, and
//! hands reject decisions to the PLC's reject queue (SPEC §3, §5 "Line I/O";
//! docs/protocols/line-io.md).
//!
//! The gate is driven by position, in the PLC: each reject is written, the moment it is
//! decided, as the encoder count at which its unit reaches the gate, and the PLC scan switches
//! the diverter while the encoder is within half a pitch of it. Each rejected unit is settled
//! exactly once, from the PLC's outcome for it: diverted when the confirm input came on in its
//! window, a `gate_fault` when it did not, or when the reject reached the PLC after the unit had
//! gone by. The PLC's comm watchdog turns the gate on (divert everything) if this task goes
//! silent, so a controller crash fails safe.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;
use tracing::Instrument;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracemark_drivers::lineio::{LineIo, LineIoMap, StackLight};
use tracemark_drivers::transport::Transport;

use super::reject_queue::{RejectQueue, Settled};

/// What the core asks of the line I/O.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IoCommand {
    /// Divert unit `unit` when the encoder reaches `fire_at`.
    Reject {
        /// The tracker's unit number.
        unit: u64,
        /// Encoder count at which the unit reaches the gate.
        fire_at: u64,
    },
    /// Hold the line stopped (true) or let it run.
    LineStop(bool),
    /// Show this on the stack light.
    Light(StackLight),
}

/// What the line I/O reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IoEvent {
    /// Connected; the photocell baseline is taken.
    Ready,
    /// One poll: the encoder and the units the photocell saw since the last one.
    Poll {
        /// Encoder count.
        encoder: u64,
        /// Latched encoder counts of new detections, oldest first.
        detections: Vec<u64>,
        /// Detections lost (more between two polls than the PLC's ring holds).
        missed: u64,
    },
    /// The gate confirmed diverting this unit.
    Diverted(u64),
    /// The gate did not confirm diverting this unit in time.
    GateFault(u64),
    /// The PLC link was lost; the task reconnects.
    LinkLost(String),
}

/// How the gate and the polling behave.
#[derive(Debug, Clone)]
pub(crate) struct IoSettings {
    pub(crate) transport: Transport,
    pub(crate) unit_id: u8,
    pub(crate) map: LineIoMap,
    /// Half the gate window, in counts: half the smallest pitch.
    pub(crate) half_window: u64,
    pub(crate) confirm_timeout: Duration,
    pub(crate) poll_every: Duration,
    pub(crate) watchdog: Duration,
    pub(crate) reply_timeout: Duration,
    /// Where each poll's case packer count goes (`[packing] case_packer_count`).
    pub(crate) cases_packed: Option<Arc<watch::Sender<Option<u32>>>>,
    /// The encoder count from which a poll with no news is forwarded to the core: its next
    /// decision point ([`ForwardFrom`]).
    pub(crate) forward_from: ForwardFrom,
}

/// The longest the core goes without a poll: the encoder in the line's figures is never older.
pub(crate) const QUIET_FORWARD: Duration = Duration::from_millis(100);

/// Which polls the I/O thread hands to the core. Every poll with a detection or a lost one
/// is; a poll with neither only once the encoder reaches the count the core set here (the
/// next unit's decision point, [`super::machine::LineMachine::forward_from`]) or
/// [`QUIET_FORWARD`] after the last one. A poll handed over wakes the core's runtime from
/// another thread; at a tenth of a unit's time that was ten wake-ups a unit for one that
/// matters (issue 20).
#[derive(Debug, Clone, Default)]
pub(crate) struct ForwardFrom(Arc<AtomicU64>);

impl ForwardFrom {
    /// Polls from `count` on are forwarded (0: all of them; `u64::MAX`: none without news).
    pub(crate) fn set(&self, count: u64) {
        self.0.store(count, Ordering::Relaxed);
    }

    fn wants(&self, encoder: u64) -> bool {
        encoder >= self.0.load(Ordering::Relaxed)
    }
}

/// Runs the line I/O on the process's line I/O thread until `commands` closes; the returned
/// receiver answers when it has ended.
///
/// The gate is the one hard real-time loop of the line: at 100 units/s its window is ±5 ms. On
/// the shared runtime a poll could wait behind the store writer, the camera results or (in the
/// demo) the twin, and the 10-minute bench saw such stalls push the coil out late. A thread of
/// its own is scheduled by the OS, which preempts. It is one thread for every line of the
/// process, not one each: a poll is a few microseconds of work and a round trip of waiting, and
/// lines at the same speed poll on the same tick ([`aligned_start`]), so one wake-up of the
/// thread serves them all (issue 20: a thread per line woke once per line per poll).
pub(crate) fn spawn_io(
    settings: IoSettings,
    commands: mpsc::Receiver<IoCommand>,
    events: mpsc::Sender<IoEvent>,
) -> std::io::Result<tokio::sync::oneshot::Receiver<()>> {
    let (done_tx, done) = tokio::sync::oneshot::channel();
    // The caller's span (the line's) goes with it: the thread serves every line.
    io_thread()?.spawn(
        async move {
            run_io(settings, commands, events).await;
            let _ = done_tx.send(());
        }
        .in_current_span(),
    );
    Ok(done)
}

/// The line I/O thread: a current-thread runtime of its own, started with the first line and
/// kept for the life of the process (it idles without lines).
fn io_thread() -> std::io::Result<tokio::runtime::Handle> {
    static IO_THREAD: Mutex<Option<tokio::runtime::Handle>> = Mutex::new(None);
    let mut started = IO_THREAD.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(handle) = started.as_ref() {
        return Ok(handle.clone());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let handle = runtime.handle().clone();
    std::thread::Builder::new()
        .name("line-io".to_owned())
        .spawn(move || runtime.block_on(std::future::pending::<()>()))?;
    *started = Some(handle.clone());
    Ok(handle)
}

/// The first tick of a poll every `every`: the next multiple of `every` since the line I/O
/// thread's epoch, so that lines polling at the same interval share their ticks (the timer
/// wheel fires them in one pass, one wake-up of the thread).
fn aligned_start(every: Duration) -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    let now = Instant::now();
    let every_ns = every.as_nanos().max(1);
    let ticks = now.duration_since(epoch).as_nanos() / every_ns + 1;
    let offset = u64::try_from(ticks * every_ns).unwrap_or(u64::MAX);
    epoch + Duration::from_nanos(offset)
}

/// Runs the line I/O until `commands` closes.
async fn run_io(
    settings: IoSettings,
    mut commands: mpsc::Receiver<IoCommand>,
    events: mpsc::Sender<IoEvent>,
) {
    let mut queue = RejectQueue::new(settings.half_window, settings.confirm_timeout);
    let mut line_stop = true;
    let mut light = StackLight::Amber;
    let mut backoff = Duration::from_millis(100);
    loop {
        let connected = match connect(&settings, line_stop, light).await {
            Ok(mut io) => write_rejects(&mut io, &mut queue).await.map(|()| io),
            Err(error) => Err(error),
        };
        let mut io = match connected {
            Ok(io) => io,
            Err(error) => {
                queue.link_lost();
                if events.send(IoEvent::LinkLost(error)).await.is_err() {
                    return;
                }
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    command = commands.recv() => {
                        let Some(command) = command else { return };
                        let refused = match command {
                            IoCommand::Reject { unit, fire_at } => queue.reject(unit, fire_at).err(),
                            IoCommand::LineStop(stop) => { line_stop = stop; None }
                            IoCommand::Light(next) => { light = next; None }
                        };
                        if let Some(settled) = refused
                            && events.send(settled_event(settled)).await.is_err()
                        {
                            return;
                        }
                    }
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        if events.send(IoEvent::Ready).await.is_err() {
            return;
        }
        let mut forwarded = Instant::now();
        let mut ticker =
            tokio::time::interval_at(aligned_start(settings.poll_every), settings.poll_every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let lost = loop {
            tokio::select! {
                biased;
                command = commands.recv() => {
                    let Some(command) = command else {
                        let _ = io.request_line_stop(true).await;
                        return;
                    };
                    let result = match command {
                        // Written at once: the earlier the PLC has it, the more a stall here
                        // can take before the unit reaches the gate.
                        IoCommand::Reject { unit, fire_at } => match queue.reject(unit, fire_at) {
                            Ok(()) => write_rejects(&mut io, &mut queue).await,
                            Err(settled) => {
                                if events.send(settled_event(settled)).await.is_err() {
                                    return;
                                }
                                Ok(())
                            }
                        },
                        IoCommand::LineStop(stop) => {
                            line_stop = stop;
                            io.request_line_stop(stop).await.map_err(|e| e.to_string())
                        }
                        IoCommand::Light(next) => {
                            light = next;
                            io.set_stack_light(next).await.map_err(|e| e.to_string())
                        }
                    };
                    if let Err(e) = result {
                        break e;
                    }
                }
                _ = ticker.tick() => {
                    let poll = match io.poll_inputs().await {
                        Ok(poll) => poll,
                        Err(e) => break e.to_string(),
                    };
                    if let Some(count) = &settings.cases_packed {
                        count.send_if_modified(|was| {
                            let changed = *was != Some(poll.cases_packed);
                            *was = Some(poll.cases_packed);
                            changed
                        });
                    }
                    let now = Instant::now();
                    for settled in queue.observe(poll.encoder, &poll.rejects, now) {
                        if events.send(settled_event(settled)).await.is_err() {
                            return;
                        }
                    }
                    let news = !poll.detections.is_empty() || poll.missed > 0;
                    if !news
                        && !settings.forward_from.wants(poll.encoder)
                        && now < forwarded + QUIET_FORWARD
                    {
                        continue;
                    }
                    forwarded = now;
                    let event = IoEvent::Poll {
                        encoder: poll.encoder,
                        detections: poll.detections,
                        missed: poll.missed,
                    };
                    if events.send(event).await.is_err() {
                        return;
                    }
                }
            }
        };
        tracing::warn!(error = %lost, "line I/O link lost");
        queue.link_lost();
        if events.send(IoEvent::LinkLost(lost)).await.is_err() {
            return;
        }
    }
}

fn settled_event(settled: Settled) -> IoEvent {
    match settled {
        Settled::Diverted(unit) => IoEvent::Diverted(unit),
        Settled::Fault(unit) => IoEvent::GateFault(unit),
    }
}

/// Writes the rejects the PLC does not have yet, oldest first.
async fn write_rejects(io: &mut LineIo, queue: &mut RejectQueue) -> Result<(), String> {
    for (seq, fire_at) in queue.unwritten() {
        io.queue_reject(seq, fire_at)
            .await
            .map_err(|e| e.to_string())?;
        queue.mark_written(seq);
    }
    Ok(())
}

/// Connects, arms the watchdog, restores the outputs and takes the photocell baseline.
async fn connect(
    settings: &IoSettings,
    line_stop: bool,
    light: StackLight,
) -> Result<LineIo, String> {
    let mut io = LineIo::connect(
        &settings.transport,
        settings.unit_id,
        settings.map.clone(),
        settings.reply_timeout,
    )
    .await
    .map_err(|e| e.to_string())?;
    io.set_watchdog(settings.watchdog)
        .await
        .map_err(|e| e.to_string())?;
    io.set_gate_timing(settings.half_window, settings.confirm_timeout)
        .await
        .map_err(|e| e.to_string())?;
    // Coil 0 forces the diverter on; the queue drives it in normal running.
    io.set_gate(false).await.map_err(|e| e.to_string())?;
    io.request_line_stop(line_stop)
        .await
        .map_err(|e| e.to_string())?;
    io.set_stack_light(light).await.map_err(|e| e.to_string())?;
    io.poll().await.map_err(|e| e.to_string())?;
    Ok(io)
}

#[cfg(test)]
mod tests {
    use tracemark_drivers::lineio::RejectStatus;
    use tracemark_sim::plc::{PlcFault, PlcSim};

    use super::*;

    /// The line I/O thread against the PLC simulator over Modbus TCP.
    async fn line_io() -> (PlcSim, mpsc::Sender<IoCommand>, mpsc::Receiver<IoEvent>) {
        let (plc, commands, events, _) = line_io_forwarding().await;
        (plc, commands, events)
    }

    /// [`line_io`], with the core's side of which polls it forwards.
    async fn line_io_forwarding() -> (
        PlcSim,
        mpsc::Sender<IoCommand>,
        mpsc::Receiver<IoEvent>,
        ForwardFrom,
    ) {
        let forward_from = ForwardFrom::default();
        let plc = PlcSim::new(1);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = plc.clone();
        tokio::spawn(async move { server.serve_tcp(listener).await });
        let settings = IoSettings {
            transport: Transport::Tcp(addr.to_string()),
            unit_id: 1,
            map: LineIoMap::default(),
            half_window: 50,
            confirm_timeout: Duration::from_millis(150),
            poll_every: Duration::from_millis(2),
            watchdog: Duration::from_secs(5),
            reply_timeout: Duration::from_millis(500),
            cases_packed: None,
            forward_from: forward_from.clone(),
        };
        let (commands, commands_rx) = mpsc::channel(16);
        let (events_tx, mut events) = mpsc::channel(4096);
        spawn_io(settings, commands_rx, events_tx).expect("line I/O thread");
        assert_eq!(next_settled(&mut events).await, IoEvent::Ready);
        (plc, commands, events, forward_from)
    }

    /// The next poll handed over, and how many polls the PLC answered up to it.
    async fn next_poll(plc: &PlcSim, events: &mut mpsc::Receiver<IoEvent>) -> (IoEvent, u64) {
        loop {
            let event = tokio::time::timeout(Duration::from_secs(10), events.recv())
                .await
                .expect("an event within 10 s")
                .expect("the line I/O runs");
            if matches!(event, IoEvent::Poll { .. }) {
                return (event, plc.snapshot().requests());
            }
        }
    }

    /// Lines polling at the same interval share the line I/O thread's ticks: each line's
    /// first tick is on the same grid, and the next one ahead.
    #[test]
    fn lines_at_the_same_speed_poll_on_the_same_tick() {
        let every = Duration::from_micros(10_700);
        let before = Instant::now();
        let first = aligned_start(every);
        let second = aligned_start(every);
        let after = Instant::now();
        assert!(first > before && first <= after + every, "{first:?}");
        assert!(second >= first && second <= after + every, "{second:?}");
        assert_eq!(
            second.duration_since(first).as_nanos() % every.as_nanos(),
            0
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_poll_without_news_reaches_the_core_only_at_its_next_decision_point() {
        let (plc, _commands, mut events, forward_from) = line_io_forwarding().await;
        // Every poll while nothing is set (a stopping line).
        let (_, first) = next_poll(&plc, &mut events).await;
        let (_, second) = next_poll(&plc, &mut events).await;
        assert!(second - first <= 2, "polls {first} then {second}");

        // Nothing due: a detection still comes at once...
        forward_from.set(u64::MAX);
        next_poll(&plc, &mut events).await; // any poll already on its way
        plc.set_encoder(500);
        plc.detect();
        let (detected, _) = next_poll(&plc, &mut events).await;
        assert!(
            matches!(&detected, IoEvent::Poll { detections, .. } if detections.len() == 1),
            "{detected:?}"
        );
        // ... and a quiet belt only every QUIET_FORWARD: some 50 polls of 2 ms.
        let (_, before) = next_poll(&plc, &mut events).await;
        let (quiet, after) = next_poll(&plc, &mut events).await;
        assert!(
            after - before >= 20,
            "forwarded after {} polls",
            after - before
        );
        assert!(
            matches!(quiet, IoEvent::Poll { encoder: 500, ref detections, .. } if detections.is_empty()),
            "{quiet:?}"
        );

        // The next decision point reached: forwarded at once.
        forward_from.set(1_000);
        let (_, before) = next_poll(&plc, &mut events).await;
        plc.set_encoder(1_000);
        let (due, after) = next_poll(&plc, &mut events).await;
        assert!(
            matches!(due, IoEvent::Poll { encoder: 1_000, .. }),
            "{due:?}"
        );
        assert!(
            after - before <= 3,
            "forwarded after {} polls",
            after - before
        );
    }

    /// The next event that is not a poll.
    async fn next_settled(events: &mut mpsc::Receiver<IoEvent>) -> IoEvent {
        loop {
            let event = tokio::time::timeout(Duration::from_secs(10), events.recv())
                .await
                .expect("an event within 10 s")
                .expect("the line I/O runs");
            if !matches!(event, IoEvent::Poll { .. }) {
                return event;
            }
        }
    }

    async fn reject(plc: &PlcSim, commands: &mpsc::Sender<IoCommand>, unit: u64, fire_at: u64) {
        let queued = plc.snapshot().rejects_queued();
        commands
            .send(IoCommand::Reject { unit, fire_at })
            .await
            .expect("send");
        plc.wait_until(|s| s.rejects_queued() > queued).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_plc_diverts_a_queued_reject_and_a_jam_or_a_late_reject_is_a_gate_fault() {
        let (plc, commands, mut events) = line_io().await;
        assert_eq!(plc.snapshot().gate_half_window(), 50);

        // Written ahead, switched by the PLC when the unit gets there.
        plc.set_encoder(1_000);
        reject(&plc, &commands, 1, 2_000).await;
        assert!(!plc.gate_diverting());
        plc.set_encoder(1_990);
        assert!(plc.gate_diverting(), "the PLC switches the diverter");
        assert_eq!(next_settled(&mut events).await, IoEvent::Diverted(1));
        plc.set_encoder(2_060);
        assert!(!plc.gate_diverting());

        // The diverter jams: no confirm, a gate fault.
        plc.inject(PlcFault::GateJam);
        reject(&plc, &commands, 2, 3_000).await;
        plc.set_encoder(3_100);
        assert_eq!(next_settled(&mut events).await, IoEvent::GateFault(2));
        plc.clear(PlcFault::GateJam);

        // Decided after the unit passed: the PLC does not switch for it, and it is a fault.
        reject(&plc, &commands, 3, 3_050).await;
        assert_eq!(next_settled(&mut events).await, IoEvent::GateFault(3));
        assert!(!plc.diverting_at(3_050) && !plc.gate_diverting());
        assert_eq!(plc.snapshot().reject_status(3), Some(RejectStatus::Late));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rejects_decided_while_the_link_is_down_are_written_when_it_is_back() {
        let (plc, commands, mut events) = line_io().await;
        plc.set_encoder(1_000);
        plc.inject(PlcFault::Disconnect);
        assert!(matches!(
            next_settled(&mut events).await,
            IoEvent::LinkLost(_)
        ));
        commands
            .send(IoCommand::Reject {
                unit: 4,
                fire_at: 5_000,
            })
            .await
            .expect("send");
        plc.clear(PlcFault::Disconnect);
        loop {
            match next_settled(&mut events).await {
                IoEvent::Ready => break,
                IoEvent::LinkLost(_) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        plc.wait_until(|s| s.rejects_queued() == 1).await;
        plc.set_encoder(5_000);
        assert_eq!(next_settled(&mut events).await, IoEvent::Diverted(4));
    }
}
