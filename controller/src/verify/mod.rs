//! Print verification (SPEC §3, §5): reader results over MQTT, unit tracking from photocell to
//! gate, and the verify/reject decision.
//!
//! - [`payload`]: a reader's JSON result (with a field map for other reader formats), parsed
//!   without ever panicking;
//! - [`tracker`]: the shift register and the decision, pure and I/O-free, so it is tested and
//!   benchmarked alone (`cargo bench -p tracemark --bench verify`);
//! - [`mqtt`]: the subscription that feeds results in (QoS 1, persistent session).

pub mod mqtt;
pub mod payload;
pub mod tracker;

pub use payload::{FieldMap, Grade, PayloadError, ReadResult, parse_result};
pub use tracker::{
    Outcome, RejectReason, TrackError, Tracker, TrackerConfig, TrackerStats, Verdict,
};

/// The stored code text (GS1 HRI, `(01)…(21)…`) of what a reader decoded, or `None` when the
/// data is not a GS1 code. Accepts every form `tracemark_codes::gs1::parse` does: scanner data
/// with `]d2`/`]Q3`, element strings and Digital Link URIs.
pub fn gs1_code_of(data: &str) -> Option<String> {
    tracemark_codes::gs1::parse(data)
        .ok()
        .map(|scan| scan.code.to_hri())
}

#[cfg(test)]
mod tests;
