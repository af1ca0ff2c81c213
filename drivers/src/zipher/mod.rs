//! Zipher-style text protocol (Videojet/Zipher thermal-transfer and thermal-inkjet coders over
//! TCP or serial): ASCII commands `NAME|field|…|` + CR, replies `ACK`, `ERR` or `TAG|…|`. The
//! driver uses the serialization buffer (records with an index) and confirms prints by the
//! last record index printed. See `docs/protocols/zipher.md`.
//!
//! - [`codec`]: commands, replies, the line decoder and the status layouts (pure);
//! - [`ZipherMarker`] / [`ZipherSession`]: the marker model on top.

pub mod codec;
mod session;

pub use session::{ZipherConfig, ZipherLink, ZipherMarker, ZipherSession};
