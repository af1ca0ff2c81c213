//! The Codenet marker: external-data entries confirmed by the product count, over any byte
//! stream.
//!
//! How the model maps onto the protocol (sources in `docs/protocols/codenet.md`):
//! - push a code: `OE` + length + code, one entry in the external data queue → `ACK`; a `NAK`
//!   whose code is configured as "queue full" means not stored, retry later; any other `NAK`
//!   is a refusal;
//! - confirm prints: poll the product count (`T1?`) → [`PrintProgress::Counter`];
//! - faults: the current status lamps (`O1?`); when the printer is not ready, the status code
//!   (`1C?`) says why;
//! - prints without a code: the product count running ahead of the codes in flight (a print-go
//!   on an empty queue that reprinted old data);
//! - start / stop: message assignment (`P1nnn`, optional) then print enable (`Q1Y`) / print
//!   disable (`Q1N`) then empty the queue (`OE00000`).

use std::collections::VecDeque;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, timeout_at};
use tracing::{debug, trace};

use super::frame::{NakCode, Packet, PacketDecoder};
use super::message::{
    Command, ExternalData, MessageNumber, PrinterStatus, ProductCount, StatusCode,
};
use crate::marker::{
    DeviceSession, DeviceStatus, LinkError, MarkerDevice, PrintProgress, PushOutcome, Refusal,
};
use crate::transport::{BoxedStream, Transport};

/// The NAK code tracemark takes for "external data queue full" unless the line config names
/// the printer's own. CS00145's error table was not readable, so this is tracemark's
/// placeholder, which its simulator uses too: **to verify** on a printer and configure.
pub const DEFAULT_QUEUE_FULL_NAK: NakCode = match NakCode::new(*b"040") {
    Some(code) => code,
    None => panic!("040 is three digits"),
};

/// Codenet driver settings. Every default is given where it is defined.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CodenetConfig {
    /// Longest wait for a reply before the link counts as silent. Default 1,000 ms.
    pub reply_timeout_ms: u64,
    /// Stored message (its number, 1–999, e.g. `"2"` or `"002"`) to assign to the head
    /// (`P1nnn`) before printing; its updatable field takes the external data. `None` prints
    /// the message already assigned. Default `None`.
    pub message: Option<String>,
    /// NAK codes that mean "external data queue full": the code is kept and pushed again
    /// after a print. Any other NAK to a push is a refusal. Default `["040"]`
    /// ([`DEFAULT_QUEUE_FULL_NAK`], to verify).
    pub queue_full_naks: Vec<String>,
}

impl Default for CodenetConfig {
    fn default() -> Self {
        Self {
            reply_timeout_ms: 1_000,
            message: None,
            queue_full_naks: vec![DEFAULT_QUEUE_FULL_NAK.as_str().to_owned()],
        }
    }
}

/// A Codenet printer reached through a [`Transport`] (TCP port 7000, or serial).
#[derive(Debug, Clone)]
pub struct CodenetMarker {
    transport: Transport,
    config: CodenetConfig,
}

impl CodenetMarker {
    /// A printer on `transport`.
    pub fn new(transport: Transport, config: CodenetConfig) -> Self {
        Self { transport, config }
    }
}

impl MarkerDevice for CodenetMarker {
    type Session = CodenetSession;

    async fn connect(&mut self) -> Result<CodenetSession, LinkError> {
        let stream = self.transport.open().await?;
        let link = CodenetLink::new(
            stream,
            Duration::from_millis(self.config.reply_timeout_ms.max(1)),
        );
        Ok(CodenetSession::new(link, &self.config))
    }

    fn describe(&self) -> String {
        format!("codenet {}", self.transport.describe())
    }
}

/// The printer's answer to one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `ACK`.
    Ack,
    /// `NAK` and its code.
    Nak(NakCode),
    /// A data reply's frame body.
    Data(Vec<u8>),
}

/// One command, one answer, over any byte stream.
pub struct CodenetLink<S> {
    io: S,
    decoder: PacketDecoder,
    unread: VecDeque<u8>,
    reply_timeout: Duration,
    damaged_replies: u64,
}

impl<S> std::fmt::Debug for CodenetLink<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodenetLink")
            .field("reply_timeout", &self.reply_timeout)
            .field("skipped_bytes", &self.decoder.skipped_bytes())
            .field("damaged_replies", &self.damaged_replies)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> CodenetLink<S> {
    /// A link over `io`.
    pub fn new(io: S, reply_timeout: Duration) -> Self {
        Self {
            io,
            decoder: PacketDecoder::replies(),
            unread: VecDeque::new(),
            reply_timeout,
            damaged_replies: 0,
        }
    }

    /// Noise bytes skipped between replies so far.
    pub fn skipped_bytes(&self) -> u64 {
        self.decoder.skipped_bytes()
    }

    /// Damaged replies skipped so far.
    pub fn damaged_replies(&self) -> u64 {
        self.damaged_replies
    }

    /// Sends `command` and returns the printer's answer. Codenet has no checksum, so bytes that
    /// do not decode (noise, a damaged packet) are skipped, not taken as an answer; the answer's
    /// shape is then checked against the command: a query must get its data reply (or a NAK),
    /// any other command an ACK or a NAK. Silence, a closed link or an answer of the wrong
    /// shape is a [`LinkError`].
    pub async fn request(&mut self, command: &Command) -> Result<Answer, LinkError> {
        let bytes = command.to_packet().encode();
        trace!(
            command = command.name(),
            bytes = bytes.len(),
            "codenet request"
        );
        self.io.write_all(&bytes).await?;
        self.io.flush().await?;
        let deadline = Instant::now() + self.reply_timeout;
        let mut buffer = [0u8; 512];
        loop {
            while let Some(byte) = self.unread.pop_front() {
                for decoded in self.decoder.push(byte) {
                    match decoded {
                        Ok(packet) => return check_answer(command, packet),
                        Err(error) => {
                            debug!(%error, "codenet: skipping a damaged reply");
                            self.damaged_replies += 1;
                        }
                    }
                }
            }
            let read = match timeout_at(deadline, self.io.read(&mut buffer)).await {
                Err(_) => {
                    return Err(LinkError::Timeout {
                        request: command.name().to_owned(),
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

fn check_answer(command: &Command, packet: Packet) -> Result<Answer, LinkError> {
    match (packet, command.reply_prefix()) {
        (Packet::Nak(code), _) => Ok(Answer::Nak(code)),
        (Packet::Ack, None) => Ok(Answer::Ack),
        (Packet::Frame(body), Some(prefix)) if body.starts_with(prefix) => Ok(Answer::Data(body)),
        (packet, _) => Err(LinkError::Protocol(format!(
            "{} answered {}",
            command.name(),
            describe_packet(&packet)
        ))),
    }
}

fn describe_packet(packet: &Packet) -> String {
    match packet {
        Packet::Ack => "ACK".to_owned(),
        Packet::Nak(code) => format!("NAK {code}"),
        Packet::Frame(body) => format!(
            "the data reply `{}`",
            body.iter()
                .flat_map(|&b| std::ascii::escape_default(b))
                .map(char::from)
                .collect::<String>()
        ),
    }
}

/// The marker model over one Codenet link.
#[derive(Debug)]
pub struct CodenetSession {
    link: CodenetLink<BoxedStream>,
    message: Option<String>,
    message_assigned: bool,
    queue_full_naks: Vec<NakCode>,
}

impl CodenetSession {
    /// A session on `link` with `config`'s message and queue-full codes (codes that are not
    /// three digits never match a NAK).
    pub fn new(link: CodenetLink<BoxedStream>, config: &CodenetConfig) -> Self {
        Self {
            link,
            message: config.message.clone(),
            message_assigned: false,
            queue_full_naks: config
                .queue_full_naks
                .iter()
                .filter_map(|code| NakCode::parse(code))
                .collect(),
        }
    }

    /// A command answered by `ACK`; a `NAK` becomes a [`Refusal`].
    async fn command(&mut self, command: &Command) -> Result<Result<(), Refusal>, LinkError> {
        match self.link.request(command).await? {
            Answer::Ack => Ok(Ok(())),
            Answer::Nak(code) => Ok(Err(Refusal::new(command.name(), format!("NAK {code}")))),
            Answer::Data(_) => Err(LinkError::Protocol(format!(
                "{} answered with data",
                command.name()
            ))),
        }
    }

    /// A query's data reply; a `NAK` is `None`.
    async fn query(&mut self, command: &Command) -> Result<Option<Vec<u8>>, LinkError> {
        match self.link.request(command).await? {
            Answer::Data(body) => Ok(Some(body)),
            Answer::Nak(code) => {
                debug!(command = command.name(), %code, "codenet query refused");
                Ok(None)
            }
            Answer::Ack => Err(LinkError::Protocol(format!(
                "{} answered ACK, not data",
                command.name()
            ))),
        }
    }

    /// Why the printer is not ready, from its status code.
    async fn not_ready_detail(&mut self, status: PrinterStatus) -> Result<String, LinkError> {
        let code = match self.query(&Command::QueryStatusCode).await? {
            Some(body) => StatusCode::parse(&body)
                .map_err(|error| LinkError::Protocol(error.to_string()))?
                .code()
                .to_owned(),
            None => "unknown".to_owned(),
        };
        Ok(format!("not ready: {status}, status code {code}"))
    }
}

impl DeviceSession for CodenetSession {
    async fn stop_and_clear(&mut self) -> Result<Result<(), Refusal>, LinkError> {
        // A printer already disabled (or faulted) may refuse; the queue must be emptied either
        // way, so nothing sent can print any more.
        if let Err(refusal) = self.command(&Command::SetPrintEnable(false)).await? {
            debug!(%refusal, "print disable refused, emptying the queue anyway");
        }
        self.command(&Command::ClearExternalData).await
    }

    async fn start(&mut self) -> Result<Result<(), Refusal>, LinkError> {
        if let (Some(text), false) = (self.message.clone(), self.message_assigned) {
            let Some(number) = MessageNumber::parse(text.trim()) else {
                return Ok(Err(Refusal::new(
                    "message assignment (P)",
                    format!("`{text}` is not a message number 1–999"),
                )));
            };
            if let Err(refusal) = self.command(&Command::AssignMessage(number)).await? {
                return Ok(Err(refusal));
            }
            self.message_assigned = true;
        }
        self.command(&Command::SetPrintEnable(true)).await
    }

    async fn push(&mut self, _index: u64, text: &str) -> Result<PushOutcome, LinkError> {
        let data = match ExternalData::single_field(text) {
            Ok(data) => data,
            Err(error) => {
                // Never reaches the printer: a reserved byte would break the framing.
                return Ok(PushOutcome::Refused(Refusal::new(
                    "external data (OE)",
                    error.to_string(),
                )));
            }
        };
        let command = Command::ExternalData(data);
        Ok(match self.link.request(&command).await? {
            Answer::Ack => PushOutcome::Accepted { now_full: false },
            Answer::Nak(code) if self.queue_full_naks.contains(&code) => PushOutcome::BufferFull,
            Answer::Nak(code) => {
                PushOutcome::Refused(Refusal::new(command.name(), format!("NAK {code}")))
            }
            Answer::Data(_) => {
                return Err(LinkError::Protocol(format!(
                    "{} answered with data",
                    command.name()
                )));
            }
        })
    }

    async fn poll(&mut self) -> Result<DeviceStatus, LinkError> {
        let status_body = self
            .query(&Command::QueryStatus)
            .await?
            .ok_or_else(|| LinkError::Protocol("current status (O1 ?) refused".to_owned()))?;
        let status = PrinterStatus::parse(&status_body)
            .map_err(|error| LinkError::Protocol(error.to_string()))?;
        let fault = if status.ready() {
            None
        } else {
            Some(self.not_ready_detail(status).await?)
        };
        let count_body = self
            .query(&Command::QueryProductCount)
            .await?
            .ok_or_else(|| LinkError::Protocol("product count (T ?) refused".to_owned()))?;
        let count = ProductCount::parse(&count_body)
            .map_err(|error| LinkError::Protocol(error.to_string()))?;
        Ok(DeviceStatus {
            progress: PrintProgress::Counter(count.get()),
            fault,
            // Codenet reports no "print-go without data" flag tracemark could verify; a reprint
            // shows as the product count running ahead of the codes in flight.
            empty_print_gos: 0,
            // The product count already counts every print against the codes in flight.
            unmatched_prints: 0,
        })
    }
}
