//! Links to devices. Every driver talks to a boxed `AsyncRead + AsyncWrite`, so a serial port,
//! a pseudo-terminal, a TCP stream and an in-memory `tokio::io::duplex` all work
//! (tokio-modbus `client/rtu.rs` style).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
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
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
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
    /// Data bits. Default 8.
    #[serde(default)]
    pub data_bits: DataBits,
    /// Stop bits. Default 1.
    #[serde(default)]
    pub stop_bits: StopBits,
}

impl SerialSettings {
    /// `path` at `baud`, 8 data bits, no parity, 1 stop bit.
    pub fn new(path: impl Into<String>, baud: u32) -> Self {
        Self {
            path: path.into(),
            baud,
            parity: Parity::None,
            data_bits: DataBits::Eight,
            stop_bits: StopBits::One,
        }
    }
}

/// A serial port's parity bit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
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

impl Parity {
    /// The name in a config: `none`, `even` or `odd`.
    pub fn name(self) -> &'static str {
        match self {
            Parity::None => "none",
            Parity::Even => "even",
            Parity::Odd => "odd",
        }
    }

    /// The parity named `name`, if any.
    pub fn from_name(name: &str) -> Option<Parity> {
        [Parity::None, Parity::Even, Parity::Odd]
            .into_iter()
            .find(|p| p.name() == name)
    }

    /// The letter of the usual `8N1` notation.
    fn letter(self) -> char {
        match self {
            Parity::None => 'N',
            Parity::Even => 'E',
            Parity::Odd => 'O',
        }
    }
}

/// Data bits per character. Markers and PLCs use 7 or 8 (Modbus RTU: 8, Modbus over Serial Line
/// V1.02 §2.5.1; Modbus ASCII: 7).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum DataBits {
    /// 7 data bits.
    Seven,
    /// 8 data bits.
    #[default]
    Eight,
}

impl TryFrom<u8> for DataBits {
    type Error = String;
    fn try_from(bits: u8) -> Result<Self, String> {
        match bits {
            7 => Ok(DataBits::Seven),
            8 => Ok(DataBits::Eight),
            other => Err(format!("{other} is not 7 or 8")),
        }
    }
}

impl From<DataBits> for u8 {
    fn from(bits: DataBits) -> u8 {
        match bits {
            DataBits::Seven => 7,
            DataBits::Eight => 8,
        }
    }
}

/// Stop bits per character.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum StopBits {
    /// One stop bit.
    #[default]
    One,
    /// Two stop bits.
    Two,
}

impl TryFrom<u8> for StopBits {
    type Error = String;
    fn try_from(bits: u8) -> Result<Self, String> {
        match bits {
            1 => Ok(StopBits::One),
            2 => Ok(StopBits::Two),
            other => Err(format!("{other} is not 1 or 2")),
        }
    }
}

impl From<StopBits> for u8 {
    fn from(bits: StopBits) -> u8 {
        match bits {
            StopBits::One => 1,
            StopBits::Two => 2,
        }
    }
}

fn default_baud() -> u32 {
    9_600
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
                let framing = format!(
                    "{}{}{}",
                    u8::from(serial.data_bits),
                    serial.parity.letter(),
                    u8::from(serial.stop_bits)
                );
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
        DataBits::Seven => tokio_serial::DataBits::Seven,
        DataBits::Eight => tokio_serial::DataBits::Eight,
    };
    let stop_bits = match serial.stop_bits {
        StopBits::One => tokio_serial::StopBits::One,
        StopBits::Two => tokio_serial::StopBits::Two,
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
            data_bits: DataBits::Seven,
            stop_bits: StopBits::Two,
            ..SerialSettings::new(path.clone(), 19_200)
        };
        let port = open_serial_port(&settings).expect("open the pty");
        // A Linux pty forces 8 data bits and no parity whatever it is asked (pty_set_termios
        // clears CSIZE and PARENB); the stop bits it keeps, so they show the settings arrive.
        assert_eq!(
            port.stop_bits().expect("stop bits"),
            tokio_serial::StopBits::Two
        );
    }

    #[test]
    fn framing_outside_what_a_port_has_is_refused_when_read() {
        assert_eq!(DataBits::try_from(9), Err("9 is not 7 or 8".to_owned()));
        assert_eq!(StopBits::try_from(3), Err("3 is not 1 or 2".to_owned()));
        let settings: SerialSettings =
            toml::from_str("path = \"/dev/ttyS0\"\ndata_bits = 7\nstop_bits = 2")
                .expect("valid settings");
        assert_eq!(
            (settings.data_bits, settings.stop_bits, settings.parity),
            (DataBits::Seven, StopBits::Two, Parity::None)
        );
        assert!(toml::from_str::<SerialSettings>("path = \"/dev/ttyS0\"\ndata_bits = 9").is_err());
    }
}
