//! The controller's own publications for the plant's unified namespace (SPEC §5):
//! - `tracemark/<line>/state`: the line's counters as JSON ([`super::LineStats`]), retained, at
//!   most twice a second while they change;
//! - `tracemark/<line>/alarm`: each new alarm, as `{"alarm": "…"}`.
//!
//! Publishing is best effort: a broker that is away costs the HMI a few updates, never a unit.

use std::time::Duration;

use rumqttc::{AsyncClient, Event, Outgoing, QoS};
use tokio::sync::watch;

use super::LineStats;
use crate::mqtt_endpoint::BrokerEndpoint;

/// Publishes `stats` for `line` on the broker at `endpoint` until the sender is dropped.
pub(crate) async fn publish_state(
    endpoint: BrokerEndpoint,
    line: String,
    mut stats: watch::Receiver<LineStats>,
) {
    let options = match endpoint.options(&format!("tracemark-{line}-state")) {
        Ok(options) => options,
        Err(error) => {
            // The subscription was built from the same endpoint and would have failed first.
            tracing::warn!(%error, "state publisher: not started");
            return;
        }
    };
    let (client, mut events) = AsyncClient::new(options, 64);
    // The event loop drives the connection (and reconnects); it ends with this task.
    let driver = tokio::spawn(async move {
        loop {
            match events.poll().await {
                Ok(Event::Outgoing(Outgoing::Disconnect)) => return,
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(error = %e, "state publisher: broker away");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    });
    let state_topic = format!("tracemark/{line}/state");
    let alarm_topic = format!("tracemark/{line}/alarm");
    let mut last_alarm: Option<String> = None;
    let mut ticker = tokio::time::interval(Duration::from_millis(500));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticker.tick().await;
        match stats.has_changed() {
            Ok(true) => {}
            Ok(false) => continue,
            Err(_) => break,
        }
        let current = stats.borrow_and_update().clone();
        if let Ok(json) = serde_json::to_vec(&current) {
            let _ = client.try_publish(&state_topic, QoS::AtLeastOnce, true, json);
        }
        if current.alarm.is_some() && current.alarm != last_alarm {
            let payload = serde_json::json!({ "alarm": current.alarm }).to_string();
            let _ = client.try_publish(&alarm_topic, QoS::AtLeastOnce, false, payload);
            last_alarm = current.alarm;
        }
    }
    // Final counters, then leave.
    let last = serde_json::to_vec(&*stats.borrow());
    if let Ok(json) = last {
        let _ = client
            .publish(&state_topic, QoS::AtLeastOnce, true, json)
            .await;
    }
    let _ = client.disconnect().await;
    // The queued publications go out before the disconnect; a broker that is away gets none.
    if tokio::time::timeout(Duration::from_secs(1), driver)
        .await
        .is_err()
    {
        tracing::debug!("state publisher: the last state was not delivered");
    }
}
