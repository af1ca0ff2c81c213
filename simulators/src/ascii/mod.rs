//! A generic ASCII marker (a laser or printer described by configuration) that answers, byte
//! for byte, as its [`AsciiConfig`] says: the same description the driver reads. A code buffer
//! of configurable depth, a print trigger, injectable faults, and the list of what it printed
//! (the ground truth). With [`AsciiConfig::default`] (tracemark's reference dialect) the
//! simulator and the driver work together with no file. See `docs/protocols/ascii.md`.

mod device;

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tracemark_drivers::ascii::AsciiConfig;
use tracemark_drivers::ascii::frame::{ChecksumPosition, FrameDecoder, Framing};
use tracing::debug;

pub use crate::marker::{Fault, MarkerSim, Print, SimSnapshot, TriggerOutcome};
use crate::sim_core::{Codec, ReplyFaults, SimCore};
use device::Device;

/// Code buffer depth when none is given.
pub const DEFAULT_DEPTH: usize = 16;

/// Noise the garbage fault sends before every reply, less any framing byte of the description.
const NOISE: &[u8] = b"\x00\xff#\x80noise";

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

    async fn serve<S: AsyncRead + AsyncWrite + Unpin + Send>(&self, io: S) -> std::io::Result<()> {
        let framing = self.config.framing();
        let codec = AsciiCodec {
            framing,
            decoder: framing.command_decoder(),
            garbage: &self.garbage,
        };
        self.core.serve(io, codec).await
    }
}

/// Commands framed as the description says in, replies framed the same way out.
struct AsciiCodec<'a> {
    framing: &'a Framing,
    decoder: FrameDecoder,
    garbage: &'a [u8],
}

impl Codec for AsciiCodec<'_> {
    type Device = Device;

    const READ_CHUNK: usize = 4096;

    fn answer(
        &mut self,
        device: &mut Device,
        received: &[u8],
        out: &mut Vec<u8>,
    ) -> std::io::Result<()> {
        for decoded in self.decoder.push_slice(received) {
            let faults = ReplyFaults::new(device.silent(), device.has(Fault::Garbage));
            if let Err(error) = &decoded {
                debug!(%error, "ascii sim: bad frame from host");
            }
            // A frame the device cannot read is still a command: it answers it with a NAK.
            let reply = device.handle(decoded.as_ref().ok().map(|frame| frame.body()));
            faults.reply(out, self.garbage, |out| {
                out.extend_from_slice(&self.framing.encode_reply(&reply));
            });
        }
        Ok(())
    }
}
