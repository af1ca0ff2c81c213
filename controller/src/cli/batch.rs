//! `tracemark batch …`: batches of one product, their life cycle and reconciliation report.

use clap::{Args, Subcommand, ValueEnum};
use tracemark::app::batches;
use tracemark_store::reconcile::{PackageReconciliation, Reconciliation};
use tracemark_store::{Batch, BatchState, NewBatch};

use super::{CliError, Context, block_on};

#[derive(Debug, Subcommand)]
pub(crate) enum BatchCommand {
    /// Register a batch.
    Create(CreateArgs),
    /// Start production.
    Start(IdArg),
    /// Pause production.
    Pause(IdArg),
    /// Resume production.
    Resume(IdArg),
    /// Close the batch; codes never printed are voided.
    Close(IdArg),
    /// QA: release the closed, balanced batch (never by the user who started it: SPEC §8).
    Release(IdArg),
    /// List batches, newest first.
    List,
    /// Show one batch as JSON.
    Show(IdArg),
    /// The batch's reconciliation (SPEC §3).
    Report {
        /// The batch number.
        id: i64,
        /// `text` or `json`.
        #[arg(long, default_value = "text")]
        format: ReportFormat,
    },
}

#[derive(Debug, Args)]
pub(crate) struct IdArg {
    /// The batch number.
    id: i64,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum ReportFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// The product id.
    #[arg(long)]
    product: String,
    /// 批次号 (GS1 AI 10: up to 20 characters).
    #[arg(long)]
    lot: String,
    /// Planned units.
    #[arg(long)]
    quantity: i64,
    /// 生产日期, YYYY-MM-DD.
    #[arg(long)]
    production_date: String,
    /// Expiry date, YYYY-MM-DD.
    #[arg(long)]
    expiry: Option<String>,
    /// The line producing it.
    #[arg(long)]
    line: Option<String>,
}

fn to_json(value: &impl serde::Serialize) -> Result<String, CliError> {
    serde_json::to_string_pretty(value).map_err(|e| CliError::Failed(e.into()))
}

fn summary(batch: &Batch) -> String {
    format!(
        "batch {} {} lot {} quantity {} produced {} {}{}{}",
        batch.id,
        batch.product_id,
        batch.lot,
        batch.quantity,
        batch.production_date,
        batch.state,
        match (&batch.released_by, &batch.released_at) {
            (Some(by), Some(at)) => format!(" released by {by} at {at}"),
            _ => String::new(),
        },
        if batch.simulated {
            " SIMULATED (made against the line's twin, not by the plant)"
        } else {
            ""
        }
    )
}

pub(crate) fn run(command: BatchCommand, context: &Context) -> Result<(), CliError> {
    block_on(async {
        let store = context.open().await?;
        let actor = context.actor();
        let change = |id: i64, to: BatchState| {
            let store = store.clone();
            async move {
                let batch = batches::set_state(&store, actor, id, to).await?;
                println!("{}", summary(&batch));
                Ok::<(), CliError>(())
            }
        };
        match command {
            BatchCommand::Create(args) => {
                let new = NewBatch {
                    product_id: args.product,
                    lot: args.lot,
                    quantity: args.quantity,
                    production_date: args.production_date,
                    expiry_date: args.expiry,
                    line: args.line,
                    simulated: false,
                };
                let batch = batches::create(&store, actor, &new).await?;
                println!("{}", summary(&batch));
            }
            BatchCommand::Start(IdArg { id }) => change(id, BatchState::Running).await?,
            BatchCommand::Pause(IdArg { id }) => change(id, BatchState::Paused).await?,
            BatchCommand::Resume(IdArg { id }) => change(id, BatchState::Running).await?,
            BatchCommand::Close(IdArg { id }) => change(id, BatchState::Closed).await?,
            BatchCommand::Release(IdArg { id }) => {
                let batch = batches::release(&store, actor, id).await?;
                println!("{}", summary(&batch));
            }
            BatchCommand::List => {
                for batch in batches::list(&store).await? {
                    println!("{}", summary(&batch));
                }
            }
            BatchCommand::Show(IdArg { id }) => {
                println!("{}", to_json(&batches::get(&store, id).await?)?)
            }
            BatchCommand::Report { id, format } => {
                let report = batches::report(&store, id).await?;
                match format {
                    ReportFormat::Json => println!("{}", to_json(&report)?),
                    ReportFormat::Text => {
                        print_report(&report.batch, &report.reconciliation);
                        print_packages(&report.packages);
                    }
                }
            }
        }
        store.close().await;
        Ok(())
    })
}

fn print_report(batch: &Batch, r: &Reconciliation) {
    println!("{}", summary(batch));
    println!(
        "allocated {}  = voided {} + printed {}",
        r.allocated, r.voided, r.printed
    );
    println!(
        "printed   {}  = verified {} + rejected {}",
        r.printed, r.verified, r.rejected
    );
    println!(
        "verified  {}  = packed {} + sampled {} + loose {}",
        r.verified, r.packed, r.sampled, r.loose
    );
    println!(
        "rejected  {}  : destroyed {}, released {}, awaiting QA {}",
        r.rejected, r.destroyed, r.released, r.awaiting_qa
    );
    if r.balanced {
        println!("balanced");
    } else {
        for problem in &r.problems {
            println!("NOT BALANCED: {problem}");
        }
    }
}

/// The batch's cartons and pallets, when it has any (or a packing rule fails).
fn print_packages(r: &PackageReconciliation) {
    if r.cartons + r.pallets == 0 && r.problems.is_empty() {
        return;
    }
    println!(
        "cartons   {}  = closed {} (short {}) + voided {} ({} open)",
        r.cartons, r.cartons_closed, r.cartons_short, r.cartons_voided, r.cartons_open
    );
    println!(
        "pallets   {}  = closed {} + voided {} ({} open)",
        r.pallets, r.pallets_closed, r.pallets_voided, r.pallets_open
    );
    if r.balanced {
        println!("packages balanced");
    } else {
        for problem in &r.problems {
            println!("NOT BALANCED: packages: {problem}");
        }
    }
}
