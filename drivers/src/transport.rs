//! Links to devices. Every driver talks to a boxed `AsyncRead + AsyncWrite`, so a serial port,
//! a pseudo-terminal, a TCP stream and an in-memory `tokio::io::duplex` all work
//! (tokio-modbus `client/rtu.rs` style).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::marker::LinkError;

/// A byte stream to a device.
pub trait DeviceStream: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> DeviceStream for T {}

/// An open link.
pub type BoxedStream = Box<dyn DeviceStream>;

/// The future a custom opener returns.
pub type OpenFuture = Pin<Box<dyn Future<Output = std::io::Result<BoxedStream>> + Send>>;

/// Serial line settings. RCI printers default to 9600 baud 8N1 on their RS-232 port; the line
/// config states the printer's actual setting.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SerialSettings {
    /// Device path, e.g. `/dev/ttyUSB0`.
    pub path: String,
    /// Baud rate. Default 9,600.
    #[serde(default = "default_baud")]
    pub baud: u32,
}

fn default_baud() -> u32 {
    9_600
}

/// How to reach a device.
#[derive(Clone)]
pub enum Transport {
    /// TCP to `host:port`.
    Tcp(String),
    /// A serial port (8 data bits, no parity, 1 stop bit).
    Serial(SerialSettings),
    /// Anything else that opens a byte stream: tests, gateways.
    Custom {
        /// Shown in logs.
        name: String,
        /// Opens a new stream each time it is called.
        open: Arc<dyn Fn() -> OpenFuture + Send + Sync>,
    },
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Transport {
    /// A custom transport.
    pub fn custom(
        name: impl Into<String>,
        open: impl Fn() -> OpenFuture + Send + Sync + 'static,
    ) -> Self {
        Self::Custom {
            name: name.into(),
            open: Arc::new(open),
        }
    }

    /// Where the transport goes.
    pub fn describe(&self) -> String {
        match self {
            Self::Tcp(addr) => format!("tcp://{addr}"),
            Self::Serial(serial) => format!("serial:{}@{}", serial.path, serial.baud),
            Self::Custom { name, .. } => name.clone(),
        }
    }

    /// Opens a new stream.
    pub async fn open(&self) -> Result<BoxedStream, LinkError> {
        let opened: std::io::Result<BoxedStream> = match self {
            Self::Tcp(addr) => match tokio::net::TcpStream::connect(addr).await {
                Ok(stream) => {
                    // Requests are small and answered one at a time: no Nagle delay.
                    stream.set_nodelay(true)?;
                    Ok(Box::new(stream))
                }
                Err(error) => Err(error),
            },
            Self::Serial(serial) => open_serial(serial),
            Self::Custom { open, .. } => open().await,
        };
        opened.map_err(|source| LinkError::Open {
            target: self.describe(),
            source,
        })
    }
}

fn open_serial(serial: &SerialSettings) -> std::io::Result<BoxedStream> {
    use tokio_serial::{SerialPort, SerialPortBuilderExt};
    let port = tokio_serial::new(&serial.path, serial.baud)
        .data_bits(tokio_serial::DataBits::Eight)
        .parity(tokio_serial::Parity::None)
        .stop_bits(tokio_serial::StopBits::One)
        .flow_control(tokio_serial::FlowControl::None)
        .open_native_async()
        .map_err(std::io::Error::from)?;
    // Bytes left in the driver's buffers belong to an earlier session.
    port.clear(tokio_serial::ClearBuffer::All)
        .map_err(std::io::Error::from)?;
    Ok(Box::new(port))
}

/// A `BoxedStream` with the `Debug` tokio-modbus's clients want (line I/O and the Modbus
/// register marker).
pub(crate) struct ModbusLink(pub(crate) BoxedStream);

impl fmt::Debug for ModbusLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ModbusLink")
    }
}

impl tokio::io::AsyncRead for ModbusLink {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for ModbusLink {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
