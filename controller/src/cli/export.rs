//! `tracemark export epcis|platform --batch ID [--out FILE]`: a batch's EPCIS 2.0 document or
//! platform payload (docs/upload.md), to stdout or a file.

use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use tokio::io::AsyncWriteExt;
use tracemark::app::exports::{self, ExportFormat, ExportProgress, ExportSummary};

use super::{CliError, Context, block_on};

/// Batches with fewer units export too fast for a progress bar to help.
pub(crate) const PROGRESS_FROM_UNITS: u64 = 50_000;

#[derive(Debug, Subcommand)]
pub(crate) enum ExportCommand {
    /// The batch as an EPCIS 2.0 document: JSON-LD (EPCs as GS1 Digital Link URIs) or XML
    /// (EPC URNs).
    Epcis {
        /// The batch number.
        #[arg(long)]
        batch: i64,
        /// `json` (JSON-LD) or `xml`.
        #[arg(long, default_value = "json")]
        format: EpcisFormat,
        /// Write to this file instead of stdout (whole or not at all).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// The batch as the traceability platform payload (SPEC §1 fields, packages, codes).
    Platform {
        /// The batch number.
        #[arg(long)]
        batch: i64,
        /// Write to this file instead of stdout (whole or not at all).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum EpcisFormat {
    Json,
    Xml,
}

pub(crate) fn run(command: ExportCommand, context: &Context) -> Result<(), CliError> {
    let (batch, format, out) = match command {
        ExportCommand::Epcis { batch, format, out } => (
            batch,
            match format {
                EpcisFormat::Json => ExportFormat::EpcisJson,
                EpcisFormat::Xml => ExportFormat::EpcisXml,
            },
            out,
        ),
        ExportCommand::Platform { batch, out } => (batch, ExportFormat::Platform, out),
    };
    block_on(async {
        let store = context.open().await?;
        let result = match &out {
            Some(path) => {
                let bar = LazyBar::default();
                let summary =
                    exports::export_batch_to_file(&store, batch, format, path, |p| bar.update(p))
                        .await;
                bar.finish();
                summary.map_err(CliError::from).map(|s| report(&s, path))
            }
            None => {
                let mut stdout = tokio::io::stdout();
                let written =
                    exports::export_batch(&store, batch, format, &mut stdout, |_| {}).await;
                match written {
                    Ok(_) => stdout
                        .flush()
                        .await
                        .map_err(|e| CliError::Failed(anyhow::anyhow!("write stdout: {e}"))),
                    Err(e) => Err(e.into()),
                }
            }
        };
        store.close().await;
        result
    })
}

fn report(summary: &ExportSummary, path: &std::path::Path) {
    println!(
        "batch {}: {} units, {} packages, {} destroyed, {} events, {} bytes written to {}",
        summary.batch,
        summary.units,
        summary.packages,
        summary.destroyed,
        summary.events,
        summary.bytes,
        path.display()
    );
}

/// A progress bar on stderr, made on the first report of a large batch.
#[derive(Debug, Default)]
struct LazyBar(std::cell::OnceCell<Option<ProgressBar>>);

impl LazyBar {
    fn update(&self, progress: ExportProgress) {
        let bar = self.0.get_or_init(|| {
            (progress.total >= PROGRESS_FROM_UNITS).then(|| {
                let bar = ProgressBar::new(progress.total);
                bar.set_style(
                    ProgressStyle::with_template("{bar:40} {pos}/{len} units {per_sec} eta {eta}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                bar
            })
        });
        if let Some(bar) = bar {
            bar.set_position(progress.done);
        }
    }

    fn finish(&self) {
        if let Some(Some(bar)) = self.0.get() {
            bar.finish_and_clear();
        }
    }
}
