//! `tracemark serve`: the API over the store on HTTP, or HTTPS through rustls; every request in
//! the access log (target `tracemark::access`: client, user, method, path, status, time — never
//! a header, so never a token or cookie).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::{IncomingStream, Listener};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::server::TlsStream;
use tracemark_store::Store;

use super::api;
use super::auth::{self, LoggedUser};
use super::state::{ApiState, LiveLines};
use crate::app::line_configs::LineConfigs;
use crate::app::lookup::{Lookup, LookupSettings};
use crate::app::users::LoginLimiter;

/// Where and how to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The address (port 0: any free port).
    pub addr: SocketAddr,
    /// Serve HTTPS with this certificate chain and key (PEM files).
    pub tls: Option<TlsFiles>,
}

/// The live lines a server shows besides the store (`run --http`, `demo --http`).
#[derive(Debug, Clone, Default)]
pub struct LiveOptions {
    /// The lines, in `/api/v1/lines`, their events and `/metrics`.
    pub lines: LiveLines,
    /// Also serve the first line's page at `/` and its figures at `/api/line` without login
    /// (`http::live`).
    pub public_page: bool,
    /// The line configs shown to the integrator, with their errors, devices and probes.
    pub configs: LineConfigs,
    /// The public code lookup's settings (docs/lookup.md).
    pub lookup: LookupSettings,
}

/// A server's certificate chain and private key, PEM.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A TLS file is unusable.
    #[error("{}: {reason}", file.display())]
    Tls {
        /// The file.
        file: PathBuf,
        /// Why.
        reason: String,
    },
    /// An API operation has no declared access (a defect: see `http::access`).
    #[error("the API's access table: {0}")]
    Routes(String),
}

/// The client's address, as the handlers see it (`ConnectInfo<Peer>`), over HTTP or HTTPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer(pub SocketAddr);

impl Connected<IncomingStream<'_, TcpListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, TcpListener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

/// A running server; it stops when dropped.
#[derive(Debug)]
pub struct HttpServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Whether it serves HTTPS.
    pub tls: bool,
    /// The public code lookup it serves (shared with a `--public-http` listener).
    pub lookup: Lookup,
    task: JoinHandle<()>,
}

impl HttpServer {
    /// Binds and serves the API over `store` until dropped.
    pub async fn start(store: Store, options: ServeOptions) -> Result<HttpServer, ServeError> {
        HttpServer::start_live(store, options, LiveOptions::default()).await
    }

    /// Binds and serves the API over `store` and the live lines of `live` until dropped.
    pub async fn start_live(
        store: Store,
        options: ServeOptions,
        live: LiveOptions,
    ) -> Result<HttpServer, ServeError> {
        let lookup = Lookup::new(store.clone(), live.lookup.clone());
        let tls = options.tls.is_some();
        let app = app(store, tls, live, lookup.clone())?;
        HttpServer::serve(app, options, lookup, "the API").await
    }

    /// Binds and serves only the public code lookup of `lookup` (`--public-http`).
    pub async fn start_public(
        lookup: Lookup,
        options: ServeOptions,
    ) -> Result<HttpServer, ServeError> {
        let app = super::public::public_only(lookup.clone());
        HttpServer::serve(app, options, lookup, "the public code lookup").await
    }

    async fn serve(
        app: Router,
        options: ServeOptions,
        lookup: Lookup,
        what: &'static str,
    ) -> Result<HttpServer, ServeError> {
        let acceptor = options.tls.as_ref().map(tls_acceptor).transpose()?;
        let tls = acceptor.is_some();
        let listener =
            TcpListener::bind(options.addr)
                .await
                .map_err(|source| ServeError::Listen {
                    addr: options.addr,
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| ServeError::Listen {
            addr: options.addr,
            source,
        })?;
        let task = match acceptor {
            None => tokio::spawn(async move {
                let service = app.into_make_service_with_connect_info::<Peer>();
                if let Err(error) = axum::serve(listener, service).await {
                    tracing::error!(%error, "the HTTP server stopped");
                }
            }),
            Some(acceptor) => tokio::spawn(async move {
                let listener = TlsListener::new(listener, acceptor);
                let service = app.into_make_service_with_connect_info::<Peer>();
                if let Err(error) = axum::serve(listener, service).await {
                    tracing::error!(%error, "the HTTPS server stopped");
                }
            }),
        };
        tracing::info!(%addr, tls, "serving {what}");
        Ok(HttpServer {
            addr,
            tls,
            lookup,
            task,
        })
    }

    /// Stops serving and writes the public lookup's waiting scan counts.
    pub async fn shutdown(self) {
        self.task.abort();
        if let Err(error) = self.lookup.flush().await {
            tracing::error!(%error, "the last scan counts could not be written");
        }
    }

    /// The base URL (`http://ADDR` or `https://ADDR`).
    pub fn url(&self) -> String {
        format!(
            "{}://{}",
            if self.tls { "https" } else { "http" },
            self.addr
        )
    }

    /// Serves until the task ends (it does not, unless it fails).
    pub async fn wait(mut self) {
        let _ = (&mut self.task).await;
    }

    /// Serves until the task ends, keeping the server (to [`HttpServer::shutdown`] it after).
    pub async fn wait_running(&mut self) {
        let _ = (&mut self.task).await;
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The whole application: the API under `/api/v1` and `/metrics` (roles enforced), its
/// OpenAPI document, the HMI, the public code lookup (`http::public`, no login), the live
/// line's page when asked for, and the access log around everything.
pub fn app(
    store: Store,
    tls: bool,
    live: LiveOptions,
    lookup: Lookup,
) -> Result<Router, ServeError> {
    let (api, document, access) = api::build().map_err(ServeError::Routes)?;
    let page = (live.public_page && !live.lines.is_empty())
        .then(|| super::live::page_routes(live.lines.clone()));
    let state = ApiState {
        store,
        limiter: Arc::new(LoginLimiter::default()),
        access: Arc::new(access),
        tls,
        lines: live.lines,
        configs: live.configs,
    };
    // Serialised once: the document does not change while the server runs.
    let document = axum::body::Bytes::from(
        serde_json::to_vec(&document)
            .map_err(|e| ServeError::Routes(format!("the OpenAPI document: {e}")))?,
    );
    let hmi = super::hmi::router().with_state(state.clone());
    let api = api
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::enforce))
        .with_state(state);
    let mut router = Router::new()
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let document = document.clone();
                async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        document,
                    )
                }
            }),
        )
        .merge(api)
        .merge(hmi)
        .merge(super::public::router(lookup));
    if let Some(page) = page {
        router = router.merge(page);
    }
    Ok(router
        .fallback(api::not_found)
        .layer(middleware::from_fn(access_log)))
}

/// One line per request (seed 003 §11: access logs).
pub(crate) async fn access_log(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let client = request
        .extensions()
        .get::<ConnectInfo<Peer>>()
        .map(|ConnectInfo(Peer(addr))| addr.to_string());
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let user = response
        .extensions()
        .get::<LoggedUser>()
        .map_or("-", |u| u.0.as_str());
    tracing::info!(
        target: "tracemark::access",
        client = client.as_deref().unwrap_or("-"),
        user,
        %method,
        path,
        status = response.status().as_u16(),
        micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        "request"
    );
    response.into_response()
}

/// The rustls acceptor for `files` (ring, TLS 1.2 and 1.3, ALPN http/1.1).
fn tls_acceptor(files: &TlsFiles) -> Result<TlsAcceptor, ServeError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let problem = |file: &Path, reason: String| ServeError::Tls {
        file: file.to_owned(),
        reason,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| problem(&files.cert, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| problem(&files.cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(problem(&files.cert, "no PEM certificate in it".into()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| problem(&files.key, format!("no usable private key: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| problem(&files.cert, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| problem(&files.key, format!("does not match the certificate: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// TCP connections after their TLS handshake. Handshakes run in their own tasks, so a slow or
/// broken client cannot hold up the others; a failed one is logged and dropped.
#[derive(Debug)]
pub struct TlsListener {
    local: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    accept_task: JoinHandle<()>,
}

impl TlsListener {
    fn new(listener: TcpListener, acceptor: TlsAcceptor) -> Self {
        let local = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let (sender, ready) = mpsc::channel(64);
        let accept_task = tokio::spawn(async move {
            loop {
                let (stream, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors, most likely: give connections time to end.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let sender = sender.clone();
                tokio::spawn(async move {
                    match acceptor.accept(stream).await {
                        Ok(tls) => {
                            let _ = sender.send((tls, peer)).await;
                        }
                        Err(error) => {
                            tracing::info!(%peer, %error, "TLS handshake failed");
                        }
                    }
                });
            }
        });
        TlsListener {
            local,
            ready,
            accept_task,
        }
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accept task ended (it does not, unless aborted): serve nothing more.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
