//! Probing one device of a line config before the line runs (`tracemark driver probe`,
//! docs/integrator.md §3): the steps over the drivers (markers through the `MarkerDevice` trait,
//! the PLC through `LineIo`), the report they make, and the hints for the failures integrators
//! meet.
//!
//! The probe never prints and never moves the line: a marker is stopped (and its buffer
//! cleared) *before* the test code goes in, so a print-go arriving during the probe finds
//! printing off, and it is cleared again after, so the next start cannot print it (SPEC §5:
//! never reprint on an empty buffer); a PLC is only read.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::config::{Marker, MarkerKind, Plc, Transport};
use crate::line::{device_transport, marker_device};
use serde::Serialize;
use tracemark_drivers::lineio::{LineIo, LineIoError, LineIoPoll, RejectStatus};
use tracemark_drivers::marker::{
    DeviceSession, DeviceStatus, LinkError, MarkerDevice, PrintProgress, PushOutcome, Refusal,
};

/// What the probe saw.
#[derive(Debug, Serialize)]
pub struct Report {
    /// `markers.NAME` or `plcs.NAME`.
    device: String,
    /// The marker type, or `line_io` for a PLC.
    kind: String,
    /// Where, as the config says.
    transport: String,
    /// The Modbus unit id, for Modbus devices.
    #[serde(skip_serializing_if = "Option::is_none")]
    unit_id: Option<u8>,
    /// The test code (markers).
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<String>,
    steps: Vec<Step>,
    /// The PLC's inputs as polled.
    #[serde(skip_serializing_if = "Option::is_none")]
    poll: Option<PlcReading>,
    /// Every step passed.
    ok: bool,
    /// The test code may still be in the marker's buffer (a clear failed after it was loaded).
    code_left: bool,
    /// The first failure and its likely cause.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<String>,
}

/// One request (or connection) and its round trip.
#[derive(Debug, Serialize)]
struct Step {
    step: &'static str,
    /// Where the connection went (the `connect` step).
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<String>,
    ok: bool,
    ms: f64,
    /// What the device said, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    /// A marker's status (the `status` steps).
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<MarkerReading>,
    /// The driver's error.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<String>,
}

impl Step {
    fn ok(step: &'static str, elapsed: Duration, detail: impl Into<String>) -> Self {
        let detail: String = detail.into();
        Step {
            step,
            target: None,
            ok: true,
            ms: millis(elapsed),
            detail: (!detail.is_empty()).then_some(detail),
            status: None,
            error: None,
            hint: None,
        }
    }

    fn failed(
        step: &'static str,
        elapsed: Duration,
        error: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Step {
            step,
            target: None,
            ok: false,
            ms: millis(elapsed),
            detail: None,
            status: None,
            error: Some(error.into()),
            hint: Some(hint.into()),
        }
    }

    fn at(mut self, target: String) -> Self {
        self.target = Some(target);
        self
    }
}

/// Milliseconds with 0.1 ms resolution: finer is noise from the scheduler.
fn millis(elapsed: Duration) -> f64 {
    (elapsed.as_secs_f64() * 10_000.0).round() / 10.0
}

#[derive(Debug, Clone, Serialize)]
struct MarkerReading {
    fault: Option<String>,
    /// The device's print counter (Linx, Modbus markers).
    #[serde(skip_serializing_if = "Option::is_none")]
    print_count: Option<u64>,
    /// The last record printed since connecting (Zipher).
    #[serde(skip_serializing_if = "Option::is_none")]
    last_printed_record: Option<u64>,
    print_go_without_data: bool,
}

#[derive(Debug, Clone, Serialize)]
struct PlcReading {
    encoder: u64,
    /// The PLC's photocell detections count (wraps at 2^32).
    photocell_count: u32,
    gate_confirmed: bool,
    line_running: bool,
    /// Reject queue slots holding a reject whose window has not ended.
    rejects_pending: usize,
}

impl Report {
    fn new(device: String, kind: &str, transport: &Transport, unit_id: Option<u8>) -> Self {
        Report {
            device,
            kind: kind.to_owned(),
            transport: transport.describe(),
            unit_id,
            code: None,
            steps: Vec::new(),
            poll: None,
            ok: false,
            code_left: false,
            error: None,
            hint: None,
        }
    }

    /// Settles `ok`, `error` and `hint` from the steps.
    fn finish(mut self) -> Self {
        let first = self.steps.iter().find(|s| !s.ok);
        self.ok = first.is_none() && !self.code_left;
        if let Some(step) = first {
            self.error = Some(format!(
                "{} failed the probe at {}: {}",
                self.device,
                step.step,
                step.error.as_deref().unwrap_or("failed")
            ));
            self.hint = step.hint.clone();
        }
        self
    }

    /// The message for the exit status 1, with its hint line; `None` when every step passed.
    pub fn failure(&self) -> Option<String> {
        if self.ok {
            return None;
        }
        let mut message = self
            .error
            .clone()
            .unwrap_or_else(|| format!("{} failed the probe", self.device));
        if let Some(hint) = &self.hint {
            message += &format!("\nhint: {hint}");
        }
        if self.code_left {
            message += &format!("\n{CODE_LEFT_WARNING}");
        }
        Some(message)
    }

    /// The report as lines for a person: one per step, with its round trip.
    pub fn text(&self) -> String {
        let unit = self
            .unit_id
            .map(|u| format!(", unit {u}"))
            .unwrap_or_default();
        let mut out = format!(
            "probe {} ({}) at {}{unit}\n",
            self.device, self.kind, self.transport
        );
        let width = self.steps.iter().map(|s| s.step.len()).max().unwrap_or(0);
        for step in &self.steps {
            let label = match &step.target {
                Some(target) => format!("{} {target}", step.step),
                None => format!("{:width$}", step.step),
            };
            let (verdict, what) = if step.ok {
                ("ok", step.detail.as_deref())
            } else {
                ("FAILED", step.error.as_deref())
            };
            out += &format!("{label} {verdict} {:.1} ms", step.ms);
            if let Some(what) = what.filter(|w| !w.is_empty()) {
                out += &format!(": {what}");
            }
            out.push('\n');
        }
        if self.code_left {
            out += &format!("{CODE_LEFT_WARNING}\n");
        }
        if self.ok {
            out += &format!("{} passed every step\n", self.device);
        }
        out
    }
}

const CODE_LEFT_WARNING: &str = "WARNING: the probe code may still be in the marker's buffer: \
                                 clear it on the marker before production";

/// Runs `work` and measures it.
async fn timed<T>(work: impl Future<Output = T>) -> (T, Duration) {
    let started = Instant::now();
    let result = work.await;
    (result, started.elapsed())
}

/// What the hints need to know about the link.
#[derive(Debug, Clone, Copy)]
struct Link {
    serial: bool,
    modbus: bool,
    protocol: &'static str,
}

impl Link {
    fn of(transport: &Transport, kind: &MarkerKind) -> Self {
        let (modbus, protocol) = match kind {
            MarkerKind::LinxRci { .. } => (false, "Linx RCI"),
            MarkerKind::Zipher { .. } => (false, "the Zipher text protocol"),
            MarkerKind::Codenet { .. } => (false, "the Codenet protocol"),
            MarkerKind::Zpl { .. } => (false, "ZPL (~HS host status)"),
            MarkerKind::Ascii { .. } => (false, "the device description's protocol"),
            MarkerKind::ModbusMarker { .. } => (true, "Modbus"),
        };
        Link {
            serial: matches!(transport, Transport::Serial { .. }),
            modbus,
            protocol,
        }
    }

    /// A PLC's line I/O link: Modbus.
    fn line_io(transport: &Transport) -> Self {
        Link {
            serial: matches!(transport, Transport::Serial { .. }),
            modbus: true,
            protocol: "Modbus",
        }
    }

    /// The likely cause of a link that opened but stayed silent.
    fn silent(self) -> String {
        match (self.serial, self.modbus) {
            (true, true) => "check the baud rate, parity and unit id".to_owned(),
            (true, false) => "check the baud rate and parity (the driver uses 8 data bits, no \
                              parity, 1 stop bit) and the cable"
                .to_owned(),
            (false, true) => "check the unit id: a Modbus device or gateway stays silent for a \
                              unit it does not have"
                .to_owned(),
            (false, false) => format!(
                "the device took the connection but did not answer: check that this port \
                 speaks {}",
                self.protocol
            ),
        }
    }

    fn open(self, source: &std::io::Error) -> String {
        use std::io::ErrorKind;
        let hint = match source.kind() {
            ErrorKind::NotFound if self.serial => "check the port path (ls /dev/serial/by-id/)",
            ErrorKind::PermissionDenied => {
                "the port is not open to this user: add it to the `dialout` group, or check the \
                 device's permissions"
            }
            ErrorKind::ResourceBusy => "another program holds the port (a running tracemark?)",
            ErrorKind::ConnectionRefused => "check the address and port: nothing listens there",
            ErrorKind::TimedOut => {
                "check the address: nothing answered the connection (host down, firewall, wrong \
                 network)"
            }
            ErrorKind::HostUnreachable
            | ErrorKind::NetworkUnreachable
            | ErrorKind::AddrNotAvailable => "check the address and the network route to it",
            _ if self.serial => "check the port path and that the adapter is plugged in",
            _ => "check the address and port (a host name must resolve)",
        };
        hint.to_owned()
    }

    /// A step the link failed, with the driver's message and the hint.
    fn failed(self, step: &'static str, elapsed: Duration, error: &LinkError) -> Step {
        Step::failed(step, elapsed, error.to_string(), self.hint(error))
    }

    fn hint(self, error: &LinkError) -> String {
        match error {
            LinkError::Open { source, .. } => self.open(source),
            LinkError::Timeout { .. } => self.silent(),
            LinkError::Closed | LinkError::Io(_) => "the device dropped the connection: is \
                 another client (a running tracemark) connected? Most devices take one at a time"
                .to_owned(),
            LinkError::Protocol(_) if self.serial => format!(
                "the reply is not {}: check the baud rate and parity, and the marker type",
                self.protocol
            ),
            LinkError::Protocol(_) => format!(
                "the reply is not {}: check the port and the marker type",
                self.protocol
            ),
        }
    }
}

/// Connects to `marker`, reads its status, stops it, loads `code`, reads it back through the
/// status and clears the buffer, each step waiting at most `timeout`.
pub async fn probe_marker(marker: &Marker, code: &str, timeout: Duration) -> Report {
    let transport = device_transport(&marker.transport);
    let target = transport.describe();
    let mut report = Report::new(
        format!("markers.{}", marker.name),
        marker.kind.name(),
        &marker.transport,
        match &marker.kind {
            MarkerKind::ModbusMarker { unit_id, .. } => Some(*unit_id),
            _ => None,
        },
    );
    report.code = Some(code.to_owned());
    let link = Link::of(&marker.transport, &marker.kind);
    // The probe's --timeout is the reply timeout, whatever the config says.
    let probed = Marker {
        timeout,
        ..marker.clone()
    };
    let (steps, code_left) = match marker_device(&probed) {
        Ok(device) => probe_device(device, target, code, timeout, link).await,
        // The config compile step checked the map and the files; this is the driver agreeing,
        // or a file changed since.
        Err(invalid) => (
            vec![Step::failed(
                "connect",
                Duration::ZERO,
                invalid.to_string(),
                "fix the marker's settings (tracemark config validate FILE)",
            )],
            false,
        ),
    };
    report.steps = steps;
    report.code_left = code_left;
    report.finish()
}

/// The marker steps over the `MarkerDevice` trait: connect, status, stop and clear, load the
/// code, status, clear. Returns the steps and whether the code may be left in the buffer.
async fn probe_device<D: MarkerDevice>(
    mut device: D,
    target: String,
    code: &str,
    timeout: Duration,
    link: Link,
) -> (Vec<Step>, bool) {
    let mut steps = Vec::new();
    // Opening a link has no timeout of its own in every driver; some also ask a first question
    // (Zipher: the last printed index), answered within the reply timeout: allow both.
    let (opened, elapsed) = timed(connect(&mut device, timeout * 2)).await;
    let mut session = match opened {
        Ok(session) => {
            steps.push(Step::ok("connect", elapsed, "").at(target));
            session
        }
        Err(error) => {
            steps.push(link.failed("connect", elapsed, &error).at(target));
            return (steps, false);
        }
    };

    let (polled, elapsed) = timed(session.poll()).await;
    match polled {
        Ok(status) => steps.push(status_step(elapsed, &status)),
        Err(error) => {
            steps.push(link.failed("status", elapsed, &error));
            return (steps, false);
        }
    }

    // Printing off before the code goes in: a print-go during the probe must not print it.
    let (stopped, elapsed) = timed(session.stop_and_clear()).await;
    let step = match stopped {
        Ok(Ok(())) => Step::ok(
            "stop",
            elapsed,
            "printing stopped, buffer cleared: a print-go cannot print the probe code",
        ),
        Ok(Err(refusal)) => Step::failed(
            "stop",
            elapsed,
            refusal.to_string(),
            "the marker refused to stop printing, so the probe code was not loaded (it could \
             have printed): check the marker's remote-control setting",
        ),
        Err(error) => link.failed("stop", elapsed, &error),
    };
    let stopped = step.ok;
    steps.push(step);
    if !stopped {
        return (steps, false);
    }

    let (pushed, elapsed) = timed(session.push(1, code)).await;
    let mut link_lost = pushed.is_err();
    steps.push(match pushed {
        Ok(PushOutcome::Accepted { now_full }) => Step::ok(
            "load",
            elapsed,
            format!(
                "{code:?} accepted{}",
                if now_full { ", buffer now full" } else { "" }
            ),
        ),
        Ok(PushOutcome::BufferFull) => Step::failed(
            "load",
            elapsed,
            "the marker says its buffer is full, right after it was cleared",
            "check the marker's buffer setting (number of remote buffers or records)",
        ),
        Ok(PushOutcome::Refused(refusal)) => Step::failed(
            "load",
            elapsed,
            refusal.to_string(),
            "the link works but the marker refused the code: check the job or message it \
             prints (one variable field) and the code field",
        ),
        Err(error) => link.failed("load", elapsed, &error),
    });

    if !link_lost {
        let (polled, elapsed) = timed(session.poll()).await;
        link_lost = polled.is_err();
        steps.push(match polled {
            Ok(status) => status_step(elapsed, &status),
            Err(error) => link.failed("status", elapsed, &error),
        });
    }

    if !link_lost {
        let (cleared, elapsed) = timed(session.stop_and_clear()).await;
        let link_error = cleared.is_err();
        let (step, code_left) = clear_step(cleared, elapsed, link, "");
        steps.push(step);
        if !link_error {
            return (steps, code_left);
        }
    }

    // The link broke with the code possibly loaded: a new link to clear it.
    drop(session);
    let (cleared, elapsed) = timed(async {
        let mut session = connect(&mut device, timeout * 2).await?;
        session.stop_and_clear().await
    })
    .await;
    let (step, code_left) = clear_step(cleared, elapsed, link, "over a new connection: ");
    steps.push(step);
    (steps, code_left)
}

/// The clear step, and whether the code may be left in the buffer.
fn clear_step(
    cleared: Result<Result<(), Refusal>, LinkError>,
    elapsed: Duration,
    link: Link,
    how: &str,
) -> (Step, bool) {
    match cleared {
        Ok(Ok(())) => (Step::ok("clear", elapsed, format!("{how}{CLEARED}")), false),
        Ok(Err(refusal)) => (
            Step::failed(
                "clear",
                elapsed,
                refusal.to_string(),
                "clear the marker's buffer on the marker itself",
            ),
            true,
        ),
        Err(error) => (link.failed("clear", elapsed, &error), true),
    }
}

const CLEARED: &str = "buffer cleared, printing left stopped: nothing of the probe can print \
                       (tracemark run starts printing again)";

async fn connect<D: MarkerDevice>(
    device: &mut D,
    limit: Duration,
) -> Result<D::Session, LinkError> {
    match tokio::time::timeout(limit, device.connect()).await {
        Ok(result) => result,
        Err(_) => Err(LinkError::Open {
            target: device.describe(),
            source: std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("not connected within {limit:?}"),
            ),
        }),
    }
}

/// A status step: a device fault fails it (the line could not run), with the fault named.
fn status_step(elapsed: Duration, status: &DeviceStatus) -> Step {
    let reading = MarkerReading {
        fault: status.fault.clone(),
        print_count: match status.progress {
            PrintProgress::Counter(count) => Some(count),
            _ => None,
        },
        last_printed_record: match status.progress {
            PrintProgress::LastIndex(index) => Some(index),
            _ => None,
        },
        print_go_without_data: status.empty_print_gos > 0,
    };
    let mut words = vec![match &status.fault {
        None => "no fault".to_owned(),
        Some(fault) => format!("fault: {fault}"),
    }];
    words.push(match status.progress {
        PrintProgress::Counter(count) => format!("print count {count}"),
        PrintProgress::LastIndex(index) => format!("last printed record {index}"),
        PrintProgress::Printed(count) => format!("{count} print(s) reported"),
        PrintProgress::Nothing => "no print since connecting".to_owned(),
    });
    if status.empty_print_gos > 0 {
        words.push("a print-go found the buffer empty".to_owned());
    }
    let words = words.join(", ");
    let mut step = match &status.fault {
        None => Step::ok("status", elapsed, words),
        Some(_) => Step::failed(
            "status",
            elapsed,
            words,
            "the link works, but the marker reports a fault: clear it on the marker (ink, \
             ribbon, print head, cover) and probe again",
        ),
    };
    step.status = Some(reading);
    step
}

/// Connects to `plc` and polls its line I/O once (nothing is written), waiting at most
/// `timeout`.
pub async fn probe_plc(plc: &Plc, timeout: Duration) -> Report {
    let mut report = Report::new(
        format!("plcs.{}", plc.name),
        "line_io",
        &plc.transport,
        Some(plc.unit_id),
    );
    // The map compiled with the config, the one the runtime uses (with the gate's coil and
    // confirm input when this PLC drives the gate). Only the inputs are read here.
    let map = plc.line_io.clone();
    let transport = device_transport(&plc.transport);
    let target = transport.describe();
    let link = Link::line_io(&plc.transport);
    let (opened, elapsed) = timed(LineIo::connect(&transport, plc.unit_id, map, timeout)).await;
    let mut io = match opened {
        Ok(io) => {
            report
                .steps
                .push(Step::ok("connect", elapsed, "").at(target));
            io
        }
        Err(error) => {
            let hint = plc_hint(&error, link);
            report
                .steps
                .push(Step::failed("connect", elapsed, error.to_string(), hint).at(target));
            return report.finish();
        }
    };
    let (polled, elapsed) = timed(io.poll()).await;
    match polled {
        Ok(poll) => {
            let reading = plc_reading(&poll);
            report.steps.push(Step::ok(
                "poll",
                elapsed,
                format!(
                    "encoder {}, photocell count {}, gate confirm {}, line {}, reject queue {} \
                     pending",
                    reading.encoder,
                    reading.photocell_count,
                    if reading.gate_confirmed { "on" } else { "off" },
                    if reading.line_running {
                        "running"
                    } else {
                        "stopped"
                    },
                    reading.rejects_pending
                ),
            ));
            report.poll = Some(reading);
        }
        Err(error) => {
            let hint = plc_hint(&error, link);
            report
                .steps
                .push(Step::failed("poll", elapsed, error.to_string(), hint));
        }
    }
    report.finish()
}

fn plc_reading(poll: &LineIoPoll) -> PlcReading {
    PlcReading {
        encoder: poll.encoder,
        photocell_count: poll.photocell_count,
        // The probe reads them (`LineIo::poll`): `None` only from `poll_inputs`.
        gate_confirmed: poll.gate_confirmed.unwrap_or(false),
        line_running: poll.line_running.unwrap_or(false),
        rejects_pending: poll
            .rejects
            .iter()
            .filter(|r| r.seq != 0 && r.status == RejectStatus::Pending)
            .count(),
    }
}

fn plc_hint(error: &LineIoError, link: Link) -> String {
    match error {
        LineIoError::Connect { source, .. } => link.open(source),
        LineIoError::Timeout { .. } => link.silent(),
        LineIoError::Exception { .. } => "the PLC answered but refused the read: program it with \
             the tracemark line I/O map (docs/protocols/line-io.md)"
            .to_owned(),
        LineIoError::Protocol { .. } => "the reply is not the line I/O map's: check the port, the \
             unit id and the PLC program (docs/protocols/line-io.md)"
            .to_owned(),
        LineIoError::Io { .. } => {
            "the PLC dropped the connection: check its connection limit".to_owned()
        }
        LineIoError::Config(_) => {
            "check the gate's coil and confirm_input in the config".to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_follow_the_link() {
        let serial = Link {
            serial: true,
            modbus: true,
            protocol: "Modbus",
        };
        let timeout = LinkError::Timeout {
            request: "status read".into(),
            timeout: Duration::from_millis(300),
        };
        assert_eq!(
            serial.hint(&timeout),
            "check the baud rate, parity and unit id"
        );
        let tcp = Link {
            serial: false,
            modbus: false,
            protocol: "Linx RCI",
        };
        let refused = LinkError::Open {
            target: "tcp://127.0.0.1:9".into(),
            source: std::io::ErrorKind::ConnectionRefused.into(),
        };
        assert!(tcp.hint(&refused).starts_with("check the address and port"));
        let missing = LinkError::Open {
            target: "serial:/dev/ttyUSB9@9600".into(),
            source: std::io::ErrorKind::NotFound.into(),
        };
        assert!(serial.hint(&missing).starts_with("check the port path"));
    }

    #[test]
    fn milliseconds_keep_one_decimal() {
        assert_eq!(millis(Duration::from_micros(1_234)), 1.2);
        assert_eq!(millis(Duration::from_micros(1_260)), 1.3);
    }
}
