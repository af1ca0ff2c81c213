//! `tracemark serve [--http ADDR] [--tls-cert FILE --tls-key FILE] [--config FILE]…`: the API
//! over the store (issue 16 item 1; docs/api.md), until Ctrl-C; the line configs named are
//! shown to the integrator (`/integrator`, `/api/v1/line-configs`).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use tracemark::app::line_configs::LineConfigs;
use tracemark::http::server::{HttpServer, LiveOptions, ServeOptions, TlsFiles};

use super::{CliError, Context, block_on};

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Listen on this address (port 0: any free port; the URL is printed).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    http: SocketAddr,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// A line config to show the integrator, with its validation errors and its devices to
    /// probe (repeatable). Read again on every request: edits on disk show at once.
    #[arg(long = "config", value_name = "FILE")]
    configs: Vec<PathBuf>,
}

pub(crate) fn run(args: &ServeArgs, context: &Context) -> Result<(), CliError> {
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        }),
        _ => None,
    };
    block_on(async {
        let store = context.open().await?;
        let options = ServeOptions {
            addr: args.http,
            tls,
        };
        let live = LiveOptions {
            configs: LineConfigs::new(args.configs.iter().cloned()),
            ..LiveOptions::default()
        };
        let server = HttpServer::start_live(store, options, live)
            .await
            .map_err(|e| {
                CliError::input(
                    if args.tls_cert.is_some() {
                        "--tls-cert/--tls-key"
                    } else {
                        "--http"
                    },
                    e,
                )
            })?;
        // The first line on stdout: scripts and tests wait for it.
        println!("tracemark: serving {}/api/v1", server.url());
        tokio::select! {
            () = server.wait() => Err(CliError::Failed(anyhow::anyhow!("the server stopped"))),
            signal = tokio::signal::ctrl_c() => {
                signal.map_err(|e| CliError::Failed(e.into()))?;
                Ok(())
            }
        }
    })
}
