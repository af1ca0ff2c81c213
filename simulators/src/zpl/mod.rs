//! A ZPL II label printer in applicator (print-and-apply) mode that takes what a host sends
//! byte for byte over any byte stream: stored formats (`^DF`), recalled labels (`^XF` with
//! `^FN`/`^FH`/`^FD`), `^MM`, `~HS`, `~JA`, `~PP`, `~PS` and the SGD label odometer. Labels
//! queue up to a depth and print one per start-print signal; what printed is the ground truth.

mod printer;
mod stream;

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tracemark_drivers::zpl::status::PrintMode;
use tracing::debug;

use crate::marker::SimCore;
pub use crate::marker::{Fault, MarkerSim, Print, SimSnapshot, TriggerOutcome};
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

    async fn serve<S: AsyncRead + AsyncWrite + Unpin + Send>(
        &self,
        mut io: S,
    ) -> std::io::Result<()> {
        self.core.connected();
        let mut splitter = CommandSplitter::new();
        let mut buffer = [0u8; 4096];
        let mut out = Vec::new();
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
                debug!(noise = splitter.noise(), "zpl sim: host closed the link");
                return Ok(());
            }
            let tokens = splitter.push_slice(&buffer[..read]);
            if tokens.is_empty() {
                continue;
            }
            out.clear();
            {
                let mut printer = self.core.device();
                for token in tokens {
                    // A silent printer still acts on what it is sent (a stalled firmware, the
                    // head-open interlock): only the answer is missing.
                    let silent = printer.silent();
                    let garbage = printer.has(Fault::Garbage);
                    if let Some(reply) = printer.handle(token)
                        && !silent
                    {
                        if garbage {
                            out.extend_from_slice(GARBAGE);
                        }
                        out.extend_from_slice(&reply);
                    }
                }
            }
            self.core.changed();
            if !out.is_empty() {
                io.write_all(&out).await?;
                io.flush().await?;
            }
        }
    }
}
