//! ZPL II label printers (Zebra and compatibles) over TCP port 9100 or serial: each code is a
//! label, a stored template (`^DF`) recalled with its fields filled (`^XF`, `^FN`); in
//! applicator print mode (`^MMA`) each label waits in the printer for the start-print signal
//! of the product. See `docs/protocols/zpl.md`.
//!
//! - [`codec`]: templates, labels, field escaping and control commands (pure);
//! - [`status`]: the `~HS` host status (pure);
//! - [`reply`]: an incremental decoder for `~HS` replies and SGD values (pure);
//! - [`tally`]: which labels printed, from the label odometer and the labels held (pure);
//! - [`bc`]: GS1-128 in a `^BC` field, written and read back (pure);
//! - [`logistic`]: the GS1 logistic label of a carton or pallet, template and fields (pure);
//! - [`ZplPrinter`] / [`ZplSession`]: the marker model on top.

pub mod bc;
pub mod codec;
pub mod logistic;
pub mod reply;
mod session;
pub mod status;
pub mod tally;

pub use session::{ZplConfig, ZplField, ZplLink, ZplPrinter, ZplSession, default_template_body};
