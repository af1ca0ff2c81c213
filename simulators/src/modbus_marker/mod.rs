//! A Modbus register marker (a cable or pipe inkjet printer or laser driven through holding
//! registers) that serves its register map over Modbus TCP, or Modbus RTU on a pseudo-terminal,
//! with a code buffer of configurable depth, a print trigger, injectable faults, and the list
//! of what it printed (the ground truth). The map is a
//! [`ModbusMarkerMap`]; with its default the
//! simulator and the driver work together with no config. See
//! `docs/protocols/modbus-marker.md`.

mod device;

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tracemark_drivers::modbus_marker::ModbusMarkerMap;
use tracing::debug;

pub use crate::marker::{Fault, MarkerSim, Print, SimSnapshot, TriggerOutcome};
use crate::modbus_frame::{
    RequestFrame, encode_mbap, encode_response, encode_rtu, take_mbap, take_rtu,
};
use crate::sim_core::{Codec, SimCore};
use device::Device;

/// Code buffer depth when none is given.
pub const DEFAULT_DEPTH: usize = 16;
/// Unit id answered when none is given (the driver's default too).
pub const DEFAULT_UNIT_ID: u8 = 1;

/// Framing on the byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// MBAP header (Modbus TCP).
    Tcp,
    /// Address + PDU + CRC-16 (Modbus RTU).
    Rtu,
}

/// A simulated Modbus register marker; clones share the same device. Driven through
/// [`MarkerSim`]; `serve` speaks Modbus TCP (MBAP) on any stream,
/// [`serve_rtu`](Self::serve_rtu) Modbus RTU.
#[derive(Debug, Clone)]
pub struct ModbusMarkerSim {
    core: Arc<SimCore<Device>>,
}

impl ModbusMarkerSim {
    /// A marker with the default register map at unit 1, its buffer holding `depth` codes.
    pub fn new(depth: usize) -> Self {
        Self::with_map(ModbusMarkerMap::default(), DEFAULT_UNIT_ID, depth)
    }

    /// A marker serving `map` at `unit_id`, its buffer holding `depth` codes. Requests to
    /// another unit id get no answer.
    pub fn with_map(map: ModbusMarkerMap, unit_id: u8, depth: usize) -> Self {
        Self {
            core: Arc::new(SimCore::new(Device::new(map, unit_id, depth))),
        }
    }

    /// The code buffer, oldest first.
    pub fn buffered(&self) -> Vec<String> {
        self.core.device().buffered()
    }

    /// Serves Modbus RTU on one byte stream (a pseudo-terminal) until it closes.
    pub async fn serve_rtu<S: AsyncRead + AsyncWrite + Unpin + Send>(
        &self,
        io: S,
    ) -> std::io::Result<()> {
        self.serve_framed(io, Framing::Rtu).await
    }

    async fn serve_framed<S: AsyncRead + AsyncWrite + Unpin + Send>(
        &self,
        io: S,
        framing: Framing,
    ) -> std::io::Result<()> {
        let codec = ModbusCodec {
            framing,
            unread: Vec::new(),
        };
        self.core.serve(io, codec).await
    }
}

/// Requests in, responses out, in MBAP or RTU framing. Garbage corrupts the reply itself rather
/// than going before it: a Modbus frame has no start byte a master could skip noise to.
struct ModbusCodec {
    framing: Framing,
    /// Bytes of a request not yet complete.
    unread: Vec<u8>,
}

impl Codec for ModbusCodec {
    type Device = Device;

    fn answer(
        &mut self,
        device: &mut Device,
        received: &[u8],
        out: &mut Vec<u8>,
    ) -> std::io::Result<()> {
        self.unread.extend_from_slice(received);
        loop {
            let frame = match self.framing {
                Framing::Tcp => take_mbap(&mut self.unread)
                    .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidData, error))?,
                Framing::Rtu => take_rtu(&mut self.unread),
            };
            let Some(frame) = frame else {
                return Ok(());
            };
            if let Some(reply) = self.reply(device, &frame) {
                out.extend_from_slice(&reply);
            }
        }
    }
}

impl ModbusCodec {
    /// The reply frame to one request, if the device answers.
    fn reply(&self, device: &mut Device, frame: &RequestFrame) -> Option<Vec<u8>> {
        let result = device.handle(frame.unit, frame.request());
        let garbage = device.has(Fault::Garbage);
        let Some(result) = result else {
            debug!(unit = frame.unit, "modbus marker sim: no answer");
            return None;
        };
        let pdu = encode_response(frame.function(), &result);
        let mut reply = match self.framing {
            Framing::Tcp => encode_mbap(frame.transaction, frame.unit, &pdu),
            Framing::Rtu => encode_rtu(frame.unit, &pdu),
        };
        if garbage {
            match self.framing {
                // A corrupt MBAP header: protocol identifier FFFFh instead of 0 (MBTCP §3.1.3).
                Framing::Tcp => {
                    reply[2] = 0xFF;
                    reply[3] = 0xFF;
                }
                // A corrupt CRC (MBSL §2.5.1.2).
                Framing::Rtu => {
                    let last = reply.len() - 1;
                    reply[last] ^= 0xFF;
                }
            }
        }
        Some(reply)
    }
}

impl MarkerSim for ModbusMarkerSim {
    const NAME: &'static str = "modbus marker sim";

    crate::marker::marker_sim_plumbing!();

    fn snapshot(&self) -> SimSnapshot {
        let connections = self.core.connections();
        let device = self.core.device();
        SimSnapshot {
            buffered: device.buffered().len(),
            printing: device.printing(),
            print_count: device.counter(),
            print_gos: device.print_gos(),
            prints: device.prints().len(),
            commands: device.commands(),
            connections,
            message: None,
        }
    }

    /// Serves Modbus TCP (MBAP framing) on one byte stream.
    async fn serve<S: AsyncRead + AsyncWrite + Unpin + Send>(&self, io: S) -> std::io::Result<()> {
        self.serve_framed(io, Framing::Tcp).await
    }

    async fn serve_serial<S: AsyncRead + AsyncWrite + Unpin + Send>(
        &self,
        io: S,
    ) -> std::io::Result<()> {
        self.serve_rtu(io).await
    }
}
