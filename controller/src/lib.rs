//! tracemark: the production-line controller for product traceability.
//!
//! The library holds what the `tracemark` binary and the tests share, in layers (see
//! `docs/architecture.md`): [`app`], the API the edges call; the runtimes [`line`] and
//! [`verify`]; [`config`], a line config compiled to types. The store is the `tracemark-store`
//! crate.
#![warn(missing_docs)]

pub mod app;
pub mod broker;
pub mod commissioning;
pub mod config;
pub mod http;
pub mod line;
pub mod mqtt_endpoint;
pub mod verify;
