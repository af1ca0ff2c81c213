#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod aggregation;
pub mod app;
pub mod broker;
pub mod commissioning;
pub mod dispatch;
pub use tracemark_config as config;
pub mod export;
pub mod http;
pub mod line;
pub mod mqtt_endpoint;
pub mod probe;
pub mod runtime;
pub mod upload;
pub mod verify;
