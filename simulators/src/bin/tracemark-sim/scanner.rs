//! `tracemark-sim scanner`: a hand scanner at a packing station. stdin: `unit CODE` (its GS1
//! DataMatrix), `label SSCC` (GS1-128), `cmd TEXT` (a command barcode), `raw TEXT` (sent as
//! is, CR LF added), `quit`; prints the station's reply to each.

use anyhow::{Context as _, bail};
use clap::Args;
use tracemark_drivers::transport::BoxedStream;
use tracemark_sim::scanner::HandScanner;

#[derive(Debug, Args)]
pub(crate) struct ScannerArgs {
    /// Connect to the station listening on HOST:PORT (`listen = true`).
    #[arg(long, value_name = "HOST:PORT")]
    connect: Option<String>,
    /// Listen on HOST:PORT for the station to connect (port 0 picks one); prints
    /// `listening: ADDR` first.
    #[arg(long, value_name = "HOST:PORT", conflicts_with = "connect")]
    listen: Option<String>,
    /// Be a serial scanner on a new pseudo-terminal; prints `pty: PATH` first.
    #[arg(long, conflicts_with_all = ["connect", "listen"])]
    pty: bool,
}

pub(crate) async fn run(args: ScannerArgs) -> anyhow::Result<()> {
    // A pty's other end, held open for the run: the line hangs up when every fd of it closes.
    let mut _other_end = None;
    let stream: BoxedStream = if let Some(address) = &args.connect {
        let stream = tokio::net::TcpStream::connect(address)
            .await
            .with_context(|| format!("cannot connect to {address}"))?;
        Box::new(stream)
    } else if let Some(address) = &args.listen {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen on {address}"))?;
        crate::announce(&format!("listening: {}", listener.local_addr()?))?;
        Box::new(listener.accept().await?.0)
    } else if args.pty {
        let (device, host) = tokio_serial::SerialStream::pair().context("no pseudo-terminal")?;
        let path = tokio_serial::SerialPort::name(&host).unwrap_or_default();
        crate::announce(&format!("pty: {path}"))?;
        _other_end = Some(host);
        Box::new(device)
    } else {
        bail!("give --connect, --listen or --pty");
    };
    let mut scanner = HandScanner::new(stream);
    let mut lines = crate::stdin::lines()?;
    while let Some(line) = lines.recv().await {
        let line = line?;
        let (verb, rest) = line.trim().split_once(' ').unwrap_or((line.trim(), ""));
        let reply = match verb {
            "unit" => scanner.scan_unit(rest).await,
            "label" => scanner.scan_label(rest).await,
            "cmd" => scanner.command(rest).await,
            "raw" => scanner.scan(rest).await,
            "quit" => return Ok(()),
            "" => continue,
            other => {
                crate::announce(&format!(
                    "error: unknown `{other}` (unit CODE, label SSCC, cmd TEXT, raw TEXT, quit)"
                ))?;
                continue;
            }
        };
        match reply {
            Ok(reply) => crate::announce(&reply)?,
            Err(e) => crate::announce(&format!("error: {e}"))?,
        }
    }
    Ok(())
}
