//! `tracemark pack …`: cartons and pallets with their SSCCs, and rework (SPEC §3a), through
//! `tracemark::app::packing`. Every refusal exits 2 naming each code and its reason, and
//! changes nothing.

use clap::Subcommand;
use tracemark::app::packing;
use tracemark_store::{Package, PackageContents, PackageLevel};

use super::{CliError, Context, block_on};

#[derive(Debug, Subcommand)]
pub(crate) enum PackCommand {
    /// Allocate an SSCC for a new carton or pallet of a batch; prints the SSCC.
    New {
        /// The batch id.
        #[arg(long)]
        batch: i64,
        /// `carton` (holds units) or `pallet` (holds cartons).
        #[arg(long, default_value = "carton")]
        level: String,
        /// Units per carton or cartons per pallet (default: the product's pack size).
        #[arg(long)]
        capacity: Option<i64>,
    },
    /// Put verified units into an open carton (or closed cartons onto an open pallet); none is
    /// added unless all can be.
    Add {
        /// The carton's (or pallet's) SSCC.
        sscc: String,
        /// The unit codes (HRI), or the cartons' SSCCs.
        #[arg(required = true)]
        items: Vec<String>,
    },
    /// Take units out of their cartons (or cartons off their pallets); each package must be
    /// open (`pack reopen`). None is removed unless all can be.
    Remove {
        /// The unit codes (HRI), or the cartons' SSCCs.
        #[arg(required = true)]
        items: Vec<String>,
    },
    /// Replace a packed unit by a verified one in the same open carton.
    Replace {
        /// The unit taken out (HRI).
        old: String,
        /// The unit put in (HRI).
        new: String,
    },
    /// Take every child out of an open carton or pallet.
    Unpack {
        /// The SSCC.
        sscc: String,
    },
    /// Close a carton or pallet (under its capacity: closed short, flagged in the report).
    Close {
        /// The SSCC.
        sscc: String,
    },
    /// Print an open package's GS1 logistic label on the line's label printer and have its
    /// scanner read it back (after rework changed its count: `pack close` asks for it).
    Label {
        /// The SSCC.
        sscc: String,
        /// The line config with `[packing.label]`.
        #[arg(long)]
        config: std::path::PathBuf,
    },
    /// Reopen a closed carton or pallet for rework.
    Reopen {
        /// The SSCC.
        sscc: String,
    },
    /// Void an empty carton or pallet that was never used (its SSCC is never issued again).
    Void {
        /// The SSCC.
        sscc: String,
    },
    /// A package and what is in it: a pallet's cartons and their units, a carton's units.
    Show {
        /// The SSCC.
        sscc: String,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run the hand-scanner station of a line config (`[packing] mode = "manual"`) for a batch,
    /// without the line (hand packing off-line), until Ctrl-C; prints what it did as JSON.
    Station {
        /// Line config with `[packing] mode = "manual"` and its `[packing.scanner]`.
        #[arg(long)]
        config: std::path::PathBuf,
        /// The batch packed.
        #[arg(long)]
        batch: i64,
    },
    /// The packages of a batch and whether they balance.
    List {
        /// The batch id.
        #[arg(long)]
        batch: i64,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn run(command: PackCommand, context: &Context) -> Result<(), CliError> {
    if let PackCommand::Station { config, batch } = &command {
        return station(config, *batch, context);
    }
    block_on(async {
        let store = context.open().await?;
        let actor = context.actor();
        let result = match command {
            PackCommand::New {
                batch,
                level,
                capacity,
            } => {
                let level: PackageLevel = level.parse()?;
                let package = packing::new_package(&store, actor, batch, level, capacity).await?;
                println!("{}", package.sscc);
                Ok(())
            }
            PackCommand::Add { sscc, items } => {
                let package = packing::add(&store, actor, &sscc, &items).await?;
                println!(
                    "{} added to {} {sscc} ({})",
                    items.len(),
                    package.level,
                    fill(&package)
                );
                Ok(())
            }
            PackCommand::Remove { items } => {
                for (item, from) in packing::remove(&store, actor, &items).await? {
                    println!("{item} removed from {from}");
                }
                Ok(())
            }
            PackCommand::Replace { old, new } => {
                let carton = packing::replace(&store, actor, &old, &new).await?;
                println!("{old} replaced by {new} in {}", carton.sscc);
                Ok(())
            }
            PackCommand::Unpack { sscc } => {
                let count = packing::unpack(&store, actor, &sscc).await?;
                println!("{count} taken out of {sscc}");
                Ok(())
            }
            PackCommand::Close { sscc } => {
                let package = packing::close(&store, actor, &sscc).await?;
                println!("{} {sscc} closed ({})", package.level, fill(&package));
                Ok(())
            }
            PackCommand::Label { sscc, config } => {
                let line = tracemark::config::load(&config)
                    .map_err(|errors| CliError::Input(errors.to_string()))?;
                let outcome = packing::label(&store, actor, &sscc, &line).await?;
                println!(
                    "{sscc}: label verified ({} printed, {} rejected)",
                    outcome.labels,
                    outcome.rejected.len()
                );
                Ok(())
            }
            PackCommand::Reopen { sscc } => {
                let package = packing::reopen(&store, actor, &sscc).await?;
                println!("{} {sscc} reopened ({})", package.level, fill(&package));
                Ok(())
            }
            PackCommand::Void { sscc } => {
                let package = packing::void(&store, actor, &sscc).await?;
                println!("{} {sscc} voided", package.level);
                Ok(())
            }
            PackCommand::Show { sscc, json } => {
                let contents = packing::show(&store, &sscc).await?;
                if json {
                    println!("{}", to_json(&contents)?);
                } else {
                    print_contents(&contents, "");
                }
                Ok(())
            }
            PackCommand::Station { .. } => Ok(()),
            PackCommand::List { batch, json } => {
                let list = packing::list(&store, batch).await?;
                if json {
                    println!("{}", to_json(&list)?);
                } else {
                    print_list(&list);
                }
                Ok(())
            }
        };
        store.close().await;
        result
    })
}

/// `pack station`: the station runs until Ctrl-C, then prints its report.
fn station(config: &std::path::Path, batch: i64, context: &Context) -> Result<(), CliError> {
    let line =
        tracemark::config::load(config).map_err(|errors| CliError::Input(errors.to_string()))?;
    if line.packing.is_none() {
        return Err(CliError::Input(format!(
            "{}: the line has no [packing]",
            config.display()
        )));
    }
    super::block_on_line(async {
        let store = context.open().await?;
        let actor = context.actor().on_device(&format!("packing@{}", line.id));
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let (task, scanners) =
            tracemark::aggregation::manual::spawn_alone(&store, &actor, batch, &line, stop_rx)
                .await
                .map_err(|e| match e {
                    tracemark::aggregation::manual::StationError::Setup(_) => {
                        CliError::Input(e.to_string())
                    }
                    other => CliError::Failed(other.into()),
                })?;
        for scanner in scanners {
            eprintln!("station ready: {scanner}");
        }
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("stopping the station");
        }
        let _ = stop_tx.send(true);
        let report = task
            .finish()
            .await
            .map_err(|e| CliError::Failed(e.into()))?;
        println!("{}", to_json(&report)?);
        store.close().await;
        Ok(())
    })
}

fn to_json(value: &impl serde::Serialize) -> Result<String, CliError> {
    serde_json::to_string(value).map_err(|e| CliError::Failed(e.into()))
}

/// `7/12, short`: children of capacity, and the short flag.
fn fill(package: &Package) -> String {
    format!(
        "{}/{}{}",
        package.children_count,
        package.capacity,
        if package.short { ", short" } else { "" }
    )
}

fn print_contents(contents: &PackageContents, indent: &str) {
    let p = &contents.package;
    println!(
        "{indent}{} {}  {}  {}  batch {}",
        p.level,
        p.sscc,
        p.state,
        fill(p),
        p.batch_id
    );
    for carton in &contents.cartons {
        print_contents(carton, &format!("{indent}  "));
    }
    for unit in &contents.units {
        println!("{indent}  {unit}");
    }
}

fn print_list(list: &packing::PackageList) {
    for p in &list.packages {
        let on = p
            .parent
            .as_ref()
            .map(|pallet| format!("  on {pallet}"))
            .unwrap_or_default();
        println!("{} {}  {}  {}{on}", p.level, p.sscc, p.state, fill(p));
    }
    let r = &list.reconciliation;
    println!(
        "batch {}: cartons {} = closed {} (short {}) + voided {} ({} open); pallets {} = closed \
         {} + voided {} ({} open)",
        list.batch,
        r.cartons,
        r.cartons_closed,
        r.cartons_short,
        r.cartons_voided,
        r.cartons_open,
        r.pallets,
        r.pallets_closed,
        r.pallets_voided,
        r.pallets_open
    );
    if r.balanced {
        println!("balanced");
    } else {
        for problem in &r.problems {
            println!("NOT BALANCED: {problem}");
        }
    }
}
