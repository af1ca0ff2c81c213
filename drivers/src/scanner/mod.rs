//! Hand scanners (a packing station's barcode scanner): one line per read, prefixed with its
//! ISO/IEC 15424 symbology identifier, over a serial port, a TCP connection the scanner's base
//! station accepts, or one it makes to us. Replies go back on the same link, one line each.
//! See `docs/aggregation.md` "Manual mode".
//!
//! - [`codec`]: line framing, the symbology identifier, the data checks (pure, fuzzed);
//! - [`ScannerLink`]: reads scans and writes replies over any `AsyncRead + AsyncWrite`;
//! - [`ScannerListener`]: a TCP port scanners connect to.

pub mod codec;

use std::collections::VecDeque;
use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

pub use codec::{
    LineDecoder, MAX_LINE_LEN, ParseOptions, Scan, ScanError, Symbology, encode_reply, parse_line,
};

use crate::transport::BoxedStream;

/// A scanner's link: scans in, replies out.
#[derive(Debug)]
pub struct ScannerLink<S> {
    stream: S,
    decoder: LineDecoder,
    options: ParseOptions,
    lines: VecDeque<Result<Vec<u8>, codec::LineTooLong>>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> ScannerLink<S> {
    /// A link over `stream`, reading lines with `options`.
    pub fn new(stream: S, options: ParseOptions) -> Self {
        Self {
            stream,
            decoder: LineDecoder::new(),
            options,
            lines: VecDeque::new(),
        }
    }

    /// The next line: a scan, or why the line is not one (a value: the link stays up).
    /// `Ok(None)` when the scanner closed the link; `Err` when reading failed.
    pub async fn next_scan(&mut self) -> std::io::Result<Option<Result<Scan, ScanError>>> {
        let mut buf = [0u8; 512];
        loop {
            if let Some(line) = self.lines.pop_front() {
                return Ok(Some(
                    line.map_err(ScanError::from)
                        .and_then(|line| parse_line(&line, self.options)),
                ));
            }
            let n = self.stream.read(&mut buf).await?;
            if n == 0 {
                return Ok(None);
            }
            self.lines.extend(self.decoder.push_slice(&buf[..n]));
        }
    }

    /// Writes one reply line (see [`encode_reply`]).
    pub async fn reply(&mut self, text: &str) -> std::io::Result<()> {
        self.stream.write_all(&encode_reply(text)).await?;
        self.stream.flush().await
    }
}

/// A TCP port hand scanners (or their base stations) connect to, one connection at a time.
#[derive(Debug)]
pub struct ScannerListener {
    listener: TcpListener,
}

impl ScannerListener {
    /// Listens on `address` (`host:port`; port 0 picks a free one).
    pub async fn bind(address: &str) -> std::io::Result<Self> {
        Ok(Self {
            listener: TcpListener::bind(address).await?,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Waits for the next scanner to connect.
    pub async fn accept(&self) -> std::io::Result<(BoxedStream, SocketAddr)> {
        let (stream, peer) = self.listener.accept().await?;
        stream.set_nodelay(true)?;
        Ok((Box::new(stream), peer))
    }
}
