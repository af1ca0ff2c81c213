//! A Codenet printer (Domino A-Series style continuous inkjet) that speaks the protocol byte for
//! byte over any byte stream (TCP, a pseudo-terminal, an in-memory duplex), with an external
//! data queue of configurable depth, a print trigger (its own timer or the caller), injectable
//! faults, and the list of what it printed — the ground truth tests and the line twin compare
//! the controller's records against.

mod printer;

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tracemark_drivers::codenet::frame::{Packet, PacketDecoder};
use tracing::debug;

use crate::marker::SimCore;
pub use crate::marker::{Fault, MarkerSim, Print, SimSnapshot, TriggerOutcome};
use printer::{GARBAGE, Printer};

/// External data queue depth when none is given: the open driver tracemark learnt the queue
/// from notes "the max capacity of buffer are 32 entry" (see `docs/protocols/codenet.md`).
pub const DEFAULT_DEPTH: usize = 32;

/// A simulated Codenet printer; clones share the same printer. Driven through [`MarkerSim`].
#[derive(Debug, Clone)]
pub struct CodenetSim {
    core: Arc<SimCore<Printer>>,
}

impl CodenetSim {
    /// A printer whose external data queue holds `depth` entries.
    pub fn new(depth: usize) -> Self {
        Self {
            core: Arc::new(SimCore::new(Printer::new(depth))),
        }
    }

    /// The external data queue, oldest first.
    pub fn queued(&self) -> Vec<Vec<u8>> {
        self.core.device().queued()
    }

    fn take_disconnect(&self) -> bool {
        let mut printer = self.core.device();
        if printer.has(Fault::Disconnect) {
            printer.clear(Fault::Disconnect);
            true
        } else {
            false
        }
    }
}

impl MarkerSim for CodenetSim {
    const NAME: &'static str = "codenet sim";

    crate::marker::marker_sim_plumbing!();

    fn snapshot(&self) -> SimSnapshot {
        let connections = self.core.connections();
        let printer = self.core.device();
        SimSnapshot {
            buffered: printer.queued().len(),
            printing: printer.printing(),
            print_count: printer.product_count(),
            print_gos: printer.print_gos(),
            prints: printer.prints().len(),
            commands: printer.commands(),
            connections,
            message: printer.message().map(|number| number.to_string()),
        }
    }

    async fn serve<S: AsyncRead + AsyncWrite + Unpin + Send>(
        &self,
        mut io: S,
    ) -> std::io::Result<()> {
        self.core.connected();
        let mut decoder = PacketDecoder::commands();
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
            let mut out = Vec::new();
            for result in decoder.push_slice(&buffer[..read]) {
                let body = match result {
                    Ok(Packet::Frame(body)) => body,
                    // The command decoder yields frames only.
                    Ok(_) => continue,
                    Err(error) => {
                        debug!(%error, "codenet sim: bad frame from host");
                        continue;
                    }
                };
                let (reply, silent, garbage) = {
                    let mut printer = self.core.device();
                    let silent = printer.silent();
                    let garbage = printer.has(Fault::Garbage);
                    // A silent printer still takes in what it is sent (a stalled firmware, a
                    // head-open interlock): only the answer is missing.
                    let reply = printer.handle(&body);
                    (reply, silent, garbage)
                };
                self.core.changed();
                if silent {
                    continue;
                }
                if garbage {
                    out.extend_from_slice(GARBAGE);
                }
                reply.encode_into(&mut out);
            }
            if !out.is_empty() {
                io.write_all(&out).await?;
                io.flush().await?;
            }
        }
    }
}
