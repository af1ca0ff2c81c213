//! The Modbus register marker over tokio-modbus: Modbus TCP for `Transport::Tcp` and
//! `Transport::Custom` streams (MBAP framing), Modbus RTU for `Transport::Serial`.
//!
//! How the marker model maps onto the registers (sources in `docs/protocols/modbus-marker.md`):
//! - push a code: FC 16 the code field, then the load signal (FC 06 or FC 05); an exception to
//!   either → read the status: buffer-full bit (or count ≥ depth) → buffer full, else a refusal;
//! - confirm prints: the print counter, polled (FC 04 / FC 03) → [`PrintProgress::Counter`];
//! - faults: the fault and consumable-out bits; empty print-go: the rising edge of its bit;
//! - start / stop / clear: FC 06 of the configured values to the command register.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Deserialize;
use tokio_modbus::client::{Client as _, Context};
use tokio_modbus::{Request, Response, Slave};
use tracing::debug;

use super::codec::{CounterTracker, Exception, Readings, encode_code};
use super::map::{LoadSignal, ModbusMarkerMap, RegisterTable};
use crate::marker::{
    DeviceSession, DeviceStatus, LinkError, MarkerDevice, PrintProgress, PushOutcome, Refusal,
};
use crate::transport::{ModbusLink, Transport};

/// Modbus marker settings. Every default is given where it is defined.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModbusMarkerConfig {
    /// Unit identifier (RTU slave address 1–247; on TCP often 1 or 255). Default 1.
    pub unit_id: u8,
    /// Longest wait for a reply (and for the connection). Default 1,000 ms.
    pub reply_timeout_ms: u64,
    /// The register map.
    pub registers: ModbusMarkerMap,
}

impl Default for ModbusMarkerConfig {
    fn default() -> Self {
        Self {
            unit_id: 1,
            reply_timeout_ms: 1_000,
            registers: ModbusMarkerMap::default(),
        }
    }
}

/// A register map with problems (see [`ModbusMarkerMap::problems`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("modbus marker register map: {}", .0.join("; "))]
pub struct InvalidMap(pub Vec<String>);

/// A Modbus register marker reached through a [`Transport`].
#[derive(Debug, Clone)]
pub struct ModbusMarker {
    transport: Transport,
    unit_id: u8,
    map: ModbusMarkerMap,
    reply_timeout: Duration,
    /// The counter's extension across its wrap outlives a session, as the ledger's counter
    /// baseline does.
    counter: Arc<Mutex<CounterTracker>>,
}

impl ModbusMarker {
    /// A marker at `unit_id` on `transport`, described by `map`, waiting `reply_timeout` for
    /// each reply. Fails if the map has problems.
    pub fn new(
        transport: Transport,
        unit_id: u8,
        map: ModbusMarkerMap,
        reply_timeout: Duration,
    ) -> Result<Self, InvalidMap> {
        let problems = map.problems();
        if !problems.is_empty() {
            return Err(InvalidMap(problems));
        }
        Ok(Self {
            transport,
            unit_id,
            counter: Arc::new(Mutex::new(CounterTracker::new(map.counter.width))),
            map,
            reply_timeout: reply_timeout.max(Duration::from_millis(1)),
        })
    }

    /// A marker from its config.
    pub fn from_config(
        transport: Transport,
        config: &ModbusMarkerConfig,
    ) -> Result<Self, InvalidMap> {
        Self::new(
            transport,
            config.unit_id,
            config.registers.clone(),
            Duration::from_millis(config.reply_timeout_ms),
        )
    }
}

impl MarkerDevice for ModbusMarker {
    type Session = ModbusMarkerSession;

    async fn connect(&mut self) -> Result<ModbusMarkerSession, LinkError> {
        let target = self.transport.describe();
        let stream = match tokio::time::timeout(self.reply_timeout, self.transport.open()).await {
            Ok(opened) => opened?,
            Err(_) => {
                return Err(LinkError::Open {
                    target,
                    source: std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("not connected within {:?}", self.reply_timeout),
                    ),
                });
            }
        };
        let slave = Slave(self.unit_id);
        let context = match self.transport {
            // Modbus over Serial Line V1.02: RTU framing with CRC-16.
            Transport::Serial(_) => {
                tokio_modbus::client::rtu::attach_slave(ModbusLink(stream), slave)
            }
            // Modbus Messaging on TCP/IP V1.0b: MBAP header.
            Transport::Tcp(_) | Transport::Custom { .. } => {
                tokio_modbus::client::tcp::attach_slave(ModbusLink(stream), slave)
            }
        };
        Ok(ModbusMarkerSession {
            context,
            map: self.map.clone(),
            unit_id: self.unit_id,
            target,
            reply_timeout: self.reply_timeout,
            counter: Arc::clone(&self.counter),
            last_empty: false,
            empty_pending: false,
            maybe_full: false,
            known_count: None,
        })
    }

    fn describe(&self) -> String {
        format!(
            "modbus marker unit {} {}",
            self.unit_id,
            self.transport.describe()
        )
    }
}

/// What a request is, for refusals, errors and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    CodeField,
    LoadRegister,
    LoadCoil,
    Command(&'static str),
    Read(RegisterTable),
}

impl Access {
    /// The request named in a [`Refusal`].
    fn request(self) -> &'static str {
        match self {
            Access::CodeField => "code field write (FC 16)",
            Access::LoadRegister => "code load (FC 06)",
            Access::LoadCoil => "code load (FC 05)",
            Access::Command(name) => name,
            Access::Read(RegisterTable::Input) => "status read (FC 04)",
            Access::Read(RegisterTable::Holding) => "status read (FC 03)",
        }
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.request())
    }
}

/// The marker model over one Modbus link.
pub struct ModbusMarkerSession {
    context: Context,
    map: ModbusMarkerMap,
    unit_id: u8,
    target: String,
    reply_timeout: Duration,
    counter: Arc<Mutex<CounterTracker>>,
    /// The empty print-go bit at the last status read, for its rising edge.
    last_empty: bool,
    /// A rising edge seen since the last poll.
    empty_pending: bool,
    /// The last status read said the buffer was full: check before the next push.
    maybe_full: bool,
    /// Codes queued, from the last read plus the loads since (an upper bound).
    known_count: Option<u16>,
}

impl fmt::Debug for ModbusMarkerSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModbusMarkerSession")
            .field("target", &self.target)
            .field("unit_id", &self.unit_id)
            .field("known_count", &self.known_count)
            .finish_non_exhaustive()
    }
}

impl ModbusMarkerSession {
    /// One request with the reply timeout. Outer: the link; inner: an exception response
    /// (Modbus Application Protocol V1.1b3 §7), a per-request answer.
    async fn call(
        &mut self,
        access: Access,
        request: Request<'static>,
    ) -> Result<Result<Response, Exception>, LinkError> {
        match tokio::time::timeout(self.reply_timeout, self.context.call(request)).await {
            Ok(Ok(Ok(response))) => Ok(Ok(response)),
            Ok(Ok(Err(exception))) => Ok(Err(Exception(u8::from(exception)))),
            Ok(Err(tokio_modbus::Error::Transport(error))) => Err(LinkError::Io(error)),
            Ok(Err(tokio_modbus::Error::Protocol(error))) => {
                Err(LinkError::Protocol(format!("{access}: {error}")))
            }
            // A device that is not addressed stays silent (Modbus over Serial Line V1.02
            // §2.2), and so does a TCP gateway with no such unit behind it.
            Err(_) => Err(LinkError::Timeout {
                request: format!(
                    "{access} to unit {} at {} (check the unit id)",
                    self.unit_id, self.target
                ),
                timeout: self.reply_timeout,
            }),
        }
    }

    /// A write whose normal response echoes it (§6.5, §6.6, §6.12).
    async fn write(
        &mut self,
        access: Access,
        request: Request<'static>,
        echo: Response,
    ) -> Result<Result<(), Exception>, LinkError> {
        match self.call(access, request).await? {
            Ok(response) if response == echo => Ok(Ok(())),
            Ok(other) => Err(LinkError::Protocol(format!(
                "{access}: unexpected reply {other:?}"
            ))),
            Err(exception) => Ok(Err(exception)),
        }
    }

    async fn command(
        &mut self,
        name: &'static str,
        value: u16,
    ) -> Result<Result<(), Refusal>, LinkError> {
        let register = self.map.command_register;
        let answer = self
            .write(
                Access::Command(name),
                Request::WriteSingleRegister(register, value),
                Response::WriteSingleRegister(register, value),
            )
            .await?;
        Ok(answer.map_err(|exception| Refusal::new(name, exception.to_string())))
    }

    /// Reads the status, counter and buffer count (one read per table) and tracks the empty
    /// print-go edge.
    async fn read(&mut self) -> Result<Readings, LinkError> {
        let mut blocks = Vec::new();
        for read @ (table, first, count) in self.map.reads() {
            let access = Access::Read(table);
            let request = match table {
                RegisterTable::Input => Request::ReadInputRegisters(first, count),
                RegisterTable::Holding => Request::ReadHoldingRegisters(first, count),
            };
            let words = match self.call(access, request).await? {
                Ok(Response::ReadInputRegisters(words) | Response::ReadHoldingRegisters(words)) => {
                    words
                }
                Ok(other) => {
                    return Err(LinkError::Protocol(format!(
                        "{access}: unexpected reply {other:?}"
                    )));
                }
                // The status must be readable: a refusal means the map does not match the
                // device, which no retry mends; end the session so the state says so.
                Err(exception) => {
                    return Err(LinkError::Protocol(format!(
                        "{access} of {count} registers from {first}: {exception}: check the \
                         register map"
                    )));
                }
            };
            blocks.push((read, words));
        }
        let readings = Readings::decode(&self.map, &blocks).ok_or_else(|| {
            LinkError::Protocol(format!(
                "status read: fewer registers than asked: {blocks:?}"
            ))
        })?;
        let empty = readings.flags.empty_print_go;
        if empty && !self.last_empty {
            self.empty_pending = true;
        }
        self.last_empty = empty;
        self.known_count = readings.buffer_count;
        self.maybe_full = self.full(&readings);
        Ok(readings)
    }

    fn full(&self, readings: &Readings) -> bool {
        let by_count = match (readings.buffer_count, self.map.buffer_depth) {
            (Some(count), Some(depth)) => count >= depth,
            _ => false,
        };
        readings.flags.buffer_full || by_count
    }

    /// After an exception to a push: a full buffer or a refusal.
    async fn full_or_refused(
        &mut self,
        access: Access,
        exception: Exception,
    ) -> Result<PushOutcome, LinkError> {
        let readings = self.read().await?;
        if self.full(&readings) {
            debug!(%exception, "modbus marker: push refused, buffer full");
            return Ok(PushOutcome::BufferFull);
        }
        Ok(PushOutcome::Refused(Refusal::new(
            access.request(),
            exception.to_string(),
        )))
    }
}

impl DeviceSession for ModbusMarkerSession {
    async fn stop_and_clear(&mut self) -> Result<Result<(), Refusal>, LinkError> {
        let (stop, clear) = (self.map.stop_value, self.map.clear_value);
        // A device already stopped may refuse the stop; the buffer must be cleared either way.
        if let Err(refusal) = self.command("stop (FC 06)", stop).await? {
            debug!(%refusal, "modbus marker: stop refused, clearing anyway");
        }
        let cleared = self.command("clear buffer (FC 06)", clear).await?;
        if cleared.is_ok() {
            self.known_count = Some(0);
            self.maybe_full = false;
        }
        Ok(cleared)
    }

    async fn start(&mut self) -> Result<Result<(), Refusal>, LinkError> {
        let start = self.map.start_value;
        self.command("start (FC 06)", start).await
    }

    async fn push(&mut self, _index: u64, text: &str) -> Result<PushOutcome, LinkError> {
        let words = match encode_code(&self.map, text) {
            Ok(words) => words,
            Err(error) => {
                return Ok(PushOutcome::Refused(Refusal::new(
                    Access::CodeField.request(),
                    error.to_string(),
                )));
            }
        };
        // A device that only shows a full buffer in its status (and ignores a load) must not
        // be loaded while the last read said full.
        if self.maybe_full {
            let readings = self.read().await?;
            if self.full(&readings) {
                return Ok(PushOutcome::BufferFull);
            }
        }
        let (address, quantity) = (self.map.code_register, self.map.code_registers);
        let written = self
            .write(
                Access::CodeField,
                Request::WriteMultipleRegisters(address, words.into()),
                Response::WriteMultipleRegisters(address, quantity),
            )
            .await?;
        if let Err(exception) = written {
            return self.full_or_refused(Access::CodeField, exception).await;
        }
        let (access, request, echo) = match self.map.load {
            LoadSignal::Register { address, value } => (
                Access::LoadRegister,
                Request::WriteSingleRegister(address, value),
                Response::WriteSingleRegister(address, value),
            ),
            LoadSignal::Coil { address } => (
                Access::LoadCoil,
                Request::WriteSingleCoil(address, true),
                Response::WriteSingleCoil(address, true),
            ),
        };
        if let Err(exception) = self.write(access, request, echo).await? {
            return self.full_or_refused(access, exception).await;
        }
        self.known_count = self.known_count.map(|count| count.saturating_add(1));
        let now_full = matches!(
            (self.known_count, self.map.buffer_depth),
            (Some(count), Some(depth)) if count >= depth
        );
        Ok(PushOutcome::Accepted { now_full })
    }

    async fn poll(&mut self) -> Result<DeviceStatus, LinkError> {
        let readings = self.read().await?;
        let counter = self
            .counter
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(readings.counter);
        Ok(DeviceStatus {
            progress: PrintProgress::Counter(counter),
            fault: readings.flags.fault_detail(&self.map),
            empty_print_gos: u64::from(std::mem::take(&mut self.empty_pending)),
            unmatched_prints: 0,
        })
    }
}
