//! A Zipher-protocol coder (thermal transfer / thermal inkjet) that speaks the text protocol
//! line for line over any byte stream, with a serialization buffer of configurable size, a
//! print trigger, injectable faults, and the list of what it printed (the ground truth).

mod printer;

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tracemark_drivers::zipher::codec::LineDecoder;
use tracing::{debug, info};

use crate::marker::SimCore;
pub use crate::marker::{Fault, MarkerSim, Print, SimSnapshot, TriggerOutcome};
use printer::{Coder, GARBAGE};

/// Serialization buffer size when none is given (records).
pub const DEFAULT_DEPTH: usize = 16;

/// A simulated Zipher-protocol coder; clones share the same machine. Driven through
/// [`MarkerSim`].
#[derive(Debug, Clone)]
pub struct ZipherSim {
    core: Arc<SimCore<Coder>>,
}

impl ZipherSim {
    /// A coder whose serialization buffer holds `depth` records.
    pub fn new(depth: usize) -> Self {
        Self {
            core: Arc::new(SimCore::new(Coder::new(depth))),
        }
    }

    /// The serialization buffer, oldest first.
    pub fn buffered(&self) -> Vec<String> {
        self.core.device().buffered()
    }

    fn take_disconnect(&self) -> bool {
        let mut coder = self.core.device();
        if coder.has(Fault::Disconnect) {
            coder.clear(Fault::Disconnect);
            true
        } else {
            false
        }
    }
}

impl MarkerSim for ZipherSim {
    fn trigger(&self) -> TriggerOutcome {
        let outcome = self.core.device().trigger();
        debug!(?outcome, "zipher sim print-go");
        self.core.changed();
        outcome
    }

    fn inject(&self, fault: Fault) {
        info!(%fault, "zipher sim fault injected");
        self.core.device().inject(fault);
        if fault == Fault::Disconnect {
            self.core.request_disconnect();
        }
        self.core.changed();
    }

    fn clear(&self, fault: Fault) {
        info!(%fault, "zipher sim fault cleared");
        self.core.device().clear(fault);
        self.core.changed();
    }

    fn faults(&self) -> Vec<Fault> {
        self.core.device().faults()
    }

    fn prints(&self) -> Vec<Print> {
        self.core.device().prints().to_vec()
    }

    fn snapshot(&self) -> SimSnapshot {
        let connections = self.core.connections();
        let coder = self.core.device();
        SimSnapshot {
            buffered: coder.buffered().len(),
            printing: coder.printing(),
            print_count: coder.total_count(),
            print_gos: coder.print_gos(),
            prints: coder.prints().len(),
            commands: coder.commands(),
            connections,
            message: coder.job().map(str::to_owned),
        }
    }

    async fn wait_until(&self, ready: impl Fn(&SimSnapshot) -> bool + Send) -> SimSnapshot {
        self.core.wait_until(|| self.snapshot(), ready).await
    }

    async fn serve<S: AsyncRead + AsyncWrite + Unpin + Send>(
        &self,
        mut io: S,
    ) -> std::io::Result<()> {
        self.core.connected();
        let mut decoder = LineDecoder::new();
        let mut buffer = [0u8; 512];
        loop {
            let disconnect = self.core.disconnect().notified();
            if self.take_disconnect() {
                return Ok(());
            }
            let read = tokio::select! {
                read = io.read(&mut buffer) => read?,
                () = disconnect => continue,
            };
            if read == 0 {
                return Ok(());
            }
            for line in decoder.push_slice(&buffer[..read]) {
                let Ok(line) = line else {
                    debug!("zipher sim: overlong line from host");
                    continue;
                };
                let text = String::from_utf8_lossy(&line);
                let (reply, silent, garbage) = {
                    let mut coder = self.core.device();
                    let silent = coder.silent();
                    let garbage = coder.has(Fault::Garbage);
                    let reply = coder.handle(&text);
                    (reply, silent, garbage)
                };
                self.core.changed();
                if silent {
                    continue;
                }
                let mut out = Vec::new();
                if garbage {
                    out.extend_from_slice(GARBAGE);
                }
                out.extend_from_slice(&reply.encode());
                io.write_all(&out).await?;
                io.flush().await?;
            }
        }
    }

    async fn serve_tcp(&self, listener: TcpListener) -> std::io::Result<()> {
        loop {
            let (stream, peer) = listener.accept().await?;
            info!(%peer, "zipher sim: host connected");
            if let Err(error) = self.serve(stream).await {
                debug!(%error, "zipher sim: connection ended");
            }
            info!(%peer, "zipher sim: host disconnected");
        }
    }
}
