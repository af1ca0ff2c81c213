//! `tracemark backup --out FILE` and `tracemark restore FILE`: SQLite disaster recovery.

use std::path::{Path, PathBuf};

use clap::Args;
use tracemark::store::Actor;
use tracemark::store::backup::restore as restore_store;

use super::{CliError, Context, block_on};

#[derive(Debug, Args)]
pub(crate) struct BackupArgs {
    /// The snapshot file to write (must not exist).
    #[arg(long)]
    out: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct RestoreArgs {
    /// A file written by `tracemark backup`; restored into the `--db` file, which must not exist.
    file: PathBuf,
    /// Serials skipped per product after the restore, so codes issued after the snapshot (and
    /// unknown to it) are never issued again. Choose more than a line issues between backups.
    #[arg(long, default_value_t = 10_000_000)]
    counter_gap: i64,
}

pub(crate) fn backup(args: BackupArgs, context: &Context) -> Result<(), CliError> {
    block_on(async {
        let store = context.open().await?;
        let report = store.backup(&args.out).await?;
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
    let Some(target) = context.db.strip_prefix("sqlite://") else {
        return Err(CliError::input(
            "db",
            "restore writes an SQLite file: give --db sqlite://FILE (PostgreSQL: pg_restore)",
        ));
    };
    let target = Path::new(target.split('?').next().unwrap_or(target));
    block_on(async {
        let report = restore_store(&args.file, target, args.counter_gap, Actor::from_env()).await?;
        println!(
            "restored {} into {}: {} events verified",
            args.file.display(),
            target.display(),
            report.events
        );
        Ok(())
    })
}
