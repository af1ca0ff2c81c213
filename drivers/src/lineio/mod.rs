//! Line I/O over Modbus (SPEC §5): the controller's client for the line PLC that owns the
//! encoder, the product-detect photocell, the reject gate, the stack light and the line stop.
//! The PLC is programmed with the tracemark line I/O map ([`LineIoMap`]); see
//! `docs/protocols/line-io.md`. Rejects are queued in the PLC ahead of time
//! ([`LineIo::queue_reject`]): the PLC scan switches the diverter at the unit's encoder count,
//! and [`LineIo::poll`] reads back what became of each ([`RejectStatus`]).
//!
//! Modbus TCP for a `Transport::Tcp` (and a `Transport::Custom` stream: MBAP framing), Modbus RTU
//! for a `Transport::Serial` (Modbus over serial line V1.02). Every request waits at most the
//! `timeout` given to [`LineIo::connect`]. After any error but [`LineIoError::Exception`] the link
//! is in an unknown state (a late reply may still arrive): drop the [`LineIo`] and connect again.

mod decode;
mod map;

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use tokio_modbus::client::{Client as _, Context};
use tokio_modbus::{ExceptionCode, Request, Response, Slave};

use crate::marker::LinkError;
use crate::transport::{ModbusLink, Transport};

pub use decode::{RejectOutcome, RejectStatus};
pub use map::{
    INPUT_BLOCK_LEN, LineIoMap, REJECT_QUEUE_LEN, REJECT_SLOT_REGISTERS, REJECT_SLOTS, RING_LEN,
};

use decode::{RawInputs, Tracker};

/// One decoded input block, as [`LineIo::poll`] reports it without the discrete inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedPoll {
    /// The encoder extended across wraps.
    pub encoder: u64,
    /// The latched encoder counts of the new detections, oldest first.
    pub detections: Vec<u64>,
    /// Detections lost (overwritten in the ring).
    pub missed: u64,
    /// The [`REJECT_SLOTS`] reject outcomes, slot order.
    pub rejects: Vec<RejectOutcome>,
    /// The case packer's count as read (wrapping).
    pub cases_packed: u32,
}

/// The pure decoding path of [`LineIo::poll`] over a sequence of input blocks (each
/// [`INPUT_BLOCK_LEN`] registers as read by FC 04), without a device: `None` for a block of the
/// wrong length. The first well-formed block is the baseline. For tests and the fuzz target.
pub fn decode_input_blocks<'a>(
    blocks: impl IntoIterator<Item = &'a [u16]>,
) -> Vec<Option<DecodedPoll>> {
    let mut tracker = Tracker::default();
    blocks
        .into_iter()
        .map(|words| {
            RawInputs::decode(words).map(|raw| {
                let progress = tracker.update(&raw);
                DecodedPoll {
                    encoder: progress.encoder,
                    detections: progress.detections,
                    missed: progress.missed,
                    rejects: raw.rejects.to_vec(),
                    cases_packed: raw.cases_packed,
                }
            })
        })
        .collect()
}

/// A Modbus access the line I/O client makes, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// FC 04 Read Input Registers.
    ReadInputRegisters,
    /// FC 02 Read Discrete Inputs.
    ReadDiscreteInputs,
    /// FC 05 Write Single Coil.
    WriteCoil,
    /// FC 06 Write Single Register.
    WriteRegister,
    /// FC 16 Write Multiple Registers.
    WriteRegisters,
}

impl Access {
    /// The Modbus function code.
    pub fn function_code(self) -> u8 {
        match self {
            Access::ReadDiscreteInputs => 0x02,
            Access::ReadInputRegisters => 0x04,
            Access::WriteCoil => 0x05,
            Access::WriteRegister => 0x06,
            Access::WriteRegisters => 0x10,
        }
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            Access::ReadInputRegisters => "reading input registers",
            Access::ReadDiscreteInputs => "reading discrete inputs",
            Access::WriteCoil => "writing a coil",
            Access::WriteRegister => "writing a holding register",
            Access::WriteRegisters => "writing holding registers",
        };
        write!(f, "{what} (FC {:02})", self.function_code())
    }
}

/// What to check when a request went unanswered: the framing only exists on a serial line.
fn timeout_hint(target: &str) -> &'static str {
    if target.starts_with("serial:") {
        "check the unit id, the baud rate and the parity"
    } else {
        "check the unit id (a gateway stays silent for an id it does not route) and that the \
         PLC's Modbus TCP server is enabled"
    }
}

/// Why a line I/O request failed.
#[derive(Debug, thiserror::Error)]
pub enum LineIoError {
    /// The map or an argument cannot be used; nothing was sent.
    #[error("line I/O configuration: {0}")]
    Config(String),
    /// The transport could not be opened.
    #[error("cannot connect to the line PLC at {target}: {source}")]
    Connect {
        /// Address or serial path.
        target: String,
        /// Why.
        source: std::io::Error,
    },
    /// No answer in time: a wrong unit id gets none (a Modbus TCP/RTU gateway or an RTU line
    /// stays silent), nor does a serial line at the wrong baud rate.
    #[error(
        "no answer from unit {unit_id} at {target} within {timeout:?} {access}: {}",
        timeout_hint(target)
    )]
    Timeout {
        /// Address or serial path.
        target: String,
        /// The unit id asked.
        unit_id: u8,
        /// What went unanswered.
        access: Access,
        /// The reply timeout.
        timeout: Duration,
    },
    /// The PLC answered with a Modbus exception (Modbus Application Protocol V1.1b3 §7): a
    /// per-request error; the link stays usable.
    #[error(
        "{} {address:#06x} {access}: {}",
        exception_name(*.exception),
        exception_hint(*.exception)
    )]
    Exception {
        /// The request refused.
        access: Access,
        /// Its (first) address.
        address: u16,
        /// The exception code.
        exception: ExceptionCode,
    },
    /// A reply that breaks the protocol (wrong transaction, function or length).
    #[error("Modbus protocol error {access}: {detail}")]
    Protocol {
        /// The request.
        access: Access,
        /// What was wrong.
        detail: String,
    },
    /// Reading or writing the link failed (connection reset or closed).
    #[error("i/o error {access} on {target}: {source}")]
    Io {
        /// The request.
        access: Access,
        /// Address or serial path.
        target: String,
        /// Why.
        source: std::io::Error,
    },
}

impl LineIoError {
    /// A lost or unusable link (connect again), rather than a refused request.
    pub fn is_link_error(&self) -> bool {
        !matches!(self, Self::Exception { .. } | Self::Config(_))
    }
}

fn exception_name(exception: ExceptionCode) -> String {
    match exception {
        ExceptionCode::IllegalFunction => "illegal function".into(),
        ExceptionCode::IllegalDataAddress => "illegal data address".into(),
        ExceptionCode::IllegalDataValue => "illegal data value".into(),
        ExceptionCode::ServerDeviceFailure => "server device failure".into(),
        ExceptionCode::Acknowledge => "acknowledge".into(),
        ExceptionCode::ServerDeviceBusy => "server device busy".into(),
        ExceptionCode::MemoryParityError => "memory parity error".into(),
        ExceptionCode::GatewayPathUnavailable => "gateway path unavailable".into(),
        ExceptionCode::GatewayTargetDevice => "gateway target device failed to respond".into(),
        ExceptionCode::Custom(code) => format!("exception {code:#04x}"),
    }
}

fn exception_hint(exception: ExceptionCode) -> &'static str {
    match exception {
        ExceptionCode::IllegalDataAddress => "check the PLC's register map",
        ExceptionCode::IllegalFunction => "the device does not offer this function code",
        ExceptionCode::IllegalDataValue => "the device refused the value or quantity",
        ExceptionCode::GatewayPathUnavailable | ExceptionCode::GatewayTargetDevice => {
            "the gateway cannot reach the unit: check the unit id and the serial line behind it"
        }
        ExceptionCode::ServerDeviceBusy | ExceptionCode::Acknowledge => {
            "the PLC is busy: try again"
        }
        _ => "the PLC reports a fault",
    }
}

/// The stack light's state: one lamp on, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackLight {
    /// Red: fault, line stopped.
    Red,
    /// Amber: attention.
    Amber,
    /// Green: running.
    Green,
    /// All lamps off.
    Off,
}

/// One poll of the line inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineIoPoll {
    /// The encoder count, extended across the register's 2^32 wrap.
    pub encoder: u64,
    /// The encoder counts latched at the detections since the last poll, oldest first (none at
    /// the first poll after connecting: that poll is the baseline).
    pub detections: Vec<u64>,
    /// Detections between the last two polls that the 16-entry ring no longer held.
    pub missed: u64,
    /// The PLC's photocell detections count as read (IR 2–3, wrapping at 2^32): what an
    /// integrator watches change while passing a hand in front of the photocell.
    pub photocell_count: u32,
    /// Discrete input: the reject gate is in its divert position (`None`: not read, see
    /// [`LineIo::poll_inputs`]).
    pub gate_confirmed: Option<bool>,
    /// Discrete input: the line runs (`None`: not read).
    pub line_running: Option<bool>,
    /// The reject queue's [`REJECT_SLOTS`] outcomes as read, slot order (slot `k` holds the
    /// last reject `seq` with `seq % 16 == k`; `seq` 0: never written). Read in the same FC 04
    /// request as the encoder, so consistent with it.
    pub rejects: Vec<RejectOutcome>,
    /// Cases the case packer has closed (IR 84–85, wrapping at 2^32; 0 when the line has no
    /// case packer): with `[packing] mode = "inferred"` this says when the open case is full.
    pub cases_packed: u32,
}

/// A connection to the line PLC.
pub struct LineIo {
    context: Context,
    map: LineIoMap,
    unit_id: u8,
    timeout: Duration,
    target: String,
    tracker: Tracker,
}

impl fmt::Debug for LineIo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LineIo")
            .field("target", &self.target)
            .field("unit_id", &self.unit_id)
            .field("timeout", &self.timeout)
            .field("map", &self.map)
            .finish_non_exhaustive()
    }
}

impl LineIo {
    /// Opens `transport` (Modbus TCP; RTU on a serial port) to unit `unit_id`, with `timeout`
    /// for the connection and for every reply. Sends nothing: a wrong unit id shows at the first
    /// request, as [`LineIoError::Timeout`].
    pub async fn connect(
        transport: &Transport,
        unit_id: u8,
        map: LineIoMap,
        timeout: Duration,
    ) -> Result<LineIo, LineIoError> {
        let problems = map.problems();
        if !problems.is_empty() {
            return Err(LineIoError::Config(problems.join("; ")));
        }
        let target = transport.describe();
        let stream = match tokio::time::timeout(timeout, transport.open()).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(LinkError::Open { source, .. } | LinkError::Io(source))) => {
                return Err(LineIoError::Connect { target, source });
            }
            Ok(Err(other)) => {
                return Err(LineIoError::Connect {
                    target,
                    source: std::io::Error::other(other.to_string()),
                });
            }
            Err(_) => {
                return Err(LineIoError::Connect {
                    target,
                    source: std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("not connected within {timeout:?}"),
                    ),
                });
            }
        };
        let slave = Slave(unit_id);
        let context = match transport {
            Transport::Serial(_) => {
                tokio_modbus::client::rtu::attach_slave(ModbusLink(stream), slave)
            }
            Transport::Tcp(_) | Transport::Custom { .. } => {
                tokio_modbus::client::tcp::attach_slave(ModbusLink(stream), slave)
            }
        };
        Ok(LineIo {
            context,
            map,
            unit_id,
            timeout,
            target,
            tracker: Tracker::default(),
        })
    }

    /// Sets the PLC's comm watchdog (FC 06 Write Single Register, Modbus Application Protocol
    /// V1.1b3 §6.6): while no request arrives for `timeout` the PLC diverts everything and lights
    /// red. Zero turns it off; whole milliseconds up to 65,535 ms, rounded up.
    pub async fn set_watchdog(&mut self, timeout: Duration) -> Result<(), LineIoError> {
        let ms = timeout.as_micros().div_ceil(1_000);
        let ms = u16::try_from(ms).map_err(|_| {
            LineIoError::Config(format!(
                "watchdog timeout {timeout:?} is over the register's 65,535 ms"
            ))
        })?;
        self.write_register(self.map.watchdog_register, ms).await
    }

    /// Sets the gate timing the PLC applies to queued rejects (two FC 06 Write Single Register,
    /// Modbus Application Protocol V1.1b3 §6.6): the diverter is on while
    /// `fire_at - half_window <= encoder < fire_at + half_window`, and the PLC waits up to
    /// `confirm_timeout` after a window opened for the gate confirm before it reports a fault.
    /// `half_window` is 1 to 65,535 counts; `confirm_timeout` whole milliseconds up to 65,535 ms,
    /// rounded up. Nothing is sent when either is out of range. Set it after connecting, before
    /// the first [`queue_reject`](Self::queue_reject).
    pub async fn set_gate_timing(
        &mut self,
        half_window: u64,
        confirm_timeout: Duration,
    ) -> Result<(), LineIoError> {
        let (half, ms) = gate_timing_registers(half_window, confirm_timeout)?;
        self.write_register(self.map.gate_half_window_register, half)
            .await?;
        self.write_register(self.map.gate_confirm_timeout_register, ms)
            .await
    }

    /// Queues reject number `seq` in the PLC: the unit reaches the gate at encoder count
    /// `fire_at` (only its low 32 bits are sent; the PLC compares them with its encoder register
    /// the short way round). One FC 16 Write Multiple Registers (Modbus Application Protocol
    /// V1.1b3 §6.12) writes the whole slot `seq % 16`: `seq`, then `fire_at`, each u32 high word
    /// first; the reply's echo of address and quantity is checked.
    ///
    /// Number rejects from 1; 0 marks an empty slot, so skip it when the u32 wraps. Re-sending
    /// a `seq` the slot already holds (after a reconnect) changes nothing in the PLC. A slot is
    /// reused by `seq + 16`: wait for the outcome of `seq` in [`LineIoPoll::rejects`] first.
    pub async fn queue_reject(&mut self, seq: u32, fire_at: u64) -> Result<(), LineIoError> {
        if seq == 0 {
            return Err(LineIoError::Config(
                "reject seq 0 marks an empty queue slot: number rejects from 1".into(),
            ));
        }
        let slot = (seq % u32::from(REJECT_SLOTS)) as u16;
        // The map was checked at connect: the queue block ends at or before address 65535.
        let address = self
            .map
            .reject_queue_registers
            .wrapping_add(slot * REJECT_SLOT_REGISTERS);
        let fire_at = fire_at as u32; // the low 32 bits, as the encoder register holds them
        let words = vec![
            (seq >> 16) as u16,
            seq as u16,
            (fire_at >> 16) as u16,
            fire_at as u16,
        ];
        let request = Request::WriteMultipleRegisters(address, Cow::Owned(words));
        match self.call(Access::WriteRegisters, address, request).await? {
            // §6.12: the normal response returns the starting address and the quantity written.
            Response::WriteMultipleRegisters(echo_address, quantity)
                if (echo_address, quantity) == (address, REJECT_SLOT_REGISTERS) =>
            {
                Ok(())
            }
            Response::WriteMultipleRegisters(echo_address, quantity) => {
                Err(LineIoError::Protocol {
                    access: Access::WriteRegisters,
                    detail: format!(
                        "wrote {REJECT_SLOT_REGISTERS} registers from {address:#06x}, the reply \
                         says {quantity} from {echo_address:#06x}"
                    ),
                })
            }
            other => Err(self.unexpected(Access::WriteRegisters, &other)),
        }
    }

    /// Reads the input block (one FC 04 Read Input Registers, Modbus Application Protocol V1.1b3
    /// §6.4) and the discrete inputs (one FC 02 Read Discrete Inputs, §6.2): the encoder extended
    /// across wraps, the detections since the last poll with their latched encoder counts, the
    /// reject queue's outcomes, and the gate confirm and line running inputs.
    pub async fn poll(&mut self) -> Result<LineIoPoll, LineIoError> {
        let raw = self.read_input_block().await?;
        let (di_first, di_count) = self.map.discrete_inputs();
        let bits = match self
            .call(
                Access::ReadDiscreteInputs,
                di_first,
                Request::ReadDiscreteInputs(di_first, di_count),
            )
            .await?
        {
            Response::ReadDiscreteInputs(bits) => bits,
            other => return Err(self.unexpected(Access::ReadDiscreteInputs, &other)),
        };
        // §6.2: the reply packs the inputs into whole bytes; fewer bits than asked is a fault.
        let bit = |address: u16| bits.get(usize::from(address - di_first)).copied();
        let (Some(gate_confirmed), Some(line_running)) = (
            bit(self.map.gate_confirm_input),
            bit(self.map.line_running_input),
        ) else {
            return Err(LineIoError::Protocol {
                access: Access::ReadDiscreteInputs,
                detail: format!(
                    "asked for {di_count} inputs from {di_first:#06x}, got {}",
                    bits.len()
                ),
            });
        };
        let mut poll = self.advance(&raw);
        poll.gate_confirmed = Some(gate_confirmed);
        poll.line_running = Some(line_running);
        Ok(poll)
    }

    /// [`LineIo::poll`] without the discrete inputs: one FC 04 request, all the line runtime
    /// needs at each poll (the PLC fires the gate from its reject queue, whose outcomes are in
    /// the input block). Half the round trips of a full poll (issue 20's profile: the poll
    /// loop was the controller's largest fixed cost).
    pub async fn poll_inputs(&mut self) -> Result<LineIoPoll, LineIoError> {
        let raw = self.read_input_block().await?;
        Ok(self.advance(&raw))
    }

    /// Only a complete poll moves the tracker, so a failed poll loses no detection.
    fn advance(&mut self, raw: &RawInputs) -> LineIoPoll {
        let progress = self.tracker.update(raw);
        LineIoPoll {
            encoder: progress.encoder,
            detections: progress.detections,
            missed: progress.missed,
            photocell_count: raw.detections,
            gate_confirmed: None,
            line_running: None,
            rejects: raw.rejects.to_vec(),
            cases_packed: raw.cases_packed,
        }
    }

    /// The input block (FC 04, §6.4), decoded.
    async fn read_input_block(&mut self) -> Result<RawInputs, LineIoError> {
        let first = self.map.input_registers;
        let words = match self
            .call(
                Access::ReadInputRegisters,
                first,
                Request::ReadInputRegisters(first, INPUT_BLOCK_LEN),
            )
            .await?
        {
            Response::ReadInputRegisters(words) => words,
            other => return Err(self.unexpected(Access::ReadInputRegisters, &other)),
        };
        RawInputs::decode(&words).ok_or_else(|| LineIoError::Protocol {
            access: Access::ReadInputRegisters,
            detail: format!(
                "asked for {INPUT_BLOCK_LEN} registers from {first:#06x}, got {}",
                words.len()
            ),
        })
    }

    /// Switches the reject gate coil (on = divert): "force divert", on top of the queue (the PLC
    /// diverts while the coil is on, whatever the queue says). For manual use, or a controller
    /// that does not queue.
    pub async fn set_gate(&mut self, on: bool) -> Result<(), LineIoError> {
        self.write_coil(self.map.gate_coil, on).await
    }

    /// Lights one lamp of the stack light and switches the others off (the others first, so two
    /// lamps are never on together).
    pub async fn set_stack_light(&mut self, light: StackLight) -> Result<(), LineIoError> {
        let lamps = [
            (StackLight::Red, self.map.stack_light_red_coil),
            (StackLight::Amber, self.map.stack_light_amber_coil),
            (StackLight::Green, self.map.stack_light_green_coil),
        ];
        for (lamp, coil) in lamps {
            if lamp != light {
                self.write_coil(coil, false).await?;
            }
        }
        if let Some((_, coil)) = lamps.iter().find(|(lamp, _)| *lamp == light) {
            self.write_coil(*coil, true).await?;
        }
        Ok(())
    }

    /// Sets or releases the line stop request coil.
    pub async fn request_line_stop(&mut self, stop: bool) -> Result<(), LineIoError> {
        self.write_coil(self.map.line_stop_coil, stop).await
    }

    /// FC 05 Write Single Coil (Modbus Application Protocol V1.1b3 §6.5): the normal response is
    /// an echo of the request.
    async fn write_coil(&mut self, address: u16, on: bool) -> Result<(), LineIoError> {
        match self
            .call(
                Access::WriteCoil,
                address,
                Request::WriteSingleCoil(address, on),
            )
            .await?
        {
            Response::WriteSingleCoil(echo_address, echo)
                if (echo_address, echo) == (address, on) =>
            {
                Ok(())
            }
            other => Err(self.unexpected(Access::WriteCoil, &other)),
        }
    }

    /// FC 06 Write Single Register (Modbus Application Protocol V1.1b3 §6.6): the normal
    /// response is an echo of the request.
    async fn write_register(&mut self, address: u16, value: u16) -> Result<(), LineIoError> {
        match self
            .call(
                Access::WriteRegister,
                address,
                Request::WriteSingleRegister(address, value),
            )
            .await?
        {
            Response::WriteSingleRegister(echo_address, echo)
                if (echo_address, echo) == (address, value) =>
            {
                Ok(())
            }
            other => Err(self.unexpected(Access::WriteRegister, &other)),
        }
    }

    /// One request with the reply timeout, its failures sorted into [`LineIoError`].
    async fn call(
        &mut self,
        access: Access,
        address: u16,
        request: Request<'static>,
    ) -> Result<Response, LineIoError> {
        match tokio::time::timeout(self.timeout, self.context.call(request)).await {
            Ok(Ok(Ok(response))) => Ok(response),
            Ok(Ok(Err(exception))) => Err(LineIoError::Exception {
                access,
                address,
                exception,
            }),
            Ok(Err(tokio_modbus::Error::Transport(source))) => Err(LineIoError::Io {
                access,
                target: self.target.clone(),
                source,
            }),
            Ok(Err(tokio_modbus::Error::Protocol(error))) => Err(LineIoError::Protocol {
                access,
                detail: error.to_string(),
            }),
            Err(_elapsed) => Err(LineIoError::Timeout {
                target: self.target.clone(),
                unit_id: self.unit_id,
                access,
                timeout: self.timeout,
            }),
        }
    }

    fn unexpected(&self, access: Access, response: &Response) -> LineIoError {
        LineIoError::Protocol {
            access,
            detail: format!("unexpected reply {response:?}"),
        }
    }
}

/// The gate timing as the PLC's registers take it: the half window in counts (1–65,535) and the
/// confirm timeout in whole milliseconds, rounded up (at most 65,535). The rule of
/// [`LineIo::set_gate_timing`], apart so a line config can be checked against it before
/// anything connects.
pub fn gate_timing_registers(
    half_window: u64,
    confirm_timeout: Duration,
) -> Result<(u16, u16), LineIoError> {
    let half = match u16::try_from(half_window) {
        Ok(0) => {
            return Err(LineIoError::Config(
                "gate half window 0 counts: a reject would never divert; at least 1".into(),
            ));
        }
        Ok(half) => half,
        Err(_) => {
            return Err(LineIoError::Config(format!(
                "gate half window {half_window} counts is over the register's 65,535 counts"
            )));
        }
    };
    let ms = confirm_timeout.as_micros().div_ceil(1_000);
    let ms = u16::try_from(ms).map_err(|_| {
        LineIoError::Config(format!(
            "gate confirm timeout {confirm_timeout:?} is over the register's 65,535 ms"
        ))
    })?;
    Ok((half, ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exception_message_names_function_address_and_remedy() {
        let error = LineIoError::Exception {
            access: Access::ReadInputRegisters,
            address: 4,
            exception: ExceptionCode::IllegalDataAddress,
        };
        assert_eq!(
            error.to_string(),
            "illegal data address 0x0004 reading input registers (FC 04): check the PLC's \
             register map"
        );
        assert!(!error.is_link_error());
    }

    #[test]
    fn timeout_message_points_at_unit_id_and_baud_rate() {
        let error = LineIoError::Timeout {
            target: "serial:/dev/ttyUSB0@19200".into(),
            unit_id: 7,
            access: Access::WriteCoil,
            timeout: Duration::from_millis(200),
        };
        assert_eq!(
            error.to_string(),
            "no answer from unit 7 at serial:/dev/ttyUSB0@19200 within 200ms writing a coil \
             (FC 05): check the unit id, the baud rate and the parity"
        );
        assert!(error.is_link_error());
    }

    #[test]
    fn write_registers_is_fc_16() {
        assert_eq!(Access::WriteRegisters.function_code(), 16);
        let error = LineIoError::Exception {
            access: Access::WriteRegisters,
            address: 0x14,
            exception: ExceptionCode::IllegalDataValue,
        };
        assert_eq!(
            error.to_string(),
            "illegal data value 0x0014 writing holding registers (FC 16): the device refused the \
             value or quantity"
        );
    }
}
