//! `tracemark backup --out FILE` and `tracemark restore FILE`: disaster recovery for SQLite and
//! PostgreSQL stores (the snapshot is always an SQLite file).

use std::path::PathBuf;

use clap::Args;
use tracemark::app::audit::{self, RestoreTarget};

use super::{CliError, Context, block_on};

#[derive(Debug, Args)]
pub(crate) struct BackupArgs {
    /// The snapshot file to write (must not exist).
    #[arg(long)]
    out: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct RestoreArgs {
    /// A file written by `tracemark backup`; restored into the `--db` store: a new SQLite file,
    /// or a PostgreSQL database without tracemark data.
    file: PathBuf,
    /// Serials skipped per product after the restore, so codes issued after the snapshot (and
    /// unknown to it) are never issued again. Choose more than a line issues between backups.
    #[arg(long, default_value_t = 10_000_000)]
    counter_gap: i64,
}

pub(crate) fn backup(args: BackupArgs, context: &Context) -> Result<(), CliError> {
    block_on(async {
        let store = context.open().await?;
        let report = audit::backup(&store, &args.out).await?;
        println!(
            "backup {} written and verified: {} events",
            args.out.display(),
            report.events
        );
        store.close().await;
        Ok(())
    })
}

pub(crate) fn restore(args: RestoreArgs, context: &Context) -> Result<(), CliError> {
    let target = RestoreTarget::of(context.db_url())?;
    block_on(async {
        let report =
            audit::restore_snapshot(&args.file, &target, args.counter_gap, context.actor()).await?;
        let into = match &target {
            RestoreTarget::Sqlite(path) => path.display().to_string(),
            RestoreTarget::Postgres(_) => "PostgreSQL".to_owned(),
        };
        println!(
            "restored {} into {into}: {} events verified",
            args.file.display(),
            report.events
        );
        Ok(())
    })
}
