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
