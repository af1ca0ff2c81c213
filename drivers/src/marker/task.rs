//! One task per device and a cloneable handle to it (rodbus `client/channel.rs` and
//! `client/task.rs` style): the handle sends requests over an `mpsc` with a `oneshot` reply;
//! the task owns the link, the ledger and the feed loop.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, MissedTickBehavior, interval};
use tracing::{debug, info, warn};

use super::ledger::Ledger;
use super::{
    Code, CodeId, DeviceSession, FaultReason, LinkError, MarkerConfig, MarkerDevice, MarkerEvent,
    MarkerState, PrintProgress, PushOutcome, Refusal, VoidReason,
};

/// Requests queued for the task before senders wait.
const REQUEST_QUEUE: usize = 16;

/// Empty print-gos reported for one poll, at most: a bound against a device session that
/// reports nonsense, far above the units a belt brings between two polls. (The Linx driver
/// itself reads a count that went backwards as a jump and reports none, `linx/empty.rs`.)
const MAX_EMPTY_PRINT_GOS: u64 = 1_000;

/// An error answering a handle request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarkerError {
    /// The task has ended (shut down, or its events receiver is gone).
    #[error("the marker task has ended")]
    TaskEnded,
    /// No link to the device right now.
    #[error("the marker is not connected")]
    NotConnected,
    /// The device is faulted and cannot start.
    #[error("the marker is faulted: {0}")]
    Faulted(FaultReason),
    /// The device refused the request.
    #[error(transparent)]
    Refused(Refusal),
    /// The link was lost while the request was under way.
    #[error("link lost during the request: {0}")]
    Link(String),
}

/// A snapshot of the task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkerStatus {
    state: MarkerState,
    printing: bool,
    in_flight: usize,
    holding: bool,
}

impl MarkerStatus {
    /// Device state.
    pub fn state(&self) -> &MarkerState {
        &self.state
    }

    /// Printing was started and not stopped (nor stopped by a fault).
    pub fn printing(&self) -> bool {
        self.printing
    }

    /// Codes in the device FIFO, not yet confirmed.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// A code taken from the source waits to be pushed.
    pub fn holding(&self) -> bool {
        self.holding
    }
}

#[derive(Debug)]
enum Request {
    Start(oneshot::Sender<Result<(), MarkerError>>),
    Stop(oneshot::Sender<Result<(), MarkerError>>),
    Status(oneshot::Sender<MarkerStatus>),
    Shutdown(oneshot::Sender<()>),
}

/// Cloneable handle to a marker task.
#[derive(Debug, Clone)]
pub struct MarkerHandle {
    requests: mpsc::Sender<Request>,
    state: watch::Receiver<MarkerState>,
}

impl MarkerHandle {
    /// Starts printing and feeding codes. Fails when not connected, when the device is
    /// faulted, or when it refuses. Clears a latched fault (the operator's restart).
    pub async fn start(&self) -> Result<(), MarkerError> {
        self.ask(Request::Start).await?
    }

    /// Stops printing, clears the device buffer and voids the codes in it (after counting the
    /// ones that printed).
    pub async fn stop(&self) -> Result<(), MarkerError> {
        self.ask(Request::Stop).await?
    }

    /// A snapshot of the task.
    pub async fn status(&self) -> Result<MarkerStatus, MarkerError> {
        self.ask(Request::Status).await
    }

    /// Stops the device as [`stop`](Self::stop) does and ends the task.
    pub async fn shutdown(&self) -> Result<(), MarkerError> {
        self.ask(Request::Shutdown).await
    }

    /// The device state, to watch.
    pub fn state(&self) -> watch::Receiver<MarkerState> {
        self.state.clone()
    }

    async fn ask<T>(
        &self,
        request: impl FnOnce(oneshot::Sender<T>) -> Request,
    ) -> Result<T, MarkerError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(request(reply))
            .await
            .map_err(|_| MarkerError::TaskEnded)?;
        answer.await.map_err(|_| MarkerError::TaskEnded)
    }
}

/// Creates a marker task for `device`, fed from `codes`, reporting on `events`. Spawn
/// [`MarkerTask::run`] inside the caller's tracing span; drive it through the handle.
pub fn create_marker<D: MarkerDevice>(
    device: D,
    config: MarkerConfig,
    codes: mpsc::Receiver<Code>,
    events: mpsc::Sender<MarkerEvent>,
) -> (MarkerHandle, MarkerTask<D>) {
    let (request_tx, requests) = mpsc::channel(REQUEST_QUEUE);
    let (state_tx, state_rx) = watch::channel(MarkerState::Connecting);
    let handle = MarkerHandle {
        requests: request_tx,
        state: state_rx,
    };
    let task = MarkerTask {
        device,
        config,
        requests,
        codes,
        codes_open: true,
        events,
        state: state_tx,
        ledger: Ledger::default(),
        held: None,
        held_sent: false,
        poll_before_push: false,
        want_printing: false,
        printing: false,
        filling: true,
        device_full: false,
        retry_full_at: None,
        latched: None,
    };
    (handle, task)
}

/// The task: owns the device link, the in-flight ledger and the feed loop.
pub struct MarkerTask<D: MarkerDevice> {
    device: D,
    config: MarkerConfig,
    requests: mpsc::Receiver<Request>,
    codes: mpsc::Receiver<Code>,
    codes_open: bool,
    events: mpsc::Sender<MarkerEvent>,
    state: watch::Sender<MarkerState>,
    ledger: Ledger,
    /// A code taken from the source, not yet stored by the device.
    held: Option<Code>,
    /// `Sent` was reported for the held code (a push was tried and refused for a full buffer).
    held_sent: bool,
    /// The held code came after a wait for one: poll before pushing it (see `session`).
    poll_before_push: bool,
    /// The controller asked for printing (survives a reconnection, not a fault).
    want_printing: bool,
    /// The device was told to print in this session.
    printing: bool,
    /// Between the low and the high watermark on the way up.
    filling: bool,
    /// The device said its buffer is full; wait for a print.
    device_full: bool,
    /// When a refused push may be retried without a print (see `buffer_full_retry_ms`).
    retry_full_at: Option<Instant>,
    /// A fault only a restart clears (refusal, print without a code).
    latched: Option<FaultReason>,
}

impl<D: MarkerDevice> std::fmt::Debug for MarkerTask<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MarkerTask")
            .field("device", &self.device.describe())
            .field("state", &*self.state.borrow())
            .field("in_flight", &self.ledger.len())
            .field("printing", &self.printing)
            .finish_non_exhaustive()
    }
}

/// How a session ended.
enum End {
    Shutdown,
    Link { error: LinkError, was_up: bool },
}

/// What woke the session loop.
enum Wake {
    Request(Option<Request>),
    Poll,
    Code(Option<Code>),
}

type Step = Result<(), LinkError>;

impl<D: MarkerDevice> MarkerTask<D> {
    /// Runs until [`MarkerHandle::shutdown`], or until every handle is dropped.
    pub async fn run(mut self) {
        let mut delay = self.config.reconnect_min();
        loop {
            self.set_state(MarkerState::Connecting).await;
            match self.device.connect().await {
                Ok(mut session) => match self.session(&mut session).await {
                    End::Shutdown => return,
                    End::Link { error, was_up } => {
                        if was_up {
                            delay = self.config.reconnect_min();
                        }
                        warn!(device = %self.device.describe(), %error, "marker link lost");
                        self.printing = false;
                        let state = match &error {
                            LinkError::Timeout { request, .. } => {
                                MarkerState::Faulted(FaultReason::NoReply {
                                    detail: format!("{request}: {error}"),
                                })
                            }
                            _ => MarkerState::Disconnected,
                        };
                        self.set_state(state).await;
                    }
                },
                Err(error) => {
                    debug!(device = %self.device.describe(), %error, "marker connect failed");
                    self.set_state(MarkerState::Disconnected).await;
                }
            }
            if self.wait_offline(delay).await {
                return;
            }
            delay = (delay * 2).min(self.config.reconnect_max());
        }
    }

    /// Serves requests while waiting to reconnect; true on shutdown.
    async fn wait_offline(&mut self, delay: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + delay;
        loop {
            let request = tokio::select! {
                request = self.requests.recv() => request,
                () = tokio::time::sleep_until(deadline) => return false,
            };
            match request {
                None => {
                    self.finish_offline().await;
                    return true;
                }
                Some(Request::Start(reply)) => {
                    let _ = reply.send(Err(MarkerError::NotConnected));
                }
                Some(Request::Stop(reply)) => {
                    self.want_printing = false;
                    self.void_held(VoidReason::Stopped).await;
                    let _ = reply.send(Ok(()));
                }
                Some(Request::Status(reply)) => {
                    let _ = reply.send(self.snapshot());
                }
                Some(Request::Shutdown(reply)) => {
                    self.finish_offline().await;
                    let _ = reply.send(());
                    return true;
                }
            }
        }
    }

    /// Shut down without a link: what was in the device cannot be told any more.
    async fn finish_offline(&mut self) {
        self.void_held(VoidReason::Shutdown).await;
        let unknown: Vec<CodeId> = self.ledger.drain().iter().map(Code::id).collect();
        if !unknown.is_empty() {
            self.emit(MarkerEvent::Unconfirmed { codes: unknown }).await;
        }
    }

    async fn session(&mut self, session: &mut D::Session) -> End {
        // A new link: whatever the device holds is stale. Count what printed, clear the rest.
        if let Err(error) = self.settle(session, VoidReason::Reconnected).await {
            return End::Link {
                error,
                was_up: false,
            };
        }
        info!(device = %self.device.describe(), "marker connected");
        let state = match &self.latched {
            Some(reason) => MarkerState::Faulted(reason.clone()),
            None => MarkerState::Connected,
        };
        self.set_state(state).await;
        if self.want_printing && self.latched.is_none() {
            match session.start().await {
                Ok(Ok(())) => self.begin_printing(),
                Ok(Err(refusal)) => self.emit(MarkerEvent::Refused(refusal)).await,
                Err(error) => {
                    return End::Link {
                        error,
                        was_up: true,
                    };
                }
            }
        }

        let mut ticker = interval(self.config.poll_interval());
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            // A code that came after a wait may find a device that ran dry meanwhile. Its
            // print-gos on the empty buffer are reported by a poll, after the prints before
            // them; pushed first, the code's own print would be in the same poll and be
            // confirmed ahead of them, onto the unit that went by empty (the pair swap,
            // docs/drivers.md "Print-go on an empty buffer").
            if self.poll_before_push && self.may_push() {
                self.poll_before_push = false;
                if let Err(error) = self.poll(session).await {
                    return End::Link {
                        error,
                        was_up: true,
                    };
                }
            }
            while self.may_push() {
                if let Err(error) = self.push_one(session).await {
                    return End::Link {
                        error,
                        was_up: true,
                    };
                }
            }
            let (_, high) = self.config.watermarks();
            let want_code = self.printing
                && self.held.is_none()
                && self.codes_open
                && self.filling
                && self.ledger.len() < high;
            if want_code {
                match self.codes.try_recv() {
                    Ok(code) => {
                        self.held = Some(code);
                        self.held_sent = false;
                        continue;
                    }
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        self.codes_open = false;
                        continue;
                    }
                    Err(mpsc::error::TryRecvError::Empty) => {}
                }
            }
            let wake = tokio::select! {
                request = self.requests.recv() => Wake::Request(request),
                _ = ticker.tick() => Wake::Poll,
                code = self.codes.recv(), if want_code => Wake::Code(code),
            };
            let step = match wake {
                Wake::Request(None) => return self.shutdown(session, None).await,
                Wake::Request(Some(Request::Shutdown(reply))) => {
                    return self.shutdown(session, Some(reply)).await;
                }
                Wake::Request(Some(request)) => self.serve(session, request).await,
                Wake::Poll => self.poll(session).await,
                Wake::Code(Some(code)) => {
                    self.held = Some(code);
                    self.held_sent = false;
                    self.poll_before_push = true;
                    Ok(())
                }
                Wake::Code(None) => {
                    self.codes_open = false;
                    Ok(())
                }
            };
            if let Err(error) = step {
                return End::Link {
                    error,
                    was_up: true,
                };
            }
        }
    }

    async fn shutdown(
        &mut self,
        session: &mut D::Session,
        reply: Option<oneshot::Sender<()>>,
    ) -> End {
        if let Err(error) = self.settle(session, VoidReason::Shutdown).await {
            warn!(%error, "marker link lost while shutting down");
            self.finish_offline().await;
        }
        self.void_held(VoidReason::Shutdown).await;
        self.set_state(MarkerState::Disconnected).await;
        if let Some(reply) = reply {
            let _ = reply.send(());
        }
        End::Shutdown
    }

    async fn serve(&mut self, session: &mut D::Session, request: Request) -> Step {
        match request {
            Request::Start(reply) => {
                let answer = self.start(session).await;
                let (answer, step) = match answer {
                    Ok(answer) => (answer, Ok(())),
                    Err(error) => (Err(MarkerError::Link(error.to_string())), Err(error)),
                };
                let _ = reply.send(answer);
                step
            }
            Request::Stop(reply) => {
                self.want_printing = false;
                let step = self.settle(session, VoidReason::Stopped).await;
                self.void_held(VoidReason::Stopped).await;
                let answer = match &step {
                    Ok(()) => Ok(()),
                    Err(error) => Err(MarkerError::Link(error.to_string())),
                };
                let _ = reply.send(answer);
                step
            }
            Request::Status(reply) => {
                let _ = reply.send(self.snapshot());
                Ok(())
            }
            // Handled by the session loop.
            Request::Shutdown(reply) => {
                let _ = reply.send(());
                Ok(())
            }
        }
    }

    async fn start(
        &mut self,
        session: &mut D::Session,
    ) -> Result<Result<(), MarkerError>, LinkError> {
        if let MarkerState::Faulted(reason @ FaultReason::Device { .. }) = &*self.state.borrow() {
            return Ok(Err(MarkerError::Faulted(reason.clone())));
        }
        match session.start().await? {
            Ok(()) => {
                self.latched = None;
                self.want_printing = true;
                self.begin_printing();
                self.set_state(MarkerState::Connected).await;
                Ok(Ok(()))
            }
            Err(refusal) => {
                self.emit(MarkerEvent::Refused(refusal.clone())).await;
                Ok(Err(MarkerError::Refused(refusal)))
            }
        }
    }

    fn begin_printing(&mut self) {
        self.printing = true;
        self.filling = true;
        self.set_device_full(false, false);
    }

    fn may_push(&self) -> bool {
        let (_, high) = self.config.watermarks();
        let full = self.device_full
            && self
                .retry_full_at
                .is_none_or(|retry_at| Instant::now() < retry_at);
        self.printing && self.held.is_some() && self.filling && !full && self.ledger.len() < high
    }

    fn set_device_full(&mut self, full: bool, retry: bool) {
        self.device_full = full;
        self.retry_full_at = if full && retry {
            Some(Instant::now() + self.config.buffer_full_retry())
        } else {
            None
        };
    }

    /// Hysteresis between the watermarks: fill up to the high one, then wait for the low one.
    fn update_filling(&mut self) {
        let (low, high) = self.config.watermarks();
        if self.ledger.len() <= low {
            self.filling = true;
        } else if self.ledger.len() >= high {
            self.filling = false;
        }
    }

    async fn push_one(&mut self, session: &mut D::Session) -> Step {
        let Some(code) = self.held.take() else {
            return Ok(());
        };
        if !self.held_sent {
            self.emit(MarkerEvent::Sent { code: code.id() }).await;
        }
        self.held_sent = false;
        let index = self.ledger.next_seq();
        let outcome = match session.push(index, code.text()).await {
            Ok(outcome) => outcome,
            Err(error) => {
                // Whether the device stored it is unknown: the reconnection settles it.
                self.ledger.push(code);
                return Err(error);
            }
        };
        match outcome {
            PushOutcome::Accepted { now_full } => {
                self.ledger.push(code);
                self.set_device_full(now_full, false);
                self.update_filling();
            }
            PushOutcome::BufferFull => {
                self.held = Some(code);
                self.held_sent = true;
                self.set_device_full(true, true);
                let in_flight = self.ledger.len();
                debug!(in_flight, "device buffer full, waiting for prints");
                self.emit(MarkerEvent::BufferFull { in_flight }).await;
            }
            PushOutcome::Refused(refusal) => {
                self.held = Some(code);
                self.held_sent = true;
                self.emit(MarkerEvent::Refused(refusal.clone())).await;
                self.fault(session, FaultReason::Refused(refusal), true)
                    .await?;
            }
        }
        Ok(())
    }

    async fn poll(&mut self, session: &mut D::Session) -> Step {
        let status = session.poll().await?;
        let without_code = self.confirm(session, status.progress).await? + status.unmatched_prints;
        if status.empty_print_gos > 0 {
            let count = status.empty_print_gos;
            warn!(device = %self.device.describe(), count, "print-go on an empty buffer");
            // One event per unit that went by with nothing: the line marks that many units
            // as carrying nothing, so the codes printed after them stay on their own units.
            for _ in 0..count.min(MAX_EMPTY_PRINT_GOS) {
                self.emit(MarkerEvent::EmptyPrintGo).await;
            }
        }
        if without_code > 0 {
            let count = without_code;
            self.emit(MarkerEvent::PrintWithoutCode { count }).await;
            return self
                .fault(session, FaultReason::PrintWithoutCode { count }, true)
                .await;
        }
        let faulted_by_device = matches!(
            &*self.state.borrow(),
            MarkerState::Faulted(FaultReason::Device { .. })
        );
        match status.fault {
            Some(detail) => {
                let reason = FaultReason::Device { detail };
                if *self.state.borrow() != MarkerState::Faulted(reason.clone()) {
                    self.fault(session, reason, false).await?;
                }
            }
            None if faulted_by_device && self.latched.is_none() => {
                info!(device = %self.device.describe(), "device fault cleared");
                self.set_state(MarkerState::Connected).await;
            }
            None => {}
        }
        Ok(())
    }

    /// Applies a confirmation; returns the prints not matched to a code.
    async fn confirm(
        &mut self,
        session: &mut D::Session,
        progress: PrintProgress,
    ) -> Result<u64, LinkError> {
        match self.ledger.confirm(progress) {
            Ok(settled) => {
                if !settled.printed.is_empty() {
                    self.set_device_full(false, false);
                }
                for code in settled.printed {
                    self.emit(MarkerEvent::Printed { code: code.id() }).await;
                }
                self.update_filling();
                Ok(settled.without_code)
            }
            Err(back) => {
                let detail = format!(
                    "print counter went back from {} to {}: the codes in flight are unconfirmed",
                    back.from, back.to
                );
                warn!(device = %self.device.describe(), "{detail}");
                let unknown: Vec<CodeId> = self.ledger.drain().iter().map(Code::id).collect();
                if !unknown.is_empty() {
                    self.emit(MarkerEvent::Unconfirmed { codes: unknown }).await;
                }
                if self.printing {
                    self.fault(session, FaultReason::Device { detail }, true)
                        .await?;
                }
                Ok(0)
            }
        }
    }

    /// Stops the device for a fault and settles its buffer.
    async fn fault(&mut self, session: &mut D::Session, reason: FaultReason, latch: bool) -> Step {
        warn!(device = %self.device.describe(), %reason, "marker faulted");
        if latch {
            self.latched = Some(reason.clone());
        }
        self.set_state(MarkerState::Faulted(reason)).await;
        self.settle(session, VoidReason::Fault).await?;
        self.void_held(VoidReason::Fault).await;
        Ok(())
    }

    /// Stops printing, clears the device buffer, confirms what printed before the clear and
    /// voids the rest.
    async fn settle(&mut self, session: &mut D::Session, reason: VoidReason) -> Step {
        self.printing = false;
        let cleared = match session.stop_and_clear().await? {
            Ok(()) => true,
            Err(refusal) => {
                self.emit(MarkerEvent::Refused(refusal)).await;
                false
            }
        };
        let status = session.poll().await?;
        match self.ledger.confirm(status.progress) {
            // The buffer was not cleared: what is left may still print, so it is not void.
            Ok(settled) if !cleared => {
                for code in settled.printed {
                    self.emit(MarkerEvent::Printed { code: code.id() }).await;
                }
                let unknown: Vec<CodeId> = self.ledger.drain().iter().map(Code::id).collect();
                if !unknown.is_empty() {
                    self.emit(MarkerEvent::Unconfirmed { codes: unknown }).await;
                }
            }
            Ok(settled) => {
                for code in settled.printed {
                    self.emit(MarkerEvent::Printed { code: code.id() }).await;
                }
                if settled.without_code > 0 {
                    self.emit(MarkerEvent::PrintWithoutCode {
                        count: settled.without_code,
                    })
                    .await;
                }
                let cleared: Vec<CodeId> = self.ledger.drain().iter().map(Code::id).collect();
                if !cleared.is_empty() {
                    self.emit(MarkerEvent::Voided {
                        codes: cleared,
                        reason,
                    })
                    .await;
                }
            }
            Err(_) => {
                let unknown: Vec<CodeId> = self.ledger.drain().iter().map(Code::id).collect();
                if !unknown.is_empty() {
                    self.emit(MarkerEvent::Unconfirmed { codes: unknown }).await;
                }
            }
        }
        self.filling = true;
        self.set_device_full(false, false);
        Ok(())
    }

    async fn void_held(&mut self, reason: VoidReason) {
        if let Some(code) = self.held.take() {
            self.emit(MarkerEvent::Voided {
                codes: vec![code.id()],
                reason,
            })
            .await;
        }
    }

    fn snapshot(&self) -> MarkerStatus {
        MarkerStatus {
            state: self.state.borrow().clone(),
            printing: self.printing,
            in_flight: self.ledger.len(),
            holding: self.held.is_some(),
        }
    }

    async fn set_state(&mut self, state: MarkerState) {
        if *self.state.borrow() == state {
            return;
        }
        self.state.send_replace(state.clone());
        self.emit(MarkerEvent::State(state)).await;
    }

    async fn emit(&mut self, event: MarkerEvent) {
        if self.events.send(event).await.is_err() {
            debug!("marker events receiver dropped");
        }
    }
}
