//! The reader-result subscription (SPEC §5): `tracemark/<line>/vision/<reader>/result`, QoS 1,
//! a persistent session (clean session off: the broker keeps results for tracemark while it is
//! away), acknowledged only after hand-over, reconnecting with back-off.
//!
//! Each message becomes a [`Received`] on a channel: a parsed result, or the reason a payload was
//! refused (logged and counted by the receiver — never a crash, never a wrong verification).
//! One task per connection, in the style of the device tasks (STYLE.md).

use std::collections::BTreeMap;
use std::time::Duration;
use tracing::Instrument;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::{mpsc, watch};

use super::payload::{FieldMap, PayloadError, ReadResult, parse_result};
use crate::mqtt_endpoint::{BrokerEndpoint, EndpointError};

pub use crate::mqtt_endpoint::MAX_PACKET;

/// Where and how to subscribe.
#[derive(Debug, Clone)]
pub struct Subscription {
    /// The broker: address, login, TLS.
    pub endpoint: BrokerEndpoint,
    /// Client id: the broker keeps this id's session.
    pub client_id: String,
    /// The line id: the topic is `tracemark/<line>/vision/+/result`.
    pub line: String,
    /// The line's readers, each with its payload field map; results from others are refused.
    /// Empty: accept any reader, with [`Subscription::field_map`].
    pub readers: BTreeMap<String, FieldMap>,
    /// The field map when `readers` is empty.
    pub field_map: FieldMap,
    /// Cameras on the same topic filter whose messages another task takes (the packing
    /// station's case camera, the label scanner): acknowledged and passed over, neither results nor malformed.
    pub passed_over: Vec<String>,
}

impl Subscription {
    /// The subscription of a line with default settings, for `mqtt://host:port`.
    pub fn new(host: &str, port: u16, line: &str) -> Self {
        Subscription {
            endpoint: BrokerEndpoint::plain(host, port),
            client_id: format!("tracemark-{line}"),
            line: line.to_owned(),
            readers: BTreeMap::new(),
            field_map: FieldMap::default(),
            passed_over: Vec::new(),
        }
    }

    /// Accepts results of `reader` only (and of the others named so), read with `field_map`.
    pub fn with_reader(mut self, reader: &str, field_map: FieldMap) -> Self {
        self.readers.insert(reader.to_owned(), field_map);
        self
    }

    /// The topic filter subscribed to.
    pub fn topic_filter(&self) -> String {
        format!("tracemark/{}/vision/+/result", self.line)
    }
}

/// One message from a reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// A well-formed result.
    Result(ReadResult),
    /// A refused message: the topic and why.
    Malformed {
        /// The topic it came on.
        topic: String,
        /// What was wrong.
        error: PayloadError,
    },
}

/// The connection as the HMI shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// Connecting (or reconnecting after the reason given).
    Connecting(Option<String>),
    /// Connected and subscribed: results flow.
    Subscribed,
}

/// The reader name from `tracemark/<line>/vision/<reader>/result`.
fn reader_of(topic: &str) -> Option<&str> {
    let mut levels = topic.split('/');
    match (
        levels.next(),
        levels.next(),
        levels.next(),
        levels.next(),
        levels.next(),
    ) {
        (Some("tracemark"), Some(_), Some("vision"), Some(reader), Some("result")) => Some(reader),
        _ => None,
    }
}

/// Turns one publish into a [`Received`]: the topic names the reader, which must be one of the
/// subscription's (unless it names none); the payload must parse with that reader's field map.
pub fn receive(topic: &str, payload: &[u8], subscription: &Subscription) -> Received {
    let malformed = |error| Received::Malformed {
        topic: topic.to_owned(),
        error,
    };
    let Some(reader) = reader_of(topic) else {
        return malformed(PayloadError::BadTopic(topic.to_owned()));
    };
    let map = if subscription.readers.is_empty() {
        &subscription.field_map
    } else {
        match subscription.readers.get(reader) {
            Some(map) => map,
            None => return malformed(PayloadError::UnknownReader(reader.to_owned())),
        }
    };
    match parse_result(payload, map, reader) {
        // The topic is authoritative: a payload may not speak for another reader.
        Ok(result) if result.reader != reader => {
            malformed(PayloadError::UnknownReader(result.reader))
        }
        Ok(result) => Received::Result(result),
        Err(error) => malformed(error),
    }
}

/// Starts the subscription task. Results arrive on the returned receiver; the link state on the
/// watch channel (`Subscribed` once the broker acknowledged the subscription — the readiness
/// signal tests wait for). The task ends when the receiver is dropped. Fails at once when the
/// TLS files cannot be used: no retry would mend them.
pub fn spawn_subscription(
    subscription: Subscription,
) -> Result<(mpsc::Receiver<Received>, watch::Receiver<Link>), EndpointError> {
    let mut options = subscription.endpoint.options(&subscription.client_id)?;
    options
        .set_clean_session(false)
        // A result is acknowledged only once it is handed over: if tracemark stops in between,
        // the broker delivers it again (QoS 1), and the tracker drops the repeat by seq.
        .set_manual_acks(true)
        .set_max_packet_size(MAX_PACKET, MAX_PACKET);
    let (results_tx, results_rx) = mpsc::channel(4096);
    let (link_tx, link_rx) = watch::channel(Link::Connecting(None));
    tokio::spawn(run(subscription, options, results_tx, link_tx).in_current_span());
    Ok((results_rx, link_rx))
}

async fn run(
    subscription: Subscription,
    options: MqttOptions,
    results: mpsc::Sender<Received>,
    link: watch::Sender<Link>,
) {
    let (client, mut events) = AsyncClient::new(options, 64);
    let filter = subscription.topic_filter();
    let mut backoff = Duration::from_millis(100);
    loop {
        match events.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                backoff = Duration::from_millis(100);
                // Subscribing again on every connection is harmless with a kept session and
                // needed when the broker lost it (restart without persistence).
                if let Err(e) = client.subscribe(filter.clone(), QoS::AtLeastOnce).await {
                    tracing::warn!(error = %e, "cannot subscribe to reader results");
                }
            }
            Ok(Event::Incoming(Packet::SubAck(_))) => {
                let _ = link.send(Link::Subscribed);
            }
            Ok(Event::Incoming(Packet::Publish(publish)))
                if reader_of(&publish.topic)
                    .is_some_and(|r| subscription.passed_over.iter().any(|p| p == r)) =>
            {
                if let Err(e) = client.ack(&publish).await {
                    tracing::warn!(error = %e, "cannot acknowledge a passed-over message");
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                let received = receive(&publish.topic, &publish.payload, &subscription);
                if results.send(received).await.is_err() {
                    return;
                }
                if let Err(e) = client.ack(&publish).await {
                    tracing::warn!(error = %e, "cannot acknowledge a reader result");
                }
            }
            Ok(_) => {}
            Err(e) => {
                if results.is_closed() {
                    return;
                }
                tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "MQTT connection lost");
                let _ = link.send(Link::Connecting(Some(e.to_string())));
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}
