//! What every simulated marker shares: the fault set, the ground truth of what was printed,
//! snapshots to wait on, and the plumbing between the serving loop and the library API.

use std::future::Future;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

/// A fault the simulator can inject, at start-up (`--fault`) or at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// Refuse the next codes (Linx: NAK with C-status 51h "printer busy"; Zipher: `ERR`).
    Nak,
    /// Report the code buffer full and store nothing (Linx: C-status 43h; Zipher: `ERR` with the
    /// record count at its maximum).
    BufferFull,
    /// Drop the connection once (TCP); the fault clears itself when done.
    Disconnect,
    /// Read commands, answer none.
    Stall,
    /// Send noise bytes before every reply.
    Garbage,
    /// Consumable out (Linx: ink tank empty, P-status 07h, jet fault; Zipher: ribbon out
    /// fault): nothing prints and starting is refused.
    InkOut,
    /// Print-head cover open: the printer stops answering and printing.
    HeadOpen,
    /// A print-go on an empty buffer reprints the last data (a misconfigured printer).
    ReprintOnEmpty,
}

impl Fault {
    /// Every fault, for help texts.
    pub const ALL: [Fault; 8] = [
        Fault::Nak,
        Fault::BufferFull,
        Fault::Disconnect,
        Fault::Stall,
        Fault::Garbage,
        Fault::InkOut,
        Fault::HeadOpen,
        Fault::ReprintOnEmpty,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Nak => "nak",
            Fault::BufferFull => "buffer-full",
            Fault::Disconnect => "disconnect",
            Fault::Stall => "stall",
            Fault::Garbage => "garbage",
            Fault::InkOut => "ink-out",
            Fault::HeadOpen => "head-open",
            Fault::ReprintOnEmpty => "reprint-on-empty",
        }
    }

    /// Parses a command-line name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|fault| fault.name() == name)
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One print the simulated head made: the ground truth tests compare against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Print {
    data: Vec<u8>,
    reprint: bool,
}

impl Print {
    pub(crate) fn new(data: Vec<u8>, reprint: bool) -> Self {
        Self { data, reprint }
    }

    /// The remote field data printed.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The data as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }

    /// Old data printed again on an empty buffer.
    pub fn reprint(&self) -> bool {
        self.reprint
    }
}

/// What a print-go did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriggerOutcome {
    /// Printed the next buffered entry.
    Printed(Print),
    /// Reprinted old data on an empty buffer.
    Reprinted(Print),
    /// Buffer empty: nothing printed, error-mask bit 5 set.
    Empty,
    /// Not printing (stopped, faulted or head open): ignored.
    Ignored,
}

/// A snapshot of a simulated marker, for waiting on and asserting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimSnapshot {
    pub(crate) buffered: usize,
    pub(crate) printing: bool,
    pub(crate) print_count: u64,
    pub(crate) print_gos: u64,
    pub(crate) prints: usize,
    pub(crate) commands: u64,
    pub(crate) connections: u64,
    pub(crate) message: Option<String>,
}

impl SimSnapshot {
    /// Entries in the code buffer.
    pub fn buffered(&self) -> usize {
        self.buffered
    }

    /// Printing was started.
    pub fn printing(&self) -> bool {
        self.printing
    }

    /// The device's print counter.
    pub fn print_count(&self) -> u64 {
        self.print_count
    }

    /// Print-go signals taken while printing (the product count): more than
    /// [`prints`](Self::prints) means some found the buffer empty.
    pub fn print_gos(&self) -> u64 {
        self.print_gos
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

    /// The loaded message or selected job.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }
}

/// The library API every simulated marker offers to tests and the line twin.
pub trait MarkerSim: Clone + Send + Sync + 'static {
    /// The simulator's name in logs, e.g. `"zipher sim"`.
    const NAME: &'static str;
    /// A print-go, as the product-detect photocell gives one.
    fn trigger(&self) -> TriggerOutcome;
    /// Injects a fault; [`Fault::Disconnect`] drops the current connection now.
    fn inject(&self, fault: Fault);
    /// Clears a fault.
    fn clear(&self, fault: Fault);
    /// Faults in force.
    fn faults(&self) -> Vec<Fault>;
    /// Everything printed so far, in order: the ground truth.
    fn prints(&self) -> Vec<Print>;
    /// A snapshot.
    fn snapshot(&self) -> SimSnapshot;
    /// Waits until `ready` holds for a snapshot, and returns that snapshot.
    fn wait_until(
        &self,
        ready: impl Fn(&SimSnapshot) -> bool + Send,
    ) -> impl Future<Output = SimSnapshot> + Send;
    /// Serves one connection until the peer closes it or a disconnect is injected.
    fn serve<S: AsyncRead + AsyncWrite + Unpin + Send>(
        &self,
        io: S,
    ) -> impl Future<Output = std::io::Result<()>> + Send;
    /// Accepts TCP connections one after another, as a device's single port does.
    fn serve_tcp(&self, listener: TcpListener) -> impl Future<Output = std::io::Result<()>> + Send {
        async move {
            loop {
                let (stream, peer) = listener.accept().await?;
                // Replies are small and each one is awaited: no Nagle delay.
                stream.set_nodelay(true)?;
                tracing::info!(%peer, sim = Self::NAME, "host connected");
                if let Err(error) = self.serve(stream).await {
                    tracing::debug!(%error, sim = Self::NAME, "connection ended");
                }
                tracing::info!(%peer, sim = Self::NAME, "host disconnected");
            }
        }
    }
    /// Serves the device's serial framing on one byte stream (a pseudo-terminal); the same as
    /// [`MarkerSim::serve`] unless the protocol frames differently on a serial line (Modbus:
    /// RTU instead of MBAP).
    fn serve_serial<S: AsyncRead + AsyncWrite + Unpin + Send>(
        &self,
        io: S,
    ) -> impl Future<Output = std::io::Result<()>> + Send {
        self.serve(io)
    }
}

/// The [`MarkerSim`] methods that only pass a call to the device model in `self.core` (a
/// [`SimCore`](crate::sim_core::SimCore)) and tell waiters: the same in every simulator, written
/// once. The model has `trigger`, `inject`, `clear`, `faults` and `prints`; the core keeps
/// [`Fault::Disconnect`], which is about the connection; the impl gives `NAME`, `snapshot` and
/// the serving methods (each a [`SimCore::serve`](crate::sim_core::SimCore::serve) with the
/// protocol's codec).
macro_rules! marker_sim_plumbing {
    () => {
        fn trigger(&self) -> $crate::marker::TriggerOutcome {
            let outcome = self.core.device().trigger();
            tracing::debug!(?outcome, sim = Self::NAME, "print-go");
            self.core.changed();
            outcome
        }

        fn inject(&self, fault: $crate::marker::Fault) {
            tracing::info!(%fault, sim = Self::NAME, "fault injected");
            if fault == $crate::marker::Fault::Disconnect {
                self.core.request_disconnect();
            } else {
                self.core.device().inject(fault);
            }
            self.core.changed();
        }

        fn clear(&self, fault: $crate::marker::Fault) {
            tracing::info!(%fault, sim = Self::NAME, "fault cleared");
            if fault == $crate::marker::Fault::Disconnect {
                self.core.cancel_disconnect();
            } else {
                self.core.device().clear(fault);
            }
            self.core.changed();
        }

        fn faults(&self) -> Vec<$crate::marker::Fault> {
            let device_faults = self.core.device().faults();
            self.core.faults(device_faults)
        }

        fn prints(&self) -> Vec<$crate::marker::Print> {
            self.core.device().prints().to_vec()
        }

        async fn wait_until(
            &self,
            ready: impl Fn(&$crate::marker::SimSnapshot) -> bool + Send,
        ) -> $crate::marker::SimSnapshot {
            self.core.wait_until(|| self.snapshot(), ready).await
        }
    };
}
pub(crate) use marker_sim_plumbing;

/// Gives `sim` a print-go at `units_per_minute` until the task is dropped: the `--rate` timer.
pub async fn run_print_timer<M: MarkerSim>(sim: &M, units_per_minute: u32) {
    let period = Duration::from_secs(60) / units_per_minute.max(1);
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticker.tick().await;
        sim.trigger();
    }
}
