//! Generic ASCII markers: lasers and printers not otherwise supported, described entirely by
//! configuration — framing (prefix, suffix, checksum), command templates, reply patterns, a
//! status query and a print counter query. Integrators add a device with a description file,
//! not code. See `docs/protocols/ascii.md`, which also gives two real devices as examples.
//!
//! - [`pattern`]: escapes, `{name}` templates and reply patterns (pure);
//! - [`frame`]: checksums, framing and the incremental frame decoder (pure);
//! - [`raw`]: the description as written, with its defaults;
//! - [`config`]: the compiled description, and its checks (in `compile.rs`);
//! - [`AsciiMarker`] / [`AsciiSession`]: the marker model on top, confirming prints by the
//!   device's print counter.

mod compile;
pub mod config;
pub mod frame;
pub mod pattern;
pub mod raw;
mod session;

pub use config::{AsciiConfig, Command, InvalidConfig};
pub use raw::{DEFAULT_DESCRIPTION, RawAsciiConfig};
pub use session::{AsciiLink, AsciiMarker, AsciiSession, CounterTracker, MAX_WRAP_STEP, Reply};
