//! `tracemark config …`: check line configs before they reach a line.

use std::path::PathBuf;

use clap::Subcommand;
use tracemark::config::{self, Line};

use super::CliError;

#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Check a line config (with its TRACEMARK_<SECTION>__<KEY> overrides); print every error
    /// with its key path and exit 2, or print a summary of the line.
    Validate {
        /// The line config (TOML).
        file: PathBuf,
        /// Print the compiled line as JSON instead of a summary.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn run(command: ConfigCommand) -> Result<(), CliError> {
    match command {
        ConfigCommand::Validate { file, json } => {
            let line = config::load(&file).map_err(|e| CliError::Input(e.to_string()))?;
            if json {
                let text =
                    serde_json::to_string_pretty(&line).map_err(|e| CliError::Failed(e.into()))?;
                println!("{text}");
            } else {
                println!("{}: valid", file.display());
                print!("{}", summary(&line));
            }
            Ok(())
        }
    }
}

/// A few lines an integrator can read: what is where, and how it is reached.
fn summary(line: &Line) -> String {
    let mut out = format!(
        "line {} ({}), {} units/min, {} counts/mm\n",
        line.id, line.name, line.speed_upm, line.counts_per_mm
    );
    for m in &line.markers {
        out += &format!(
            "  {:>6} mm  marker {} ({}, {}), buffer {}–{}\n",
            m.position_mm,
            m.name,
            m.kind,
            m.transport.describe(),
            m.low_watermark,
            m.high_watermark
        );
    }
    for r in &line.readers {
        let passes = match r.min_grade {
            Some(grade) => format!("grade {grade} or better, and the product's"),
            None => "the product's minimum grade".to_owned(),
        };
        out += &format!("  {:>6} mm  reader {} ({passes})\n", r.position_mm, r.name);
    }
    if let Some(g) = &line.gate {
        out += &format!(
            "  {:>6} mm  reject gate on {} coil {}, confirm input {}\n",
            g.position_mm, g.plc.name, g.coil, g.confirm_input
        );
    }
    for p in &line.plcs {
        let map = if p.line_io == tracemark_drivers::lineio::LineIoMap::default() {
            ""
        } else {
            ", its own line I/O map"
        };
        out += &format!(
            "            plc {} ({}, unit {}{map})\n",
            p.name,
            p.transport.describe(),
            p.unit_id
        );
    }
    if let Some(m) = &line.mqtt {
        out += &format!(
            "            mqtt {}:{}{} as {}\n",
            m.host,
            m.port,
            if m.tls { " (TLS)" } else { "" },
            m.client_id
        );
    }
    out
}
