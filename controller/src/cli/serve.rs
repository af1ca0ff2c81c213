//! `tracemark serve [--http ADDR] [--tls-cert FILE --tls-key FILE] [--config FILE]…
//! [--public-http ADDR] [--lookup-…]`: the API over the store (issue 16 item 1; docs/api.md)
//! and the public code lookup (issue 17; docs/lookup.md), until Ctrl-C; the line configs named
//! are shown to the integrator (`/integrator`, `/api/v1/line-configs`). On Ctrl-C the lookup's
//! waiting scan counts are written before the process ends.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use tracemark::app::line_configs::LineConfigs;
use tracemark::app::lookup::{
    DEFAULT_BURST, DEFAULT_RATE_PER_SECOND, DEFAULT_SCAN_ALERT, LookupSettings,
};
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
    /// Also serve the public code lookup alone on this address (no API, no HMI: what a plant
    /// exposes to the internet). It is always served on --http too.
    #[arg(long, value_name = "ADDR")]
    public_http: Option<SocketAddr>,
    #[command(flatten)]
    lookup: LookupArgs,
}

/// The public code lookup's settings (docs/lookup.md).
#[derive(Debug, Args)]
pub(crate) struct LookupArgs {
    /// A code scanned more than this many times is shown as "scanned unusually often".
    #[arg(long, value_name = "N", default_value_t = DEFAULT_SCAN_ALERT)]
    lookup_scan_alert: u64,
    /// Lookups a second per client address (IPv6: per /64) at the steady rate; 0: no limit.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_RATE_PER_SECOND)]
    lookup_rate: u32,
    /// Lookups a client may make at once before the rate applies.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_BURST)]
    lookup_burst: u32,
    /// The URL the lookup is reached at from outside (e.g. https://id.example.cn), for the
    /// links of linksets; by default the request's Host.
    #[arg(long, value_name = "URL")]
    lookup_public_url: Option<String>,
    /// The path prefix of digital-identity URLs answered (`/PREFIX/SERIAL`).
    #[arg(long, value_name = "PREFIX", default_value = "di")]
    lookup_di_prefix: String,
}

impl LookupArgs {
    pub(crate) fn settings(&self) -> LookupSettings {
        LookupSettings {
            scan_alert: self.lookup_scan_alert,
            rate_per_second: self.lookup_rate,
            burst: self.lookup_burst,
            public_url: self.lookup_public_url.clone(),
            digital_identity_prefix: self.lookup_di_prefix.clone(),
            ..LookupSettings::default()
        }
    }
}

pub(crate) fn run(args: &ServeArgs, context: &Context) -> Result<(), CliError> {
    let tls = options_tls(args);
    block_on(async {
        let store = context.open().await?;
        let options = ServeOptions {
            addr: args.http,
            tls,
        };
        let live = LiveOptions {
            configs: LineConfigs::new(args.configs.iter().cloned()),
            lookup: args.lookup.settings(),
            ..LiveOptions::default()
        };
        let mut server = HttpServer::start_live(store, options, live)
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
        let public = match args.public_http {
            Some(addr) => Some(
                HttpServer::start_public(
                    server.lookup.clone(),
                    ServeOptions {
                        addr,
                        tls: options_tls(args),
                    },
                )
                .await
                .map_err(|e| CliError::input("--public-http", e))?,
            ),
            None => None,
        };
        // The first line on stdout: scripts and tests wait for it.
        println!("tracemark: serving {}/api/v1", server.url());
        if let Some(public) = &public {
            println!("tracemark: public lookup {}/lookup", public.url());
        }
        let result = tokio::select! {
            () = server.wait_running() => Err(CliError::Failed(anyhow::anyhow!("the server stopped"))),
            signal = tokio::signal::ctrl_c() => {
                signal.map_err(|e| CliError::Failed(e.into()))
            }
        };
        if let Some(public) = public {
            public.shutdown().await;
        }
        server.shutdown().await;
        result
    })
}

fn options_tls(args: &ServeArgs) -> Option<TlsFiles> {
    match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        }),
        _ => None,
    }
}
