//! Putting simulators where a host looks for them: the transport wiring every `tracemark-sim`
//! subcommand shares, written once.
//!
//! [`serve`] sets a device up at a [`Place`] — a TCP address, a new pseudo-terminal, or an
//! existing serial port — and hands back where it is ([`Endpoint`]) with the task that serves
//! it, for the caller to spawn (rodbus style: the caller owns the task and its span). The
//! single-device subcommands (`tracemark-sim linx --tcp …`) call it once; [`line`] calls it for
//! every device of a line config, falling back to a pseudo-terminal or a free local port where
//! the config's address cannot be had here. The camera's MQTT side is in [`camera`].

pub mod camera;
pub mod line;

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tracemark_drivers::transport::{SerialSettings, Transport};

use crate::any_marker::AnyMarkerSim;
use crate::marker::MarkerSim;
use crate::plc::PlcSim;

/// The task serving one device: it ends only when serving fails (or its listener does).
pub type ServeTask = Pin<Box<dyn Future<Output = std::io::Result<()>> + Send + 'static>>;

/// Where to serve a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// A TCP listener on `HOST:PORT` (port 0 picks a free one).
    Tcp(String),
    /// A new pseudo-terminal pair: the device on the master end, the host opens the slave.
    Pty,
    /// An existing serial port, opened with these settings: the host is at the other end of
    /// a null-modem cable.
    Serial(SerialSettings),
}

/// Where a device is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A TCP listener.
    Tcp(SocketAddr),
    /// The slave end of a pseudo-terminal, e.g. `/dev/pts/7`.
    Pty(String),
    /// A serial port.
    Serial(String),
}

impl Endpoint {
    /// What a host configures to reach it: `127.0.0.1:40123` or a device path.
    pub fn target(&self) -> String {
        match self {
            Endpoint::Tcp(addr) => addr.to_string(),
            Endpoint::Pty(path) | Endpoint::Serial(path) => path.clone(),
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp(addr) => write!(f, "tcp {addr}"),
            Endpoint::Pty(path) => write!(f, "pty {path}"),
            Endpoint::Serial(path) => write!(f, "serial {path}"),
        }
    }
}

/// A device a host connects to: it serves TCP connections, and its serial framing on one byte
/// stream.
pub trait Serve: Clone + Send + Sync + 'static {
    /// Serves connections on `listener` until accepting fails.
    fn serve_listener(
        &self,
        listener: TcpListener,
    ) -> impl Future<Output = std::io::Result<()>> + Send;

    /// Serves the device's serial framing on `io` until it ends.
    fn serve_stream<S: AsyncRead + AsyncWrite + Unpin + Send>(
        &self,
        io: S,
    ) -> impl Future<Output = std::io::Result<()>> + Send;
}

impl Serve for AnyMarkerSim {
    fn serve_listener(
        &self,
        listener: TcpListener,
    ) -> impl Future<Output = std::io::Result<()>> + Send {
        self.serve_tcp(listener)
    }

    fn serve_stream<S: AsyncRead + AsyncWrite + Unpin + Send>(
        &self,
        io: S,
    ) -> impl Future<Output = std::io::Result<()>> + Send {
        self.serve_serial(io)
    }
}

impl Serve for PlcSim {
    fn serve_listener(
        &self,
        listener: TcpListener,
    ) -> impl Future<Output = std::io::Result<()>> + Send {
        self.serve_tcp(listener)
    }

    fn serve_stream<S: AsyncRead + AsyncWrite + Unpin + Send>(
        &self,
        io: S,
    ) -> impl Future<Output = std::io::Result<()>> + Send {
        self.serve_rtu(io)
    }
}

/// Sets `device` up at `place` (binding the listener, creating the pty or opening the port
/// now, so the host can connect as soon as this returns) and returns where it is, with the
/// task that serves it. An error means nothing was set up.
pub async fn serve<D: Serve>(device: &D, place: &Place) -> std::io::Result<(Endpoint, ServeTask)> {
    match place {
        Place::Tcp(addr) => {
            let listener = TcpListener::bind(addr).await?;
            let endpoint = Endpoint::Tcp(listener.local_addr()?);
            let device = device.clone();
            Ok((
                endpoint,
                Box::pin(async move { device.serve_listener(listener).await }),
            ))
        }
        Place::Pty => {
            let (master, slave) = tokio_serial::SerialStream::pair()?;
            let path = tokio_serial::SerialPort::name(&slave)
                .ok_or_else(|| std::io::Error::other("the pseudo-terminal has no path"))?;
            let device = device.clone();
            Ok((
                Endpoint::Pty(path),
                Box::pin(async move {
                    // The slave end stays open here so the master never sees a hang-up while
                    // the host reconnects.
                    let _slave = slave;
                    let mut master = master;
                    loop {
                        device.serve_stream(&mut master).await?;
                    }
                }),
            ))
        }
        Place::Serial(settings) => {
            let mut port = Transport::Serial(settings.clone())
                .open()
                .await
                .map_err(std::io::Error::other)?;
            let device = device.clone();
            Ok((
                Endpoint::Serial(settings.path.clone()),
                Box::pin(async move {
                    loop {
                        device.serve_stream(&mut port).await?;
                    }
                }),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linx::LinxSim;

    #[tokio::test]
    async fn a_tcp_place_is_bound_before_serve_returns() {
        let sim = AnyMarkerSim::Linx(LinxSim::new(4));
        let (endpoint, task) = serve(&sim, &Place::Tcp("127.0.0.1:0".into()))
            .await
            .expect("binds");
        let Endpoint::Tcp(addr) = endpoint else {
            panic!("a TCP endpoint, got {endpoint}");
        };
        assert_ne!(addr.port(), 0);
        assert_eq!(endpoint.target(), addr.to_string());
        let serving = tokio::spawn(task);
        tokio::net::TcpStream::connect(addr)
            .await
            .expect("connects");
        sim.wait_until(|s| s.connections() == 1).await;
        serving.abort();
    }

    #[tokio::test]
    async fn a_missing_serial_port_is_an_error() {
        let sim = PlcSim::new(1);
        let place = Place::Serial(SerialSettings::new("/dev/tracemark-no-such-port", 9_600));
        let error = serve(&sim, &place).await.err().expect("no such port");
        assert!(
            error.to_string().contains("tracemark-no-such-port"),
            "{error}"
        );
    }
}
