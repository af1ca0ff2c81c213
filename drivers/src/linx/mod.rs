//! Linx RCI (Remote Communications Interface), the binary protocol of Linx continuous-inkjet
//! printers over RS-232 (and TCP on printers with "RCI over Ethernet"). See
//! `docs/protocols/linx-rci.md` for framing, commands, status mapping and sources.
//!
//! - [`frame`]: packet framing and checksum, an incremental decoder (pure);
//! - [`message`]: commands, replies and their data layouts (pure);
//! - [`LinxMarker`] / [`LinxSession`]: the marker model on top, confirming prints by polling
//!   the printer's print counter.

mod empty;
pub mod frame;
pub mod message;
mod session;

pub use session::{LinxConfig, LinxLink, LinxMarker, LinxSession};
