//! `tracemark run --config FILE [--batch ID] [--http ADDR [--line-page]]`: the line runtime
//! against the real devices of a line config, until Ctrl-C (graceful stop: printing stops, the
//! belt drains, leftovers voided); with `--http`, the API over the store with the line live in
//! it (docs/api.md "Live lines").

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use tokio::sync::watch;
use tracemark::app::line_configs::LineConfigs;
use tracemark::app::lines;
use tracemark::app::uploads::{self, SenderConfig};
use tracemark::http::live;
use tracemark::http::server::{HttpServer, LiveOptions, ServeOptions};
use tracemark::http::{LiveLines, LiveView};
use tracemark::line::{LineOptions, LineSetup, LineStats, line_control, run_line_controlled};

use super::{CliError, Context};

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Line config.
    #[arg(long)]
    config: PathBuf,
    /// The batch to produce (default: the line's running or paused batch).
    #[arg(long)]
    batch: Option<i64>,
    /// Do not deliver closed batches to the upload targets in the background (then
    /// `tracemark upload run` does it).
    #[arg(long)]
    no_upload: bool,
    /// Where delivery bodies are rendered (default: next to an SQLite store,
    /// `<db file>.upload-spool/`).
    #[arg(long, value_name = "DIR")]
    upload_spool_dir: Option<PathBuf>,
    /// Serve the API over the store on this address with this line live in it
    /// (`/api/v1/lines/ID`, its server-sent events, `/metrics`); port 0: any free port.
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,
    /// With --http, also serve the line's page at `/live` and its figures at `/api/line` to anyone
    /// who reaches the address, without login (a screen at the line, on the plant network).
    #[arg(long, requires = "http")]
    line_page: bool,
    /// Where the cameras' images of rejected units are stored (default: `reject_images/` next
    /// to an SQLite store's file, else in the working directory).
    #[arg(long, value_name = "DIR")]
    reject_images: Option<PathBuf>,
    /// The edge journal's file, where the line's records wait while the central store cannot
    /// be reached (docs/plant.md; default: `journal-LINE.db` next to an SQLite store's file,
    /// else in the working directory). Keep it on the controller's local disk.
    #[arg(long, value_name = "FILE")]
    journal: Option<PathBuf>,
}

pub(crate) fn run(args: &RunArgs, context: &Context) -> Result<(), CliError> {
    let line = tracemark::config::load(&args.config)
        .map_err(|errors| CliError::Input(errors.to_string()))?;
    super::block_on_with_line(|line_runtime| async move {
        let actor = lines::controller_actor(context.actor(), "line", &line.id);
        let store = context.open().await?.with_actor(actor);
        let batch = lines::batch_to_run(&store, &line.id, args.batch).await?;
        let (stop_tx, stop_rx) = watch::channel(false);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("stopping: printing stops, the belt drains (Ctrl-C again to abort)");
                let _ = stop_tx.send(true);
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        });
        // Batches closed while the line runs (from the HMI or `batch close`) are delivered by
        // this process too (issue 15 item 3), until the line has stopped.
        let (upload_stop_tx, upload_stop_rx) = watch::channel(false);
        let delivery = (!args.no_upload).then(|| {
            let spool = args
                .upload_spool_dir
                .clone()
                .unwrap_or_else(|| uploads::default_spool_dir(&store));
            tokio::spawn(uploads::run_in_background(
                store.clone(),
                context.actor().clone(),
                SenderConfig::new(spool),
                upload_stop_rx,
            ))
        });
        let (stats_tx, stats_rx) = watch::channel(LineStats::default());
        // Operators' commands (pause, resume, stop, acknowledge) come through the HMI and API.
        let (control, inbox) = line_control();
        let _server = match args.http {
            Some(addr) => {
                let target = u64::try_from(batch.quantity).unwrap_or(0);
                let (view_tx, view_rx) =
                    watch::channel(LiveView::new(&line.id, batch.id, batch.simulated, target));
                let shown = LiveOptions {
                    lines: LiveLines::none().with_control(&line.id, view_rx, control),
                    public_page: args.line_page,
                    configs: LineConfigs::new([args.config.clone()]),
                    ..LiveOptions::default()
                };
                let options = ServeOptions { addr, tls: None };
                let server = HttpServer::start_live(store.clone(), options, shown)
                    .await
                    .map_err(|e| CliError::input("--http", e))?;
                eprintln!("http: {}/api/v1/lines/{}", server.url(), line.id);
                tokio::spawn(live::follow_runtime(stats_rx, view_tx));
                Some(server)
            }
            None => None,
        };
        let setup = LineSetup {
            line,
            store,
            batch: batch.id,
            options: LineOptions {
                reject_images: args.reject_images.clone(),
                journal: args.journal.clone(),
                ..LineOptions::default()
            },
        };
        let report = line_runtime
            .spawn(run_line_controlled(setup, stop_rx, stats_tx, inbox))
            .await
            .map_err(|e| CliError::Failed(anyhow::anyhow!("the line's task failed: {e}")))?;
        let _ = upload_stop_tx.send(true);
        if let Some(delivery) = delivery {
            let _ = delivery.await;
        }
        let report = report.map_err(|e| CliError::Failed(e.into()))?;
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
        Ok(())
    })
}
