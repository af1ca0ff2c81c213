//! The delivery runtime (SPEC §6 "Delivery", issue 15 item 3; docs/upload.md "Delivery"): sends
//! the outbox's pending deliveries to their targets, each body rendered once into a spool file
//! and POSTed byte for byte on every attempt, signed the Standard Webhooks way.
//!
//! - [`retry`]: the pure decision on one POST's outcome (delivered, retry at, failed).
//! - [`document`]: the body of a delivery (the export, behind one function).
//! - [`deliver`]: the spool file, the signature and one POST.
//! - [`run`]: the loop over due deliveries.
//! - [`run_only`]: one delivery to a target that lives only for one run (the demo's receiver).

pub mod deliver;
pub mod document;
pub mod retry;
pub mod run;
pub mod run_only;

use std::path::PathBuf;
use std::sync::Arc;

use tracemark_store::StoreError;

pub use tracemark_store::upload::{Delivery, DeliveryState, UploadFormat, UploadTarget};

/// How far one delivery is, for a progress bar (a million-unit batch takes seconds to render
/// and to send).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryProgress {
    /// The body is being written: units of the batch done of `total`.
    Rendering {
        /// The batch.
        batch: i64,
        /// Units written.
        done: u64,
        /// Units in the batch.
        total: u64,
    },
    /// The body is being sent: bytes sent of `total`.
    Sending {
        /// The batch.
        batch: i64,
        /// Bytes handed to the connection.
        sent: u64,
        /// The body's length.
        total: u64,
    },
}

/// Where a delivery reports its progress; by default nowhere.
#[derive(Clone, Default)]
pub struct ProgressHook(Option<Arc<dyn Fn(DeliveryProgress) + Send + Sync>>);

impl ProgressHook {
    /// Reports to `report`.
    pub fn new(report: impl Fn(DeliveryProgress) + Send + Sync + 'static) -> Self {
        ProgressHook(Some(Arc::new(report)))
    }

    /// Reports `progress`.
    pub fn report(&self, progress: DeliveryProgress) {
        if let Some(report) = &self.0 {
            report(progress);
        }
    }
}

impl std::fmt::Debug for ProgressHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "ProgressHook(set)"
        } else {
            "ProgressHook(none)"
        })
    }
}

/// How a delivery step failed (nothing was sent, or the outcome is recorded by the caller).
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file operation failed.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The target's configuration cannot be used (a key file, the CA file, the URL): a person
    /// must fix it.
    #[error("target {target}: {reason}")]
    Target {
        /// The target's name.
        target: String,
        /// What is wrong, naming the file or field.
        reason: String,
    },
    /// The body differs from the one recorded before the first attempt: never sent, the
    /// delivery fails (a person must look).
    #[error("batch {batch}: {reason}")]
    BodyChanged {
        /// The batch.
        batch: i64,
        /// What differs, with the file.
        reason: String,
    },
    /// The receiver refused the document for good (a run-only delivery: nothing is stored to
    /// retry later).
    #[error("batch {batch} to {target}: {reason}")]
    Refused {
        /// The batch.
        batch: i64,
        /// The target's name.
        target: String,
        /// The receiver's answer.
        reason: String,
    },
    /// Writing the document failed.
    #[error("render batch {batch}: {reason}")]
    Render {
        /// The batch.
        batch: i64,
        /// Why.
        reason: String,
    },
}

impl UploadError {
    /// An I/O error while doing `what` on `path`.
    pub fn io(what: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| UploadError::Io { what, path, source }
    }
}
