//! Command-line interface. Subcommands are stable: scripts depend on them.

mod allocate;
mod audit;
mod backup;
mod batch;
pub(crate) mod codes;
mod config;
mod demo;
mod dispatch;
mod driver;
mod export;
mod import;
mod pack;
mod product;
mod qa;
mod report;
mod run;
mod serve;
mod ship;
mod upload;
mod user;

use std::future::Future;

use clap::{Parser, Subcommand, ValueEnum};
use tracemark::app::AppError;
use tracemark_store::fault::{Outage, StoreFault};
use tracemark_store::{Actor, DEFAULT_DB, Store, StoreError};

/// tracemark — production-line controller for product traceability.
#[derive(Debug, Parser)]
#[command(name = "tracemark", version, about, long_about = None)]
pub(crate) struct Cli {
    /// Database: `sqlite://FILE` (created if missing) or `postgres://USER@HOST/DB`. Default
    /// `sqlite://tracemark.db`; `simulate` and `demo` default to a scratch store of their own,
    /// `sqlite://tracemark-scratch.db`.
    #[arg(long = "db", global = true, env = "TRACEMARK_DB")]
    db: Option<String>,
    /// Who acts, as recorded in the audit chain. Default: TRACEMARK_USER, else the operating
    /// system's user. QA dispositions are refused when no user can be named.
    #[arg(long, global = true, value_name = "NAME")]
    user: Option<String>,
    /// Log output on stderr: `human` or `json` (one object per line). Filter with TRACEMARK_LOG.
    #[arg(
        long,
        global = true,
        env = "TRACEMARK_LOG_FORMAT",
        default_value = "human"
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Trace codes: parse, render, serials, allocate, change state.
    #[command(subcommand)]
    Codes(codes::CodesCommand),
    /// Run the whole line against its twin: marker, camera, reject gate, reconciliation.
    Demo(demo::DemoArgs),
    /// Run the line of a config against its real devices until Ctrl-C.
    Run(run::RunArgs),
    /// Virtual commissioning: a line config run against simulators of its devices.
    Simulate(demo::SimulateArgs),
    /// Products (master data).
    #[command(subcommand)]
    Product(product::ProductCommand),
    /// The producer (master data).
    #[command(subcommand)]
    Producer(product::ProducerCommand),
    /// Batches: create, start, pause, resume, close, report.
    #[command(subcommand)]
    Batch(batch::BatchCommand),
    /// QA: list rejects, destroy, release after a re-scan, sample.
    #[command(subcommand)]
    Qa(qa::QaCommand),
    /// Packing: cartons and pallets (SSCCs), add, remove, replace, unpack, close, reopen.
    #[command(subcommand)]
    Pack(pack::PackCommand),
    /// Ship closed pallets and cartons to a buyer, with the flow record (docs/shipping.md).
    Ship(ship::ShipArgs),
    /// Dispatch orders and the dispatch scanner station (docs/shipping.md).
    #[command(subcommand)]
    Dispatch(dispatch::DispatchCommand),
    /// Uploads: targets, deliveries of closed batches, and the delivery loop.
    #[command(subcommand)]
    Upload(upload::UploadCommand),
    /// Users, roles, passwords and API tokens.
    #[command(subcommand)]
    User(user::UserCommand),
    /// The hash-chained event log.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Line configs: validate.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Devices: probe one device of a line config.
    #[command(subcommand)]
    Driver(driver::DriverCommand),
    /// Export a batch: EPCIS 2.0 (JSON-LD, XML) or the platform payload.
    #[command(subcommand)]
    Export(export::ExportCommand),
    /// Reports: a batch's report with charts, as HTML or PDF (docs/reports.md).
    #[command(subcommand)]
    Report(report::ReportCommand),
    /// Serve the API (and the HMI) over the store: `--http ADDR`, HTTPS with `--tls-cert`.
    Serve(serve::ServeArgs),
    /// Write a verified snapshot of the store (SQLite or PostgreSQL) to an SQLite file.
    Backup(backup::BackupArgs),
    /// Restore a snapshot into a new SQLite file or an empty PostgreSQL database (after
    /// verifying it).
    Restore(backup::RestoreArgs),
}

/// How a command failed: bad input (exit status 2) or a failure while doing the work (1).
#[derive(Debug)]
pub(crate) enum CliError {
    /// The input was invalid; the message names the field and the reason.
    Input(String),
    /// Something else went wrong.
    Failed(anyhow::Error),
}

impl CliError {
    /// An input error about `field`.
    pub(crate) fn input(field: &str, reason: impl std::fmt::Display) -> Self {
        CliError::Input(format!("{field}: {reason}"))
    }
}

impl From<anyhow::Error> for CliError {
    fn from(err: anyhow::Error) -> Self {
        CliError::Failed(err)
    }
}

/// The application's errors keep the exit status `AppError::exit_status` gives them.
impl From<AppError> for CliError {
    fn from(err: AppError) -> Self {
        match err.exit_status() {
            2 => CliError::Input(err.to_string()),
            _ => CliError::Failed(err.into()),
        }
    }
}

impl From<tracemark::commissioning::CommissioningError> for CliError {
    fn from(err: tracemark::commissioning::CommissioningError) -> Self {
        CliError::Failed(err.into())
    }
}

impl From<StoreError> for CliError {
    fn from(err: StoreError) -> Self {
        AppError::from(err).into()
    }
}

/// The store `simulate` and `demo` use when no `--db` (or `TRACEMARK_DB`) names one: never the
/// production default, so a trial leaves the plant's records alone.
pub(crate) const SCRATCH_DB: &str = "sqlite://tracemark-scratch.db";

/// Where the store is and who is acting: what every store command needs.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    /// The store named by `--db` or `TRACEMARK_DB`, if any.
    db: Option<String>,
    actor: Actor,
}

impl Context {
    /// The store named, or the production default `sqlite://tracemark.db`.
    pub(crate) async fn open(&self) -> Result<Store, CliError> {
        Ok(Store::open(self.db_url(), self.actor.clone()).await?)
    }

    /// The URL of the store named, or of the production default.
    pub(crate) fn db_url(&self) -> &str {
        self.db.as_deref().unwrap_or(DEFAULT_DB)
    }

    /// The store named, or [`SCRATCH_DB`]; and whether it was named. With `faults`
    /// (`--store-fault`), the store is unreachable in their windows, counted from now.
    pub(crate) async fn open_for_simulation(
        &self,
        faults: &[StoreFault],
    ) -> Result<(Store, bool), CliError> {
        let url = self.db.as_deref().unwrap_or(SCRATCH_DB);
        let actor = self.actor.clone();
        let store = if faults.is_empty() {
            Store::open(url, actor).await?
        } else {
            Store::open_with_outage(url, actor, Outage::scheduled(faults)).await?
        };
        Ok((store, self.db.is_some()))
    }

    /// Who acts: `--user`, `TRACEMARK_USER` or the OS user; the device `cli@<host>`.
    pub(crate) fn actor(&self) -> &Actor {
        &self.actor
    }
}

/// Runs `work` on a single-threaded runtime: a command does one thing at a time.
pub(crate) fn block_on<T>(work: impl Future<Output = Result<T, CliError>>) -> Result<T, CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(anyhow::anyhow!("cannot start the async runtime: {e}")))?;
    runtime.block_on(work)
}

/// Runs a station (`pack`, `dispatch`) or a simulated line (`demo`, `simulate`) on two worker
/// threads: its devices, the broker and the twin work side by side.
pub(crate) fn block_on_line<T>(
    work: impl Future<Output = Result<T, CliError>>,
) -> Result<T, CliError> {
    two_workers()?.block_on(work)
}

/// Runs a line (`run`): `work` runs on two worker threads (the HTTP API, uploads) and is
/// handed the line's own runtime of one worker (`tracemark::runtime::line`) to run the line
/// on. (`demo` and `simulate` run theirs on the two workers, `block_on_line`; see demo.rs.)
pub(crate) fn block_on_with_line<T, F>(
    work: impl FnOnce(tokio::runtime::Handle) -> F,
) -> Result<T, CliError>
where
    F: Future<Output = Result<T, CliError>>,
{
    let runtime = two_workers()?;
    let line = tracemark::runtime::line()
        .map_err(|e| CliError::Failed(anyhow::anyhow!("cannot start the line's runtime: {e}")))?;
    let handle = line
        .handle()
        .ok_or_else(|| CliError::Failed(anyhow::anyhow!("the line's runtime has stopped")))?;
    let result = runtime.block_on(work(handle));
    // The process's runtime first: what it still runs may use connections the line's opened.
    drop(runtime);
    drop(line);
    result
}

fn two_workers() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(anyhow::anyhow!("cannot start the async runtime: {e}")))
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TRACEMARK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,rumqttd=off"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second initialisation (tests calling run twice) is harmless; ignore it.
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

pub(crate) fn run(cli: Cli) -> Result<(), CliError> {
    init_logging(cli.log_format);
    let context = Context {
        db: cli.db,
        actor: Actor::from_env(cli.user.as_deref()),
    };
    match cli.command {
        Command::Codes(command) => codes::run(command, &context),
        Command::Product(command) => product::run(command, &context),
        Command::Producer(command) => product::run_producer(command, &context),
        Command::Batch(command) => batch::run(command, &context),
        Command::Upload(command) => upload::run(command, &context),
        Command::User(command) => user::run(command, &context),
        Command::Audit(command) => audit::run(command, &context),
        Command::Qa(command) => qa::run(command, &context),
        Command::Pack(command) => pack::run(command, &context),
        Command::Ship(args) => ship::run(args, &context),
        Command::Dispatch(command) => dispatch::run(command, &context),
        Command::Config(command) => config::run(command),
        Command::Driver(command) => driver::run(command),
        Command::Export(command) => export::run(command, &context),
        Command::Report(command) => report::run(command, &context),
        Command::Backup(args) => backup::backup(args, &context),
        Command::Restore(args) => backup::restore(args, &context),
        Command::Demo(args) => demo::run(&args, &context),
        Command::Run(args) => run::run(&args, &context),
        Command::Serve(args) => serve::run(&args, &context),
        Command::Simulate(args) => demo::simulate(&args, &context),
    }
}
