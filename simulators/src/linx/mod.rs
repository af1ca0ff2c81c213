//! A Linx RCI printer that speaks the protocol byte for byte over any byte stream (TCP, a
//! pseudo-terminal, an in-memory duplex), with a remote buffer of configurable depth, a print
//! trigger (its own timer or the caller), injectable faults, and the list of what it printed —
//! the ground truth tests and the line twin compare the controller's records against.

mod printer;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tracemark_drivers::linx::frame::FrameDecoder;
use tracemark_drivers::linx::message::Command;
use tracing::{debug, info};

pub use printer::{Fault, Print, TriggerOutcome};
use printer::{GARBAGE, Printer};

/// Remote buffer depth when none is given: the Linx "Number of Buffers" option allows 1, 2, 4,
/// 8, 16 or 32 per remote field (Linx 8900 operating manual §8.1.3); 8 is a common setting.
pub const DEFAULT_DEPTH: usize = 8;

/// A snapshot of the simulated printer, for waiting on and asserting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimSnapshot {
    buffered: usize,
    printing: bool,
    print_count: u32,
    prints: usize,
    commands: u64,
    connections: u64,
    message: Option<String>,
}

impl SimSnapshot {
    /// Entries in the remote buffer.
    pub fn buffered(&self) -> usize {
        self.buffered
    }

    /// Printing was started.
    pub fn printing(&self) -> bool {
        self.printing
    }

    /// The printer's print counter.
    pub fn print_count(&self) -> u32 {
        self.print_count
    }

    /// Prints made (including reprints).
    pub fn prints(&self) -> usize {
        self.prints
    }

    /// Commands answered or swallowed so far.
    pub fn commands(&self) -> u64 {
        self.commands
    }

    /// Connections served so far.
    pub fn connections(&self) -> u64 {
        self.connections
    }

    /// The loaded message.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }
}

#[derive(Debug)]
struct Shared {
    printer: Mutex<Printer>,
    connections: Mutex<u64>,
    /// Bumped on every change, so waiters need no sleeps.
    version: watch::Sender<u64>,
    /// Wakes the serving loop to drop its connection.
    disconnect: Notify,
}

/// A simulated Linx RCI printer; clones share the same printer.
#[derive(Debug, Clone)]
pub struct LinxSim {
    shared: Arc<Shared>,
}

impl LinxSim {
    /// A printer with a remote buffer of `depth` entries.
    pub fn new(depth: usize) -> Self {
        let (version, _) = watch::channel(0);
        Self {
            shared: Arc::new(Shared {
                printer: Mutex::new(Printer::new(depth)),
                connections: Mutex::new(0),
                version,
                disconnect: Notify::new(),
            }),
        }
    }

    fn printer(&self) -> MutexGuard<'_, Printer> {
        // A panic while holding the lock cannot leave the printer half-updated in a way that
        // matters to a simulator; keep serving.
        self.shared
            .printer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn changed(&self) {
        self.shared.version.send_modify(|version| *version += 1);
    }

    /// A print-go, as the product-detect photocell gives one.
    pub fn trigger(&self) -> TriggerOutcome {
        let outcome = self.printer().trigger();
        debug!(?outcome, "linx sim print-go");
        self.changed();
        outcome
    }

    /// Injects a fault; [`Fault::Disconnect`] drops the current connection now.
    pub fn inject(&self, fault: Fault) {
        info!(%fault, "linx sim fault injected");
        self.printer().inject(fault);
        if fault == Fault::Disconnect {
            self.shared.disconnect.notify_waiters();
        }
        self.changed();
    }

    /// Clears a fault.
    pub fn clear(&self, fault: Fault) {
        info!(%fault, "linx sim fault cleared");
        self.printer().clear(fault);
        self.changed();
    }

    /// Faults in force.
    pub fn faults(&self) -> Vec<Fault> {
        self.printer().faults()
    }

    /// Everything printed so far, in order: the ground truth.
    pub fn prints(&self) -> Vec<Print> {
        self.printer().prints().to_vec()
    }

    /// The remote buffer, oldest first.
    pub fn buffered(&self) -> Vec<Vec<u8>> {
        self.printer().buffered()
    }

    /// A snapshot.
    pub fn snapshot(&self) -> SimSnapshot {
        let connections = *self
            .shared
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let printer = self.printer();
        SimSnapshot {
            buffered: printer.buffered().len(),
            printing: printer.printing(),
            print_count: printer.print_count(),
            prints: printer.prints().len(),
            commands: printer.commands(),
            connections,
            message: printer.message().map(str::to_owned),
        }
    }

    /// Waits until `ready` holds for a snapshot, and returns that snapshot.
    pub async fn wait_until(&self, ready: impl Fn(&SimSnapshot) -> bool) -> SimSnapshot {
        let mut version = self.shared.version.subscribe();
        loop {
            let snapshot = self.snapshot();
            if ready(&snapshot) {
                return snapshot;
            }
            if version.changed().await.is_err() {
                return snapshot;
            }
        }
    }

    /// Serves one connection until the peer closes it or a disconnect is injected.
    pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(&self, mut io: S) -> std::io::Result<()> {
        *self
            .shared
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner) += 1;
        self.changed();
        let mut decoder = FrameDecoder::new();
        let mut buffer = [0u8; 512];
        loop {
            let disconnect = self.shared.disconnect.notified();
            if self.take_disconnect() {
                return Ok(());
            }
            let read = tokio::select! {
                read = io.read(&mut buffer) => read?,
                () = disconnect => {
                    if self.take_disconnect() {
                        return Ok(());
                    }
                    continue;
                }
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
                    let mut printer = self.printer();
                    let silent = printer.silent();
                    let garbage = printer.has(Fault::Garbage);
                    // A silent printer still takes in what it is sent (a stalled firmware, a
                    // head-open interlock): only the answer is missing.
                    let reply = printer.handle(&command);
                    (reply, silent, garbage)
                };
                self.changed();
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

    fn take_disconnect(&self) -> bool {
        let mut printer = self.printer();
        if printer.has(Fault::Disconnect) {
            printer.clear(Fault::Disconnect);
            true
        } else {
            false
        }
    }

    /// Accepts TCP connections one after another, as a printer's single RCI port does.
    pub async fn serve_tcp(&self, listener: TcpListener) -> std::io::Result<()> {
        loop {
            let (stream, peer) = listener.accept().await?;
            info!(%peer, "linx sim: host connected");
            if let Err(error) = self.serve(stream).await {
                debug!(%error, "linx sim: connection ended");
            }
            info!(%peer, "linx sim: host disconnected");
        }
    }

    /// Prints on its own timer at `units_per_minute` until the task is dropped.
    pub async fn run_print_timer(&self, units_per_minute: u32) {
        let period = Duration::from_secs(60) / units_per_minute.max(1);
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            ticker.tick().await;
            self.trigger();
        }
    }
}
