//! The case camera's subscription: `tracemark/<line>/vision/<reader>/result` of the one case
//! camera, QoS 1, a persistent session of its own (client id `<line client id>-cases`), each
//! message acknowledged only after it is handed to the packing task — the same contract as
//! the unit readers' subscription (`verify::mqtt`), with the case-read parser.

use std::time::Duration;

use rumqttc::{AsyncClient, Event, Packet, QoS};
use tokio::sync::{mpsc, watch};

use super::case_read::{CaseRead, parse_case_read};
use crate::mqtt_endpoint::{BrokerEndpoint, EndpointError, MAX_PACKET};
use crate::verify::mqtt::Link;
use crate::verify::payload::{FieldMap, PayloadError};

/// One message from the case camera.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseReceived {
    /// A well-formed case read.
    Case(CaseRead),
    /// A refused message and why (logged and counted; the case goes nowhere).
    Malformed(PayloadError),
}

/// Where the case camera publishes.
#[derive(Debug, Clone)]
pub struct CaseSubscription {
    /// The broker.
    pub endpoint: BrokerEndpoint,
    /// Client id of this subscription's session.
    pub client_id: String,
    /// The line id.
    pub line: String,
    /// The case camera's name.
    pub reader: String,
    /// Its payload field map.
    pub field_map: FieldMap,
}

impl CaseSubscription {
    /// The one topic subscribed to.
    pub fn topic(&self) -> String {
        format!("tracemark/{}/vision/{}/result", self.line, self.reader)
    }
}

/// Parses one publish: the payload may not speak for another camera than its topic's.
pub fn receive(payload: &[u8], subscription: &CaseSubscription) -> CaseReceived {
    match parse_case_read(payload, &subscription.field_map, &subscription.reader) {
        Ok(read) if read.reader != subscription.reader => {
            CaseReceived::Malformed(PayloadError::UnknownReader(read.reader))
        }
        Ok(read) => CaseReceived::Case(read),
        Err(error) => CaseReceived::Malformed(error),
    }
}

/// Starts the subscription task; it ends when the receiver is dropped. The link state is
/// `Subscribed` once the broker acknowledged the subscription.
pub fn spawn_case_subscription(
    subscription: CaseSubscription,
) -> Result<(mpsc::Receiver<CaseReceived>, watch::Receiver<Link>), EndpointError> {
    let mut options = subscription.endpoint.options(&subscription.client_id)?;
    options
        .set_clean_session(false)
        .set_manual_acks(true)
        .set_max_packet_size(MAX_PACKET, MAX_PACKET);
    let (cases_tx, cases_rx) = mpsc::channel(1024);
    let (link_tx, link_rx) = watch::channel(Link::Connecting(None));
    tokio::spawn(async move {
        let (client, mut events) = AsyncClient::new(options, 64);
        let topic = subscription.topic();
        let mut backoff = Duration::from_millis(100);
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    backoff = Duration::from_millis(100);
                    if let Err(e) = client.subscribe(topic.clone(), QoS::AtLeastOnce).await {
                        tracing::warn!(error = %e, "cannot subscribe to case reads");
                    }
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    let _ = link_tx.send(Link::Subscribed);
                }
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    if cases_tx
                        .send(receive(&publish.payload, &subscription))
                        .await
                        .is_err()
                    {
                        return;
                    }
                    if let Err(e) = client.ack(&publish).await {
                        tracing::warn!(error = %e, "cannot acknowledge a case read");
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    if cases_tx.is_closed() {
                        return;
                    }
                    tracing::warn!(error = %e, "case camera MQTT connection lost");
                    let _ = link_tx.send(Link::Connecting(Some(e.to_string())));
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    });
    Ok((cases_rx, link_rx))
}
