//! `tracemark driver probe --config FILE --device NAME`: the integrator's check of one device of
//! a line config, before the line runs (docs/integrator.md §3).
//!
//! A marker is connected, its status read, one test code loaded and read back through the
//! status, then its buffer cleared; a PLC is connected and polled once. Every step reports its
//! round trip. The probe never prints and never moves the line:
//! - the marker is stopped (and its buffer cleared) *before* the test code goes in, so a
//!   print-go arriving during the probe finds printing off, and it is cleared again after, so
//!   the next start cannot print it (SPEC §5: never reprint on an empty buffer);
//! - the PLC is only read: no coil, holding register, watchdog or reject queue is written.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use tracemark::app::devices;

use super::CliError;

#[derive(Debug, Subcommand)]
pub(crate) enum DriverCommand {
    /// Connect to one device of a line config; report each step and its round trip.
    ///
    /// A marker is read, stopped, given one test code and cleared again: nothing prints, and
    /// it is left stopped. A PLC is only read (one poll). Exit 1 when a step fails, with the
    /// driver's message and a hint; 2 for an unknown device.
    Probe(ProbeArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ProbeArgs {
    /// The line config.
    #[arg(long)]
    config: PathBuf,
    /// The device: the name of a `[markers.<name>]` or `[plcs.<name>]` table (write
    /// `markers.NAME` or `plcs.NAME` if a marker and a PLC share the name).
    #[arg(long)]
    device: String,
    /// Longest wait for the connection and for each reply: `2s`, `500ms`, `0.5` (seconds).
    #[arg(long, default_value = "2s", value_parser = parse_timeout)]
    timeout: Duration,
    /// The test code loaded into a marker (printable ASCII). Default `TRACEMARK-PROBE`,
    /// shortened to a Modbus marker's code field if that is shorter.
    #[arg(long)]
    code: Option<String>,
    /// Print one JSON object instead of a line per step.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(command: DriverCommand) -> Result<(), CliError> {
    match command {
        DriverCommand::Probe(args) => probe(&args),
    }
}

fn parse_timeout(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, scale) = if let Some(ms) = text.strip_suffix("ms") {
        (ms, 0.001)
    } else if let Some(s) = text.strip_suffix('s') {
        (s, 1.0)
    } else {
        (text, 1.0)
    };
    let seconds = number
        .trim()
        .parse::<f64>()
        .map_err(|_| format!("{text:?} is not a duration such as 2s, 500ms or 0.5"))?
        * scale;
    // Below 10 ms nothing answers, even on TCP; above a minute the operator gives up first.
    if !(0.01..=60.0).contains(&seconds) {
        return Err(format!("{text:?} is not between 10ms and 60s"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

fn probe(args: &ProbeArgs) -> Result<(), CliError> {
    let line = tracemark::config::load(&args.config)
        .map_err(|errors| CliError::Input(errors.to_string()))?;
    let report = super::block_on(async {
        Ok(devices::probe(&line, &args.device, args.code.as_deref(), args.timeout).await?)
    })?;
    if args.json {
        let text = serde_json::to_string(&report).map_err(|e| CliError::Failed(e.into()))?;
        println!("{text}");
    } else {
        print!("{}", report.text());
    }
    match report.failure() {
        None => Ok(()),
        Some(failure) => Err(CliError::Failed(anyhow::anyhow!(failure))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_parse_with_units() {
        assert_eq!(parse_timeout("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_timeout("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_timeout("0.25"), Ok(Duration::from_millis(250)));
        assert!(parse_timeout("5ms").is_err());
        assert!(parse_timeout("2 minutes").is_err());
    }
}
