//! `tracemark backup --out FILE` and `tracemark restore FILE`: disaster recovery for SQLite and
//! PostgreSQL stores (the snapshot is always an SQLite file).

use std::path::{Path, PathBuf};

use clap::Args;
use tracemark::store::Actor;
use tracemark::store::backup::{restore as restore_store, restore_into_postgres};

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
    if context.db.starts_with("postgres") {
        return block_on(async {
            let report =
                restore_into_postgres(&args.file, &context.db, args.counter_gap, Actor::from_env())
                    .await?;
            println!(
                "restored {} into PostgreSQL: {} events verified",
                args.file.display(),
                report.events
            );
            Ok(())
        });
    }
    let Some(target) = context.db.strip_prefix("sqlite://") else {
        return Err(CliError::input(
            "db",
            "restore into sqlite://FILE or postgres://…",
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
