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
    Outcome, Printed, RejectReason, TrackError, Tracker, TrackerConfig, TrackerStats, Verdict,
};

/// The stored code text (GS1 HRI, `(01)…(21)…`) of what a reader decoded, or `None` when the
/// data is not a GS1 code. Accepts every form `tracemark_codes::gs1::parse` does: scanner data
/// with `]d2`/`]Q3`, element strings and Digital Link URIs.
pub fn gs1_code_of(data: &str) -> Option<String> {
    tracemark_codes::gs1::parse(data)
        .ok()
        .map(|scan| scan.code.to_hri())
}

/// The subscription of a validated line config: broker, client id, credentials (the password
/// from the environment variable the config names), TLS, the line's readers and the first reader's
/// field map. `None` when the line has no `[mqtt]`.
pub fn subscription_for(line: &crate::config::Line) -> Option<mqtt::Subscription> {
    let broker = line.mqtt.as_ref()?;
    let mut subscription = mqtt::Subscription::new(&broker.host, broker.port, &line.id);
    subscription.endpoint = crate::mqtt_endpoint::BrokerEndpoint::of(broker);
    subscription.client_id = broker.client_id.clone();
    subscription.readers = line.readers.iter().map(|r| r.name.clone()).collect();
    if let Some(reader) = line.readers.first() {
        subscription.field_map = FieldMap::new(reader.field_map.clone());
    }
    Some(subscription)
}

/// The tracker geometry of a validated line: the first marker, the first reader and the gate,
/// in encoder counts; the match window is half the smallest pitch. `None` without a reader and
/// a gate. `min_grade` is the product's (`Product::min_grade`).
pub fn tracker_config_for(line: &crate::config::Line, min_grade: Grade) -> Option<TrackerConfig> {
    let marker = line.markers.first()?;
    let reader = line.readers.first()?;
    let gate = line.gate.as_ref()?;
    let pitch_counts = (f64::from(line.min_pitch_mm) * line.counts_per_mm).round() as u64;
    Some(TrackerConfig {
        marker_counts: marker.position_counts,
        reader_counts: reader.position_counts,
        gate_counts: gate.position_counts,
        window_counts: (pitch_counts / 2).max(1),
        min_grade,
        max_consecutive_rejects: gate.max_consecutive_rejects,
    })
}

#[cfg(test)]
mod tests;
