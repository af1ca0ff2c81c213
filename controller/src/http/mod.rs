//! The HTTP edge (issue 16; docs/api.md): the API under `/api/v1` with its OpenAPI document,
//! users' roles enforced on every request, errors as RFC 9457 problem details — and the live
//! lines run by `demo --http` and `run --http`, as JSON, server-sent events and Prometheus
//! metrics.
//!
//! - [`server`]: `tracemark serve` (HTTP or HTTPS, the access log).
//! - [`access`]: who may call which operation (one table, into the document and the check).
//! - [`auth`]: bearer tokens, session cookies, CSRF, the role check.
//! - [`problem`]: [`crate::app::AppError`] as problem details; JSON bodies that name the bad
//!   member.
//! - [`api`]: the operations, each calling the `app` function the CLI calls.
//! - [`hmi`]: the operator's screens (server-rendered pages, zh-CN and en).
//! - [`public`]: the public code lookup (issue 17; docs/lookup.md), no login.
//! - [`live`]: the live line's page (`demo --http`, `run --http … --line-page`).
//! - [`metrics`]: `/metrics` for Prometheus.

pub mod access;
pub mod api;
pub mod auth;
pub mod hmi;
pub mod live;
pub mod metrics;
pub mod problem;
pub mod public;
pub mod server;
pub mod state;

pub use live::LiveView;
pub use state::LiveLines;
