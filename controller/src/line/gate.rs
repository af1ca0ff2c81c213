//! The line I/O task: polls the PLC for the encoder and the photocell, and carries out reject
//! decisions on the gate coil, checking the diverter's confirm input (SPEC §3, §5 "Line I/O").
//!
//! The gate is driven by position, not by time: a reject opens a window of encoder counts around
//! the moment the unit reaches the gate (`fire_at ± half a pitch`), and the coil is on while the
//! encoder is inside any open window. Each rejected unit is settled exactly once: confirmed when
//! the confirm input is seen on while its window is open, a `gate_fault` when the confirm timeout
//! passes first. The PLC's comm watchdog turns the gate on (divert everything) if this task goes
//! silent, so a controller crash fails safe.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tracemark_drivers::lineio::{LineIo, LineIoMap, StackLight};
use tracemark_drivers::transport::Transport;

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
}

/// One reject waiting for the gate.
#[derive(Debug)]
struct Window {
    unit: u64,
    from: u64,
    fire_at: u64,
    to: u64,
    /// The coil has been wanted on for it (it was commanded then, or already on).
    commanded: bool,
    /// The coil was first commanded on for it only after the unit reached the gate: the unit
    /// went by, whatever the confirm input says.
    late: bool,
    /// When the coil was first seen on for it.
    opened: Option<Instant>,
    /// Confirmed or faulted: reported, kept until the unit is past the gate.
    settled: bool,
}

/// The gate's schedule: which rejects are pending, whether the coil must be on, and which
/// units are settled. Pure, so it is tested without a PLC.
#[derive(Debug, Default)]
pub(crate) struct GateSchedule {
    windows: VecDeque<Window>,
    half_window: u64,
    confirm_timeout: Duration,
    /// The encoder count since which the coil has been on without a break (as driven).
    on_since: Option<u64>,
}

/// How a reject ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Settled {
    Diverted(u64),
    Fault(u64),
}

impl GateSchedule {
    pub(crate) fn new(half_window: u64, confirm_timeout: Duration) -> Self {
        Self {
            windows: VecDeque::new(),
            half_window,
            confirm_timeout,
            on_since: None,
        }
    }

    pub(crate) fn reject(&mut self, unit: u64, fire_at: u64) {
        let window = Window {
            unit,
            from: fire_at.saturating_sub(self.half_window),
            fire_at,
            to: fire_at + self.half_window,
            commanded: false,
            late: false,
            opened: None,
            settled: false,
        };
        // Rejects arrive nearly in order; keep the queue sorted by window start.
        let at = self
            .windows
            .iter()
            .position(|w| w.from > window.from)
            .unwrap_or(self.windows.len());
        self.windows.insert(at, window);
    }

    /// Whether the coil must be on at `encoder`, given whether it is on now. A window wanted
    /// for the first time at an encoder past its fire point — a decision or a poll that came
    /// too late — is judged by this commanded position, not by the later poll that sees the
    /// coil on (that poll lags by one period, which at 100 units/s is a fifth of the window):
    /// unless the coil has been on without a break since before the fire point (for the unit
    /// before), its unit went by undiverted. It settles as a fault, and the coil is not pushed
    /// out for it — that would divert the next unit.
    pub(crate) fn drive(&mut self, encoder: u64, coil_on: bool) -> bool {
        let covered_since = if coil_on { self.on_since } else { None };
        for w in self.windows.iter_mut().take_while(|w| w.from <= encoder) {
            if !w.commanded {
                w.commanded = true;
                let covered = covered_since.is_some_and(|since| since <= w.fire_at);
                w.late = encoder > w.fire_at && !covered;
            }
        }
        let want = self.coil(encoder);
        self.on_since = match (want, coil_on) {
            (false, _) => None,
            (true, true) => self.on_since.or(Some(encoder)),
            (true, false) => Some(encoder),
        };
        want
    }

    /// Whether the coil must be on at `encoder`.
    pub(crate) fn coil(&self, encoder: u64) -> bool {
        self.windows
            .iter()
            .take_while(|w| w.from <= encoder)
            .any(|w| encoder < w.to && !w.late)
    }

    /// Takes one poll (the coil as it was during the poll, and the confirm input) and returns
    /// the units it settles.
    pub(crate) fn observe(
        &mut self,
        encoder: u64,
        coil_on: bool,
        confirmed: bool,
        now: Instant,
    ) -> Vec<Settled> {
        let mut settled = Vec::new();
        let timeout = self.confirm_timeout;
        self.windows.retain_mut(|w| {
            let open = w.from <= encoder;
            if open && coil_on && w.opened.is_none() {
                w.opened = Some(now);
            }
            if !w.settled {
                let outcome = match w.opened {
                    _ if w.late => Some(Settled::Fault(w.unit)),
                    Some(_) if confirmed && coil_on => Some(Settled::Diverted(w.unit)),
                    Some(opened) if now.duration_since(opened) > timeout => {
                        Some(Settled::Fault(w.unit))
                    }
                    // The unit is past the gate and the coil never came on for it.
                    None if encoder >= w.to => Some(Settled::Fault(w.unit)),
                    _ => None,
                };
                if let Some(outcome) = outcome {
                    settled.push(outcome);
                    w.settled = true;
                }
            }
            // The coil stays on for a confirmed unit until it is past the gate.
            !(w.settled && encoder >= w.to)
        });
        settled
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }
}

/// Runs the line I/O on a thread and runtime of its own until `commands` closes; the returned
/// receiver answers when it has ended.
///
/// The gate is the one hard real-time loop of the line: at 100 units/s its window is ±5 ms. On
/// the shared runtime a poll could wait behind the store writer, the camera results or (in the
/// demo) the twin, and the 10-minute bench saw such stalls push the coil out late. A thread of
/// its own is scheduled by the OS, which preempts.
pub(crate) fn spawn_io_thread(
    settings: IoSettings,
    commands: mpsc::Receiver<IoCommand>,
    events: mpsc::Sender<IoEvent>,
) -> std::io::Result<tokio::sync::oneshot::Receiver<()>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (done_tx, done) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("line-io".to_owned())
        .spawn(move || {
            runtime.block_on(run_io(settings, commands, events));
            let _ = done_tx.send(());
        })?;
    Ok(done)
}

/// Runs the line I/O until `commands` closes.
async fn run_io(
    settings: IoSettings,
    mut commands: mpsc::Receiver<IoCommand>,
    events: mpsc::Sender<IoEvent>,
) {
    let mut schedule = GateSchedule::new(settings.half_window, settings.confirm_timeout);
    let mut line_stop = true;
    let mut light = StackLight::Amber;
    let mut backoff = Duration::from_millis(100);
    loop {
        let mut io = match connect(&settings, line_stop, light).await {
            Ok(io) => io,
            Err(error) => {
                if events.send(IoEvent::LinkLost(error)).await.is_err() {
                    return;
                }
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    command = commands.recv() => match command {
                        None => return,
                        Some(command) => apply_offline(command, &mut schedule, &mut line_stop, &mut light),
                    },
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        if events.send(IoEvent::Ready).await.is_err() {
            return;
        }
        let mut coil = false;
        let mut ticker = tokio::time::interval(settings.poll_every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let lost = loop {
            tokio::select! {
                biased;
                command = commands.recv() => {
                    let Some(command) = command else {
                        let _ = io.set_gate(false).await;
                        let _ = io.request_line_stop(true).await;
                        return;
                    };
                    let result = match command {
                        IoCommand::Reject { unit, fire_at } => {
                            schedule.reject(unit, fire_at);
                            Ok(())
                        }
                        IoCommand::LineStop(stop) => {
                            line_stop = stop;
                            io.request_line_stop(stop).await
                        }
                        IoCommand::Light(next) => {
                            light = next;
                            io.set_stack_light(next).await
                        }
                    };
                    if let Err(e) = result {
                        break e.to_string();
                    }
                }
                _ = ticker.tick() => {
                    let poll = match io.poll().await {
                        Ok(poll) => poll,
                        Err(e) => break e.to_string(),
                    };
                    let now = Instant::now();
                    for settled in schedule.observe(poll.encoder, coil, poll.gate_confirmed, now) {
                        let event = match settled {
                            Settled::Diverted(unit) => IoEvent::Diverted(unit),
                            Settled::Fault(unit) => IoEvent::GateFault(unit),
                        };
                        if events.send(event).await.is_err() {
                            return;
                        }
                    }
                    let event = IoEvent::Poll {
                        encoder: poll.encoder,
                        detections: poll.detections,
                        missed: poll.missed,
                    };
                    if events.send(event).await.is_err() {
                        return;
                    }
                    // Decided after this poll's events are handled: rejects the core sends in
                    // answer to them are in the schedule by the next tick.
                    let want = schedule.drive(poll.encoder, coil);
                    if want != coil {
                        if let Err(e) = io.set_gate(want).await {
                            break e.to_string();
                        }
                        coil = want;
                    }
                }
            }
        };
        tracing::warn!(error = %lost, "line I/O link lost");
        if events.send(IoEvent::LinkLost(lost)).await.is_err() {
            return;
        }
    }
}

fn apply_offline(
    command: IoCommand,
    schedule: &mut GateSchedule,
    line_stop: &mut bool,
    light: &mut StackLight,
) {
    match command {
        IoCommand::Reject { unit, fire_at } => schedule.reject(unit, fire_at),
        IoCommand::LineStop(stop) => *line_stop = stop,
        IoCommand::Light(next) => *light = next,
    }
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
    use super::*;

    #[test]
    fn the_coil_is_on_inside_a_window_and_a_confirm_settles_it() {
        let mut gate = GateSchedule::new(100, Duration::from_millis(150));
        gate.reject(7, 1_000);
        let t0 = Instant::now();
        assert!(!gate.coil(899));
        assert!(gate.coil(900) && gate.coil(1_099));
        assert!(!gate.coil(1_100));
        // The poll that turns the coil on has not seen it on yet: nothing settles.
        assert!(gate.observe(905, false, false, t0).is_empty());
        assert_eq!(
            gate.observe(910, true, true, t0 + Duration::from_millis(2)),
            [Settled::Diverted(7)]
        );
        // Settled, the window holds the coil on until the unit is past the gate.
        assert!(gate.coil(1_000));
        assert!(gate.observe(1_050, true, true, t0).is_empty());
        assert!(gate.observe(1_100, true, false, t0).is_empty());
        assert!(gate.is_empty() && !gate.coil(1_100));
    }

    #[test]
    fn no_confirm_in_time_is_a_gate_fault_and_a_missed_window_too() {
        let mut gate = GateSchedule::new(100, Duration::from_millis(150));
        gate.reject(1, 1_000);
        gate.reject(2, 5_000);
        let t0 = Instant::now();
        assert!(gate.observe(950, true, false, t0).is_empty());
        assert_eq!(
            gate.observe(990, true, false, t0 + Duration::from_millis(151)),
            [Settled::Fault(1)]
        );
        // The coil never came on while unit 2 passed (the link was down): a fault.
        assert_eq!(
            gate.observe(5_200, false, false, t0 + Duration::from_millis(300)),
            [Settled::Fault(2)]
        );
    }

    #[test]
    fn a_coil_first_commanded_after_the_fire_point_is_a_fault_whatever_the_confirm_says() {
        let mut gate = GateSchedule::new(100, Duration::from_millis(150));
        let t0 = Instant::now();
        // In time: commanded at 950, before the unit reaches the gate at 1,000.
        gate.reject(1, 1_000);
        assert!(gate.drive(950, false));
        assert_eq!(gate.observe(960, true, true, t0), [Settled::Diverted(1)]);
        assert!(gate.observe(1_100, true, false, t0).is_empty());
        assert!(!gate.drive(1_100, true));
        // Too late: the first poll inside unit 2's window (a stall) is already past 3,000.
        gate.reject(2, 3_000);
        assert!(
            !gate.drive(3_040, false),
            "not pushed out for a unit gone by"
        );
        assert_eq!(gate.observe(3_045, false, false, t0), [Settled::Fault(2)]);
        // A window opening while the coil is already on for the one before is covered by it.
        let mut gate = GateSchedule::new(100, Duration::from_millis(150));
        gate.reject(3, 1_000);
        gate.reject(4, 1_150);
        assert!(gate.drive(950, false));
        assert!(gate.drive(1_160, true));
        assert_eq!(
            gate.observe(1_165, true, true, t0),
            [Settled::Diverted(3), Settled::Diverted(4)]
        );
        // But not by a coil that came on after its fire point for the unit after it: a late
        // window is a fault, and the coil is not held out for it.
        let mut gate = GateSchedule::new(100, Duration::from_millis(150));
        gate.reject(6, 2_150);
        assert!(gate.drive(2_060, false), "on for unit 6 from 2,060");
        gate.reject(5, 2_000);
        assert!(gate.drive(2_070, true), "still on for unit 6");
        assert_eq!(
            gate.observe(2_075, true, true, t0),
            [Settled::Fault(5), Settled::Diverted(6)]
        );
        let mut gate = GateSchedule::new(100, Duration::from_millis(150));
        gate.reject(7, 3_000);
        assert!(!gate.drive(3_050, false), "too late: the coil stays in");
    }

    #[test]
    fn windows_stay_sorted_when_a_late_decision_overtakes() {
        let mut gate = GateSchedule::new(10, Duration::from_millis(150));
        gate.reject(2, 2_000);
        gate.reject(1, 1_000);
        assert!(gate.coil(1_000) && !gate.coil(1_500) && gate.coil(2_005));
    }
}
