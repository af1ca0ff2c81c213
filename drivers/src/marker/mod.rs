//! The marker model shared by every marker and printer driver (SPEC §5): the controller pushes
//! codes into the device's FIFO ahead of the product, the device consumes one per print-go and
//! tells — by an event, a counter or an index — what it printed; the feed loop keeps the FIFO
//! between a low and a high watermark and maps each confirmed print to its code.
//!
//! A protocol plugs in by implementing [`MarkerDevice`] (how to open a link) and
//! [`DeviceSession`] (what to say on it); [`create_marker`] turns it into a task and a
//! cloneable [`MarkerHandle`]. See `docs/drivers.md` for the model in prose.

mod any;
mod ledger;
mod task;

use std::future::Future;
use std::time::Duration;

use serde::Deserialize;

pub use any::{AnyMarker, AnySession};
pub use task::{MarkerError, MarkerHandle, MarkerStatus, MarkerTask, create_marker};

/// Identifies a code for the controller (its row in the store). The driver never interprets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CodeId(u64);

impl CodeId {
    /// Wraps an id.
    pub fn new(id: u64) -> Self {
        Self(id)
    }

    /// The id.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// A code to print: its id and the text the device puts in its variable field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    id: CodeId,
    text: String,
}

impl Code {
    /// A code.
    pub fn new(id: CodeId, text: impl Into<String>) -> Self {
        Self {
            id,
            text: text.into(),
        }
    }

    /// Its id.
    pub fn id(&self) -> CodeId {
        self.id
    }

    /// Its text.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// Device state as published on the handle's `watch` channel (and as [`MarkerEvent::State`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkerState {
    /// Opening the link (first time or after a loss).
    Connecting,
    /// Link up, device healthy. Whether it prints is in [`MarkerStatus`].
    Connected,
    /// Link up (or silent), device not usable: printing stopped, buffer cleared.
    Faulted(FaultReason),
    /// Link lost; the task retries with exponential back-off.
    Disconnected,
}

/// Why a device is faulted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultReason {
    /// The device reports a fault (ink out, head error, jet fault, …).
    Device {
        /// What the device reported, in its own terms.
        detail: String,
    },
    /// The device refused a command the line needs (NAK).
    Refused(Refusal),
    /// The device printed without a code from tracemark: a print-go on an empty buffer, a
    /// reprint of old data. Latched until the next start.
    PrintWithoutCode {
        /// Prints not matched to any code.
        count: u64,
    },
    /// The device stopped answering within the reply timeout (stall, head open, cable).
    NoReply {
        /// What went unanswered.
        detail: String,
    },
}

impl std::fmt::Display for FaultReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Device { detail } => write!(f, "device fault: {detail}"),
            Self::Refused(refusal) => write!(f, "{refusal}"),
            Self::PrintWithoutCode { count } => {
                write!(f, "{count} print(s) without a code from tracemark")
            }
            Self::NoReply { detail } => write!(f, "no reply: {detail}"),
        }
    }
}

/// A request the device answered with a refusal (NAK): a per-request error, not a link error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("device refused {request}: {reason}")]
pub struct Refusal {
    request: &'static str,
    reason: String,
}

impl Refusal {
    /// A refusal of `request` for `reason`.
    pub fn new(request: &'static str, reason: impl Into<String>) -> Self {
        Self {
            request,
            reason: reason.into(),
        }
    }

    /// What was refused.
    pub fn request(&self) -> &'static str {
        self.request
    }

    /// Why, in the device's terms.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// Why codes were voided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoidReason {
    /// The controller stopped the marker.
    Stopped,
    /// The device faulted; its buffer was cleared.
    Fault,
    /// The link was lost; on reconnection the buffer was cleared.
    Reconnected,
    /// The task shut down.
    Shutdown,
}

/// What the driver reports for the controller to record, in order, never dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkerEvent {
    /// The device state changed.
    State(MarkerState),
    /// The code was written to the device's buffer (`reserved → sent`).
    Sent {
        /// The code.
        code: CodeId,
    },
    /// The device confirmed it printed the code (`sent → printed`).
    Printed {
        /// The code.
        code: CodeId,
    },
    /// The codes were never printed: the buffer was cleared or they never reached the device
    /// (`reserved|sent → voided`).
    Voided {
        /// The codes, oldest first.
        codes: Vec<CodeId>,
        /// Why.
        reason: VoidReason,
    },
    /// The codes were sent but whether they printed cannot be told (the device's counter went
    /// backwards across a reconnection): they stay `sent` until a camera read decides.
    Unconfirmed {
        /// The codes, oldest first.
        codes: Vec<CodeId>,
    },
    /// The device says a print-go found its buffer empty: a unit went by without a fresh code
    /// (if the device reprinted old data instead, [`MarkerEvent::PrintWithoutCode`] follows
    /// from its counter).
    EmptyPrintGo,
    /// The device printed without a code from tracemark (reprint on an empty buffer).
    PrintWithoutCode {
        /// Prints not matched to a code.
        count: u64,
    },
    /// The device buffer is full; the feed loop waits for prints before sending more.
    BufferFull {
        /// Codes in flight when the device said so.
        in_flight: usize,
    },
    /// The device refused a request.
    Refused(Refusal),
}

/// How a device confirms prints; every kind reduces to "codes up to N printed".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrintProgress {
    /// Nothing new to report.
    Nothing,
    /// This many prints since the last report (devices that send a print-complete event).
    Printed(u64),
    /// The device's print counter, absolute (devices polled for a counter).
    Counter(u64),
    /// The index the driver gave the last record the device printed (devices that report
    /// "last printed index"); see [`DeviceSession::push`].
    LastIndex(u64),
}

/// One poll of a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceStatus {
    /// Prints since the last poll.
    pub progress: PrintProgress,
    /// A fault the device reports, if any.
    pub fault: Option<String>,
    /// Print-gos that found no data since the last poll: units that went by with nothing
    /// printed. Counted where the device counts print-gos apart from prints (Linx's product
    /// count); a device with only a status bit gives 1 when it is set.
    pub empty_print_gos: u64,
    /// Prints the device made that its confirmation does not cover (e.g. a total count running
    /// ahead of the last printed index): prints without a code.
    pub unmatched_prints: u64,
}

/// The answer to pushing one code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// Stored; `now_full` when the device says it will take no more.
    Accepted {
        /// The device buffer is now full.
        now_full: bool,
    },
    /// Not stored: the buffer is full. The feed loop keeps the code and retries after prints.
    BufferFull,
    /// Not stored: refused for another reason.
    Refused(Refusal),
}

/// A lost or unusable link: ends the session; the task reconnects with back-off.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The transport could not be opened.
    #[error("cannot open {target}: {source}")]
    Open {
        /// Address or path.
        target: String,
        /// Why.
        source: std::io::Error,
    },
    /// Read or write failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The device closed the link.
    #[error("device closed the connection")]
    Closed,
    /// No reply in time.
    #[error("no reply to {request} within {timeout:?}")]
    Timeout {
        /// What went unanswered.
        request: String,
        /// The reply timeout.
        timeout: Duration,
    },
    /// Bytes that break the protocol (bad checksum, wrong reply): the session cannot tell what
    /// the device did, so it ends and the reconnection settles the buffer.
    #[error("protocol error: {0}")]
    Protocol(String),
}

/// Opens links to one device.
pub trait MarkerDevice: Send + 'static {
    /// A session on one open link.
    type Session: DeviceSession;

    /// Opens the link and returns a session on it.
    fn connect(&mut self) -> impl Future<Output = Result<Self::Session, LinkError>> + Send;

    /// Where the device is, for logs and errors.
    fn describe(&self) -> String;
}

/// The requests the feed loop makes of a device. Outer `Result`: the link; inner: the
/// device's answer, a value the loop handles.
pub trait DeviceSession: Send {
    /// Stops printing and empties the device buffer, so nothing sent can print any more.
    fn stop_and_clear(
        &mut self,
    ) -> impl Future<Output = Result<Result<(), Refusal>, LinkError>> + Send;

    /// Starts printing: print-go signals consume the buffer from now on.
    fn start(&mut self) -> impl Future<Output = Result<Result<(), Refusal>, LinkError>> + Send;

    /// Pushes one code; `index` is its sequence number in the ledger, for devices that report
    /// the index of the last record printed.
    fn push(
        &mut self,
        index: u64,
        text: &str,
    ) -> impl Future<Output = Result<PushOutcome, LinkError>> + Send;

    /// Reads progress and health.
    fn poll(&mut self) -> impl Future<Output = Result<DeviceStatus, LinkError>> + Send;
}

/// Feed-loop settings. Every default is given where it is defined.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MarkerConfig {
    /// Refill the device FIFO when it holds this many codes or fewer. Default 2.
    pub low_watermark: usize,
    /// Fill the device FIFO up to this many codes (at most the device depth). Default 4.
    pub high_watermark: usize,
    /// How often the device is polled for progress and faults. Default 50 ms.
    pub poll_interval_ms: u64,
    /// After the device refused a code for a full buffer, push again only once a print is
    /// confirmed or this long has passed. Default 500 ms.
    pub buffer_full_retry_ms: u64,
    /// First reconnection delay, doubled after each failure. Default 100 ms.
    pub reconnect_min_ms: u64,
    /// Longest reconnection delay. Default 5,000 ms.
    pub reconnect_max_ms: u64,
}

impl Default for MarkerConfig {
    fn default() -> Self {
        Self {
            low_watermark: 2,
            high_watermark: 4,
            poll_interval_ms: 50,
            buffer_full_retry_ms: 500,
            reconnect_min_ms: 100,
            reconnect_max_ms: 5_000,
        }
    }
}

impl MarkerConfig {
    fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms.max(1))
    }

    fn buffer_full_retry(&self) -> Duration {
        Duration::from_millis(self.buffer_full_retry_ms.max(1))
    }

    fn reconnect_min(&self) -> Duration {
        Duration::from_millis(self.reconnect_min_ms.max(1))
    }

    fn reconnect_max(&self) -> Duration {
        Duration::from_millis(self.reconnect_max_ms.max(self.reconnect_min_ms).max(1))
    }

    /// The high watermark, at least 1, and the low one, below it.
    fn watermarks(&self) -> (usize, usize) {
        let high = self.high_watermark.max(1);
        (self.low_watermark.min(high - 1), high)
    }
}
