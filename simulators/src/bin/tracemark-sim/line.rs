//! `tracemark-sim line --config FILE`: every device of a line config on the bench. stdout is a
//! shell script: a comment per device (`# marker cij: linx_rci on pty /dev/pts/7 …`), an
//! `export TRACEMARK_…=…` line after each device served elsewhere than the config says, and
//! `# ready: …` once every device serves; then the answers to stdin's commands.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use tracemark_sim::bench::line::{LineOptions, start_line};
use tracemark_sim::vision::DamageRates;

use crate::{announce, stdin};

#[derive(Debug, Args)]
pub(crate) struct LineArgs {
    /// The line config (TOML); `TRACEMARK_<SECTION>__<KEY>` overrides in the environment apply
    /// as they do for `tracemark`.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Serve a serial device on its configured port when that port opens (the host on another
    /// machine, through a null-modem cable); default: always on a pseudo-terminal.
    #[arg(long)]
    open_serial: bool,
    /// The cameras' damage rates: none, default (≈ 3 % of units) or heavy (≈ 15 %).
    #[arg(long, default_value = "none")]
    damage: String,
    /// Seed of the cameras' damage draws.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

pub(crate) async fn run(args: LineArgs) -> anyhow::Result<()> {
    let damage = match args.damage.as_str() {
        "none" => DamageRates::NONE,
        "default" => DamageRates::DEFAULT,
        "heavy" => DamageRates::HEAVY,
        other => anyhow::bail!("--damage {other:?}: one of none, default, heavy"),
    };
    let line = tracemark_config::load(&args.config)?;
    let options = LineOptions {
        open_serial: args.open_serial,
        damage,
        seed: args.seed,
        ..LineOptions::default()
    };
    let mut bench = start_line(&line, &options).await?;
    for device in bench.devices() {
        announce(&format!("# {device}"))?;
        if let Some(moved) = &device.moved {
            announce(&moved.fix.to_string())?;
        }
    }
    for device in bench.not_started() {
        announce(&format!("# {device}"))?;
    }
    announce(&format!(
        "# ready: {} of {} devices serving; stdin takes `DEVICE COMMAND` (a marker: trigger, \
         fault NAME, clear NAME, status; a PLC: detect, encoder N, fault NAME, clear NAME, \
         status) and `quit`; EOF or Ctrl-C stops",
        bench.devices().len(),
        bench.devices().len() + bench.not_started().len(),
    ))?;
    let controls = bench.controls().clone();
    tokio::select! {
        result = stdin::commands(|line| controls.command(line)) => result,
        (device, ended) = bench.stopped() => {
            ended.with_context(|| format!("{device} stopped serving"))?;
            anyhow::bail!("{device} stopped serving")
        }
        signal = tokio::signal::ctrl_c() => signal.context("waiting for ctrl-c"),
    }
}
