//! `tracemark audit …`: check and read the hash-chained event log.

use clap::Subcommand;

use tracemark::app::audit;

use super::{CliError, Context, block_on};

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Recompute the hash chain; exit 1 naming the first bad event if any row was changed,
    /// deleted or reordered.
    Verify,
    /// Print events as JSON lines, a page at a time; when there are more, stderr says how to
    /// ask for the next page.
    Log {
        /// Only events after this sequence number (the cursor of the page before).
        #[arg(long, default_value_t = 0)]
        after: i64,
        /// At most this many events (1–1000000).
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Remove the events recorded before DATE (YYYY-MM-DD, 00:00 UTC) once every product that
    /// existed then has passed its retention; refuses, removing nothing, otherwise. The chain
    /// stays verifiable from a checkpoint. Code records are never removed.
    Purge {
        /// The cut: events before this day go.
        #[arg(long, value_name = "DATE")]
        before: String,
    },
}

pub(crate) fn run(command: AuditCommand, context: &Context) -> Result<(), CliError> {
    block_on(async {
        let store = context.open().await?;
        match command {
            AuditCommand::Verify => {
                let report = audit::verify(&store).await?;
                match report.first_bad {
                    None => {
                        println!(
                            "audit chain ok: {} events, head at {}",
                            report.events, report.head_seq
                        );
                        Ok(())
                    }
                    Some(bad) => Err(CliError::Failed(anyhow::anyhow!(
                        "audit chain broken at event {}: {} ({} events before it are intact)",
                        bad.seq,
                        bad.reason,
                        report.events
                    ))),
                }
            }
            AuditCommand::Purge { before } => {
                let report = audit::purge(&store, context.actor(), &before).await?;
                if report.events == 0 {
                    println!("nothing to purge: no events before {before}");
                } else {
                    println!(
                        "purged {} events (through {}); the chain continues from hash {}",
                        report.events,
                        report.through_seq,
                        report.hash.unwrap_or_default()
                    );
                }
                Ok(())
            }
            AuditCommand::Log { after, limit } => {
                let page = audit::events(&store, after, limit).await?;
                for event in &page.events {
                    let line =
                        serde_json::to_string(event).map_err(|e| CliError::Failed(e.into()))?;
                    println!("{line}");
                }
                // On stderr, so stdout stays JSON lines for scripts.
                if let Some(next) = page.next_after {
                    eprintln!(
                        "more events follow: tracemark audit log --after {next} --limit {limit}"
                    );
                }
                Ok(())
            }
        }
    })
}
