//! Print verification (SPEC §3, §5): reader results over MQTT, unit tracking from photocell to
//! gate, and the verify/reject decision.
//!
//! - [`payload`]: a reader's JSON result (with a field map for other reader formats), parsed
//!   without ever panicking;
//! - [`tracker`]: the shift register and the decision, pure and I/O-free, so it is tested and
//!   benchmarked alone (`cargo bench -p tracemark --bench verify`);
//! - [`mqtt`]: the subscription that feeds results in (QoS 1, persistent session);
//! - [`images`]: the cameras' images of rejected units, matched by read and stored as files.

pub mod images;
pub mod mqtt;
pub mod payload;
pub mod tracker;

pub use payload::{FieldMap, Grade, PayloadError, ReadResult, parse_result};
pub use tracker::{
    MAX_READERS, Outcome, Placed, Printed, RejectReason, TrackError, TrackedReader, Tracker,
    TrackerConfig, TrackerStats, Verdict,
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
/// from the environment variable the config names), TLS, and the line's readers, each with its
/// own field map. `None` when the line has no `[mqtt]`.
pub fn subscription_for(line: &crate::config::Line) -> Option<mqtt::Subscription> {
    let broker = line.mqtt.as_ref()?;
    let mut subscription = mqtt::Subscription::new(&broker.host, broker.port, &line.id);
    subscription.endpoint = crate::mqtt_endpoint::BrokerEndpoint::of(broker);
    subscription.client_id = broker.client_id.clone();
    subscription.readers = line
        .readers
        .iter()
        .map(|r| (r.name.clone(), FieldMap::new(r.field_map.clone())))
        .collect();
    // Other stations' cameras on the same topic tree: the case camera, the label scanner
    // (docs/aggregation.md "Case camera mode", "Labels").
    subscription.passed_over = line
        .packing
        .iter()
        .flat_map(|p| {
            p.case_camera
                .iter()
                .map(|c| c.reader.clone())
                .chain(p.label.iter().map(|l| l.scanner.clone()))
        })
        .collect();
    Some(subscription)
}

/// The tracker geometry of a validated line: the first marker, every reader and the gate, in
/// encoder counts; the match window is half the smallest pitch. `None` without a reader and a
/// gate. `min_grade` is the product's (`Product::min_grade`); a reader with a `min_grade` of
/// its own passes only what meets both.
pub fn tracker_config_for(line: &crate::config::Line, min_grade: Grade) -> Option<TrackerConfig> {
    let marker = line.markers.first()?;
    let gate = line.gate.as_ref()?;
    if line.readers.is_empty() {
        return None;
    }
    let readers = line
        .readers
        .iter()
        .map(|r| {
            let own = r.min_grade.unwrap_or(min_grade);
            TrackedReader::new(&r.name, r.position_counts, own.max(min_grade))
        })
        .collect();
    let pitch_counts = (f64::from(line.min_pitch_mm) * line.counts_per_mm).round() as u64;
    Some(TrackerConfig {
        marker_counts: marker.position_counts,
        readers,
        gate_counts: gate.position_counts,
        window_counts: (pitch_counts / 2).max(1),
        max_consecutive_rejects: gate.max_consecutive_rejects,
    })
}

#[cfg(test)]
mod tests;
