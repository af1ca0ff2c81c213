//! tracemark: the production-line controller for product traceability.
//!
//! The library holds what the `tracemark` binary and the tests share: the store (master data,
//! allocation, batches, audit log).
#![warn(missing_docs)]

pub mod broker;
pub mod commissioning;
pub mod config;
pub mod http;
pub mod line;
pub mod mqtt_endpoint;
pub mod store;
pub mod verify;
