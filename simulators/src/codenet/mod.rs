//! A Codenet printer (Domino A-Series style continuous inkjet) that speaks the protocol byte for
//! byte over any byte stream (TCP, a pseudo-terminal, an in-memory duplex), with an external
//! data queue of configurable depth, a print trigger (its own timer or the caller), injectable
//! faults, and the list of what it printed — the ground truth tests and the line twin compare
//! the controller's records against.

mod printer;

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tracemark_drivers::codenet::frame::{Packet, PacketDecoder};
use tracing::debug;

pub use crate::marker::{Fault, MarkerSim, Print, SimSnapshot, TriggerOutcome};
use crate::sim_core::{Codec, ReplyFaults, SimCore};
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

    async fn serve<S: AsyncRead + AsyncWrite + Unpin + Send>(&self, io: S) -> std::io::Result<()> {
        let codec = CodenetCodec {
            decoder: PacketDecoder::commands(),
        };
        self.core.serve(io, codec).await
    }
}

/// Command frames in, reply packets out.
struct CodenetCodec {
    decoder: PacketDecoder,
}

impl Codec for CodenetCodec {
    type Device = Printer;

    fn answer(
        &mut self,
        printer: &mut Printer,
        received: &[u8],
        out: &mut Vec<u8>,
    ) -> std::io::Result<()> {
        for result in self.decoder.push_slice(received) {
            let body = match result {
                Ok(Packet::Frame(body)) => body,
                // The command decoder yields frames only.
                Ok(_) => continue,
                Err(error) => {
                    debug!(%error, "codenet sim: bad frame from host");
                    continue;
                }
            };
            let faults = ReplyFaults::new(printer.silent(), printer.has(Fault::Garbage));
            let reply = printer.handle(&body);
            faults.reply(out, GARBAGE, |out| reply.encode_into(out));
        }
        Ok(())
    }
}
