//! The ZPL label printer: one label per code, confirmed from the printer's label odometer and
//! the labels it still holds, over any byte stream.
//!
//! How the model maps onto ZPL (sources in `docs/protocols/zpl.md`):
//! - start: `^XA^MMA^XZ` (applicator mode: a label waits for the start-print signal) and
//!   `^XA^DF…^XZ` (store the template) once per session, then `~PS` (resume), then `~HS` to
//!   check the printer is unpaused, healthy and in applicator mode;
//! - push a code: `^XA^XF<template>^FS^FN…^FD<code>^FS^XZ`. ZPL acknowledges no format, so
//!   the push gets no answer: a full buffer is the configured `max_queued_labels` or the
//!   `~HS` receive-buffer-full flag, both known before sending;
//! - confirm prints, detect refusals and prints without a code: [`LabelTally`] over the SGD
//!   label odometer and `~HS` formats in buffer + labels remaining, read as one snapshot;
//! - faults: `~HS` head up, paper out, ribbon out, temperature, corrupt RAM; a pause the
//!   driver did not ask for; silence (no `~HS` answer within the reply timeout);
//! - stop and clear: `~PP~JA` (pause, cancel all), checked by `~HS` showing nothing queued.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, timeout_at};
use tracing::{debug, trace};

use super::codec::{
    APPLICATOR_MODE, HOST_STATUS, LABEL_COUNT_QUERY, LabelError, LabelTemplate,
    PAUSE_AND_CANCEL_ALL, PRINT_START, TemplateName, encode_store_template,
};
use super::reply::{Reply, ReplyDecoder, parse_label_count};
use super::status::{HostStatus, PrintMode};
use super::tally::{LabelTally, Observation};
use crate::marker::{
    DeviceSession, DeviceStatus, LinkError, MarkerDevice, PrintProgress, PushOutcome, Refusal,
};
use crate::transport::{BoxedStream, Transport};

/// Odometer–`~HS`–odometer readings tried per poll for a consistent snapshot before the poll
/// gives up confirming (it still reports faults).
const SNAPSHOT_ATTEMPTS: usize = 3;

/// One fixed field of the label: `^FN<number>` filled with `data` on every label.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZplField {
    /// The template's field number, 0–9999.
    pub number: u16,
    /// What it prints (product name, batch, expiry, …).
    pub data: String,
}

/// ZPL driver settings. Every default is given where it is defined.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ZplConfig {
    /// Longest wait for a reply before the printer counts as silent. Default 1,000 ms: a
    /// printer answers `~HS` at once, but a network printer busy rendering may lag.
    pub reply_timeout_ms: u64,
    /// The stored format recalled for every label, `d:NAME.ZPL`. Default `R:TRACE.ZPL`.
    pub template_name: String,
    /// Store the template (`^DF`) at every start; `false` when the printer already holds it.
    /// Default `true`.
    pub store_template: bool,
    /// The template's ZPL, between `^DF` and `^XZ`: field positions, fonts, symbols, with
    /// `^FN<n>` where data goes. Default `None`: a GS1 DataMatrix of the code with the code as
    /// text below ([`default_template_body`]).
    pub template_body: Option<String>,
    /// The field number the code goes into. Default 1.
    pub code_field: u16,
    /// Fixed fields filled on every label. Default none.
    pub fields: Vec<ZplField>,
    /// Most labels the driver lets wait in the printer; the next push is answered "buffer
    /// full". Set it to what the printer's receive buffer holds at most. Default 32: a
    /// recalled label is under 200 bytes, far below any ZPL printer's receive buffer, and
    /// above the line's default high watermark (16), which then governs.
    pub max_queued_labels: u64,
    /// Put the printer in applicator mode (`^MMA`) and refuse to start in any other print
    /// mode: only there does a label wait for the product. Default `true`.
    pub applicator_mode: bool,
}

impl Default for ZplConfig {
    fn default() -> Self {
        Self {
            reply_timeout_ms: 1_000,
            template_name: "R:TRACE.ZPL".to_owned(),
            store_template: true,
            template_body: None,
            code_field: 1,
            fields: Vec::new(),
            max_queued_labels: 32,
            applicator_mode: true,
        }
    }
}

impl ZplConfig {
    /// Every refusal of these settings, before anything is sent: the template name, the fixed
    /// fields (numbers, duplicates, data lengths) and, when the template is stored, its body
    /// (no `^XA`/`^XZ`/`^DF`/`^XF`/`~`, and it places the code). What [`ZplSession`] refuses at
    /// start; a line config calls it when it is compiled.
    pub fn check(&self) -> Result<(), LabelError> {
        self.labels().map(|_| ())
    }

    /// The label recalled for every code and, when the template is stored, the `^DF` that
    /// stores it.
    fn labels(&self) -> Result<(LabelTemplate, Option<Vec<u8>>), LabelError> {
        let name = TemplateName::parse(&self.template_name)?;
        let fields: Vec<(u16, String)> = self
            .fields
            .iter()
            .map(|field| (field.number, field.data.clone()))
            .collect();
        let template = LabelTemplate::new(&name, self.code_field, &fields)?;
        let store = if self.store_template {
            let body = self
                .template_body
                .clone()
                .unwrap_or_else(|| default_template_body(self.code_field));
            Some(encode_store_template(&name, &body, self.code_field)?)
        } else {
            None
        };
        Ok((template, store))
    }
}

/// The built-in template: the code as a DataMatrix (`^BX`, ECC 200) and as text.
pub fn default_template_body(code_field: u16) -> String {
    format!("^FO50,50^BXN,8,200^FN{code_field}^FS^FO50,330^A0N,30,30^FN{code_field}^FS")
}

/// A ZPL label printer reached through a [`Transport`].
#[derive(Debug, Clone)]
pub struct ZplPrinter {
    transport: Transport,
    config: ZplConfig,
    /// Kept across sessions: labels queued in the printer outlive a TCP connection and print
    /// while the link is down; the next session counts them from the same window.
    tally: Arc<Mutex<LabelTally>>,
}

impl ZplPrinter {
    /// A printer on `transport`.
    pub fn new(transport: Transport, config: ZplConfig) -> Self {
        Self {
            transport,
            config,
            tally: Arc::new(Mutex::new(LabelTally::new())),
        }
    }
}

impl MarkerDevice for ZplPrinter {
    type Session = ZplSession;

    async fn connect(&mut self) -> Result<ZplSession, LinkError> {
        let stream = self.transport.open().await?;
        let link = ZplLink::new(
            stream,
            Duration::from_millis(self.config.reply_timeout_ms.max(1)),
        );
        Ok(ZplSession::new(
            link,
            self.config.clone(),
            Arc::clone(&self.tally),
        ))
    }

    fn describe(&self) -> String {
        format!("zpl {}", self.transport.describe())
    }
}

/// Commands out, replies in, over any byte stream. Formats and control commands get no reply;
/// `~HS` and SGD `getvar` do.
pub struct ZplLink<S> {
    io: S,
    decoder: ReplyDecoder,
    unread: VecDeque<u8>,
    reply_timeout: Duration,
}

impl<S> std::fmt::Debug for ZplLink<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZplLink")
            .field("reply_timeout", &self.reply_timeout)
            .field("skipped_bytes", &self.decoder.skipped_bytes())
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> ZplLink<S> {
    /// A link over `io`.
    pub fn new(io: S, reply_timeout: Duration) -> Self {
        Self {
            io,
            decoder: ReplyDecoder::new(),
            unread: VecDeque::new(),
            reply_timeout,
        }
    }

    /// Bytes skipped outside replies so far (line noise, and the CR LF after each `~HS`
    /// string).
    pub fn skipped_bytes(&self) -> u64 {
        self.decoder.skipped_bytes()
    }

    /// Writes commands that get no reply.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), LinkError> {
        trace!(bytes = bytes.len(), "zpl send");
        self.io.write_all(bytes).await?;
        self.io.flush().await?;
        Ok(())
    }

    /// `~HS`: the host status.
    pub async fn host_status(&mut self) -> Result<HostStatus, LinkError> {
        match self.request(HOST_STATUS, "host status (~HS)").await? {
            Reply::HostStatus(status) => Ok(*status),
            Reply::Value(value) => Err(LinkError::Protocol(format!(
                "~HS answered with the SGD value \"{value}\""
            ))),
        }
    }

    /// The SGD `odometer.total_label_count`: labels printed over the printer's life.
    pub async fn label_count(&mut self) -> Result<u64, LinkError> {
        let what = "label odometer (getvar odometer.total_label_count)";
        match self.request(LABEL_COUNT_QUERY, what).await? {
            Reply::Value(value) => parse_label_count(&value).ok_or_else(|| {
                LinkError::Protocol(format!(
                    "odometer.total_label_count is \"{value}\", not a count: the printer has \
                     no label odometer"
                ))
            }),
            Reply::HostStatus(_) => Err(LinkError::Protocol(
                "getvar odometer.total_label_count answered with a ~HS status".to_owned(),
            )),
        }
    }

    /// Sends `bytes` and returns the first reply. Noise is skipped; a broken reply is a
    /// protocol error (the session ends and the reconnection settles the buffer).
    async fn request(&mut self, bytes: &[u8], what: &'static str) -> Result<Reply, LinkError> {
        self.decoder.reset();
        self.send(bytes).await?;
        let deadline = Instant::now() + self.reply_timeout;
        let mut buffer = [0u8; 512];
        loop {
            while let Some(byte) = self.unread.pop_front() {
                if let Some(result) = self.decoder.push(byte) {
                    return result.map_err(|error| LinkError::Protocol(error.to_string()));
                }
            }
            let read = match timeout_at(deadline, self.io.read(&mut buffer)).await {
                Err(_) => {
                    return Err(LinkError::Timeout {
                        request: what.to_owned(),
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

/// One reading of the printer.
struct Snapshot {
    status: HostStatus,
    /// The odometer after `~HS`.
    odometer: u64,
    /// The odometer read the same before `~HS`: no print happened in between, so the two
    /// numbers describe one moment.
    consistent: bool,
}

/// The marker model over one ZPL link.
#[derive(Debug)]
pub struct ZplSession {
    link: ZplLink<BoxedStream>,
    config: ZplConfig,
    tally: Arc<Mutex<LabelTally>>,
    /// The label encoder, once the template is stored.
    template: Option<LabelTemplate>,
    /// The driver resumed printing (`~PS`) and has not paused it since: a pause now is the
    /// operator's, a fault.
    running: bool,
    /// The last `~HS` said the receive buffer is full.
    printer_full: bool,
    /// What the cancel in `stop_and_clear` settled, reported by the next poll.
    settled: Observation,
    /// Reused for every label.
    label: Vec<u8>,
}

impl ZplSession {
    /// A session on `link`, counting labels in `tally` (shared with the sessions before it).
    pub fn new(
        link: ZplLink<BoxedStream>,
        config: ZplConfig,
        tally: Arc<Mutex<LabelTally>>,
    ) -> Self {
        Self {
            link,
            config,
            tally,
            template: None,
            running: false,
            printer_full: false,
            settled: Observation::default(),
            label: Vec::with_capacity(256),
        }
    }

    fn tally(&self) -> MutexGuard<'_, LabelTally> {
        // The tally is plain numbers, updated in single statements: usable after a panic.
        self.tally.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets the print mode and stores the template, once per session.
    async fn prepare(&mut self) -> Result<Result<(), Refusal>, LinkError> {
        if self.template.is_some() {
            return Ok(Ok(()));
        }
        let (template, store) = match self.config.labels() {
            Ok(prepared) => prepared,
            Err(error) => return Ok(Err(Refusal::new("template (^DF)", error.to_string()))),
        };
        if self.config.applicator_mode {
            self.link.send(APPLICATOR_MODE).await?;
        }
        if let Some(store) = store {
            self.link.send(&store).await?;
        }
        self.template = Some(template);
        Ok(Ok(()))
    }

    /// Odometer, `~HS`, odometer, until the two odometer readings agree.
    async fn snapshot(&mut self) -> Result<Snapshot, LinkError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let before = self.link.label_count().await?;
            let status = self.link.host_status().await?;
            let odometer = self.link.label_count().await?;
            let consistent = before == odometer;
            if consistent || attempt >= SNAPSHOT_ATTEMPTS {
                if !consistent {
                    debug!(before, odometer, "zpl: printing during every reading");
                }
                self.printer_full = status.buffer_full();
                return Ok(Snapshot {
                    status,
                    odometer,
                    consistent,
                });
            }
        }
    }

    fn max_queued(&self) -> u64 {
        self.config.max_queued_labels.max(1)
    }
}

impl DeviceSession for ZplSession {
    async fn stop_and_clear(&mut self) -> Result<Result<(), Refusal>, LinkError> {
        self.link.send(PAUSE_AND_CANCEL_ALL).await?;
        self.running = false;
        let snapshot = self.snapshot().await?;
        let pending = snapshot.status.labels_pending();
        if pending > 0 {
            // Not cleared: what is left may still print, so the window stays open.
            return Ok(Err(Refusal::new(
                "cancel all (~JA)",
                format!("{pending} label(s) still queued"),
            )));
        }
        // Nothing of ours can print any more: the odometer now tells every label that did.
        let settled = self.tally().close_window(snapshot.odometer);
        self.settled = merge(self.settled, settled);
        Ok(Ok(()))
    }

    async fn start(&mut self) -> Result<Result<(), Refusal>, LinkError> {
        if let Err(refusal) = self.prepare().await? {
            return Ok(Err(refusal));
        }
        self.link.send(PRINT_START).await?;
        let status = self.link.host_status().await?;
        self.printer_full = status.buffer_full();
        let request = "print start (~PS)";
        if status.paused() {
            return Ok(Err(Refusal::new(request, "the printer is still paused")));
        }
        let faults = status.faults();
        if !faults.is_empty() {
            return Ok(Err(Refusal::new(request, faults.join("; "))));
        }
        if self.config.applicator_mode && status.print_mode() != PrintMode::Applicator {
            // In any other mode a label prints as it arrives, not when the product does.
            return Ok(Err(Refusal::new(
                request,
                format!(
                    "print mode is {}, not applicator: labels would print as they arrive",
                    status.print_mode()
                ),
            )));
        }
        self.running = true;
        Ok(Ok(()))
    }

    async fn push(&mut self, _index: u64, text: &str) -> Result<PushOutcome, LinkError> {
        if let Err(refusal) = self.prepare().await? {
            return Ok(PushOutcome::Refused(refusal));
        }
        if self.printer_full || self.tally().waiting() >= self.max_queued() {
            return Ok(PushOutcome::BufferFull);
        }
        let Some(template) = &self.template else {
            return Ok(PushOutcome::Refused(Refusal::new(
                "label (^XF)",
                "no template stored",
            )));
        };
        self.label.clear();
        // A code too long for ^FD never reaches the printer; ^ and ~ go out escaped (^FH).
        if let Err(error) = template.encode_label(text, &mut self.label) {
            return Ok(PushOutcome::Refused(Refusal::new(
                "label (^XF)",
                error.to_string(),
            )));
        }
        // Counted before writing: a label cut off by a lost link is never confirmed by
        // mistake, one that got through is still counted.
        self.tally().record_sent();
        let label = std::mem::take(&mut self.label);
        let sent = self.link.send(&label).await;
        self.label = label;
        sent?;
        Ok(PushOutcome::Accepted {
            now_full: self.tally().waiting() >= self.max_queued(),
        })
    }

    async fn poll(&mut self) -> Result<DeviceStatus, LinkError> {
        let snapshot = self.snapshot().await?;
        let mut observation = std::mem::take(&mut self.settled);
        if snapshot.consistent {
            let fresh = self
                .tally()
                .observe(snapshot.odometer, snapshot.status.labels_pending());
            observation = merge(observation, fresh);
        }
        let status = &snapshot.status;
        let mut faults: Vec<String> = status.faults().into_iter().map(str::to_owned).collect();
        if self.running && status.paused() {
            faults.push("printer paused".to_owned());
        }
        if observation.dropped > 0 {
            faults.push(format!(
                "printer discarded {} label(s) it was sent (format refused or receive buffer \
                 overflow)",
                observation.dropped
            ));
        }
        if let Some((from, to)) = observation.went_back {
            faults.push(format!("label odometer went back from {from} to {to}"));
        }
        let progress = match observation.printed {
            0 => PrintProgress::Nothing,
            printed => PrintProgress::Printed(printed),
        };
        Ok(DeviceStatus {
            progress,
            fault: (!faults.is_empty()).then(|| faults.join("; ")),
            // ZPL reports no print-go on an empty buffer; a reprint shows as an unmatched
            // print.
            empty_print_gos: 0,
            unmatched_prints: observation.unmatched,
        })
    }
}

fn merge(earlier: Observation, later: Observation) -> Observation {
    Observation {
        printed: earlier.printed + later.printed,
        unmatched: earlier.unmatched + later.unmatched,
        dropped: later.dropped,
        went_back: later.went_back.or(earlier.went_back),
    }
}
