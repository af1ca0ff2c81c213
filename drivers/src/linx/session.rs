//! The Linx marker: one request at a time over any byte stream, mapped onto the marker model.
//!
//! How the model maps onto RCI (sources in `docs/protocols/linx-rci.md`):
//! - push a code: Download Remote Field Data (1Dh); C-status 42h "remote buffer now full" means
//!   stored and full, 43h "remote buffer still full" means not stored;
//! - confirm prints: poll Request Print Count (08h), the print counter;
//! - faults: Printer Status Request (14h) — P-status, jet state, error mask;
//! - print-go on an empty buffer: error-mask bit 5 "print go / remote data" or bit 24 "print go
//!   old pattern", and any print beyond the codes in flight;
//! - stop and clear: Stop Print (12h), with the printer's "Clear Buffers" option enabled.

use std::collections::VecDeque;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, timeout_at};
use tracing::trace;

use super::empty::EmptyPrintGos;
use super::frame::{FrameDecoder, FrameError};
use super::message::{
    self, Command, CommandStatus, JetState, PrintCounts, PrinterStatus, Reply, command,
};
use crate::marker::{
    DeviceSession, DeviceStatus, LinkError, MarkerDevice, PrintProgress, PushOutcome, Refusal,
};
use crate::transport::{BoxedStream, Transport};

/// Linx driver settings. Every default is given where it is defined.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinxConfig {
    /// Longest wait for a reply before the link counts as silent. Default 500 ms: at 9,600
    /// baud the longest reply tracemark asks for is under 20 ms on the wire.
    pub reply_timeout_ms: u64,
    /// Stored message to load (1Eh) before printing; `None` prints the message already
    /// loaded. It must contain one remote field. Default `None`.
    pub message: Option<String>,
}

impl Default for LinxConfig {
    fn default() -> Self {
        Self {
            reply_timeout_ms: 500,
            message: None,
        }
    }
}

/// A Linx RCI printer reached through a [`Transport`].
#[derive(Debug, Clone)]
pub struct LinxMarker {
    transport: Transport,
    config: LinxConfig,
}

impl LinxMarker {
    /// A printer on `transport`.
    pub fn new(transport: Transport, config: LinxConfig) -> Self {
        Self { transport, config }
    }
}

impl MarkerDevice for LinxMarker {
    type Session = LinxSession;

    async fn connect(&mut self) -> Result<LinxSession, LinkError> {
        let stream = self.transport.open().await?;
        let link = LinxLink::new(
            stream,
            Duration::from_millis(self.config.reply_timeout_ms.max(1)),
        );
        Ok(LinxSession::new(link, self.config.message.clone()))
    }

    fn describe(&self) -> String {
        format!("linx-rci {}", self.transport.describe())
    }
}

/// One request, one reply, over any byte stream.
pub struct LinxLink<S> {
    io: S,
    decoder: FrameDecoder,
    unread: VecDeque<u8>,
    reply_timeout: Duration,
}

impl<S> std::fmt::Debug for LinxLink<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinxLink")
            .field("reply_timeout", &self.reply_timeout)
            .field("skipped_bytes", &self.decoder.skipped_bytes())
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> LinxLink<S> {
    /// A link over `io`.
    pub fn new(io: S, reply_timeout: Duration) -> Self {
        Self {
            io,
            decoder: FrameDecoder::new(),
            unread: VecDeque::new(),
            reply_timeout,
        }
    }

    /// Noise bytes skipped between replies so far.
    pub fn skipped_bytes(&self) -> u64 {
        self.decoder.skipped_bytes()
    }

    /// Sends `command` and returns the printer's reply to it. A NAK is a reply (a value the
    /// caller handles); silence, a broken packet or a reply to another command is a
    /// [`LinkError`].
    pub async fn request(&mut self, command: &Command) -> Result<Reply, LinkError> {
        let bytes = command.to_frame().encode();
        trace!(command = command.id(), bytes = bytes.len(), "rci request");
        self.io.write_all(&bytes).await?;
        self.io.flush().await?;
        let deadline = Instant::now() + self.reply_timeout;
        let mut buffer = [0u8; 256];
        loop {
            while let Some(byte) = self.unread.pop_front() {
                if let Some(result) = self.decoder.push(byte) {
                    return check_reply(command, result);
                }
            }
            let read = match timeout_at(deadline, self.io.read(&mut buffer)).await {
                Err(_) => {
                    return Err(LinkError::Timeout {
                        request: message::command_name(command.id()).to_owned(),
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

fn check_reply(
    command: &Command,
    decoded: Result<super::frame::Frame, FrameError>,
) -> Result<Reply, LinkError> {
    let frame = decoded.map_err(|error| LinkError::Protocol(error.to_string()))?;
    let reply =
        Reply::from_frame(&frame).map_err(|error| LinkError::Protocol(error.to_string()))?;
    if reply.command() != command.id() {
        return Err(LinkError::Protocol(format!(
            "reply answers command 0x{:02X}, but {} was sent",
            reply.command(),
            message::command_name(command.id())
        )));
    }
    Ok(reply)
}

/// The marker model over one Linx link.
#[derive(Debug)]
pub struct LinxSession {
    link: LinxLink<BoxedStream>,
    message: Option<String>,
    message_loaded: bool,
    /// The print-gos that found the remote buffer empty, from the counts and the error bits.
    empty_print_gos: EmptyPrintGos,
}

impl LinxSession {
    /// A session on `link`; `message` is loaded before the first start.
    pub fn new(link: LinxLink<BoxedStream>, message: Option<String>) -> Self {
        Self {
            link,
            message,
            message_loaded: false,
            empty_print_gos: EmptyPrintGos::default(),
        }
    }

    /// Sends a command; a NAK becomes a [`Refusal`].
    async fn command(
        &mut self,
        id: u8,
        data: Vec<u8>,
    ) -> Result<Result<Reply, Refusal>, LinkError> {
        let reply = self.link.request(&Command::new(id, data)).await?;
        if reply.accepted() {
            Ok(Ok(reply))
        } else {
            Ok(Err(Refusal::new(
                message::command_name(id),
                reply.command_status().to_string(),
            )))
        }
    }
}

impl DeviceSession for LinxSession {
    async fn stop_and_clear(&mut self) -> Result<Result<(), Refusal>, LinkError> {
        Ok(self
            .command(command::STOP_PRINT, Vec::new())
            .await?
            .map(|_| ()))
    }

    async fn start(&mut self) -> Result<Result<(), Refusal>, LinkError> {
        if let (Some(name), false) = (&self.message, self.message_loaded) {
            let data = match message::encode_message_name(name) {
                Ok(data) => data,
                Err(error) => {
                    return Ok(Err(Refusal::new(
                        message::command_name(command::LOAD_PRINT_MESSAGE),
                        error.to_string(),
                    )));
                }
            };
            if let Err(refusal) = self.command(command::LOAD_PRINT_MESSAGE, data).await? {
                return Ok(Err(refusal));
            }
            self.message_loaded = true;
        }
        let started = self
            .command(command::START_PRINT, Vec::new())
            .await?
            .map(|_| ());
        if started.is_ok() {
            self.empty_print_gos.started();
        }
        Ok(started)
    }

    async fn push(&mut self, _index: u64, text: &str) -> Result<PushOutcome, LinkError> {
        let data = match message::encode_remote_data(text.as_bytes()) {
            Ok(data) => data,
            Err(error) => {
                return Ok(PushOutcome::Refused(Refusal::new(
                    message::command_name(command::DOWNLOAD_REMOTE_DATA),
                    error.to_string(),
                )));
            }
        };
        let reply = self
            .link
            .request(&Command::new(command::DOWNLOAD_REMOTE_DATA, data))
            .await?;
        let status = reply.command_status();
        Ok(match status {
            CommandStatus::REMOTE_BUFFER_NOW_FULL => PushOutcome::Accepted { now_full: true },
            CommandStatus::REMOTE_BUFFER_STILL_FULL => PushOutcome::BufferFull,
            _ if reply.accepted() => PushOutcome::Accepted { now_full: false },
            _ => PushOutcome::Refused(Refusal::new(
                message::command_name(command::DOWNLOAD_REMOTE_DATA),
                status.to_string(),
            )),
        })
    }

    async fn poll(&mut self) -> Result<DeviceStatus, LinkError> {
        let status_reply = self
            .link
            .request(&Command::bare(command::PRINTER_STATUS))
            .await?;
        let status = PrinterStatus::decode(status_reply.data())
            .map_err(|error| LinkError::Protocol(error.to_string()))?;
        let count_reply = self
            .link
            .request(&Command::bare(command::REQUEST_PRINT_COUNT))
            .await?;
        let counts = PrintCounts::decode(count_reply.data())
            .map_err(|error| LinkError::Protocol(error.to_string()))?;

        let p_status = status_reply.printer_status();
        let fault = if p_status != 0 {
            Some(format!(
                "P-status 0x{p_status:02X} ({}), jet {:?}",
                message::printer_fault_name(p_status),
                status.jet()
            ))
        } else if status.jet() == JetState::Fault {
            Some("jet state: fault".to_owned())
        } else if status
            .errors()
            .contains(message::ErrorMask::PRINT_HEAD_COVER_OFF)
        {
            Some("print head cover off".to_owned())
        } else {
            None
        };
        let empty_print_gos = self.empty_print_gos.observe(
            status.errors().print_go_without_data(),
            (counts.product(), counts.print()),
        );
        Ok(DeviceStatus {
            progress: PrintProgress::Counter(u64::from(counts.print())),
            fault,
            empty_print_gos,
            // The print counter already counts every print against the codes in flight.
            unmatched_prints: 0,
        })
    }
}
