//! One device type for every marker protocol, for a runtime that learns the protocol from its
//! config: the line runtime and `tracemark driver probe` hold a [`MarkerTask`](super::MarkerTask)
//! or a session of [`AnyMarker`] whatever the marker is, and each call goes to the driver of the
//! variant.

use super::{DeviceSession, DeviceStatus, LinkError, MarkerDevice, PushOutcome, Refusal};
use crate::ascii::{AsciiMarker, AsciiSession};
use crate::codenet::{CodenetMarker, CodenetSession};
use crate::linx::{LinxMarker, LinxSession};
use crate::modbus_marker::{ModbusMarker, ModbusMarkerSession};
use crate::zipher::{ZipherMarker, ZipherSession};
use crate::zpl::{ZplPrinter, ZplSession};

/// A marker or printer of any protocol tracemark drives.
#[derive(Debug, Clone)]
pub enum AnyMarker {
    /// Linx RCI (`linx_rci`).
    Linx(LinxMarker),
    /// Zipher text protocol (`zipher`).
    Zipher(ZipherMarker),
    /// Codenet (`codenet`).
    Codenet(CodenetMarker),
    /// ZPL II label printer (`zpl`).
    Zpl(ZplPrinter),
    /// Modbus register marker (`modbus_marker`).
    Modbus(ModbusMarker),
    /// Generic ASCII device (`ascii`).
    Ascii(AsciiMarker),
}

/// A session of an [`AnyMarker`].
#[derive(Debug)]
pub enum AnySession {
    /// Linx RCI.
    Linx(LinxSession),
    /// Zipher.
    Zipher(ZipherSession),
    /// Codenet.
    Codenet(CodenetSession),
    /// ZPL.
    Zpl(ZplSession),
    /// Modbus register marker.
    Modbus(ModbusMarkerSession),
    /// Generic ASCII.
    Ascii(AsciiSession),
}

/// Calls `$call` on the driver inside `$value`, an [`AnyMarker`] or [`AnySession`].
macro_rules! each {
    ($kind:ident, $value:expr, $inner:ident => $call:expr) => {
        match $value {
            $kind::Linx($inner) => $call,
            $kind::Zipher($inner) => $call,
            $kind::Codenet($inner) => $call,
            $kind::Zpl($inner) => $call,
            $kind::Modbus($inner) => $call,
            $kind::Ascii($inner) => $call,
        }
    };
}

impl MarkerDevice for AnyMarker {
    type Session = AnySession;

    async fn connect(&mut self) -> Result<AnySession, LinkError> {
        Ok(match self {
            Self::Linx(device) => AnySession::Linx(device.connect().await?),
            Self::Zipher(device) => AnySession::Zipher(device.connect().await?),
            Self::Codenet(device) => AnySession::Codenet(device.connect().await?),
            Self::Zpl(device) => AnySession::Zpl(device.connect().await?),
            Self::Modbus(device) => AnySession::Modbus(device.connect().await?),
            Self::Ascii(device) => AnySession::Ascii(device.connect().await?),
        })
    }

    fn describe(&self) -> String {
        each!(Self, self, device => device.describe())
    }
}

impl DeviceSession for AnySession {
    async fn stop_and_clear(&mut self) -> Result<Result<(), Refusal>, LinkError> {
        each!(Self, self, session => session.stop_and_clear().await)
    }

    async fn start(&mut self) -> Result<Result<(), Refusal>, LinkError> {
        each!(Self, self, session => session.start().await)
    }

    async fn push(&mut self, index: u64, text: &str) -> Result<PushOutcome, LinkError> {
        each!(Self, self, session => session.push(index, text).await)
    }

    async fn poll(&mut self) -> Result<DeviceStatus, LinkError> {
        each!(Self, self, session => session.poll().await)
    }
}
