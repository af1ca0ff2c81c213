//! The application layer: the only API the edges (`cli/`, and later `http/`) call.
//!
//! One module per user job — [`products`] (master data), [`batches`] (a batch's life cycle and
//! reconciliation), [`qa`] (settling rejects, samples), [`codes`] (allocation and manual state
//! changes), [`lines`] (which batch a line produces), [`packing`] (cartons, pallets and their
//! rework), [`devices`] (an integrator's probe of a
//! device), [`line_configs`] (the configs a server knows, their errors, devices and probes),
//! [`line_control`] (an operator's commands to a running line), [`audit`] (the event log and
//! backups), [`uploads`] (delivery of closed batches), [`users`] (users, roles, sessions and API
//! tokens), [`reject_images`] (the camera's image of a rejected unit), [`shipping`] (shipments,
//! their flow records and what of them is public), [`report`] (the batch report with its
//! charts, and its PDF).
//! Every writing function takes the [`Actor`] it acts for, so each change is in the audit chain
//! with its user and device (seed 003 §8.4); reads take none. Results are typed; an edge only
//! parses its input and prints or serialises what it gets back.
//!
//! Failures are an [`AppError`], mapped in one place to an exit status
//! ([`AppError::exit_status`]) and an HTTP status ([`AppError::http_status`]).

pub mod audit;
pub mod batches;
pub mod codes;
pub mod devices;
pub mod dispatch;
pub mod exports;
pub mod line_configs;
pub mod line_control;
pub mod lines;
pub mod lookup;
pub mod packing;
pub mod page;
pub mod permissions;
pub mod products;
pub mod qa;
pub mod reject_images;
pub mod report;
pub mod shipping;
pub mod uploads;
pub mod users;

use tracemark_store::StoreError;
pub use tracemark_store::{Actor, Store};

/// How an application call failed. Every variant but [`AppError::Internal`] means nothing was
/// changed and the caller can correct the request.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The input is invalid: `field` names what is wrong and `reason` why.
    #[error("{field}: {reason}")]
    Input {
        /// The field (an argument, a config key path, a JSON member).
        field: String,
        /// Why it is refused.
        reason: String,
    },
    /// Something named does not exist.
    #[error("{what}: {id:?} does not exist")]
    NotFound {
        /// What was looked for (`product`, `batch`, `code`).
        what: &'static str,
        /// Its identifier.
        id: String,
    },
    /// The request is valid but the current state refuses it (a code that cannot go from
    /// `verified` to `printed`, a batch that is already closed).
    #[error("{field}: {reason}")]
    Conflict {
        /// What is in the way (`state`, `batch`).
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// The actor may not do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// No valid credentials: no session or token, an unknown, expired or revoked one, or a
    /// wrong name or password (which of them is never said).
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// Too many attempts (logins): try again after `retry_after_secs`.
    #[error("too many attempts: try again in {retry_after_secs} s")]
    RateLimited {
        /// Seconds until the next attempt is taken.
        retry_after_secs: u64,
    },
    /// Something failed while doing the work (the database, a device, the file system).
    #[error("{context}: {source}")]
    Internal {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl AppError {
    /// An input error about `field`.
    pub fn input(field: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        AppError::Input {
            field: field.into(),
            reason: reason.to_string(),
        }
    }

    /// An internal failure while doing `context`.
    pub fn internal(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        AppError::Internal {
            context: context.into(),
            source: source.into(),
        }
    }

    /// The command line's exit status: 2 for a request the user can correct, 1 for a failure.
    pub fn exit_status(&self) -> u8 {
        match self {
            AppError::Internal { .. } => 1,
            AppError::Input { .. }
            | AppError::NotFound { .. }
            | AppError::Conflict { .. }
            | AppError::Forbidden(_)
            | AppError::Unauthorized(_)
            | AppError::RateLimited { .. } => 2,
        }
    }

    /// The HTTP status of the API's problem details (RFC 9457).
    pub fn http_status(&self) -> u16 {
        match self {
            AppError::Input { .. } => 400,
            AppError::Unauthorized(_) => 401,
            AppError::Forbidden(_) => 403,
            AppError::RateLimited { .. } => 429,
            AppError::NotFound { .. } => 404,
            AppError::Conflict { .. } => 409,
            AppError::Internal { .. } => 500,
        }
    }
}

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Invalid { field, reason } => AppError::Input {
                field: field.to_owned(),
                reason,
            },
            StoreError::NotFound { what, id } => AppError::NotFound { what, id },
            StoreError::Transition { code, from, to } => AppError::Conflict {
                field: "state",
                reason: format!("code {code} cannot go from {from} to {to}"),
            },
            // A link refused (SPEC §3a): every offending code with its reason.
            StoreError::PackRefused { package, refusals } => AppError::Conflict {
                field: "pack",
                reason: format!(
                    "{}{}",
                    package.map(|p| format!("{p}: ")).unwrap_or_default(),
                    tracemark_store::package::list_refusals(&refusals)
                ),
            },
            // A shipment refused (issue 17 item 2): every SSCC with its reason.
            StoreError::ShipRefused { refusals } => AppError::Conflict {
                field: "sscc",
                reason: tracemark_store::shipment::list_ship_refusals(&refusals),
            },
            // A database that cannot be opened is the user's to correct (a wrong URL, a file
            // that is not a store); the message names it.
            StoreError::Open { url, reason } => AppError::Input {
                field: "db".to_owned(),
                reason: format!("{url}: {reason}"),
            },
            other => AppError::internal("store", other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_maps_to_one_exit_status_and_one_http_status() {
        let cases = [
            (AppError::input("gtin", "bad check digit"), 2, 400),
            (
                AppError::NotFound {
                    what: "batch",
                    id: "7".into(),
                },
                2,
                404,
            ),
            (
                AppError::Conflict {
                    field: "state",
                    reason: "closed".into(),
                },
                2,
                409,
            ),
            (AppError::Forbidden("operator".into()), 2, 403),
            (AppError::Unauthorized("no session".into()), 2, 401),
            (
                AppError::RateLimited {
                    retry_after_secs: 3,
                },
                2,
                429,
            ),
            (
                AppError::internal("write", std::io::Error::other("disk")),
                1,
                500,
            ),
        ];
        for (err, exit, http) in cases {
            assert_eq!(
                (err.exit_status(), err.http_status()),
                (exit, http),
                "{err}"
            );
        }
    }

    #[test]
    fn store_errors_keep_their_field() {
        let err: AppError = StoreError::invalid("min_grade", "\"E\" is not A, B, C or D").into();
        assert_eq!(err.to_string(), "min_grade: \"E\" is not A, B, C or D");
        let err: AppError = StoreError::NotFound {
            what: "product",
            id: "helmet".into(),
        }
        .into();
        assert_eq!(err.to_string(), "product: \"helmet\" does not exist");
        assert_eq!(err.http_status(), 404);
    }
}
