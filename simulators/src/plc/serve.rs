//! The simulated PLC's Modbus TCP service: connections, the unit id and fault policy, and the
//! stream the server reads, which can be dropped ([`PlcFault::Disconnect`]) and which screens
//! FC 16 requests whose byte count disagrees with their quantity.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_modbus::server::Service;
use tokio_modbus::{ExceptionCode, Response, SlaveRequest};
use tracing::{debug, info};

use super::{PlcFault, PlcSim};
use crate::modbus_frame::{encode_response, encode_rtu, take_rtu};

/// MBAP header: transaction (2), protocol (2), length (2) counting the unit id and the PDU
/// (Modbus Messaging on TCP/IP Implementation Guide V1.0b §3.1.3).
const MBAP_HEADER: usize = 6;
/// The FC 16 request up to its byte count: unit id, function, address (2), quantity (2), byte
/// count (Modbus Application Protocol V1.1b3 §6.12).
const FC16_HEAD: usize = MBAP_HEADER + 7;

impl PlcSim {
    /// Serves Modbus TCP on `listener`, any number of connections at once, until an accept
    /// fails.
    pub async fn serve_tcp(&self, listener: TcpListener) -> std::io::Result<()> {
        let server = tokio_modbus::server::tcp::Server::new(listener);
        let on_connected = |stream: TcpStream, peer: SocketAddr| {
            let sim = self.clone();
            async move { Ok(sim.accept(stream, peer)) }
        };
        let on_process_error = |error: std::io::Error| debug!(%error, "plc sim: connection ended");
        server.serve(&on_connected, on_process_error).await
    }

    /// Serves Modbus RTU (Modbus over Serial Line V1.02) on one byte stream — the master end of
    /// a pseudo-terminal — until it ends. Frames are found by function code and CRC
    /// ([`take_rtu`]); a frame with a bad CRC or for another unit gets no reply (MBSL §2.4.1).
    /// [`PlcFault::Disconnect`] has no meaning on a serial line; a stall answers nothing.
    pub async fn serve_rtu<S: AsyncRead + AsyncWrite + Unpin + Send>(
        &self,
        mut io: S,
    ) -> std::io::Result<()> {
        let mut received = Vec::new();
        let mut chunk = [0u8; 512];
        loop {
            let read = io.read(&mut chunk).await?;
            if read == 0 {
                return Ok(());
            }
            received.extend_from_slice(&chunk[..read]);
            while let Some(frame) = take_rtu(&mut received) {
                let answer = match frame.request() {
                    Some(request) => self.handle(SlaveRequest {
                        slave: frame.unit,
                        request,
                    }),
                    // A PDU tokio-modbus cannot decode (an FC 16 whose byte count disagrees
                    // with its quantity): exception 03, as §6.12 asks.
                    None => {
                        let mine = self.update(|state| {
                            state.unit_id == frame.unit && !state.faults.contains(&PlcFault::Stall)
                        });
                        if mine {
                            Err(ExceptionCode::IllegalDataValue)
                        } else {
                            Ok(None)
                        }
                    }
                };
                let pdu = match answer {
                    Ok(None) => continue,
                    Ok(Some(response)) => encode_response(frame.function(), &Ok(response)),
                    Err(exception) => encode_response(frame.function(), &Err(exception)),
                };
                io.write_all(&encode_rtu(frame.unit, &pdu)).await?;
                io.flush().await?;
            }
        }
    }

    fn accept(&self, stream: TcpStream, peer: SocketAddr) -> Option<(PlcService, DroppableStream)> {
        let refused = self.update(|state| {
            state.connections += 1;
            state.faults.contains(&PlcFault::Disconnect)
        });
        if refused {
            info!(%peer, "plc sim: connection closed (disconnect fault)");
            return None;
        }
        info!(%peer, "plc sim: host connected");
        let mut disconnects = self.inner.disconnects.subscribe();
        let dropped = Box::pin(async move {
            // An error means the simulator is gone: drop the connection too.
            let _ = disconnects.changed().await;
        });
        Some((
            PlcService { sim: self.clone() },
            DroppableStream {
                stream,
                dropped,
                received: Vec::new(),
                screened: Vec::new(),
                ended: false,
            },
        ))
    }

    /// One request from the server: `None` = no answer.
    pub(super) fn handle(
        &self,
        request: SlaveRequest<'static>,
    ) -> Result<Option<Response>, ExceptionCode> {
        self.update(|state| {
            if state.faults.contains(&PlcFault::Stall) {
                debug!(?request, "plc sim: stalled, no answer");
                return Ok(None);
            }
            if request.slave != state.unit_id {
                debug!(unit = request.slave, "plc sim: not my unit id, no answer");
                return Ok(None);
            }
            // The request arrived: the watchdog restarts (settled by `update`).
            state.last_request = Instant::now();
            state.requests += 1;
            state.answer_at_map(request.request).map(Some)
        })
    }
}

#[derive(Debug)]
struct PlcService {
    sim: PlcSim,
}

impl Service for PlcService {
    type Request = SlaveRequest<'static>;
    type Response = Option<Response>;
    type Exception = ExceptionCode;
    type Future = std::future::Ready<Result<Option<Response>, ExceptionCode>>;

    fn call(&self, request: Self::Request) -> Self::Future {
        std::future::ready(self.sim.handle(request))
    }
}

/// The TCP stream as the Modbus server reads it.
///
/// - It ends (EOF on read, broken pipe on write) once `dropped` completes: how
///   [`PlcFault::Disconnect`] reaches connections the tokio-modbus server owns.
/// - An FC 16 request whose byte count is not twice its quantity is handed on as an FC 16 of
///   quantity 0 at the same address, which the PLC answers with exception 03 as §6.12 asks.
///   tokio-modbus's server codec would instead drop the connection (and, in a debug build,
///   panic on a quantity over 32,767).
struct DroppableStream {
    stream: TcpStream,
    dropped: Pin<Box<dyn Future<Output = ()> + Send>>,
    /// Bytes read that do not make a whole MBAP frame yet.
    received: Vec<u8>,
    /// Whole frames, screened, not yet handed to the server.
    screened: Vec<u8>,
    /// The peer closed its side.
    ended: bool,
}

impl std::fmt::Debug for DroppableStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DroppableStream")
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

impl DroppableStream {
    fn is_dropped(&mut self, cx: &mut Context<'_>) -> bool {
        self.dropped.as_mut().poll(cx).is_ready()
    }

    /// Moves every whole frame from `received` to `screened`.
    fn screen(&mut self) {
        while self.received.len() >= MBAP_HEADER {
            let length = usize::from(u16::from_be_bytes([self.received[4], self.received[5]]));
            let whole = MBAP_HEADER + length;
            if self.received.len() < whole {
                return;
            }
            let frame: Vec<u8> = self.received.drain(..whole).collect();
            self.screened.extend(screen_frame(frame));
        }
    }
}

/// An FC 16 request frame whose byte count is not twice its quantity becomes an FC 16 of
/// quantity 0 (same transaction, unit and address); every other frame passes as it is.
fn screen_frame(frame: Vec<u8>) -> Vec<u8> {
    if frame.len() < FC16_HEAD || frame[MBAP_HEADER + 1] != 0x10 {
        return frame;
    }
    let quantity = u32::from(u16::from_be_bytes([frame[10], frame[11]]));
    let byte_count = u32::from(frame[12]);
    if byte_count == 2 * quantity {
        return frame;
    }
    let mut empty = frame[..FC16_HEAD].to_vec();
    empty[4..6].copy_from_slice(&7u16.to_be_bytes()); // unit id + 6 PDU bytes
    empty[10..13].copy_from_slice(&[0, 0, 0]); // quantity 0, byte count 0
    empty
}

impl AsyncRead for DroppableStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.is_dropped(cx) {
                // End of stream: the server closes the connection.
                return Poll::Ready(Ok(()));
            }
            if !this.screened.is_empty() {
                let n = this.screened.len().min(buf.remaining());
                buf.put_slice(&this.screened[..n]);
                this.screened.drain(..n);
                return Poll::Ready(Ok(()));
            }
            if this.ended {
                // A partial frame left at the end goes as it is; the server's codec judges it.
                this.screened.append(&mut this.received);
                if this.screened.is_empty() {
                    return Poll::Ready(Ok(()));
                }
                continue;
            }
            let mut chunk = [0u8; 512];
            let mut chunk_buf = ReadBuf::new(&mut chunk);
            ready!(Pin::new(&mut this.stream).poll_read(cx, &mut chunk_buf))?;
            if chunk_buf.filled().is_empty() {
                this.ended = true;
            } else {
                this.received.extend_from_slice(chunk_buf.filled());
                this.screen();
            }
        }
    }
}

impl AsyncWrite for DroppableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.is_dropped(cx) {
            return Poll::Ready(Err(std::io::ErrorKind::BrokenPipe.into()));
        }
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_fc16_byte_count_that_disagrees_becomes_an_empty_write() {
        let good = vec![
            0x00, 0x05, 0x00, 0x00, 0x00, 0x0B, // transaction 5, protocol 0, length 11
            0x01, 0x10, 0x00, 0x14, // unit 1, FC 16, address 20
            0x00, 0x02, 0x04, // quantity 2, byte count 4
            0x00, 0x01, 0x00, 0x02,
        ];
        assert_eq!(screen_frame(good.clone()), good);
        let mut bad = good.clone();
        bad[12] = 0x05; // byte count 5 for quantity 2
        bad.push(0x00);
        bad[5] = 0x0C;
        assert_eq!(
            screen_frame(bad),
            [
                0x00, 0x05, 0x00, 0x00, 0x00, 0x07, // same transaction, length 7
                0x01, 0x10, 0x00, 0x14, // unit 1, FC 16, address 20
                0x00, 0x00, 0x00, // quantity 0, byte count 0
            ]
        );
        // Other functions pass untouched.
        let fc04 = vec![0, 1, 0, 0, 0, 6, 1, 0x04, 0, 0, 0, 0x54];
        assert_eq!(screen_frame(fc04.clone()), fc04);
    }
}
