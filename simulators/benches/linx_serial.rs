//! Linx RCI over a 115,200-baud serial line (issue 4: the driver reaches ≥ 90 % of the link's
//! byte capacity).
//!
//! A pseudo-terminal moves bytes as fast as the kernel copies them: it has no baud rate. The
//! bench puts a UART between the pty and the simulated printer: every byte takes one character
//! time on its wire (8N1: 10 bits, 86.8 µs at 115,200 baud), a direction carries one byte at a
//! time, and the printer sees a byte only once it has arrived. The printer runs on a thread of
//! its own (as a printer does), which the wire blocks for precise timing; the driver runs the
//! production feed loop over the real pty at full speed, the printer prints as soon as it holds a
//! code.
//!
//! RCI is request/reply and half duplex in use: one direction is idle while the other answers.
//! The figure is the link's occupancy — the share of the run during which a byte was on the
//! wire in either direction — and, apart, the share of the host-to-printer capacity spent on the
//! codes' own characters.
//!
//! `cargo bench -p tracemark-sim --bench linx_serial [-- --codes N] [-- --baud B]`

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc;
use tracemark_drivers::linx::{LinxConfig, LinxMarker};
use tracemark_drivers::marker::{
    Code, CodeId, MarkerConfig, MarkerEvent, MarkerState, create_marker,
};
use tracemark_drivers::transport::{SerialSettings, Transport};
use tracemark_sim::linx::LinxSim;
use tracemark_sim::{MarkerSim, TriggerOutcome};

const DEPTH: usize = 32;

/// Bytes each way, counted by the wire.
#[derive(Debug, Default)]
struct WireCounts {
    to_printer: AtomicU64,
    to_host: AtomicU64,
}

/// The printer's end of a serial line at `baud`, 8N1, over the pty master `inner`.
struct Uart<S> {
    inner: S,
    byte_time: Duration,
    /// When the host-to-printer wire is free again: the last byte read has arrived then.
    rx_free: Instant,
    /// When the printer-to-host wire is free again.
    tx_free: Instant,
    counts: Arc<WireCounts>,
}

/// Waits until `deadline` on this (the printer's own) thread: a sleep to within 200 µs, then a
/// spin, because a character time is shorter than a timer tick.
fn wait_until(deadline: Instant) {
    let now = Instant::now();
    if deadline > now + Duration::from_micros(200) {
        std::thread::sleep(deadline - now - Duration::from_micros(200));
    }
    while Instant::now() < deadline {
        std::hint::spin_loop();
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Uart<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = (buf.filled().len() - before) as u32;
        if read > 0 {
            // The bytes left the host when it wrote them (now, at the earliest) and follow
            // each other on the wire; the printer has them when the last has arrived.
            let start = self.rx_free.max(Instant::now());
            self.rx_free = start + self.byte_time * read;
            wait_until(self.rx_free);
            self.counts
                .to_printer
                .fetch_add(u64::from(read), Ordering::Relaxed);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Uart<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        // The host has the reply once its last byte has crossed the wire.
        let start = self.tx_free.max(Instant::now());
        let done = start + self.byte_time * data.len() as u32;
        wait_until(done);
        match Pin::new(&mut self.inner).poll_write(cx, data) {
            Poll::Ready(Ok(written)) => {
                self.tx_free = start + self.byte_time * written as u32;
                self.counts
                    .to_host
                    .fetch_add(written as u64, Ordering::Relaxed);
                Poll::Ready(Ok(written))
            }
            other => other,
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Starts the printer on its own thread behind a UART at `baud`; returns the pty path.
fn start_printer(sim: LinxSim, baud: u32, counts: Arc<WireCounts>) -> anyhow::Result<String> {
    let (master, slave) = tokio_serial::SerialStream::pair().context("a pty pair")?;
    let path = tokio_serial::SerialPort::name(&slave).context("the pty's path")?;
    let byte_time = Duration::from_secs_f64(10.0 / f64::from(baud));
    std::thread::Builder::new()
        .name("printer".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            let Ok(runtime) = runtime else { return };
            runtime.block_on(async move {
                let _slave = slave;
                let uart = Uart {
                    inner: master,
                    byte_time,
                    rx_free: Instant::now(),
                    tx_free: Instant::now(),
                    counts,
                };
                let printing = {
                    let sim = sim.clone();
                    async move {
                        loop {
                            sim.wait_until(|s| s.printing() && s.buffered() > 0).await;
                            if let TriggerOutcome::Reprinted(_) = sim.trigger() {
                                tracing::error!("the simulator reprinted old data");
                            }
                        }
                    }
                };
                tokio::select! {
                    served = sim.serve(uart) => {
                        if let Err(error) = served {
                            tracing::error!(%error, "printer stopped");
                        }
                    }
                    () = printing => {}
                }
            });
        })?;
    Ok(path)
}

struct Figures {
    codes: u64,
    elapsed: Duration,
    to_printer: u64,
    to_host: u64,
    code_chars: u64,
}

async fn run(codes: u64, baud: u32) -> anyhow::Result<Figures> {
    let sim = LinxSim::new(DEPTH);
    let counts = Arc::new(WireCounts::default());
    let path = start_printer(sim.clone(), baud, counts.clone())?;
    let device = LinxMarker::new(
        Transport::Serial(SerialSettings::new(path, baud)),
        LinxConfig {
            reply_timeout_ms: 2_000,
            message: Some("CODES".to_owned()),
        },
    );
    // The codes in flight are confirmed by the print count (08h), polled; between polls the
    // driver may fill the printer's buffer up to the high watermark. A line that wants the
    // link's capacity keeps the buffer deep enough to bridge a poll interval: 24 of the 32
    // remote buffer entries, refilled from 12, polled every 20 ms (the polls share the wire).
    let config = MarkerConfig {
        low_watermark: 12,
        high_watermark: 24,
        poll_interval_ms: 20,
        ..MarkerConfig::default()
    };
    let (code_tx, code_rx) = mpsc::channel(64);
    let (event_tx, mut events) = mpsc::channel(4096);
    let (handle, task) = create_marker(device, config, code_rx, event_tx);
    tokio::spawn(task.run());
    let mut state = handle.state();
    tokio::time::timeout(
        Duration::from_secs(10),
        state.wait_for(|s| *s == MarkerState::Connected),
    )
    .await
    .context("the driver did not connect within 10 s")??;
    handle.start().await?;
    let texts: Vec<String> = (1..=codes)
        .map(|id| format!("(01)09506000134352(21)B{id:08}"))
        .collect();
    let code_chars = texts.iter().map(|t| t.len() as u64).sum();
    let before = (
        counts.to_printer.load(Ordering::Relaxed),
        counts.to_host.load(Ordering::Relaxed),
    );
    let started = Instant::now();
    tokio::spawn(async move {
        for (id, text) in (1..).zip(texts) {
            if code_tx
                .send(Code::new(CodeId::new(id), text))
                .await
                .is_err()
            {
                return;
            }
        }
    });
    let mut confirmed = 0;
    while confirmed < codes {
        match tokio::time::timeout(Duration::from_secs(10), events.recv()).await {
            Ok(Some(MarkerEvent::Printed { .. })) => confirmed += 1,
            Ok(Some(
                event @ (MarkerEvent::Voided { .. }
                | MarkerEvent::Unconfirmed { .. }
                | MarkerEvent::PrintWithoutCode { .. }
                | MarkerEvent::Refused(_)),
            )) => bail!("unexpected {event:?}"),
            Ok(Some(_)) => {}
            Ok(None) => bail!("the marker task ended"),
            Err(_) => bail!("no confirmation within 10 s after {confirmed} of {codes}"),
        }
    }
    let elapsed = started.elapsed();
    let figures = Figures {
        codes,
        elapsed,
        to_printer: counts.to_printer.load(Ordering::Relaxed) - before.0,
        to_host: counts.to_host.load(Ordering::Relaxed) - before.1,
        code_chars,
    };
    handle.shutdown().await?;
    ensure!(
        sim.prints().len() as u64 >= codes,
        "{} prints for {codes} confirmations",
        sim.prints().len()
    );
    Ok(figures)
}

fn main() -> anyhow::Result<()> {
    let mut codes = 2_000;
    let mut baud = 115_200;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--codes" => codes = args.next().context("--codes N")?.parse()?,
            "--baud" => baud = args.next().context("--baud B")?.parse()?,
            "--bench" => {}
            other => bail!("unknown argument {other:?}"),
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let figures = runtime.block_on(run(codes, baud))?;
    let seconds = figures.elapsed.as_secs_f64();
    let capacity = f64::from(baud) / 10.0;
    let occupied = (figures.to_printer + figures.to_host) as f64 / (seconds * capacity);
    println!("Linx RCI over a {baud}-baud 8N1 line ({capacity:.0} bytes/s each way)");
    println!(
        "codes confirmed           {:>10}  in {seconds:.2} s = {:.0} codes/s",
        figures.codes,
        figures.codes as f64 / seconds
    );
    println!(
        "bytes host -> printer     {:>10}  ({:.1} per code)",
        figures.to_printer,
        figures.to_printer as f64 / figures.codes as f64
    );
    println!(
        "bytes printer -> host     {:>10}  ({:.1} per code)",
        figures.to_host,
        figures.to_host as f64 / figures.codes as f64
    );
    println!(
        "link occupancy            {:>9.1} %  (bytes either way / (seconds x {capacity:.0}))",
        occupied * 100.0
    );
    println!(
        "code characters           {:>9.1} %  of the host -> printer capacity",
        figures.code_chars as f64 / (seconds * capacity) * 100.0
    );
    Ok(())
}
