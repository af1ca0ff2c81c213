//! `tracemark upload …`: targets, the outbox's deliveries, and the delivery loop, through
//! `tracemark::app::uploads` (SPEC §6; docs/upload.md "Delivery").

use std::path::PathBuf;
use std::time::Duration;

use std::sync::Mutex;

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use tracemark::app::uploads::{self, DeliveryProgress, NewTarget, ProgressHook, SenderConfig};
use tracemark_store::upload::{Delivery, UploadFormat, UploadTarget};

use super::{CliError, Context, block_on};

#[derive(Debug, Subcommand)]
pub(crate) enum UploadCommand {
    /// Where closed batches are delivered.
    #[command(subcommand)]
    Target(TargetCommand),
    /// Deliver pending batches: with --once until none is pending (exit 1 if one failed for
    /// good), else until Ctrl-C.
    Run(RunArgs),
    /// Every delivery: batch, target, state, attempts, last error, the receiver's reply.
    Status {
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Put a failed delivery back to pending (same key, same body).
    Retry {
        /// The batch.
        #[arg(required_unless_present = "shipment", conflicts_with = "shipment")]
        batch: Option<i64>,
        /// A shipment's delivery instead (its own document, docs/shipping.md).
        #[arg(long, value_name = "ID")]
        shipment: Option<i64>,
        /// The target's name.
        #[arg(long)]
        target: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum TargetCommand {
    /// Add a target; batches closed from now on go to it.
    Add(AddArgs),
    /// List the targets.
    List {
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Remove a target; its pending deliveries fail (kept as history).
    Remove {
        /// The target's name.
        name: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    /// A unique name.
    name: String,
    /// Where deliveries are POSTed (http:// or https://).
    #[arg(long)]
    url: String,
    /// epcis-json, epcis-xml or platform.
    #[arg(long)]
    format: String,
    /// The Standard Webhooks secret: a file holding whsec_<base64>.
    #[arg(long, value_name = "FILE")]
    secret_file: Option<PathBuf>,
    /// An Ed25519 signing key (v1a signatures): a file holding whsk_<base64 of the 32-byte seed>.
    #[arg(long, value_name = "FILE")]
    ed25519_key_file: Option<PathBuf>,
    /// PEM CA certificates trusted for https:// (default: the system's).
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// Send bodies with Content-Encoding: gzip.
    #[arg(long)]
    gzip: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Deliver until nothing is pending, then exit (0, or 1 if a delivery failed for good).
    #[arg(long)]
    once: bool,
    /// Where bodies are rendered (default: next to an SQLite store, `<db file>.upload-spool/`).
    #[arg(long, value_name = "DIR")]
    spool_dir: Option<PathBuf>,
    /// The ceiling of the first retry's delay, milliseconds (doubling up to --backoff-cap-ms).
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    backoff_base_ms: u64,
    /// The largest retry delay, milliseconds.
    #[arg(long, default_value_t = 300_000, value_name = "MS")]
    backoff_cap_ms: u64,
    /// The longest Retry-After honoured, milliseconds.
    #[arg(long, default_value_t = 3_600_000, value_name = "MS")]
    max_retry_after_ms: u64,
    /// One JSON object (what was delivered and what failed) at the end.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(command: UploadCommand, context: &Context) -> Result<(), CliError> {
    block_on(async {
        let store = context.open().await?;
        let actor = context.actor();
        match command {
            UploadCommand::Target(TargetCommand::Add(args)) => {
                let format: UploadFormat = args
                    .format
                    .parse()
                    .map_err(|e: tracemark_store::StoreError| CliError::Input(e.to_string()))?;
                let target = uploads::add_target(
                    &store,
                    actor,
                    NewTarget {
                        name: args.name,
                        url: args.url,
                        format,
                        secret_file: args.secret_file,
                        ed25519_key_file: args.ed25519_key_file,
                        ca_file: args.ca_file,
                        gzip: args.gzip,
                    },
                )
                .await?;
                println!(
                    "added upload target {} ({}, {})",
                    target.name, target.format, target.url
                );
            }
            UploadCommand::Target(TargetCommand::List { json }) => {
                let targets = uploads::list_targets(&store).await?;
                if json {
                    println!("{}", to_json(&targets)?);
                } else {
                    print_targets(&targets);
                }
            }
            UploadCommand::Target(TargetCommand::Remove { name }) => {
                let failed = uploads::remove_target(&store, actor, &name).await?;
                println!("removed upload target {name}; {failed} pending deliveries failed");
            }
            UploadCommand::Status { json } => {
                let deliveries = uploads::status(&store).await?;
                if json {
                    println!("{}", to_json(&deliveries)?);
                } else {
                    print_deliveries(&deliveries);
                }
            }
            UploadCommand::Retry {
                batch,
                shipment,
                target,
            } => {
                let delivery = match (batch, shipment) {
                    (_, Some(shipment)) => {
                        uploads::retry_shipment(&store, actor, shipment, &target).await?
                    }
                    (Some(batch), None) => uploads::retry(&store, actor, batch, &target).await?,
                    (None, None) => {
                        return Err(CliError::input("batch", "give BATCH or --shipment"));
                    }
                };
                println!(
                    "{} to {}: pending again (key {})",
                    delivery.subject(),
                    delivery.target,
                    delivery.uuid
                );
            }
            UploadCommand::Run(args) => {
                let mut config = SenderConfig::new(
                    args.spool_dir
                        .clone()
                        .unwrap_or_else(|| uploads::default_spool_dir(&store)),
                );
                config.backoff.base = Duration::from_millis(args.backoff_base_ms);
                config.backoff.cap = Duration::from_millis(args.backoff_cap_ms);
                config.backoff.max_retry_after = Duration::from_millis(args.max_retry_after_ms);
                config.progress = delivery_progress();
                let shutdown = async {
                    if tokio::signal::ctrl_c().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                };
                let report = uploads::run(&store, actor, &config, args.once, shutdown).await?;
                if args.json {
                    println!("{}", to_json(&report)?);
                } else {
                    println!(
                        "{} attempts, {} delivered, {} failed",
                        report.attempts,
                        report.delivered.len(),
                        report.failed.len()
                    );
                    for failed in &report.failed {
                        let subject = match failed.shipment_id {
                            Some(shipment) => format!("shipment {shipment}"),
                            None => format!("batch {}", failed.batch_id),
                        };
                        println!(
                            "failed: {subject} to {}: {}",
                            failed.target,
                            failed.error.as_deref().unwrap_or("")
                        );
                    }
                }
                if !report.failed.is_empty() {
                    return Err(CliError::Failed(anyhow::anyhow!(
                        "{} deliveries failed for good: see `tracemark upload status`, fix, then \
                         `tracemark upload retry BATCH --target NAME`",
                        report.failed.len()
                    )));
                }
            }
        }
        Ok(())
    })
}

fn to_json(value: &impl serde::Serialize) -> Result<String, CliError> {
    serde_json::to_string(value).map_err(|e| CliError::Failed(e.into()))
}

fn print_targets(targets: &[UploadTarget]) {
    println!("{:<16} {:<11} {:<5} url", "name", "format", "gzip");
    for target in targets {
        println!(
            "{:<16} {:<11} {:<5} {}",
            target.name,
            target.format.as_str(),
            if target.gzip { "yes" } else { "no" },
            target.url
        );
    }
}

fn print_deliveries(deliveries: &[Delivery]) {
    println!(
        "{:<6} {:<16} {:<9} {:>8} {:<6} last error / reply",
        "batch", "target", "state", "attempts", "status"
    );
    for d in deliveries {
        let status = d.last_status.map(|s| s.to_string()).unwrap_or_default();
        let detail = match (&d.last_error, &d.last_reply) {
            (Some(error), Some(reply)) => format!("{error}; {}", one_line(reply)),
            (Some(error), None) => error.clone(),
            (None, Some(reply)) => one_line(reply),
            (None, None) => String::new(),
        };
        // A shipment's own document (docs/shipping.md) shows as `7/s3`: its first batch and it.
        let batch = match d.shipment_id {
            Some(shipment) => format!("{}/s{shipment}", d.batch_id),
            None => d.batch_id.to_string(),
        };
        println!(
            "{:<6} {:<16} {:<9} {:>8} {:<6} {}",
            batch,
            d.target,
            d.state.as_str(),
            d.attempts,
            status,
            detail
        );
    }
}

fn one_line(text: &str) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > 120 {
        format!("{}…", flat.chars().take(120).collect::<String>())
    } else {
        flat
    }
}

/// Bodies this large (bytes) get a progress bar while they are sent.
const PROGRESS_FROM_BYTES: u64 = 16 << 20;

/// The bar of one stage of one delivery.
struct Stage {
    batch: i64,
    sending: bool,
    bar: ProgressBar,
}

/// Progress bars on stderr for the deliveries of large batches: units rendered, then bytes
/// sent (hidden when stderr is not a terminal).
pub(crate) fn delivery_progress() -> ProgressHook {
    let current: Mutex<Option<Stage>> = Mutex::new(None);
    ProgressHook::new(move |progress| {
        let (batch, sending, done, total) = match progress {
            DeliveryProgress::Rendering { batch, done, total } => (batch, false, done, total),
            DeliveryProgress::Sending { batch, sent, total } => (batch, true, sent, total),
        };
        let large = if sending {
            total >= PROGRESS_FROM_BYTES
        } else {
            total >= super::export::PROGRESS_FROM_UNITS
        };
        if !large {
            return;
        }
        let mut current = current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if current
            .as_ref()
            .is_none_or(|s| s.batch != batch || s.sending != sending)
        {
            if let Some(old) = current.take() {
                old.bar.finish_and_clear();
            }
            let (template, what) = if sending {
                (
                    "{msg} {bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                    "send",
                )
            } else {
                (
                    "{msg} {bar:40} {pos}/{len} units {per_sec} eta {eta}",
                    "render",
                )
            };
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_message(format!("batch {batch} {what}"));
            *current = Some(Stage {
                batch,
                sending,
                bar,
            });
        }
        if let Some(stage) = current.as_ref() {
            stage.bar.set_position(done);
            if done >= total {
                stage.bar.finish_and_clear();
            }
        }
    })
}
