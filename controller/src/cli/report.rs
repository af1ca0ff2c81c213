//! `tracemark report batch ID [--out FILE.html] [--pdf FILE.pdf] [--lang en|zh-CN]`: the batch
//! report (issue 17, docs/reports.md). The figures are `app::report`'s, the page the HMI's
//! (`/batches/{id}/report`), the PDF `app::report::pdf`'s; this command only writes the files.

use std::path::{Path, PathBuf};

use clap::{Subcommand, ValueEnum};
use tracemark::app::report::{self, pdf};
use tracemark::app::users::Language;

use super::{CliError, Context, block_on};

#[derive(Debug, Subcommand)]
pub(crate) enum ReportCommand {
    /// A batch's report: reconciliation, charts, packing, uploads, audit (HTML; PDF through
    /// headless Chromium). Without --out or --pdf the HTML goes to stdout.
    Batch {
        /// The batch number.
        id: i64,
        /// Write the HTML page to this file.
        #[arg(long, value_name = "FILE.html")]
        out: Option<PathBuf>,
        /// Print the page to this PDF file (A4) with headless Chromium (/usr/bin/chromium or
        /// TRACEMARK_CHROMIUM; scripts/install-chromium.sh installs it).
        #[arg(long, value_name = "FILE.pdf")]
        pdf: Option<PathBuf>,
        /// The report's language.
        #[arg(long, default_value = "en")]
        lang: Lang,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Lang {
    En,
    #[value(name = "zh-CN")]
    ZhCn,
}

pub(crate) fn run(command: ReportCommand, context: &Context) -> Result<(), CliError> {
    let ReportCommand::Batch { id, out, pdf, lang } = command;
    let language = match lang {
        Lang::En => Language::En,
        Lang::ZhCn => Language::ZhCn,
    };
    if pdf.is_some() {
        // Say what is missing before the work, not after it.
        pdf::chromium()?;
    }
    block_on(async {
        let store = context.open().await?;
        let made = report::batch(&store, id).await;
        store.close().await;
        let html = tracemark::http::hmi::report::html(&made?, language)?;
        if let Some(path) = &out {
            write(path, &html)?;
            println!("batch {id}: report written to {}", path.display());
        }
        if let Some(target) = &pdf {
            let page = match &out {
                Some(path) => path.clone(),
                None => {
                    // Chromium prints a file; it is removed once printed.
                    let page = scratch_page(target);
                    write(&page, &html)?;
                    page
                }
            };
            let printed = pdf::print(&page, target).await;
            if out.is_none() {
                let _ = std::fs::remove_file(&page);
            }
            printed?;
            println!("batch {id}: PDF written to {}", target.display());
        }
        if out.is_none() && pdf.is_none() {
            print!("{html}");
        }
        Ok(())
    })
}

fn write(path: &Path, html: &str) -> Result<(), CliError> {
    std::fs::write(path, html)
        .map_err(|e| CliError::input("out", format!("cannot write {}: {e}", path.display())))
}

/// An HTML file beside the PDF (Chromium reads the page's type from its extension).
fn scratch_page(pdf: &Path) -> PathBuf {
    let stem = pdf
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report".to_owned());
    pdf.with_file_name(format!(".{stem}.{}.html", std::process::id()))
}
