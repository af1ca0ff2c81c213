//! An ERP receiver: the other end of tracemark's batch delivery (SPEC §6), for tests and the
//! demo to deliver to, and a reference for what a real receiver checks.
//!
//! It takes a `POST` of a whole document on any path, verifies the Standard Webhooks signature
//! (`signature.rs`), de-duplicates by `Idempotency-Key` (`dedupe.rs`), validates the document
//! (`validate.rs`), injects faults from a seeded draw (`faults.rs`) and keeps what it accepted
//! (`store.rs`, on disk with a directory); `receive.rs` is the order of those steps.
//! `GET /accepted` lists what was accepted as JSON.
//!
//! The server is hyper's HTTP/1.1 connection loop around an axum router, written out rather
//! than `axum::serve` so the receiver can reset a connection: each connection holds a twin of
//! its socket, and a handler that draws a reset sets `SO_LINGER` to zero on it and ends the
//! connection, so the kernel sends RST instead of FIN (socket(7), `SO_LINGER`) and the sender
//! sees "connection reset", as it would from a crashed or cut-off receiver.

mod dedupe;
pub mod faults;
mod receive;
pub mod signature;
pub mod store;
pub mod validate;

pub use dedupe::{IdempotencyKeyError, MAX_KEY_CHARS, Seen, decide, parse_idempotency_key};

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinSet;

use faults::{FaultKind, FaultProfile, Faults};
use receive::{Answer, Outcome};
use signature::{PublicKey, SigningSecret, Verifier};
use store::{Accepted, Store, StoreError};
use validate::{DocumentValidator, SchemaError};

/// How the receiver is set up.
#[derive(Debug, Clone)]
pub struct ErpConfig {
    /// Where to listen; default `127.0.0.1:0` (a free port).
    pub listen: String,
    /// The shared secret of `v1` signatures (the `whsec_` file).
    pub secret: SigningSecret,
    /// With it, every request also needs a valid `v1a` (Ed25519) signature.
    pub public_key: Option<PublicKey>,
    /// How far `webhook-timestamp` may be from now; default 5 minutes.
    pub tolerance: Duration,
    /// The fault profile; default none.
    pub faults: FaultProfile,
    /// The seed of the fault draw; default 1.
    pub seed: u64,
    /// Faults for the first requests, one entry each (`None`: no fault), before the profile's.
    pub fault_script: Vec<Option<FaultKind>>,
    /// How long a slow answer waits; default 2 s.
    pub slow_delay: Duration,
    /// `Retry-After` of a 503, seconds; default 1.
    pub retry_after_secs: u32,
    /// The largest body taken, after any gzip is undone; default 1 GiB.
    pub max_body_bytes: usize,
    /// Keep every accepted document in this directory (and read it back on start).
    pub dir: Option<PathBuf>,
}

impl ErpConfig {
    /// The defaults, with `secret`.
    pub fn new(secret: SigningSecret) -> Self {
        ErpConfig {
            listen: "127.0.0.1:0".to_owned(),
            secret,
            public_key: None,
            tolerance: signature::DEFAULT_TOLERANCE,
            faults: FaultProfile::None,
            seed: 1,
            fault_script: Vec::new(),
            slow_delay: Duration::from_secs(2),
            retry_after_secs: 1,
            max_body_bytes: 1 << 30,
            dir: None,
        }
    }
}

/// Why the receiver did not start.
#[derive(Debug, thiserror::Error)]
pub enum ErpError {
    /// The listen address.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The directory of accepted documents.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The vendored schema.
    #[error(transparent)]
    Schema(#[from] SchemaError),
}

/// Settings each request reads.
#[derive(Debug, Clone, Copy)]
struct Settings {
    slow_delay: Duration,
    retry_after_secs: u32,
    max_body_bytes: usize,
}

/// What the receiver counts.
#[derive(Debug, Default)]
struct Counters {
    statuses: BTreeMap<u16, u64>,
    faults: BTreeMap<FaultKind, u64>,
    replays: u64,
}

/// The state every request shares.
#[derive(Debug)]
struct Shared {
    verifier: Verifier,
    validator: DocumentValidator,
    settings: Settings,
    faults: Mutex<Faults>,
    store: Mutex<Store>,
    counters: Mutex<Counters>,
    /// How many documents are accepted, for [`ErpHandle::wait_accepted`].
    accepted_count: tokio::sync::watch::Sender<usize>,
}

/// A poisoned lock only means a request panicked while holding it; the data stays usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn draw_fault(&self) -> Option<FaultKind> {
        let fault = lock(&self.faults).draw();
        if let Some(kind) = fault {
            *lock(&self.counters).faults.entry(kind).or_default() += 1;
        }
        fault
    }

    fn lock_store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    fn replayed(&self, record: Option<&Accepted>) -> Answer {
        lock(&self.counters).replays += 1;
        match record {
            Some(record) => Answer::replay(record),
            None => Answer::refuse(StatusCode::INTERNAL_SERVER_ERROR, "no stored answer"),
        }
    }

    fn count_status(&self, status: StatusCode) {
        *lock(&self.counters)
            .statuses
            .entry(status.as_u16())
            .or_default() += 1;
    }
}

/// The ERP receiver simulator.
#[derive(Debug)]
pub struct ErpSim;

impl ErpSim {
    /// Starts the receiver. It is listening when this returns: a request sent to the address
    /// from then on is served.
    pub async fn start(config: ErpConfig) -> Result<(SocketAddr, ErpHandle), ErpError> {
        let validator = DocumentValidator::new()?;
        let store = Store::open(config.dir.clone())?;
        let listener =
            TcpListener::bind(&config.listen)
                .await
                .map_err(|source| ErpError::Listen {
                    addr: config.listen.clone(),
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| ErpError::Listen {
            addr: config.listen.clone(),
            source,
        })?;
        let shared = Arc::new(Shared {
            verifier: Verifier::new(config.secret, config.public_key, config.tolerance),
            validator,
            settings: Settings {
                slow_delay: config.slow_delay,
                retry_after_secs: config.retry_after_secs,
                max_body_bytes: config.max_body_bytes,
            },
            faults: Mutex::new(
                Faults::new(config.faults, config.seed).with_script(config.fault_script),
            ),
            accepted_count: tokio::sync::watch::Sender::new(store.list().len()),
            store: Mutex::new(store),
            counters: Mutex::new(Counters::default()),
        });
        let router = Router::new()
            .route("/accepted", get(list_accepted))
            .fallback(post_document)
            .with_state(shared.clone());
        let task = tokio::spawn(serve(listener, router));
        tracing::info!(%addr, "ERP receiver listening");
        Ok((
            addr,
            ErpHandle {
                shared,
                task: Arc::new(ServerTask {
                    abort: task.abort_handle(),
                    join: Mutex::new(Some(task)),
                }),
            },
        ))
    }
}

/// Aborts the server when the last handle goes.
#[derive(Debug)]
struct ServerTask {
    abort: tokio::task::AbortHandle,
    join: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for ServerTask {
    fn drop(&mut self) {
        self.abort.abort();
    }
}

/// The running receiver: what it accepted and answered. The server stops when the last clone
/// is dropped or on [`ErpHandle::shutdown`].
#[derive(Debug, Clone)]
pub struct ErpHandle {
    shared: Arc<Shared>,
    task: Arc<ServerTask>,
}

impl ErpHandle {
    /// Everything accepted, oldest first (with a directory: also what earlier runs accepted).
    pub fn accepted(&self) -> Vec<Accepted> {
        self.shared.lock_store().list()
    }

    /// Waits until at least `n` documents are accepted (a readiness signal for tests and
    /// callers that deliver from another task or process).
    pub async fn wait_accepted(&self, n: usize) {
        let mut count = self.shared.accepted_count.subscribe();
        // The sender lives in `shared`, which this handle holds: the wait cannot see it closed.
        let _ = count.wait_for(|accepted| *accepted >= n).await;
    }

    /// The document accepted with `key`, as received (gzip undone).
    pub fn document(&self, key: &str) -> Option<axum::body::Bytes> {
        self.shared.lock_store().document(key)
    }

    /// How many answers of each status were sent (injected ones and replays included).
    pub fn statuses(&self) -> BTreeMap<u16, u64> {
        lock(&self.shared.counters).statuses.clone()
    }

    /// How many answers of each non-2xx status were sent.
    pub fn refusals(&self) -> BTreeMap<u16, u64> {
        let mut statuses = self.statuses();
        statuses.retain(|status, _| !(200..300).contains(status));
        statuses
    }

    /// How many of each fault were injected.
    pub fn faults(&self) -> BTreeMap<FaultKind, u64> {
        lock(&self.shared.counters).faults.clone()
    }

    /// How many requests got a replayed answer.
    pub fn replays(&self) -> u64 {
        lock(&self.shared.counters).replays
    }

    /// Stops the server and its connections, and waits until the server task has ended.
    pub async fn shutdown(self) {
        self.task.abort.abort();
        let join = lock(&self.task.join).take();
        if let Some(join) = join {
            // Cancelled is the expected end.
            let _ = join.await;
        }
    }
}

/// Accepts connections until aborted; aborting drops the set, which ends every connection.
async fn serve(listener: TcpListener, router: Router) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connections.spawn(serve_connection(stream, peer, router.clone()));
                }
                // Out of descriptors and the like: the listener itself stays good.
                Err(error) => tracing::warn!(%error, "accept failed"),
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Set by a handler that drew a reset: its connection is then cut with RST.
#[derive(Debug, Clone, Default)]
struct ResetSwitch(Arc<Notify>);

async fn serve_connection(stream: TcpStream, peer: SocketAddr, router: Router) {
    // A second descriptor of the same socket, to set SO_LINGER on when the connection must be
    // reset: hyper owns the first.
    let twin = match stream
        .into_std()
        .and_then(|std| Ok((std.try_clone()?, TcpStream::from_std(std)?)))
    {
        Ok(pair) => pair,
        Err(error) => {
            tracing::warn!(%error, %peer, "cannot take the connection");
            return;
        }
    };
    let (twin, stream) = twin;
    let reset = ResetSwitch::default();
    let service = TowerToHyperService::new(router.layer(Extension(reset.clone())));
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        served = connection => {
            if let Err(error) = served {
                tracing::debug!(%error, %peer, "connection ended");
            }
        }
        () = reset.0.notified() => {
            // SO_LINGER 0: closing sends RST (socket(7)); both descriptors close here.
            match TcpStream::from_std(twin) {
                Ok(twin) => {
                    if let Err(error) = twin.set_zero_linger() {
                        tracing::warn!(%error, %peer, "cannot set SO_LINGER for a reset");
                    }
                }
                Err(error) => tracing::warn!(%error, %peer, "cannot reset the connection"),
            }
            tracing::debug!(%peer, "connection reset (injected fault)");
        }
    }
}

async fn list_accepted(State(shared): State<Arc<Shared>>) -> Json<Vec<Accepted>> {
    Json(shared.lock_store().list())
}

async fn post_document(
    State(shared): State<Arc<Shared>>,
    Extension(reset): Extension<ResetSwitch>,
    request: Request,
) -> Response {
    if request.method() != Method::POST {
        let answer = Answer::refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            format!(
                "{} {}: deliver with POST (SPEC §6); GET /accepted lists what was accepted",
                request.method(),
                request.uri().path()
            ),
        );
        return respond(&shared, answer);
    }
    let (parts, body) = request.into_parts();
    let limit = shared.settings.max_body_bytes;
    let body = match axum::body::to_bytes(body, limit).await {
        Ok(body) => body,
        Err(error) => {
            let answer = Answer::refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body could not be read whole (the limit is {limit} bytes): {error}"),
            );
            return respond(&shared, answer);
        }
    };
    match receive::receive(&shared, &parts.headers, body).await {
        Outcome::Answer(answer) => respond(&shared, answer),
        Outcome::Reset => {
            reset.0.notify_one();
            // The connection task drops this handler with the connection.
            std::future::pending().await
        }
    }
}

fn respond(shared: &Shared, answer: Answer) -> Response {
    shared.count_status(answer.status);
    let mut response = (answer.status, Json(answer.body)).into_response();
    let headers = response.headers_mut();
    if let Some(seconds) = answer.retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    if answer.replayed {
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}
