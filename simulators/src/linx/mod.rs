//! A Linx RCI printer that speaks the protocol byte for byte over any byte stream (TCP, a
//! pseudo-terminal, an in-memory duplex), with a remote buffer of configurable depth, a print
//! trigger (its own timer or the caller), injectable faults, and the list of what it printed —
//! the ground truth tests and the line twin compare the controller's records against.

mod printer;

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tracemark_drivers::linx::frame::FrameDecoder;
use tracemark_drivers::linx::message::Command;
use tracing::debug;

use crate::marker::SimCore;
pub use crate::marker::{Fault, MarkerSim, Print, SimSnapshot, TriggerOutcome};
use printer::{GARBAGE, Printer};

/// Remote buffer depth when none is given: the Linx "Number of Buffers" option allows 1, 2, 4,
/// 8, 16 or 32 per remote field (Linx 8900 operating manual §8.1.3); 8 is a common setting.
pub const DEFAULT_DEPTH: usize = 8;

/// A simulated Linx RCI printer; clones share the same printer. Driven through [`MarkerSim`].
#[derive(Debug, Clone)]
pub struct LinxSim {
    core: Arc<SimCore<Printer>>,
}

impl LinxSim {
    /// A printer with a remote buffer of `depth` entries.
    pub fn new(depth: usize) -> Self {
        Self {
            core: Arc::new(SimCore::new(Printer::new(depth))),
        }
    }

    /// The remote buffer, oldest first.
    pub fn buffered(&self) -> Vec<Vec<u8>> {
        self.core.device().buffered()
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

impl MarkerSim for LinxSim {
    const NAME: &'static str = "linx sim";

    crate::marker::marker_sim_plumbing!();

    fn snapshot(&self) -> SimSnapshot {
        let connections = self.core.connections();
        let printer = self.core.device();
        SimSnapshot {
            buffered: printer.buffered().len(),
            printing: printer.printing(),
            print_count: u64::from(printer.print_count()),
            print_gos: u64::from(printer.product_count()),
            prints: printer.prints().len(),
            commands: printer.commands(),
            connections,
            message: printer.message().map(str::to_owned),
        }
    }

    async fn serve<S: AsyncRead + AsyncWrite + Unpin + Send>(
        &self,
        mut io: S,
    ) -> std::io::Result<()> {
        self.core.connected();
        let mut decoder = FrameDecoder::new();
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
            for result in decoder.push_slice(&buffer[..read]) {
                let frame = match result {
                    Ok(frame) => frame,
                    Err(error) => {
                        debug!(%error, "linx sim: bad packet from host");
                        continue;
                    }
                };
                let Ok(command) = Command::from_frame(&frame) else {
                    continue;
                };
                let (reply, silent, garbage) = {
                    let mut printer = self.core.device();
                    let silent = printer.silent();
                    let garbage = printer.has(Fault::Garbage);
                    // A silent printer still takes in what it is sent (a stalled firmware, a
                    // head-open interlock): only the answer is missing.
                    let reply = printer.handle(&command);
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
                reply.to_frame().encode_into(&mut out);
                io.write_all(&out).await?;
                io.flush().await?;
            }
        }
    }
}
