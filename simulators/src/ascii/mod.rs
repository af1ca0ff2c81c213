//! A generic ASCII marker (a laser or printer described by configuration) that answers, byte
//! for byte, as its [`AsciiConfig`] says: the same description the driver reads. A code buffer
//! of configurable depth, a print trigger, injectable faults, and the list of what it printed
//! (the ground truth). With [`AsciiConfig::default`] (tracemark's reference dialect) the
//! simulator and the driver work together with no file. See `docs/protocols/ascii.md`.

mod device;

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tracemark_drivers::ascii::AsciiConfig;
use tracemark_drivers::ascii::frame::ChecksumPosition;
use tracing::debug;

use crate::marker::SimCore;
pub use crate::marker::{Fault, MarkerSim, Print, SimSnapshot, TriggerOutcome};
use device::Device;

/// Code buffer depth when none is given.
pub const DEFAULT_DEPTH: usize = 16;

/// Noise the garbage fault sends before every reply, less any framing byte of the description.
const NOISE: &[u8] = b"\x00\xff#\x80noise";

/// Bytes read from the host at once.
const READ_CHUNK: usize = 4096;

/// A simulated ASCII marker; clones share the same device. Driven through [`MarkerSim`].
#[derive(Debug, Clone)]
pub struct AsciiSim {
    core: Arc<SimCore<Device>>,
    config: Arc<AsciiConfig>,
    /// What the garbage fault sends before a reply: noise closed by the suffix (and a dummy
    /// trailing checksum), a frame of its own that is never a valid reply.
    garbage: Arc<[u8]>,
}

impl AsciiSim {
    /// A device answering as `config` says, its buffer holding `depth` codes.
    pub fn new(config: AsciiConfig, depth: usize) -> Self {
        let config = Arc::new(config);
        let framing = config.framing();
        let framing_bytes = [framing.prefix(), framing.suffix(), framing.reply_prefix()];
        let mut garbage: Vec<u8> = NOISE
            .iter()
            .copied()
            .filter(|byte| !framing_bytes.iter().any(|bytes| bytes.contains(byte)))
            .collect();
        garbage.extend_from_slice(framing.suffix());
        if framing.checksum().position == ChecksumPosition::AfterSuffix {
            garbage.resize(garbage.len() + framing.checksum().len(), b'0');
        }
        Self {
            core: Arc::new(SimCore::new(Device::new(Arc::clone(&config), depth))),
            config,
            garbage: garbage.into(),
        }
    }

    /// The description it answers by.
    pub fn config(&self) -> &AsciiConfig {
        &self.config
    }

    /// The code buffer, oldest first.
    pub fn buffered(&self) -> Vec<String> {
        self.core.device().buffered()
    }

    fn take_disconnect(&self) -> bool {
        let mut device = self.core.device();
        if device.has(Fault::Disconnect) {
            device.clear(Fault::Disconnect);
            true
        } else {
            false
        }
    }
}

impl MarkerSim for AsciiSim {
    const NAME: &'static str = "ascii sim";

    crate::marker::marker_sim_plumbing!();

    fn snapshot(&self) -> SimSnapshot {
        let connections = self.core.connections();
        let device = self.core.device();
        SimSnapshot {
            buffered: device.buffered().len(),
            printing: device.printing(),
            print_count: device.counter(),
            print_gos: device.print_gos(),
            prints: device.prints().len(),
            commands: device.commands(),
            connections,
            message: None,
        }
    }

    async fn serve<S: AsyncRead + AsyncWrite + Unpin + Send>(
        &self,
        mut io: S,
    ) -> std::io::Result<()> {
        self.core.connected();
        let framing = self.config.framing();
        let mut decoder = framing.command_decoder();
        let mut buffer = vec![0u8; READ_CHUNK];
        let mut out = Vec::with_capacity(READ_CHUNK);
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
            for decoded in decoder.push_slice(&buffer[..read]) {
                let (reply, silent, garbage) = {
                    let mut device = self.core.device();
                    let silent = device.silent();
                    let garbage = device.has(Fault::Garbage);
                    if let Err(error) = &decoded {
                        debug!(%error, "ascii sim: bad frame from host");
                    }
                    let reply = device.handle(decoded.as_ref().ok().map(|frame| frame.body()));
                    (reply, silent, garbage)
                };
                self.core.changed();
                if silent {
                    continue;
                }
                if garbage {
                    out.extend_from_slice(&self.garbage);
                }
                out.extend_from_slice(&framing.encode_reply(&reply));
            }
            if !out.is_empty() {
                io.write_all(&out).await?;
                io.flush().await?;
                out.clear();
            }
        }
    }
}
