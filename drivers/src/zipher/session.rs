//! The Zipher-style marker: serialization-buffer records confirmed by the "last record index
//! printed", over any byte stream.
//!
//! How the model maps onto the protocol (sources in `docs/protocols/zipher.md`):
//! - push a code: `SID|index|data|` (a record with tracemark's index) → `ACK`; on `ERR`, `SRC`
//!   (record count) against `SGM` (maximum records) tells a full buffer from a refusal;
//! - confirm prints: poll `SLR` (last record index printed) → [`PrintProgress::LastIndex`];
//! - faults: `GST` error state 2 → `GFT` for the fault list;
//! - prints without a record: the `GST` total count advancing more than the printed index
//!   (`SLR` is read before and after `GST`, so a print between the requests is not mistaken
//!   for one);
//! - start / stop: `SST|3|` (running) / `SST|4|` (offline), then `SCB` (clear the buffer).

use std::collections::VecDeque;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, timeout_at};
use tracing::{debug, trace};

use super::codec::{
    ErrorState, LineDecoder, MachineState, OverallState, Response, decode_faults, decode_number,
    encode_command,
};
use crate::marker::{
    DeviceSession, DeviceStatus, LinkError, MarkerDevice, PrintProgress, PushOutcome, Refusal,
};
use crate::transport::{BoxedStream, Transport};

/// Zipher driver settings. Every default is given where it is defined.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ZipherConfig {
    /// Longest wait for a reply. Default 1,000 ms: `SST` answers after the state change.
    pub reply_timeout_ms: u64,
    /// Job to select (`SEL`) before printing; `None` keeps the selected job. Default `None`.
    pub job: Option<String>,
    /// The job's variable field the code goes into (`SHO` header). Default `SERIAL`.
    pub field: String,
}

impl Default for ZipherConfig {
    fn default() -> Self {
        Self {
            reply_timeout_ms: 1_000,
            job: None,
            field: "SERIAL".to_owned(),
        }
    }
}

/// A Zipher-protocol printer reached through a [`Transport`].
#[derive(Debug, Clone)]
pub struct ZipherMarker {
    transport: Transport,
    config: ZipherConfig,
    /// Added to tracemark's sequence numbers to make record indices. Read once, from the
    /// coder's last printed index at the first connection: the coder remembers indices from
    /// before this driver started (another run, another controller), and a new record must
    /// never reuse one, or an old `SLR` would confirm it.
    index_offset: Option<u64>,
}

impl ZipherMarker {
    /// A printer on `transport`.
    pub fn new(transport: Transport, config: ZipherConfig) -> Self {
        Self {
            transport,
            config,
            index_offset: None,
        }
    }
}

impl MarkerDevice for ZipherMarker {
    type Session = ZipherSession;

    async fn connect(&mut self) -> Result<ZipherSession, LinkError> {
        let stream = self.transport.open().await?;
        let link = ZipherLink::new(
            stream,
            Duration::from_millis(self.config.reply_timeout_ms.max(1)),
        );
        let mut session = ZipherSession::new(link, self.config.clone(), 0);
        let offset = match self.index_offset {
            Some(offset) => offset,
            None => {
                let offset = session.number("SLR").await?.unwrap_or(0);
                self.index_offset = Some(offset);
                offset
            }
        };
        session.index_offset = offset;
        Ok(session)
    }

    fn describe(&self) -> String {
        format!("zipher {}", self.transport.describe())
    }
}

/// One command, one reply line, over any byte stream.
pub struct ZipherLink<S> {
    io: S,
    decoder: LineDecoder,
    unread: VecDeque<u8>,
    reply_timeout: Duration,
    skipped_lines: u64,
}

impl<S> std::fmt::Debug for ZipherLink<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZipherLink")
            .field("reply_timeout", &self.reply_timeout)
            .field("skipped_lines", &self.skipped_lines)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> ZipherLink<S> {
    /// A link over `io`.
    pub fn new(io: S, reply_timeout: Duration) -> Self {
        Self {
            io,
            decoder: LineDecoder::new(),
            unread: VecDeque::new(),
            reply_timeout,
            skipped_lines: 0,
        }
    }

    /// Lines skipped because they were not replies (line noise).
    pub fn skipped_lines(&self) -> u64 {
        self.skipped_lines
    }

    /// Sends a command and returns the first reply line that parses. Lines that are not
    /// replies (noise) are skipped: the protocol has no checksum, so what cannot be read as
    /// `ACK`, `ERR` or `TAG|…|` is not taken as an answer.
    pub async fn request(&mut self, name: &str, fields: &[&str]) -> Result<Response, LinkError> {
        let bytes =
            encode_command(name, fields).map_err(|error| LinkError::Protocol(error.to_string()))?;
        trace!(command = name, bytes = bytes.len(), "zipher request");
        self.io.write_all(&bytes).await?;
        self.io.flush().await?;
        let deadline = Instant::now() + self.reply_timeout;
        let mut buffer = [0u8; 512];
        loop {
            while let Some(byte) = self.unread.pop_front() {
                match self.decoder.push(byte) {
                    None => {}
                    Some(Err(error)) => {
                        debug!(%error, "zipher: skipping an overlong line");
                        self.skipped_lines += 1;
                    }
                    Some(Ok(line)) => match Response::parse(&line) {
                        Ok(response) => return Ok(response),
                        Err(error) => {
                            debug!(%error, "zipher: skipping a line that is not a reply");
                            self.skipped_lines += 1;
                        }
                    },
                }
            }
            let read = match timeout_at(deadline, self.io.read(&mut buffer)).await {
                Err(_) => {
                    return Err(LinkError::Timeout {
                        request: name.to_owned(),
                        timeout: self.reply_timeout,
                    });
                }
                Ok(read) => read?,
            };
            if read == 0 {
                return Err(LinkError::Closed);
            }
            self.unread.extend(&buffer[..read]);
        }
    }
}

/// The marker model over one Zipher link.
#[derive(Debug)]
pub struct ZipherSession {
    link: ZipherLink<BoxedStream>,
    config: ZipherConfig,
    prepared: bool,
    max_records: Option<u64>,
    /// Total count and last printed index at the previous poll, to spot prints without a record.
    last_counts: Option<(u64, u64)>,
    /// The buffer was cleared and nothing pushed since: the records it held were voided, so
    /// their indices will never print, and the next record's index jumps past them.
    cleared: bool,
    /// Record index = tracemark sequence number + this (see [`ZipherMarker`]).
    index_offset: u64,
}

impl ZipherSession {
    /// A session on `link`; record indices are tracemark's sequence numbers plus
    /// `index_offset`.
    pub fn new(link: ZipherLink<BoxedStream>, config: ZipherConfig, index_offset: u64) -> Self {
        Self {
            link,
            config,
            prepared: false,
            max_records: None,
            last_counts: None,
            cleared: false,
            index_offset,
        }
    }

    /// A command answered by `ACK`; `ERR` becomes a [`Refusal`].
    async fn command(
        &mut self,
        request: &'static str,
        name: &str,
        fields: &[&str],
    ) -> Result<Result<(), Refusal>, LinkError> {
        match self.link.request(name, fields).await? {
            Response::Ack => Ok(Ok(())),
            Response::Err => Ok(Err(Refusal::new(request, "ERR"))),
            other => Err(unexpected(name, "ACK or ERR", &other)),
        }
    }

    async fn number(&mut self, name: &'static str) -> Result<Option<u64>, LinkError> {
        match self.link.request(name, &[]).await? {
            Response::Err => Ok(None),
            response => decode_number(&response, name)
                .map(Some)
                .map_err(|error| LinkError::Protocol(error.to_string())),
        }
    }

    /// Selects the job and declares the record layout, once per session.
    async fn prepare(&mut self) -> Result<Result<(), Refusal>, LinkError> {
        if self.prepared {
            return Ok(Ok(()));
        }
        if let Some(job) = self.config.job.clone()
            && let Err(refusal) = self.command("job select (SEL)", "SEL", &[&job]).await?
        {
            return Ok(Err(refusal));
        }
        let field = self.config.field.clone();
        if let Err(refusal) = self
            .command("serialization header (SHO)", "SHO", &[&field])
            .await?
        {
            return Ok(Err(refusal));
        }
        self.max_records = self.number("SGM").await?;
        self.prepared = true;
        Ok(Ok(()))
    }
}

fn unexpected(name: &str, expected: &str, got: &Response) -> LinkError {
    LinkError::Protocol(format!(
        "{name} answered `{}`, expected {expected}",
        String::from_utf8_lossy(&got.encode()).trim_end()
    ))
}

impl ZipherSession {
    /// The machine state (`GST`, with its total count) and the last printed index (`SLR`) as of
    /// one moment, and whether they are. The two are separate requests, and a print between
    /// them moves the index without the count already read; so `SLR` is read on both sides of
    /// `GST` and the pair is consistent when it did not move. A line printing faster than a few
    /// round trips gets three tries; then the latest index is returned as not consistent.
    async fn counts(&mut self) -> Result<(MachineState, u64, bool), LinkError> {
        const TRIES: usize = 3;
        let mut before = self.number("SLR").await?.unwrap_or(0);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let reply = self.link.request("GST", &[]).await?;
            let state = MachineState::decode(&reply)
                .map_err(|error| LinkError::Protocol(error.to_string()))?;
            let after = self.number("SLR").await?.unwrap_or(0);
            if after == before || attempt == TRIES {
                return Ok((state, after, after == before));
            }
            before = after;
        }
    }
}

impl DeviceSession for ZipherSession {
    async fn stop_and_clear(&mut self) -> Result<Result<(), Refusal>, LinkError> {
        let offline = OverallState::Offline.code().to_string();
        // A machine already offline (or shut down) may refuse the transition; the buffer must be
        // cleared either way.
        let stopped = self
            .command("set state offline (SST)", "SST", &[&offline])
            .await?;
        let cleared = self.command("clear buffer (SCB)", "SCB", &[]).await?;
        self.cleared = cleared.is_ok();
        Ok(cleared.and(match stopped {
            Ok(()) => Ok(()),
            Err(refusal) => {
                debug!(%refusal, "SST offline refused, buffer cleared");
                Ok(())
            }
        }))
    }

    async fn start(&mut self) -> Result<Result<(), Refusal>, LinkError> {
        if let Err(refusal) = self.prepare().await? {
            return Ok(Err(refusal));
        }
        let running = OverallState::Running.code().to_string();
        self.command("set state running (SST)", "SST", &[&running])
            .await
    }

    async fn push(&mut self, index: u64, text: &str) -> Result<PushOutcome, LinkError> {
        if let Err(refusal) = self.prepare().await? {
            return Ok(PushOutcome::Refused(refusal));
        }
        let record = index.saturating_add(self.index_offset);
        if std::mem::take(&mut self.cleared)
            && let Some((_, last_index)) = self.last_counts.as_mut()
        {
            // The voided records' indices are skipped, not printed: count the next index
            // advance from just before this record.
            *last_index = (*last_index).max(record.saturating_sub(1));
        }
        let index = record.to_string();
        let fields = [index.as_str(), text];
        // A code with `|` or CR would break the framing: refuse it here, it never reaches the
        // device.
        if let Err(error) = encode_command("SID", &fields) {
            return Ok(PushOutcome::Refused(Refusal::new(
                "record (SID)",
                error.to_string(),
            )));
        }
        match self.link.request("SID", &fields).await? {
            Response::Ack => Ok(PushOutcome::Accepted { now_full: false }),
            Response::Err => {
                let count = self.number("SRC").await?;
                match (count, self.max_records) {
                    (Some(count), Some(max)) if count >= max => Ok(PushOutcome::BufferFull),
                    _ => Ok(PushOutcome::Refused(Refusal::new(
                        "record (SID)",
                        format!(
                            "ERR with {} of {} records in the buffer",
                            count.map_or_else(|| "?".to_owned(), |c| c.to_string()),
                            self.max_records
                                .map_or_else(|| "?".to_owned(), |m| m.to_string())
                        ),
                    ))),
                }
            }
            other => Err(unexpected("SID", "ACK or ERR", &other)),
        }
    }

    async fn poll(&mut self) -> Result<DeviceStatus, LinkError> {
        let (state, last_index, consistent) = self.counts().await?;
        let fault = if state.error() == ErrorState::Faults {
            let faults_reply = self.link.request("GFT", &[]).await?;
            let faults = decode_faults(&faults_reply)
                .map_err(|error| LinkError::Protocol(error.to_string()))?;
            let list: Vec<String> = faults.iter().map(ToString::to_string).collect();
            Some(if list.is_empty() {
                "fault state without a fault listed".to_owned()
            } else {
                list.join("; ")
            })
        } else {
            None
        };
        let mut fault = fault;
        let unmatched_prints = match self.last_counts {
            // Counts that moved while they were read cannot be compared: the next poll does.
            Some(_) if !consistent => 0,
            Some((total, index)) => {
                let prints = state.total_count().saturating_sub(total);
                // An index at or below the offset was another session's: count from the
                // offset, where this session's records start.
                let indexed = last_index.saturating_sub(index.max(self.index_offset));
                if indexed > prints && fault.is_none() {
                    // Records counted as printed that the machine never printed: the
                    // confirmation cannot be trusted.
                    fault = Some(format!(
                        "last printed index advanced by {indexed}, total count by {prints}"
                    ));
                }
                prints.saturating_sub(indexed)
            }
            None => 0,
        };
        if consistent {
            // The index never goes back: a floor set when a clear skipped indices
            // (`push`) holds until a record past it prints.
            let floor = self.last_counts.map_or(0, |(_, index)| index);
            self.last_counts = Some((state.total_count(), last_index.max(floor)));
        }
        // Indices at or below the offset predate this driver: they confirm nothing.
        let progress = match last_index.checked_sub(self.index_offset) {
            Some(sequence) if sequence > 0 => PrintProgress::LastIndex(sequence),
            _ => PrintProgress::Nothing,
        };
        Ok(DeviceStatus {
            progress,
            fault,
            empty_print_gos: 0,
            unmatched_prints,
        })
    }
}
