//! A Linx RCI printer that speaks the protocol byte for byte over any byte stream (TCP, a
//! pseudo-terminal, an in-memory duplex), with a remote buffer of configurable depth, a print
//! trigger (its own timer or the caller), injectable faults, and the list of what it printed —
//! the ground truth tests and the line twin compare the controller's records against.

mod printer;

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tracemark_drivers::linx::frame::FrameDecoder;
use tracemark_drivers::linx::message::Command;
use tracing::debug;

pub use crate::marker::{Fault, MarkerSim, Print, SimSnapshot, TriggerOutcome};
use crate::sim_core::{Codec, ReplyFaults, SimCore};
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

    async fn serve<S: AsyncRead + AsyncWrite + Unpin + Send>(&self, io: S) -> std::io::Result<()> {
        let codec = LinxCodec {
            decoder: FrameDecoder::new(),
        };
        self.core.serve(io, codec).await
    }
}

/// RCI packets in, RCI replies out.
struct LinxCodec {
    decoder: FrameDecoder,
}

impl Codec for LinxCodec {
    type Device = Printer;

    fn answer(
        &mut self,
        printer: &mut Printer,
        received: &[u8],
        out: &mut Vec<u8>,
    ) -> std::io::Result<()> {
        for result in self.decoder.push_slice(received) {
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
            let faults = ReplyFaults::new(printer.silent(), printer.has(Fault::Garbage));
            let reply = printer.handle(&command);
            faults.reply(out, GARBAGE, |out| reply.to_frame().encode_into(out));
        }
        Ok(())
    }
}
