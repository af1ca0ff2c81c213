//! The core task of the line runtime: it receives device events, photocell detections and
//! camera results, hands each to the [`LineMachine`] (`machine.rs`, where every decision is
//! made) and carries out the actions it returns, in order — gate commands to the line I/O task,
//! requests to the marker, code state changes to the store writer.
//!
//! State changes go to the store writer in the order they happen (`sent` before `printed` before
//! `verified`); the core does not wait for each commit — a second task awaits the answers in
//! order and counts any refusal, which must never happen. A command the line I/O task can no
//! longer take goes back to the machine, which raises an alarm for it.
//!
//! With `[packing]`, the acknowledgement task also forwards each verified code, once its
//! `verified` is committed and in order, to the packing task (`aggregation`): a case is packed
//! only after its units are verified in the store. Only that task waits when packing falls
//! behind; the core never does. Without `[packing]` nothing is forwarded.

use std::time::Instant;
use tracing::Instrument;

use tokio::sync::{mpsc, watch};
use tokio::task::{JoinError, JoinHandle};
use tracemark_drivers::marker::{MarkerEvent, MarkerHandle};

use super::LineStats;
use super::control::{ControlError, ControlInbox, Request};
use super::feeder::CodeBook;
use super::gate::{ForwardFrom, IoCommand, IoEvent};
use super::machine::{Action, LineEvent, LineMachine};
use crate::verify::TrackerConfig;
use crate::verify::mqtt::Received;
use tracemark_store::writer::{Committed, WriterHandle, WriterStatus};
use tracemark_store::{CodeState, Transition};

use super::feeder::{FeedError, Hand};

/// Changes per group commit.
pub(super) const MAX_GROUP: usize = 10_000;

/// Decision latencies kept for the percentiles (a 10-minute run at 100 units/s is 60,000).
const MAX_SAMPLES: usize = 1 << 20;

/// The feeder task, as the core holds it.
type Feeder = JoinHandle<Result<(), FeedError>>;

/// What one turn of the loop received.
enum Input {
    Stop,
    Io(IoEvent),
    IoEnded,
    Marker(MarkerEvent),
    MarkerEnded,
    Received(Received),
    ResultsEnded,
    FeederEnded(Result<Result<(), FeedError>, JoinError>),
    /// The feeder's codes in hand changed (or, `None`, it ended).
    Hand(Option<Hand>),
    RestartDue,
    /// An operator's command, with where its answer goes.
    Command(Request),
    /// The control's senders are gone: no more commands.
    ControlEnded,
    /// Nothing to hand over (the stop signal changed without asking for a stop).
    Nothing,
}

/// The core task: the machine and the ends of the channels and handles it acts through.
pub(super) struct Core {
    machine: LineMachine,
    book: CodeBook,
    io: mpsc::Sender<IoCommand>,
    marker: MarkerHandle,
    stats_tx: watch::Sender<LineStats>,
    writer: WriterHandle,
    writer_task: JoinHandle<()>,
    /// The writer's view of the central store, and the feeder's codes in hand: the line's
    /// `central_store` state.
    writer_status: watch::Receiver<WriterStatus>,
    hand: watch::Receiver<Hand>,
    /// Commits to await in order, each with the code to forward to packing once committed.
    acks: mpsc::UnboundedSender<(Committed, Option<String>)>,
    /// Verified codes go to the packing task (`[packing]`).
    packing: bool,
    acks_task: JoinHandle<u64>,
    /// Result-to-decision latencies, µs.
    decision_us: Vec<u32>,
    /// The actions to carry out, and a second buffer to swap in while they are: both keep
    /// their capacity, so handling an event allocates nothing here.
    actions: Vec<Action>,
    spare: Vec<Action>,
    /// Notes to the reject-image task, when it runs (`images.rs`).
    images: Option<super::images::ImageNotes>,
    /// Tells the line I/O thread from which encoder count its polls matter here.
    forward_from: ForwardFrom,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("stats", self.machine.stats())
            .finish_non_exhaustive()
    }
}

impl Core {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        (writer, writer_task): (WriterHandle, JoinHandle<()>),
        hand: watch::Receiver<Hand>,
        config: TrackerConfig,
        book: CodeBook,
        io: mpsc::Sender<IoCommand>,
        marker: MarkerHandle,
        stats_tx: watch::Sender<LineStats>,
        acknowledge_after: Option<std::time::Duration>,
        lead: u64,
        packing: Option<mpsc::Sender<String>>,
    ) -> Self {
        let (acks, acks_rx) = mpsc::unbounded_channel();
        let packs = packing.is_some();
        Self {
            machine: LineMachine::new(config, acknowledge_after, lead),
            book,
            io,
            marker,
            stats_tx,
            writer_status: writer.status(),
            hand,
            writer,
            writer_task,
            acks,
            packing: packs,
            acks_task: tokio::spawn(await_commits(acks_rx, packing).in_current_span()),
            decision_us: Vec::new(),
            actions: Vec::with_capacity(16),
            spare: Vec::with_capacity(16),
            images: None,
            forward_from: ForwardFrom::default(),
        }
    }

    /// Has the line I/O thread hand over polls with nothing new only where a decision is due
    /// (`gate::ForwardFrom`).
    pub(super) fn with_forward_from(mut self, forward_from: ForwardFrom) -> Self {
        self.forward_from = forward_from;
        self
    }

    /// Tells the reject-image task which read decided each reject and which code it was
    /// recorded for, without waiting for it.
    pub(super) fn with_images(mut self, notes: super::images::ImageNotes) -> Self {
        self.images = Some(notes);
        self
    }

    /// Runs until a requested stop has drained the line; returns the counters and the number
    /// of store changes that failed.
    pub(super) async fn run(
        mut self,
        mut stop: watch::Receiver<bool>,
        mut io: mpsc::Receiver<IoEvent>,
        mut marker: mpsc::Receiver<MarkerEvent>,
        mut results: mpsc::Receiver<Received>,
        mut feeder: Feeder,
        mut control: ControlInbox,
    ) -> (LineStats, u64) {
        self.machine.start(&mut self.actions);
        self.perform(&feeder).await;
        let mut marker_open = true;
        let mut feeding = true;
        let mut controlled = true;
        let mut hand_open = true;
        while !self.machine.finished() {
            let stopping = self.machine.stopping();
            let restart_at = self.machine.restart_at();
            let input = tokio::select! {
                biased;
                changed = stop.changed(), if !stopping => {
                    if changed.is_err() || *stop.borrow() { Input::Stop } else { Input::Nothing }
                }
                event = io.recv() => event.map_or(Input::IoEnded, Input::Io),
                event = marker.recv(), if marker_open => {
                    event.map_or(Input::MarkerEnded, Input::Marker)
                }
                received = results.recv() => received.map_or(Input::ResultsEnded, Input::Received),
                ended = &mut feeder, if feeding => Input::FeederEnded(ended),
                changed = self.hand.changed(), if hand_open => {
                    Input::Hand(changed.ok().map(|()| *self.hand.borrow_and_update()))
                }
                () = sleep_until(restart_at), if restart_at.is_some() => Input::RestartDue,
                request = control.rx.recv(), if controlled => {
                    request.map_or(Input::ControlEnded, Input::Command)
                }
            };
            match input {
                Input::MarkerEnded => marker_open = false,
                Input::ControlEnded => controlled = false,
                Input::FeederEnded(_) => feeding = false,
                Input::Hand(None) => hand_open = false,
                _ => {}
            }
            self.input(input, &feeder).await;
            self.forward_from.set(self.machine.forward_from());
            let mut stats = self.machine.stats().clone();
            stats.central_store = self.central_store();
            self.stats_tx.send_replace(stats);
        }
        // Ends the marker task: it clears the device and reports what it voided.
        if let Err(e) = self.marker.shutdown().await {
            tracing::debug!(error = %e, "marker already ended");
        }
        while let Some(event) = marker.recv().await {
            self.input(Input::Marker(event), &feeder).await;
        }
        feeder.abort();
        self.machine.finish(&mut self.actions);
        self.perform(&feeder).await;
        if let Some(images) = &self.images
            && images.lost > 0
        {
            tracing::warn!(
                notes = images.lost,
                "reject-image notes lost: their images dropped"
            );
        }
        let Core {
            machine,
            stats_tx,
            writer,
            writer_task,
            acks,
            acks_task,
            mut decision_us,
            ..
        } = self;
        let mut stats = machine.into_stats();
        stats.decision_latency = super::Latency::of(&mut decision_us);
        drop(writer);
        drop(acks);
        let _ = writer_task.await;
        let failed = acks_task.await.unwrap_or(1);
        stats_tx.send_replace(stats.clone());
        (stats, failed)
    }

    /// The central store in words, while it cannot be reached or the journal is forwarded.
    fn central_store(&self) -> Option<String> {
        let writer = *self.writer_status.borrow();
        let hand = *self.hand.borrow();
        describe_central_store(writer, hand)
    }

    /// Hands what was received to the machine, in its terms, and carries out what it decides.
    async fn input(&mut self, input: Input, feeder: &Feeder) {
        let now = now();
        match input {
            Input::Stop => self.event(now, LineEvent::StopRequested),
            Input::RestartDue => self.event(now, LineEvent::Tick),
            Input::Command((command, answer)) => {
                let mode = self.machine.command(&command, &mut self.actions);
                tracing::info!(?command, ?mode, "operator command");
                // The actions first: the answer says the line did it.
                self.perform(feeder).await;
                let _ = answer.send(mode.map_err(ControlError::Refused));
                return;
            }
            Input::Io(event) => self.io_event(now, event),
            Input::IoEnded => self.event(now, LineEvent::IoEnded),
            Input::Marker(event) => self.marker_event(now, event),
            Input::Received(Received::Result(result)) => {
                let received = Instant::now();
                let decisions = self.machine.decisions();
                self.event(now, LineEvent::Result(&result));
                if let Some(images) = &mut self.images {
                    images.decided(&result, &self.actions);
                }
                self.perform(feeder).await;
                // Result received → decision recorded and, for a reject, the gate command
                // handed to the line I/O task.
                if self.machine.decisions() != decisions && self.decision_us.len() < MAX_SAMPLES {
                    let micros = received.elapsed().as_micros();
                    self.decision_us
                        .push(u32::try_from(micros).unwrap_or(u32::MAX));
                }
                return;
            }
            Input::Received(Received::Malformed { topic, error }) => {
                tracing::warn!(%topic, %error, "reader message refused");
                self.event(now, LineEvent::Malformed);
            }
            Input::ResultsEnded => self.event(now, LineEvent::ResultsEnded),
            // The feeder ends only when the marker stops taking codes, or on an error.
            Input::FeederEnded(Ok(Ok(()))) => {}
            Input::FeederEnded(Err(e)) if e.is_cancelled() => {}
            Input::FeederEnded(Ok(Err(e))) => {
                self.event(
                    now,
                    LineEvent::FeederFailed(format!("allocation stopped: {e}")),
                );
            }
            Input::FeederEnded(Err(e)) => {
                let why = format!("allocation task failed: {e}");
                self.event(now, LineEvent::FeederFailed(why));
            }
            Input::Hand(Some(hand)) => {
                let empty = hand.empty();
                self.event(now, LineEvent::Hand { empty });
            }
            Input::Hand(None) | Input::MarkerEnded | Input::ControlEnded | Input::Nothing => {}
        }
        self.perform(feeder).await;
    }

    fn event(&mut self, now: Instant, event: LineEvent<'_>) {
        self.machine.handle(now, event, &mut self.actions);
    }

    fn io_event(&mut self, now: Instant, event_in: IoEvent) {
        let event = match &event_in {
            IoEvent::Ready => return,
            IoEvent::Poll {
                encoder,
                detections,
                missed,
            } => LineEvent::Poll {
                encoder: *encoder,
                detections,
                missed: *missed,
            },
            IoEvent::Diverted(unit) => LineEvent::Diverted(*unit),
            IoEvent::GateFault(unit) => LineEvent::GateFault(*unit),
            IoEvent::LinkLost(error) => LineEvent::IoLinkLost(error),
        };
        self.event(now, event);
        if let (IoEvent::Diverted(unit) | IoEvent::GateFault(unit), Some(images)) =
            (&event_in, &mut self.images)
        {
            images.settled(*unit, &self.actions);
        }
    }

    /// The marker names codes by id; the machine by text, from the code book.
    fn marker_event(&mut self, now: Instant, event: MarkerEvent) {
        match event {
            MarkerEvent::State(state) => self.event(now, LineEvent::MarkerState(&state)),
            MarkerEvent::Sent { code } => {
                if let Some(text) = self.book.get(code) {
                    self.event(now, LineEvent::Sent(text));
                }
            }
            MarkerEvent::Printed { code } => {
                if let Some(text) = self.book.remove(code) {
                    self.event(now, LineEvent::Printed(text));
                }
            }
            MarkerEvent::Voided { codes, reason } => {
                tracing::info!(count = codes.len(), ?reason, "codes voided");
                for id in codes {
                    if let Some(text) = self.book.remove(id) {
                        self.event(now, LineEvent::Voided(text));
                    }
                }
            }
            MarkerEvent::Unconfirmed { codes } => {
                tracing::warn!(
                    count = codes.len(),
                    "codes sent but not confirmed: they stay sent until settled"
                );
            }
            MarkerEvent::EmptyPrintGo => self.event(now, LineEvent::EmptyPrintGo),
            MarkerEvent::PrintWithoutCode { count } => {
                self.event(now, LineEvent::PrintWithoutCode(count));
            }
            MarkerEvent::BufferFull { .. } | MarkerEvent::Refused(_) => {}
        }
    }

    /// Carries out the machine's actions in order. An action with an outcome the machine needs
    /// hands it back at once; the machine emits such an action last, so what it decides then
    /// follows everything it asked for before.
    async fn perform(&mut self, feeder: &Feeder) {
        while !self.actions.is_empty() {
            let mut batch = std::mem::take(&mut self.spare);
            std::mem::swap(&mut batch, &mut self.actions);
            for action in batch.drain(..) {
                self.act(action, feeder).await;
            }
            self.spare = batch;
        }
    }

    async fn act(&mut self, action: Action, feeder: &Feeder) {
        match action {
            Action::Record(change) => self.record(change).await,
            Action::Reject { unit, fire_at } => {
                self.send_io(IoCommand::Reject { unit, fire_at }).await;
            }
            Action::LineStop(stop) => self.send_io(IoCommand::LineStop(stop)).await,
            Action::Light(light) => self.send_io(IoCommand::Light(light)).await,
            Action::Alarm(what) => tracing::warn!(alarm = %what, "line alarm"),
            Action::StopFeeder => feeder.abort(),
            Action::StopMarker => {
                if let Err(e) = self.marker.stop().await {
                    tracing::warn!(error = %e, "cannot stop the marker");
                }
            }
            Action::QueryMarker => {
                let state = self.marker.state().borrow().clone();
                let printing = self
                    .marker
                    .status()
                    .await
                    .is_ok_and(|status| status.printing());
                let event = LineEvent::MarkerQueried {
                    state: &state,
                    printing,
                };
                self.event(now(), event);
            }
            Action::StartMarker => {
                let started = self.marker.start().await.map_err(|e| e.to_string());
                self.event(now(), LineEvent::MarkerStarted(started));
            }
        }
    }

    /// A command the line I/O task cannot take (it has ended) goes back to the machine.
    async fn send_io(&mut self, command: IoCommand) {
        if let Err(undelivered) = self.io.send(command).await {
            tracing::error!(command = ?undelivered.0, "the line I/O task has ended");
            self.event(now(), LineEvent::IoUndelivered(undelivered.0));
        }
    }

    async fn record(&mut self, change: Transition) {
        let to_pack =
            (self.packing && change.to == CodeState::Verified).then(|| change.code.clone());
        let failed = match self.writer.submit(change).await {
            // The acks task runs until this sender is dropped at the end of the run; if it
            // failed before, nobody learns whether the change committed: counted as failed.
            Ok(committed) => self.acks.send((committed, to_pack)).is_err(),
            Err(e) => {
                tracing::error!(error = %e, "cannot record a code state change");
                true
            }
        };
        if failed {
            self.event(now(), LineEvent::RecordFailed);
        }
    }
}

/// Now, on tokio's clock (paused in tests), as the machine takes it.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Awaits commits in order; returns how many failed. A verified code to pack goes to the
/// packing task once its commit succeeded (waiting here, not in the core, when packing is
/// behind); the end of the acknowledgements ends the packing task's input.
async fn await_commits(
    mut acks: mpsc::UnboundedReceiver<(Committed, Option<String>)>,
    mut packing: Option<mpsc::Sender<String>>,
) -> u64 {
    let mut failed = 0;
    while let Some((committed, to_pack)) = acks.recv().await {
        match committed.await {
            Err(e) => {
                failed += 1;
                tracing::error!(error = %e, "a code state change was refused");
            }
            Ok(()) => {
                if let (Some(code), Some(tx)) = (to_pack, &packing)
                    && tx.send(code).await.is_err()
                {
                    tracing::error!("the packing task has ended: units stay loose");
                    packing = None;
                }
            }
        }
    }
    failed
}

/// The line's `central_store` state: `None` while the store answers and nothing waits.
fn describe_central_store(writer: WriterStatus, hand: Hand) -> Option<String> {
    let codes = group_digits(hand.codes);
    if writer.unreachable || !hand.reachable {
        Some(format!(
            "central store unreachable, spooling, {} records in the journal, {codes} codes in hand",
            group_digits(writer.spooled)
        ))
    } else if writer.spooled > 0 {
        Some(format!(
            "central store answers, forwarding the journal: {} records left, {codes} codes in hand",
            group_digits(writer.spooled)
        ))
    } else {
        None
    }
}

/// `59880` as `59,880`.
fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod central_store_tests {
    use super::*;

    #[test]
    fn the_central_store_is_described_only_while_something_waits() {
        let hand = Hand {
            reachable: true,
            codes: 59_880,
        };
        assert_eq!(describe_central_store(WriterStatus::default(), hand), None);
        let away = WriterStatus {
            unreachable: true,
            held: 0,
            spooled: 1_240,
        };
        assert_eq!(
            describe_central_store(away, hand).as_deref(),
            Some(
                "central store unreachable, spooling, 1,240 records in the journal, 59,880 \
                 codes in hand"
            )
        );
        let forwarding = WriterStatus {
            unreachable: false,
            held: 0,
            spooled: 600,
        };
        assert_eq!(
            describe_central_store(forwarding, hand).as_deref(),
            Some(
                "central store answers, forwarding the journal: 600 records left, 59,880 codes in hand"
            )
        );
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(1_000_000), "1,000,000");
    }
}
