//! `tracemark audit …`: check and read the hash-chained event log.

use clap::Subcommand;

use super::{CliError, Context, block_on};

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Recompute the hash chain; exit 1 naming the first bad event if any row was changed,
    /// deleted or reordered.
    Verify,
    /// Print events as JSON lines.
    Log {
        /// Only events after this sequence number.
        #[arg(long, default_value_t = 0)]
        after: i64,
        /// At most this many events.
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
}

pub(crate) fn run(command: AuditCommand, context: &Context) -> Result<(), CliError> {
    block_on(async {
        let store = context.open().await?;
        match command {
            AuditCommand::Verify => {
                let report = store.verify_audit().await?;
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
            AuditCommand::Log { after, limit } => {
                for event in store.events(after, limit).await? {
                    let line =
                        serde_json::to_string(&event).map_err(|e| CliError::Failed(e.into()))?;
                    println!("{line}");
                }
                Ok(())
            }
        }
    })
}
