//! `tracemark codes allocate|set-state|show`: the store side of `tracemark codes`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use tracemark::app::codes;
use tracemark_codes::gs1::{self, Gs1Code};
use tracemark_store::{Allocation, Product};

use super::{CliError, Context, block_on};

#[derive(Debug, Args)]
pub(crate) struct AllocateArgs {
    /// The product id.
    #[arg(long)]
    product: String,
    /// How many codes.
    #[arg(long)]
    count: u64,
    /// Issue the codes for this batch (of the same product, not closed).
    #[arg(long)]
    batch: Option<i64>,
    /// Write the codes here instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
    /// `hri` `(01)…(21)…`, `element` string, GS1 Digital Link `dl`, or `csv` with counters.
    #[arg(long, default_value = "hri")]
    format: ExportFormat,
    /// Domain of Digital Link URIs.
    #[arg(long, default_value = gs1::DEFAULT_DOMAIN)]
    domain: String,
    /// Codes per transaction: a crash loses at most the output of one transaction, never a code.
    #[arg(long, default_value_t = 10_000)]
    chunk: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ExportFormat {
    Hri,
    Element,
    Dl,
    Csv,
}

#[derive(Debug, Args)]
pub(crate) struct SetStateArgs {
    /// The new state: sent, printed, verified, rejected, shipped, voided, destroyed, released,
    /// sampled (units are packed and unpacked with `tracemark pack`).
    #[arg(long)]
    to: String,
    /// Reject reason (for `rejected`): no_read, low_grade, mismatch, unknown, duplicate, late,
    /// gate_fault.
    #[arg(long)]
    reason: Option<String>,
    /// The codes (HRI text as allocated). All change or none does.
    #[arg(required = true)]
    codes: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// The code (HRI text as allocated).
    code: String,
}

fn failed(context: String) -> impl FnOnce(std::io::Error) -> CliError {
    move |e| CliError::Failed(anyhow::anyhow!("{context}: {e}"))
}

fn write_chunk(
    out: &mut dyn Write,
    format: ExportFormat,
    domain: &str,
    product: &Product,
    chunk: &Allocation,
) -> Result<(), CliError> {
    for (i, (serial, code)) in chunk.serials.iter().zip(&chunk.codes).enumerate() {
        let line = match format {
            ExportFormat::Hri => code.clone(),
            ExportFormat::Csv => format!(
                "{},{},{},{}",
                product.id,
                chunk.first_counter + i as i64,
                serial,
                code
            ),
            ExportFormat::Element | ExportFormat::Dl => {
                let gs1 = Gs1Code::from_pairs([("01", product.key.as_str()), ("21", serial)])
                    .map_err(|e| CliError::input("format", e))?;
                if format == ExportFormat::Element {
                    gs1.to_element_string()
                } else {
                    gs1.to_digital_link(domain)
                        .map_err(|e| CliError::input("domain", e))?
                }
            }
        };
        writeln!(out, "{line}").map_err(failed("write the codes".to_owned()))?;
    }
    Ok(())
}

pub(crate) fn allocate(args: AllocateArgs, context: &Context) -> Result<(), CliError> {
    block_on(async {
        let store = context.open().await?;
        // Checked before the output file is touched: bad input changes nothing.
        let product =
            codes::check_allocation(&store, &args.product, args.batch, args.count, args.chunk)
                .await?;
        let mut out: Box<dyn Write> = match &args.out {
            Some(path) => Box::new(BufWriter::new(
                File::create(path).map_err(failed(format!("create {}", path.display())))?,
            )),
            None => Box::new(BufWriter::new(std::io::stdout().lock())),
        };
        if args.format == ExportFormat::Csv {
            writeln!(out, "product,counter,serial,code").map_err(failed("write".to_owned()))?;
        }
        let bar = ProgressBar::new(args.count);
        if let Ok(style) =
            ProgressStyle::with_template("{bar:40} {pos}/{len} codes {per_sec} eta {eta}")
        {
            bar.set_style(style);
        }
        let mut remaining = args.count;
        let mut first = None;
        let mut last = 0;
        while remaining > 0 {
            let n = remaining.min(args.chunk);
            let chunk =
                codes::allocate(&store, context.actor(), &product.id, n, args.batch).await?;
            // The codes are committed before they are written: an exported code always exists
            // in the store.
            write_chunk(&mut out, args.format, &args.domain, &product, &chunk)?;
            out.flush().map_err(failed("flush the codes".to_owned()))?;
            first.get_or_insert(chunk.first_counter);
            last = chunk.first_counter + n as i64;
            remaining -= n;
            bar.inc(n);
        }
        bar.finish_and_clear();
        tracing::info!(product = %product.id, count = args.count, "codes allocated");
        eprintln!(
            "allocated {} codes of {} (counters {}..{})",
            args.count,
            product.id,
            first.unwrap_or(0),
            last
        );
        store.close().await;
        Ok(())
    })
}

pub(crate) fn set_state(args: SetStateArgs, context: &Context) -> Result<(), CliError> {
    block_on(async {
        let store = context.open().await?;
        let to = codes::set_state(
            &store,
            context.actor(),
            &args.codes,
            &args.to,
            args.reason.as_deref(),
        )
        .await?;
        let n = args.codes.len();
        println!("{n} code{} now {to}", if n == 1 { "" } else { "s" });
        store.close().await;
        Ok(())
    })
}

pub(crate) fn show(args: ShowArgs, context: &Context) -> Result<(), CliError> {
    block_on(async {
        let store = context.open().await?;
        let record = codes::show(&store, &args.code).await?;
        let text = serde_json::to_string_pretty(&record).map_err(|e| CliError::Failed(e.into()))?;
        println!("{text}");
        store.close().await;
        Ok(())
    })
}
