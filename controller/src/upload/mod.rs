//! The delivery runtime (SPEC §6 "Delivery", issue 15 item 3; docs/upload.md "Delivery"): sends
//! the outbox's pending deliveries to their targets, each body rendered once into a spool file
//! and POSTed byte for byte on every attempt, signed the Standard Webhooks way.
//!
//! - [`retry`]: the pure decision on one POST's outcome (delivered, retry at, failed).
//! - [`document`]: the body of a delivery (the export, behind one function).
//! - [`deliver`]: the spool file, the signature and one POST.
//! - [`run`]: the loop over due deliveries.

pub mod deliver;
pub mod document;
pub mod retry;
pub mod run;

use std::path::PathBuf;

use tracemark_store::StoreError;

pub use tracemark_store::upload::{Delivery, DeliveryState, UploadFormat, UploadTarget};

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
