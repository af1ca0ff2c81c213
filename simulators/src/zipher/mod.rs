//! A Zipher-protocol coder (thermal transfer / thermal inkjet) that speaks the text protocol
//! line for line over any byte stream, with a serialization buffer of configurable size, a
//! print trigger, injectable faults, and the list of what it printed (the ground truth).

mod printer;

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tracemark_drivers::zipher::codec::LineDecoder;
use tracing::debug;

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

    /// The next `times` `GST` replies are each followed at once by a print-go: the print lands
    /// between the driver's status request and the one after it (its `SLR`), as prints do on a
    /// running line.
    pub fn print_after_status(&self, times: u64) {
        self.core.device().print_after_status(times);
        self.core.changed();
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
    const NAME: &'static str = "zipher sim";

    crate::marker::marker_sim_plumbing!();

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
}
