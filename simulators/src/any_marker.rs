//! [`AnyMarkerSim`]: one of the marker simulators, chosen at run time (by a subcommand or a
//! config's `type`), driven through the same [`MarkerSim`] API as each of them.

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

use crate::ascii::AsciiSim;
use crate::codenet::CodenetSim;
use crate::linx::LinxSim;
use crate::marker::{Fault, MarkerSim, Print, SimSnapshot, TriggerOutcome};
use crate::modbus_marker::ModbusMarkerSim;
use crate::zipher::ZipherSim;
use crate::zpl::ZplSim;

/// A marker simulator of any protocol; clones share the same device.
#[derive(Debug, Clone)]
pub enum AnyMarkerSim {
    /// Linx RCI.
    Linx(LinxSim),
    /// Zipher.
    Zipher(ZipherSim),
    /// Codenet.
    Codenet(CodenetSim),
    /// ZPL II.
    Zpl(ZplSim),
    /// Modbus register marker.
    ModbusMarker(ModbusMarkerSim),
    /// Generic ASCII.
    Ascii(AsciiSim),
}

/// `$body` with `$sim` bound to the simulator inside `$any`, whatever its type.
macro_rules! each {
    ($any:expr, $sim:ident => $body:expr) => {
        match $any {
            AnyMarkerSim::Linx($sim) => $body,
            AnyMarkerSim::Zipher($sim) => $body,
            AnyMarkerSim::Codenet($sim) => $body,
            AnyMarkerSim::Zpl($sim) => $body,
            AnyMarkerSim::ModbusMarker($sim) => $body,
            AnyMarkerSim::Ascii($sim) => $body,
        }
    };
}

impl AnyMarkerSim {
    /// The protocol's name as a line config spells it (`linx_rci`, `modbus_marker`).
    pub fn protocol(&self) -> &'static str {
        match self {
            AnyMarkerSim::Linx(_) => "linx_rci",
            AnyMarkerSim::Zipher(_) => "zipher",
            AnyMarkerSim::Codenet(_) => "codenet",
            AnyMarkerSim::Zpl(_) => "zpl",
            AnyMarkerSim::ModbusMarker(_) => "modbus_marker",
            AnyMarkerSim::Ascii(_) => "ascii",
        }
    }
}

impl MarkerSim for AnyMarkerSim {
    const NAME: &'static str = "marker sim";

    fn trigger(&self) -> TriggerOutcome {
        each!(self, sim => sim.trigger())
    }

    fn inject(&self, fault: Fault) {
        each!(self, sim => sim.inject(fault))
    }

    fn clear(&self, fault: Fault) {
        each!(self, sim => sim.clear(fault))
    }

    fn faults(&self) -> Vec<Fault> {
        each!(self, sim => sim.faults())
    }

    fn prints(&self) -> Vec<Print> {
        each!(self, sim => sim.prints())
    }

    fn snapshot(&self) -> SimSnapshot {
        each!(self, sim => sim.snapshot())
    }

    async fn wait_until(&self, ready: impl Fn(&SimSnapshot) -> bool + Send) -> SimSnapshot {
        each!(self, sim => sim.wait_until(ready).await)
    }

    async fn serve<S: AsyncRead + AsyncWrite + Unpin + Send>(&self, io: S) -> std::io::Result<()> {
        each!(self, sim => sim.serve(io).await)
    }

    // The inner simulator's own, so its logs carry its name.
    async fn serve_tcp(&self, listener: TcpListener) -> std::io::Result<()> {
        each!(self, sim => sim.serve_tcp(listener).await)
    }

    async fn serve_serial<S: AsyncRead + AsyncWrite + Unpin + Send>(
        &self,
        io: S,
    ) -> std::io::Result<()> {
        each!(self, sim => sim.serve_serial(io).await)
    }
}
