//! A Zipher-protocol coder (thermal transfer / thermal inkjet) that speaks the text protocol
//! line for line over any byte stream, with a serialization buffer of configurable size, a
//! print trigger, injectable faults, and the list of what it printed (the ground truth).

mod printer;

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tracemark_drivers::zipher::codec::LineDecoder;
use tracing::debug;

pub use crate::marker::{Fault, MarkerSim, Print, SimSnapshot, TriggerOutcome};
use crate::sim_core::{Codec, ReplyFaults, SimCore};
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

    async fn serve<S: AsyncRead + AsyncWrite + Unpin + Send>(&self, io: S) -> std::io::Result<()> {
        let codec = ZipherCodec {
            decoder: LineDecoder::new(),
        };
        self.core.serve(io, codec).await
    }
}

/// Command lines in, response lines out.
struct ZipherCodec {
    decoder: LineDecoder,
}

impl Codec for ZipherCodec {
    type Device = Coder;

    fn answer(
        &mut self,
        coder: &mut Coder,
        received: &[u8],
        out: &mut Vec<u8>,
    ) -> std::io::Result<()> {
        for line in self.decoder.push_slice(received) {
            let Ok(line) = line else {
                debug!("zipher sim: overlong line from host");
                continue;
            };
            let text = String::from_utf8_lossy(&line);
            let faults = ReplyFaults::new(coder.silent(), coder.has(Fault::Garbage));
            let reply = coder.handle(&text);
            faults.reply(out, GARBAGE, |out| out.extend_from_slice(&reply.encode()));
        }
        Ok(())
    }
}
