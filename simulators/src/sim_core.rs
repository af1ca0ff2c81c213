//! The connection plumbing every simulated marker shares, written once: the device model behind
//! a lock, a version counter waiters watch instead of sleeping, the one-shot disconnect fault,
//! and the serving loop that moves bytes between a connection and a protocol's [`Codec`].
//!
//! A simulator is then three parts: a device model without I/O (`printer.rs`, `device.rs`) that
//! answers one command at a time, a [`Codec`] that cuts the host's bytes into commands and
//! encodes the model's answers, and [`SimCore::serve`], which owns the socket. The loop takes
//! the device lock once per chunk read, never across an `.await`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{Notify, watch};

use crate::marker::Fault;

/// One protocol's half of a connection: turns what the host sent into commands for the device
/// model and the model's answers into bytes. Pure: no I/O, no locking.
pub(crate) trait Codec: Send {
    /// The device model the commands act on.
    type Device;

    /// Bytes read from the host at once.
    const READ_CHUNK: usize = 512;

    /// Takes the next bytes from the host, lets `device` act on every command they complete,
    /// and appends the replies to `out`. An error ends the connection, after what is already
    /// in `out` has been sent (a Modbus TCP header that cannot be resynchronised).
    fn answer(
        &mut self,
        device: &mut Self::Device,
        received: &[u8],
        out: &mut Vec<u8>,
    ) -> std::io::Result<()>;

    /// The host closed the connection.
    fn closed(&mut self) {}
}

/// How the device's faults shape its reply to one command. Read before the command acts, as
/// the simulators always have: a command cannot silence its own answer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReplyFaults {
    /// Stall or head open: the device still acts on what it is sent (a stalled firmware, a
    /// head-open interlock), only the answer is missing.
    silent: bool,
    /// Noise goes out before the reply.
    garbage: bool,
}

impl ReplyFaults {
    pub(crate) fn new(silent: bool, garbage: bool) -> Self {
        Self { silent, garbage }
    }

    /// Appends the reply `encode` writes to `out`: nothing while silent, after `noise` while
    /// the garbage fault is in force.
    pub(crate) fn reply(self, out: &mut Vec<u8>, noise: &[u8], encode: impl FnOnce(&mut Vec<u8>)) {
        if self.silent {
            return;
        }
        if self.garbage {
            out.extend_from_slice(noise);
        }
        encode(out);
    }
}

/// The plumbing between a device model, its serving loop and the library API.
#[derive(Debug)]
pub(crate) struct SimCore<P> {
    device: Mutex<P>,
    connections: Mutex<u64>,
    /// Bumped on every change, so waiters need no sleeps.
    version: watch::Sender<u64>,
    /// [`Fault::Disconnect`] in force: the next look of the serving loop drops its connection
    /// and clears it. Kept here, not in the model: it is about the connection, not the device.
    disconnect_pending: AtomicBool,
    /// Wakes the serving loop to look.
    disconnect: Notify,
}

impl<P> SimCore<P> {
    pub(crate) fn new(device: P) -> Self {
        let (version, _) = watch::channel(0);
        Self {
            device: Mutex::new(device),
            connections: Mutex::new(0),
            version,
            disconnect_pending: AtomicBool::new(false),
            disconnect: Notify::new(),
        }
    }

    /// The device model. A panic while holding the lock cannot leave the model half-updated
    /// in a way that matters to a simulator; keep serving.
    pub(crate) fn device(&self) -> MutexGuard<'_, P> {
        self.device.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn changed(&self) {
        self.version.send_modify(|version| *version += 1);
    }

    fn connected(&self) {
        *self
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner) += 1;
        self.changed();
    }

    pub(crate) fn connections(&self) -> u64 {
        *self
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Puts [`Fault::Disconnect`] in force and wakes the serving loop; without a connection,
    /// the next one is dropped as it starts.
    pub(crate) fn request_disconnect(&self) {
        self.disconnect_pending.store(true, Ordering::SeqCst);
        self.disconnect.notify_waiters();
    }

    /// Takes [`Fault::Disconnect`] back before the serving loop acted on it.
    pub(crate) fn cancel_disconnect(&self) {
        self.disconnect_pending.store(false, Ordering::SeqCst);
    }

    /// The model's faults, with [`Fault::Disconnect`] while it is pending, in order.
    pub(crate) fn faults(&self, mut device_faults: Vec<Fault>) -> Vec<Fault> {
        if self.disconnect_pending.load(Ordering::SeqCst) {
            device_faults.push(Fault::Disconnect);
            device_faults.sort_unstable();
        }
        device_faults
    }

    fn take_disconnect(&self) -> bool {
        self.disconnect_pending.swap(false, Ordering::SeqCst)
    }

    /// Waits until `ready` holds for what `snapshot` takes, looking again on every change.
    pub(crate) async fn wait_until<T>(
        &self,
        snapshot: impl Fn() -> T,
        ready: impl Fn(&T) -> bool,
    ) -> T {
        let mut version = self.version.subscribe();
        loop {
            let current = snapshot();
            if ready(&current) {
                return current;
            }
            if version.changed().await.is_err() {
                return current;
            }
        }
    }
}

impl<P: Send> SimCore<P> {
    /// Serves one connection with `codec` until the peer closes it, the codec refuses what it
    /// read, or a disconnect is injected.
    pub(crate) async fn serve<C, S>(&self, mut io: S, mut codec: C) -> std::io::Result<()>
    where
        C: Codec<Device = P>,
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        self.connected();
        let mut buffer = vec![0u8; C::READ_CHUNK];
        let mut out = Vec::new();
        loop {
            // Listen before looking: a disconnect injected in between still wakes the read.
            let disconnect = self.disconnect.notified();
            if self.take_disconnect() {
                return Ok(());
            }
            let read = tokio::select! {
                read = io.read(&mut buffer) => read?,
                () = disconnect => continue,
            };
            if read == 0 {
                codec.closed();
                return Ok(());
            }
            out.clear();
            let answered = codec.answer(&mut self.device(), &buffer[..read], &mut out);
            self.changed();
            if !out.is_empty() {
                io.write_all(&out).await?;
                io.flush().await?;
            }
            answered?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A device that counts commands; a codec that takes one byte per command and echoes it.
    struct Echo;

    impl Codec for Echo {
        type Device = u64;

        fn answer(
            &mut self,
            device: &mut u64,
            received: &[u8],
            out: &mut Vec<u8>,
        ) -> std::io::Result<()> {
            for &byte in received {
                if byte == b'!' {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "refused",
                    ));
                }
                *device += 1;
                out.push(byte);
            }
            Ok(())
        }
    }

    #[tokio::test]
    async fn echoes_until_the_host_closes() {
        let core = SimCore::new(0u64);
        let (mut host, device) = tokio::io::duplex(64);
        let (served, ()) = tokio::join!(core.serve(device, Echo), async {
            host.write_all(b"abc").await.expect("write");
            let mut reply = [0u8; 3];
            host.read_exact(&mut reply).await.expect("read");
            assert_eq!(&reply, b"abc");
            drop(host);
        });
        served.expect("a clean close");
        assert_eq!(*core.device(), 3);
        assert_eq!(core.connections(), 1);
    }

    #[tokio::test]
    async fn a_refused_chunk_ends_the_connection_after_the_replies_before_it() {
        let core = SimCore::new(0u64);
        let (mut host, device) = tokio::io::duplex(64);
        host.write_all(b"ab!c").await.expect("write");
        let served = core.serve(device, Echo).await;
        assert!(served.is_err());
        let mut reply = Vec::new();
        host.read_to_end(&mut reply).await.expect("read");
        assert_eq!(reply, b"ab");
    }

    #[tokio::test]
    async fn a_disconnect_drops_the_connection_once() {
        let core = SimCore::new(0u64);
        let (_host, device) = tokio::io::duplex(64);
        core.request_disconnect();
        assert_eq!(
            core.faults(vec![Fault::Nak]),
            [Fault::Nak, Fault::Disconnect]
        );
        core.serve(device, Echo).await.expect("dropped cleanly");
        assert_eq!(core.faults(Vec::new()), [], "the fault clears itself");

        // Injected while a connection waits for the host: the read is woken.
        let (_host, device) = tokio::io::duplex(64);
        let (served, ()) = tokio::join!(core.serve(device, Echo), async {
            core.wait_until(|| core.connections(), |n| *n == 2).await;
            core.request_disconnect();
        });
        served.expect("dropped cleanly");
    }

    #[test]
    fn replies_follow_the_faults_read_before_the_command() {
        let mut out = Vec::new();
        ReplyFaults::new(false, false).reply(&mut out, b"~", |out| out.push(b'A'));
        ReplyFaults::new(true, true).reply(&mut out, b"~", |out| out.push(b'B'));
        ReplyFaults::new(false, true).reply(&mut out, b"~", |out| out.push(b'C'));
        assert_eq!(out, b"A~C");
    }
}
