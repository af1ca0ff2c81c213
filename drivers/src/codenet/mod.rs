//! Codenet-style protocol (Domino's Codenet Communications Protocol, document CS00145, for
//! A-Series and A-Series plus continuous-inkjet printers) over TCP port 7000 or serial:
//! commands `ESC cmd params EOT`, answers `ACK`, `NAK` + a 3-digit code, or a data frame. The
//! driver feeds codes into the external data queue (`OE`) and confirms prints by the product
//! count (`T`). See `docs/protocols/codenet.md`.
//!
//! - [`frame`]: packets and an incremental decoder for either direction (pure);
//! - [`message`]: commands and the data replies tracemark reads (pure);
//! - [`CodenetMarker`] / [`CodenetSession`]: the marker model on top.

pub mod frame;
pub mod message;
mod session;

pub use session::{
    Answer, CodenetConfig, CodenetLink, CodenetMarker, CodenetSession, DEFAULT_QUEUE_FULL_NAK,
};
