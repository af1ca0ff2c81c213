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
    /// Parity. Default none.
    #[serde(default)]
    pub parity: Parity,
    /// Data bits, 7 or 8. Default 8.
    #[serde(default = "default_data_bits")]
    pub data_bits: u8,
    /// Stop bits, 1 or 2. Default 1.
    #[serde(default = "default_stop_bits")]
    pub stop_bits: u8,
}

impl SerialSettings {
    /// `path` at `baud`, 8 data bits, no parity, 1 stop bit.
    pub fn new(path: impl Into<String>, baud: u32) -> Self {
        Self {
            path: path.into(),
            baud,
            parity: Parity::None,
            data_bits: 8,
            stop_bits: 1,
        }
    }
}

/// A serial port's parity bit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Parity {
    /// No parity bit.
    #[default]
    None,
    /// Even parity (Modbus RTU's default, Modbus over Serial Line V1.02 §2.5.1).
    Even,
    /// Odd parity.
    Odd,
}

fn default_baud() -> u32 {
    9_600
}

fn default_data_bits() -> u8 {
    8
}

fn default_stop_bits() -> u8 {
    1
}

/// How to reach a device.
#[derive(Clone)]
pub enum Transport {
    /// TCP to `host:port`.
    Tcp(String),
    /// A serial port.
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
            Self::Serial(serial) => {
                let parity = match serial.parity {
                    Parity::None => 'N',
                    Parity::Even => 'E',
                    Parity::Odd => 'O',
                };
                let framing = format!("{}{parity}{}", serial.data_bits, serial.stop_bits);
                if framing == "8N1" {
                    format!("serial:{}@{}", serial.path, serial.baud)
                } else {
                    format!("serial:{}@{} {framing}", serial.path, serial.baud)
                }
            }
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
    Ok(Box::new(open_serial_port(serial)?))
}

/// Opens the port with the configured framing and clears what its buffers hold.
fn open_serial_port(serial: &SerialSettings) -> std::io::Result<tokio_serial::SerialStream> {
    use tokio_serial::{SerialPort, SerialPortBuilderExt};
    let data_bits = match serial.data_bits {
        5 => tokio_serial::DataBits::Five,
        6 => tokio_serial::DataBits::Six,
        7 => tokio_serial::DataBits::Seven,
        8 => tokio_serial::DataBits::Eight,
        other => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{other} data bits: a serial port has 5 to 8"),
            ));
        }
    };
    let stop_bits = match serial.stop_bits {
        1 => tokio_serial::StopBits::One,
        2 => tokio_serial::StopBits::Two,
        other => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{other} stop bits: a serial port has 1 or 2"),
            ));
        }
    };
    let parity = match serial.parity {
        Parity::None => tokio_serial::Parity::None,
        Parity::Even => tokio_serial::Parity::Even,
        Parity::Odd => tokio_serial::Parity::Odd,
    };
    let port = tokio_serial::new(&serial.path, serial.baud)
        .data_bits(data_bits)
        .parity(parity)
        .stop_bits(stop_bits)
        .flow_control(tokio_serial::FlowControl::None)
        .open_native_async()
        .map_err(std::io::Error::from)?;
    // Bytes left in the driver's buffers belong to an earlier session.
    port.clear(tokio_serial::ClearBuffer::All)
        .map_err(std::io::Error::from)?;
    Ok(port)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_serial_transport_names_its_framing_unless_it_is_8n1() {
        let plain = Transport::Serial(SerialSettings::new("/dev/ttyUSB0", 9_600));
        assert_eq!(plain.describe(), "serial:/dev/ttyUSB0@9600");
        let rtu = Transport::Serial(SerialSettings {
            parity: Parity::Even,
            ..SerialSettings::new("/dev/ttyS1", 19_200)
        });
        assert_eq!(rtu.describe(), "serial:/dev/ttyS1@19200 8E1");
    }

    #[test]
    fn a_serial_port_is_opened_with_the_configured_framing() {
        use tokio_serial::SerialPort;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let _guard = runtime.enter();
        let (_master, slave) = tokio_serial::SerialStream::pair().expect("a pty pair");
        let path = slave.name().expect("the pty's path");
        let settings = SerialSettings {
            parity: Parity::Odd,
            data_bits: 7,
            stop_bits: 2,
            ..SerialSettings::new(path.clone(), 19_200)
        };
        let port = open_serial_port(&settings).expect("open the pty");
        // A Linux pty forces 8 data bits and no parity whatever it is asked (pty_set_termios
        // clears CSIZE and PARENB); the stop bits it keeps, so they show the settings arrive.
        assert_eq!(
            port.stop_bits().expect("stop bits"),
            tokio_serial::StopBits::Two
        );
        let nine = SerialSettings {
            data_bits: 9,
            ..SerialSettings::new(path, 19_200)
        };
        let error = open_serial_port(&nine).expect_err("nine data bits");
        assert_eq!(error.to_string(), "9 data bits: a serial port has 5 to 8");
    }
}
