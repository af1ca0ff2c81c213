//! A ZPL II label printer in applicator (print-and-apply) mode that takes what a host sends
//! byte for byte over any byte stream: stored formats (`^DF`), recalled labels (`^XF` with
//! `^FN`/`^FH`/`^FD`), `^MM`, `~HS`, `~JA`, `~PP`, `~PS` and the SGD label odometer. Labels
//! queue up to a depth and print one per start-print signal; what printed is the ground truth.

mod printer;
mod stream;

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tracemark_drivers::zpl::status::PrintMode;
use tracing::debug;

pub use crate::marker::{Fault, MarkerSim, Print, SimSnapshot, TriggerOutcome};
use crate::sim_core::{Codec, ReplyFaults, SimCore};
use printer::{GARBAGE, Printer};
use stream::CommandSplitter;

/// Labels the printer holds when no depth is given: the driver's default
/// `max_queued_labels`. A Zebra receive buffer holds far more recalled labels than a
/// print-and-apply line needs ahead of the product.
pub const DEFAULT_DEPTH: usize = 32;

/// The field whose data a print records as its [`Print`] data when none is given: the
/// driver's default code field.
pub const DEFAULT_CODE_FIELD: u16 = 1;

/// A simulated ZPL printer; clones share the same printer. Driven through [`MarkerSim`].
#[derive(Debug, Clone)]
pub struct ZplSim {
    core: Arc<SimCore<Printer>>,
}

impl ZplSim {
    /// A printer that holds up to `depth` labels; prints record field
    /// [`DEFAULT_CODE_FIELD`].
    pub fn new(depth: usize) -> Self {
        Self::with_code_field(depth, DEFAULT_CODE_FIELD)
    }

    /// A printer that holds up to `depth` labels; each print records the data of
    /// `^FN<code_field>` as its [`Print`] data.
    pub fn with_code_field(depth: usize, code_field: u16) -> Self {
        Self {
            core: Arc::new(SimCore::new(Printer::new(depth, code_field))),
        }
    }

    /// The codes of the labels waiting, oldest (the one formatted) first.
    pub fn buffered(&self) -> Vec<String> {
        self.core.device().buffered()
    }

    /// Every field of every label printed, in order: `^FN` number → data.
    pub fn printed_fields(&self) -> Vec<BTreeMap<u16, String>> {
        self.core
            .device()
            .printed_fields()
            .iter()
            .map(|fields| {
                fields
                    .iter()
                    .map(|(number, data)| (*number, String::from_utf8_lossy(data).into_owned()))
                    .collect()
            })
            .collect()
    }

    /// Formats received and thrown away (refused, buffer full, no such template).
    pub fn discarded(&self) -> u64 {
        self.core.device().discarded()
    }

    /// The print mode (`^MM`).
    pub fn print_mode(&self) -> PrintMode {
        self.core.device().print_mode()
    }
}

impl MarkerSim for ZplSim {
    const NAME: &'static str = "zpl sim";

    crate::marker::marker_sim_plumbing!();

    fn snapshot(&self) -> SimSnapshot {
        let connections = self.core.connections();
        let printer = self.core.device();
        SimSnapshot {
            buffered: printer.buffered().len(),
            printing: printer.printing(),
            print_count: printer.odometer(),
            print_gos: printer.print_gos(),
            prints: printer.prints().len(),
            commands: printer.commands(),
            connections,
            message: printer.last_stored().map(str::to_owned),
        }
    }

    async fn serve<S: AsyncRead + AsyncWrite + Unpin + Send>(&self, io: S) -> std::io::Result<()> {
        let codec = ZplCodec {
            splitter: CommandSplitter::new(),
        };
        self.core.serve(io, codec).await
    }
}

/// ZPL and SGD commands in, host status and odometer answers out.
struct ZplCodec {
    splitter: CommandSplitter,
}

impl Codec for ZplCodec {
    type Device = Printer;

    const READ_CHUNK: usize = 4096;

    fn answer(
        &mut self,
        printer: &mut Printer,
        received: &[u8],
        out: &mut Vec<u8>,
    ) -> std::io::Result<()> {
        for token in self.splitter.push_slice(received) {
            let faults = ReplyFaults::new(printer.silent(), printer.has(Fault::Garbage));
            if let Some(reply) = printer.handle(token) {
                faults.reply(out, GARBAGE, |out| out.extend_from_slice(&reply));
            }
        }
        Ok(())
    }

    fn closed(&mut self) {
        debug!(
            noise = self.splitter.noise(),
            "zpl sim: host closed the link"
        );
    }
}
