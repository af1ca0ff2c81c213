//! Uploads (SPEC §6, issue 15 item 3): the targets closed batches go to, the outbox's
//! deliveries, and the delivery loop (`crate::upload`). Closing a batch enqueues its deliveries
//! (the store does it in the close's transaction); this module adds nothing to that rule.

use std::future::Future;
use std::path::{Path, PathBuf};

use tracemark_store::upload::{Delivery, UploadFormat, UploadTarget};
use tracemark_store::{Actor, Store};

use super::AppError;
use crate::upload::UploadError;
use crate::upload::deliver;
pub use crate::upload::deliver::SenderConfig;
pub use crate::upload::run::RunReport;
pub use crate::upload::run_only::RunOnlyDelivery;
pub use crate::upload::{DeliveryProgress, ProgressHook};

/// The name of the demo's run-only target.
pub const SIMULATED_ERP_TARGET: &str = "demo-erp";

/// How long the demo keeps retrying its receiver (it is in this process: only a defect makes
/// it refuse for long).
const SIMULATED_ERP_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

/// A target to add.
#[derive(Debug, Clone)]
pub struct NewTarget {
    /// Its unique name.
    pub name: String,
    /// `http://…` or `https://…`.
    pub url: String,
    /// What it receives.
    pub format: UploadFormat,
    /// The `whsec_` secret file.
    pub secret_file: Option<PathBuf>,
    /// The `whsk_` Ed25519 key file.
    pub ed25519_key_file: Option<PathBuf>,
    /// The CA file trusted for `https://`.
    pub ca_file: Option<PathBuf>,
    /// Send gzip-encoded.
    pub gzip: bool,
}

impl From<UploadError> for AppError {
    fn from(error: UploadError) -> Self {
        match error {
            UploadError::Store(error) => error.into(),
            UploadError::Target { target, reason } => {
                AppError::input(format!("upload target {target}"), reason)
            }
            other => AppError::internal("upload", other),
        }
    }
}

/// The absolute form of `path` (targets are used from wherever `upload run` starts).
fn absolute(field: &str, path: &Path) -> Result<PathBuf, AppError> {
    std::path::absolute(path)
        .map_err(|e| AppError::input(field, format!("{}: {e}", path.display())))
}

/// Adds a target after checking its files: the keys parse, the CA file holds certificates.
pub async fn add_target(
    store: &Store,
    actor: &Actor,
    new: NewTarget,
) -> Result<UploadTarget, AppError> {
    let resolve = |field: &str, path: Option<PathBuf>| -> Result<Option<PathBuf>, AppError> {
        path.map(|p| absolute(field, &p)).transpose()
    };
    let target = UploadTarget {
        name: new.name,
        url: new.url,
        format: new.format,
        secret_file: resolve("secret_file", new.secret_file)?,
        ed25519_key_file: resolve("ed25519_key_file", new.ed25519_key_file)?,
        ca_file: resolve("ca_file", new.ca_file)?,
        gzip: new.gzip,
        created_at: String::new(),
    };
    let _ = url_is_valid(&target.url)?;
    deliver::read_keys(&target)?;
    deliver::client(&target, &SenderConfig::new(PathBuf::new()))?;
    Ok(store
        .with_actor(actor.clone())
        .add_upload_target(&target)
        .await?)
}

fn url_is_valid(url: &str) -> Result<reqwest::Url, AppError> {
    let parsed =
        reqwest::Url::parse(url).map_err(|e| AppError::input("url", format!("{url:?}: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(AppError::input(
            "url",
            format!("{url:?}: an http:// or https:// URL with a host"),
        ));
    }
    Ok(parsed)
}

/// Every target, by name.
pub async fn list_targets(store: &Store) -> Result<Vec<UploadTarget>, AppError> {
    Ok(store.upload_targets().await?)
}

/// Removes a target; its pending deliveries fail. Returns how many.
pub async fn remove_target(store: &Store, actor: &Actor, name: &str) -> Result<u64, AppError> {
    Ok(store
        .with_actor(actor.clone())
        .remove_upload_target(name)
        .await?)
}

/// Every delivery, by batch and target.
pub async fn status(store: &Store) -> Result<Vec<Delivery>, AppError> {
    Ok(store.deliveries().await?)
}

/// Puts a failed delivery back to pending (same uuid, same body).
pub async fn retry(
    store: &Store,
    actor: &Actor,
    batch: i64,
    target: &str,
) -> Result<Delivery, AppError> {
    Ok(store
        .with_actor(actor.clone())
        .retry_delivery(batch, target)
        .await?)
}

/// Puts the failed delivery of shipment `shipment` (its own document, docs/shipping.md) to
/// `target` back to pending: the same key, the same body.
pub async fn retry_shipment(
    store: &Store,
    actor: &Actor,
    shipment: i64,
    target: &str,
) -> Result<Delivery, AppError> {
    Ok(store
        .with_actor(actor.clone())
        .retry_shipment_delivery(shipment, target)
        .await?)
}

/// The spool directory when none is given: next to an SQLite store's file
/// (`<file>.upload-spool/`), else `tracemark-upload-spool/` in the working directory.
pub fn default_spool_dir(store: &Store) -> PathBuf {
    let url = store.url();
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let file = rest.trim_start_matches("//");
        let file = file.split('?').next().unwrap_or(file);
        if !file.is_empty() && file != ":memory:" {
            return PathBuf::from(format!("{file}.upload-spool"));
        }
    }
    PathBuf::from("tracemark-upload-spool")
}

/// Delivers: until nothing is pending (`once`), or until `shutdown`.
pub async fn run(
    store: &Store,
    actor: &Actor,
    config: &SenderConfig,
    once: bool,
    shutdown: impl Future<Output = ()>,
) -> Result<RunReport, AppError> {
    let store = store.with_actor(actor.clone());
    Ok(crate::upload::run::run(&store, config, once, shutdown).await?)
}

/// How long the background delivery waits after a store failure before it starts again.
const BACKGROUND_RESTART: std::time::Duration = std::time::Duration::from_secs(5);

/// Delivers in the background of a running line (`tracemark run`) until `shutdown` is true: as
/// `upload run`, and a store failure is logged and the loop started again after a pause (the
/// line must not stop because an upload could not be recorded; what was recorded stays).
pub async fn run_in_background(
    store: Store,
    actor: Actor,
    config: SenderConfig,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let store = store.with_actor(actor);
    loop {
        let mut stop = shutdown.clone();
        let stopped = async move {
            // A dropped sender also ends the loop.
            let _ = stop.wait_for(|stop| *stop).await;
        };
        match crate::upload::run::run(&store, &config, false, stopped).await {
            Ok(report) => {
                tracing::info!(
                    delivered = report.delivered.len(),
                    failed = report.failed.len(),
                    "background delivery stopped"
                );
                return;
            }
            Err(error) => {
                tracing::error!(%error, "background delivery: restarting in {} s", BACKGROUND_RESTART.as_secs());
                tokio::select! {
                    () = tokio::time::sleep(BACKGROUND_RESTART) => {}
                    _ = shutdown.wait_for(|stop| *stop) => return,
                }
            }
        }
    }
}

/// What the demo's receiver took.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SimulatedErpReceipt {
    /// Where it listened.
    pub url: String,
    /// The delivery as sent.
    pub delivery: RunOnlyDelivery,
    /// Events in the document the receiver accepted and stored.
    pub events: Option<usize>,
    /// The receiver's receipt id.
    pub receipt: String,
    /// Whether the receiver's copy is byte for byte the body sent.
    pub same_body: bool,
}

/// Delivers closed batch `batch` as EPCIS 2.0 JSON-LD to an ERP receiver simulator started for
/// this call, through a target that lives only for it (issue 15 item 5: nothing is left
/// configured for a later `upload run` to chase). Targets the user configured are not touched:
/// closing the batch queued its deliveries to them. The body is signed with a secret made for
/// this call; `spool_dir` holds the body and the secret while it runs, and is removed after.
pub async fn deliver_to_simulated_erp(
    store: &Store,
    batch: i64,
    spool_dir: &Path,
    progress: ProgressHook,
) -> Result<SimulatedErpReceipt, AppError> {
    use tracemark_sim::erp::signature::SigningSecret;
    use tracemark_sim::erp::{ErpConfig, ErpSim};

    let io = |what: &'static str| {
        move |e: std::io::Error| AppError::internal("upload", format!("{what}: {e}"))
    };
    std::fs::create_dir_all(spool_dir).map_err(io("create the demo's spool directory"))?;
    let secret_text = {
        use base64::Engine as _;
        let key: [u8; 32] = rand::random();
        format!(
            "whsec_{}",
            base64::engine::general_purpose::STANDARD.encode(key)
        )
    };
    let secret_file = spool_dir.join("demo-erp.whsec");
    std::fs::write(&secret_file, &secret_text).map_err(io("write the demo's secret"))?;
    let secret = SigningSecret::parse(&secret_text)
        .map_err(|e| AppError::internal("upload", format!("the demo's secret: {e}")))?;
    let (addr, receiver) = ErpSim::start(ErpConfig::new(secret))
        .await
        .map_err(|e| AppError::internal("upload", format!("the demo's ERP receiver: {e}")))?;
    let url = format!("http://{addr}/epcis/events");
    let target = UploadTarget {
        name: SIMULATED_ERP_TARGET.to_owned(),
        url: url.clone(),
        format: UploadFormat::EpcisJson,
        secret_file: Some(secret_file),
        ed25519_key_file: None,
        ca_file: None,
        gzip: false,
        created_at: String::new(),
    };
    let mut config = SenderConfig::new(spool_dir.to_owned());
    config.progress = progress;
    let sent =
        crate::upload::run_only::deliver(store, &config, &target, batch, SIMULATED_ERP_PATIENCE)
            .await;
    let accepted = receiver
        .accepted()
        .into_iter()
        .find(|a| sent.as_ref().is_ok_and(|d| d.uuid == a.key));
    receiver.shutdown().await;
    if let Err(error) = std::fs::remove_dir_all(spool_dir) {
        tracing::warn!(dir = %spool_dir.display(), %error, "the demo's spool directory not removed");
    }
    let delivery = sent?;
    let accepted = accepted.ok_or_else(|| {
        AppError::internal(
            "upload",
            format!(
                "the demo's receiver answered {} but lists no document with key {}",
                delivery.status, delivery.uuid
            ),
        )
    })?;
    Ok(SimulatedErpReceipt {
        url,
        same_body: accepted.body_sha256 == delivery.sha256,
        events: accepted.events,
        receipt: accepted.receipt,
        delivery,
    })
}
