//! The generic ASCII marker over any byte stream: one request, one reply, as the description
//! says.
//!
//! How the marker model maps onto a description (`docs/protocols/ascii.md`):
//! - push a code: `commands.load` → `replies.ack`; `replies.buffer_full` (or a `replies.nak`
//!   while the buffer is known to be full) → [`PushOutcome::BufferFull`]; `replies.nak`
//!   otherwise → a refusal. One request per code;
//! - confirm prints: the print counter (`counter.query`, or `{count}` in the status reply) →
//!   [`PrintProgress::Counter`], extended across the counter's wrap;
//! - faults: a `{state}` in `status.fault_states` or a `{fault}` not in `status.no_fault`;
//! - stop and clear: `commands.stop` (a refusal is logged: a stopped device may refuse it),
//!   then `commands.clear`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, timeout_at};
use tracing::{debug, trace};

use super::config::{AsciiConfig, CodeValues, Command, CounterQuery, StatusQuery, StatusReading};
use super::frame::{FrameDecoder, Framing};
use super::pattern::{Captures, Pattern, printable};
use crate::marker::{
    DeviceSession, DeviceStatus, LinkError, MarkerDevice, PrintProgress, PushOutcome, Refusal,
};
use crate::transport::{BoxedStream, Transport};

/// Bytes read from the device at once.
const READ_CHUNK: usize = 4096;

/// The most prints taken to have happened across a counter's wrap between two readings: 100
/// units/s for 10 s, far more than a poll or a reconnection ever sees.
pub const MAX_WRAP_STEP: u64 = 1_000;

/// Extends a device counter that returns to 0 at its modulus (a six-digit counter at
/// 1,000,000) to a value that only grows across the wrap. A counter that came down either
/// wrapped forwards — taken as such only for a small step ([`MAX_WRAP_STEP`]) — or was reset (a
/// power cycle, an operator): that steps back, which the marker model reports as unconfirmed
/// prints. Without a modulus every step down is a reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterTracker {
    modulus: Option<u64>,
    last: Option<(u64, u64)>,
}

impl CounterTracker {
    /// A tracker for a counter returning to 0 at `modulus`.
    pub fn new(modulus: Option<u64>) -> Self {
        Self {
            modulus,
            last: None,
        }
    }

    /// The extended value of `raw`, read after the previous reading.
    pub fn extend(&mut self, raw: u64) -> u64 {
        let value = match self.last {
            None => raw,
            Some((prev_raw, prev)) if raw >= prev_raw => prev.saturating_add(raw - prev_raw),
            Some((prev_raw, prev)) => {
                let round = self
                    .modulus
                    .and_then(|modulus| modulus.checked_sub(prev_raw))
                    .and_then(|to_wrap| to_wrap.checked_add(raw))
                    .filter(|round| *round <= MAX_WRAP_STEP);
                match round {
                    Some(round) => prev.saturating_add(round),
                    None => prev.saturating_sub(prev_raw - raw),
                }
            }
        };
        self.last = Some((raw, value));
        value
    }
}

/// An ASCII marker reached through a [`Transport`], described by an [`AsciiConfig`].
#[derive(Debug, Clone)]
pub struct AsciiMarker {
    transport: Transport,
    config: Arc<AsciiConfig>,
    /// The counter's extension across its wrap outlives a session, as the ledger's counter
    /// baseline does.
    counter: Arc<Mutex<CounterTracker>>,
}

impl AsciiMarker {
    /// A marker on `transport` speaking `config`.
    pub fn new(transport: Transport, config: AsciiConfig) -> Self {
        let modulus = config.counter().and_then(CounterQuery::modulus);
        Self {
            transport,
            config: Arc::new(config),
            counter: Arc::new(Mutex::new(CounterTracker::new(modulus))),
        }
    }

    /// The description.
    pub fn config(&self) -> &AsciiConfig {
        &self.config
    }
}

impl MarkerDevice for AsciiMarker {
    type Session = AsciiSession;

    async fn connect(&mut self) -> Result<AsciiSession, LinkError> {
        let timeout = self.config.reply_timeout();
        let stream = match tokio::time::timeout(timeout, self.transport.open()).await {
            Ok(opened) => opened?,
            Err(_) => {
                return Err(LinkError::Open {
                    target: self.transport.describe(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("not connected within {timeout:?}"),
                    ),
                });
            }
        };
        let link = AsciiLink::new(stream, self.config.framing(), timeout);
        Ok(AsciiSession {
            link,
            config: Arc::clone(&self.config),
            counter: Arc::clone(&self.counter),
            queued: None,
            last_count: None,
        })
    }

    fn describe(&self) -> String {
        format!(
            "ascii {} {}",
            self.config.model(),
            self.transport.describe()
        )
    }
}

/// The reply to a request: which expected pattern it matched, and what it captured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    matched: usize,
    captures: Captures,
    body: Vec<u8>,
}

impl Reply {
    /// Index of the pattern it matched, in the order given to [`AsciiLink::request`].
    pub fn matched(&self) -> usize {
        self.matched
    }

    /// What the pattern captured.
    pub fn captures(&self) -> &Captures {
        &self.captures
    }

    /// The reply's body (without framing).
    pub fn body(&self) -> &[u8] {
        &self.body
    }
}

/// One command, one reply frame, over any byte stream.
pub struct AsciiLink<S> {
    io: S,
    decoder: FrameDecoder,
    reply_timeout: Duration,
    buffer: Vec<u8>,
    filled: usize,
    decoded: usize,
    skipped_frames: u64,
    last_skipped: Option<String>,
}

impl<S> std::fmt::Debug for AsciiLink<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsciiLink")
            .field("reply_timeout", &self.reply_timeout)
            .field("skipped_frames", &self.skipped_frames)
            .field("skipped_bytes", &self.decoder.skipped_bytes())
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> AsciiLink<S> {
    /// A link over `io` framed by `framing`.
    pub fn new(io: S, framing: &Framing, reply_timeout: Duration) -> Self {
        Self {
            io,
            decoder: framing.reply_decoder(),
            reply_timeout,
            buffer: vec![0; READ_CHUNK],
            filled: 0,
            decoded: 0,
            skipped_frames: 0,
            last_skipped: None,
        }
    }

    /// Reply frames skipped because they matched no expected pattern (noise, unsolicited
    /// messages).
    pub fn skipped_frames(&self) -> u64 {
        self.skipped_frames
    }

    /// Noise bytes skipped before a reply prefix.
    pub fn skipped_bytes(&self) -> u64 {
        self.decoder.skipped_bytes()
    }

    /// Sends `frame` (a `command`) and returns the first reply frame that matches one of
    /// `expected`. A frame that matches none is skipped (noise, an unsolicited message): the
    /// reply timeout bounds the wait, and its error names the last such frame. A frame with a
    /// bad checksum ends the request with a protocol error: what the device did cannot be told.
    pub async fn request(
        &mut self,
        command: Command,
        frame: &[u8],
        expected: &[&Pattern],
    ) -> Result<Reply, LinkError> {
        trace!(%command, bytes = frame.len(), "ascii request");
        self.io.write_all(frame).await?;
        self.io.flush().await?;
        let deadline = Instant::now() + self.reply_timeout;
        loop {
            while self.decoded < self.filled {
                let byte = self.buffer[self.decoded];
                self.decoded += 1;
                let frame = match self.decoder.push(byte) {
                    None => continue,
                    Some(Ok(frame)) => frame,
                    Some(Err(error)) => {
                        return Err(LinkError::Protocol(format!("reply to {command}: {error}")));
                    }
                };
                for (matched, pattern) in expected.iter().enumerate() {
                    if let Some(captures) = pattern.captures(frame.body()) {
                        return Ok(Reply {
                            matched,
                            captures,
                            body: frame.body().to_vec(),
                        });
                    }
                }
                let shown = printable(frame.body());
                debug!(%command, reply = %shown, "ascii: skipping a reply no pattern expects");
                self.skipped_frames += 1;
                self.last_skipped = Some(shown);
            }
            let read = match timeout_at(deadline, self.io.read(&mut self.buffer)).await {
                Err(_) => {
                    return Err(LinkError::Timeout {
                        request: self.unanswered(command),
                        timeout: self.reply_timeout,
                    });
                }
                Ok(read) => read?,
            };
            if read == 0 {
                return Err(LinkError::Closed);
            }
            self.filled = read;
            self.decoded = 0;
        }
    }

    /// What went unanswered, with the last reply that matched no pattern: a pattern that does
    /// not fit the device shows here.
    fn unanswered(&mut self, command: Command) -> String {
        match self.last_skipped.take() {
            Some(last) => format!(
                "{command} ({}; the last reply, `{last}`, matched no pattern expected)",
                command.key()
            ),
            None => format!("{command} ({})", command.key()),
        }
    }
}

/// What a reply to a command was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    BufferFull,
    Nak,
    Ack,
}

/// The marker model over one ASCII link.
#[derive(Debug)]
pub struct AsciiSession {
    link: AsciiLink<BoxedStream>,
    config: Arc<AsciiConfig>,
    counter: Arc<Mutex<CounterTracker>>,
    /// Codes taken to be in the device buffer: the loads since the last clear (or the level
    /// the device last reported), less the prints counted since. Unknown until the first
    /// clear.
    queued: Option<u64>,
    /// The extended counter at the last reading.
    last_count: Option<u64>,
}

impl AsciiSession {
    /// Sends `frame` (a `command`) and tells which of `answers` the reply is.
    async fn ask(
        &mut self,
        command: Command,
        frame: &[u8],
        answers: &[(Answer, &Pattern)],
    ) -> Result<(Answer, Reply), LinkError> {
        let patterns: Vec<&Pattern> = answers.iter().map(|(_, pattern)| *pattern).collect();
        let reply = self.link.request(command, frame, &patterns).await?;
        Ok((answers[reply.matched].0, reply))
    }

    /// The frame of a command without a code; `None` when the device has no such command.
    fn frame(&self, command: Command) -> Result<Option<Vec<u8>>, LinkError> {
        self.config
            .encode(command, None)
            .transpose()
            .map_err(|error| LinkError::Protocol(format!("{}: {error}", command.key())))
    }

    /// A command answered by ACK or NAK; `None` when the device has no such command.
    async fn command(
        &mut self,
        command: Command,
    ) -> Result<Option<Result<(), Refusal>>, LinkError> {
        let Some(frame) = self.frame(command)? else {
            return Ok(None);
        };
        let config = Arc::clone(&self.config);
        let answers = [(Answer::Nak, config.nak()), (Answer::Ack, config.ack())];
        let (answer, reply) = self.ask(command, &frame, &answers).await?;
        Ok(Some(match answer {
            Answer::Ack => Ok(()),
            _ => Err(refusal(&config, command, &reply)),
        }))
    }

    /// Reads the status; the level it reports replaces the estimate.
    async fn read_status(&mut self, status: &StatusQuery) -> Result<StatusReading, LinkError> {
        let Some(frame) = self.frame(Command::Status)? else {
            return Ok(StatusReading::default());
        };
        let answers = [(Answer::Ack, status.reply()), (Answer::Nak, status.nak())];
        let (answer, reply) = self.ask(Command::Status, &frame, &answers).await?;
        if answer == Answer::Nak {
            let refused = refusal(&self.config, Command::Status, &reply);
            return Err(LinkError::Protocol(format!(
                "{refused}: check status.query and status.reply"
            )));
        }
        let reading = status.read(reply.captures()).map_err(|error| {
            LinkError::Protocol(format!(
                "status reply `{}`: {error}",
                printable(reply.body())
            ))
        })?;
        if let Some(level) = reading.level {
            self.queued = Some(level);
        }
        Ok(reading)
    }

    async fn read_counter(&mut self, counter: &CounterQuery) -> Result<u64, LinkError> {
        let Some(frame) = self.frame(Command::Count)? else {
            return Err(LinkError::Protocol("no counter.query".to_owned()));
        };
        let answers = [(Answer::Ack, counter.reply()), (Answer::Nak, counter.nak())];
        let reply = match self.ask(Command::Count, &frame, &answers).await? {
            (Answer::Ack, reply) => reply,
            (_, reply) => {
                let refused = refusal(&self.config, Command::Count, &reply);
                return Err(LinkError::Protocol(format!(
                    "{refused}: check counter.query and counter.reply"
                )));
            }
        };
        counter.read(reply.captures()).map_err(|error| {
            LinkError::Protocol(format!(
                "counter reply `{}`: {error}",
                printable(reply.body())
            ))
        })
    }

    fn full(&self) -> bool {
        matches!((self.queued, self.config.depth()), (Some(queued), Some(depth)) if queued >= depth)
    }

    /// After a refusal of a load: a full buffer (the device's level, or the estimate) or a
    /// refusal.
    async fn full_after_refusal(&mut self) -> Result<bool, LinkError> {
        let config = Arc::clone(&self.config);
        if let Some(status) = config.status()
            && config.depth().is_some()
            && status
                .reply()
                .placeholders()
                .any(|(name, _)| name == "level")
        {
            self.read_status(status).await?;
        }
        Ok(self.full())
    }
}

/// The refusal a NAK reply stands for: its `{reason}` (with its meaning, if the description
/// gives one), or the whole reply.
fn refusal(config: &AsciiConfig, command: Command, reply: &Reply) -> Refusal {
    let reason = match reply.captures().text("reason") {
        Some(reason) => match config.nak_reasons().get(&reason) {
            Some(meaning) => format!("{reason} ({meaning})"),
            None => reason,
        },
        None => format!("reply `{}`", printable(reply.body())),
    };
    Refusal::new(command.name(), reason)
}

impl DeviceSession for AsciiSession {
    async fn stop_and_clear(&mut self) -> Result<Result<(), Refusal>, LinkError> {
        // A device already stopped may refuse the stop; the buffer must be cleared either way.
        if let Some(Err(refusal)) = self.command(Command::Stop).await? {
            debug!(%refusal, "ascii: stop refused, clearing anyway");
        }
        match self.command(Command::Clear).await? {
            Some(Err(refusal)) => Ok(Err(refusal)),
            Some(Ok(())) | None => {
                self.queued = Some(0);
                Ok(Ok(()))
            }
        }
    }

    async fn start(&mut self) -> Result<Result<(), Refusal>, LinkError> {
        Ok(self.command(Command::Start).await?.unwrap_or(Ok(())))
    }

    async fn push(&mut self, index: u64, text: &str) -> Result<PushOutcome, LinkError> {
        let config = Arc::clone(&self.config);
        // A code with a framing byte would end or restart the frame: it never reaches the
        // device.
        if let Err(error) = config.check_code(text) {
            return Ok(PushOutcome::Refused(Refusal::new(
                Command::Load.name(),
                error.to_string(),
            )));
        }
        let mut answers = Vec::with_capacity(3);
        if let Some(full) = config.buffer_full() {
            answers.push((Answer::BufferFull, full));
        }
        answers.push((Answer::Nak, config.nak()));
        answers.push((Answer::Ack, config.ack()));
        let frame = match config.encode(Command::Load, Some(CodeValues { text, index })) {
            Some(Ok(frame)) => frame,
            // `{index:N}` too narrow for the index, say.
            Some(Err(error)) => {
                return Ok(PushOutcome::Refused(Refusal::new(
                    Command::Load.name(),
                    format!("{}: {error}", Command::Load.key()),
                )));
            }
            None => return Err(LinkError::Protocol("no commands.load".to_owned())),
        };
        let (answer, reply) = self.ask(Command::Load, &frame, &answers).await?;
        match answer {
            Answer::Ack => {
                self.queued = self.queued.map(|queued| queued + 1);
                Ok(PushOutcome::Accepted {
                    now_full: self.full(),
                })
            }
            Answer::BufferFull => Ok(PushOutcome::BufferFull),
            Answer::Nak => {
                let refused = refusal(&config, Command::Load, &reply);
                if self.full_after_refusal().await? {
                    debug!(%refused, "ascii: load refused, buffer full");
                    return Ok(PushOutcome::BufferFull);
                }
                Ok(PushOutcome::Refused(refused))
            }
        }
    }

    async fn poll(&mut self) -> Result<DeviceStatus, LinkError> {
        let config = Arc::clone(&self.config);
        let mut reading = match config.status() {
            Some(status) => self.read_status(status).await?,
            None => StatusReading::default(),
        };
        if let Some(counter) = config.counter() {
            reading.count = Some(self.read_counter(counter).await?);
        }
        let raw = reading.count.ok_or_else(|| {
            LinkError::Protocol("no print counter in the status or counter reply".to_owned())
        })?;
        let count = self
            .counter
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(raw);
        // Prints since the last reading took codes out of the buffer, unless the device just
        // reported its level itself.
        if reading.level.is_none()
            && let (Some(last), Some(queued)) = (self.last_count, self.queued)
        {
            self.queued = Some(queued.saturating_sub(count.saturating_sub(last)));
        }
        self.last_count = Some(count);
        Ok(DeviceStatus {
            progress: PrintProgress::Counter(count),
            fault: reading.fault,
            empty_print_gos: 0,
            unmatched_prints: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_six_digit_counter_wraps_forwards_and_steps_back_on_reset() {
        let mut tracker = CounterTracker::new(Some(1_000_000));
        assert_eq!(tracker.extend(999_998), 999_998);
        assert_eq!(tracker.extend(3), 1_000_003);
        assert_eq!(tracker.extend(1), 1_000_001, "a small step down is a reset");
        let mut tracker = CounterTracker::new(Some(1_000_000));
        assert_eq!(tracker.extend(500_000), 500_000);
        assert_eq!(tracker.extend(0), 0, "a reset from mid-range steps back");
        let mut plain = CounterTracker::new(None);
        assert_eq!(plain.extend(10), 10);
        assert_eq!(plain.extend(2), 2);
    }
}
