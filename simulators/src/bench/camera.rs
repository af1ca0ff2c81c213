//! A camera on the bench: a [`VisionSim`] inspecting the units fed to it over TCP and
//! publishing each result to an MQTT broker (SPEC §5), as `tracemark-sim vision` and
//! `tracemark-sim line` start it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet};
use tokio::net::TcpListener;

use super::ServeTask;
use crate::vision::{DamageRates, VisionSim, serve_feed};

/// Pause before the MQTT event loop reconnects after losing the broker.
const RECONNECT_PAUSE: Duration = Duration::from_millis(500);

/// What a camera needs.
#[derive(Debug, Clone)]
pub struct CameraSetup {
    /// The reader's name.
    pub reader: String,
    /// The line id: results go to `tracemark/<line>/vision/<reader>/result`.
    pub line: String,
    /// The MQTT client id.
    pub client_id: String,
    /// The broker's host.
    pub broker_host: String,
    /// The broker's port.
    pub broker_port: u16,
    /// User name and password, for a broker that wants a login.
    pub credentials: Option<(String, String)>,
    /// Damage rates.
    pub rates: DamageRates,
    /// Seed of the damage draws.
    pub seed: u64,
    /// Where the unit feed listens, `HOST:PORT` (port 0 picks a free one).
    pub feed: String,
}

/// Why a camera did not start.
#[derive(Debug, thiserror::Error)]
pub enum CameraError {
    /// The broker did not accept a connection in time.
    #[error("no MQTT broker answers at {host}:{port}: {reason}")]
    NoBroker {
        /// Broker host.
        host: String,
        /// Broker port.
        port: u16,
        /// What happened.
        reason: String,
    },
    /// The feed cannot listen.
    #[error("cannot listen on {addr} for the unit feed: {source}")]
    Feed {
        /// The address asked for.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
}

/// A camera set up, not yet serving.
pub struct Camera {
    /// Where the unit feed listens.
    pub feed: SocketAddr,
    /// The topic results are published on.
    pub topic: String,
    /// Serves the feed and carries the publishes; ends only if the feed's listener fails.
    pub task: ServeTask,
}

impl std::fmt::Debug for Camera {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Camera")
            .field("feed", &self.feed)
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

/// Sets a camera up: the MQTT client and the feed's listener. With `connected_within`, the
/// broker must accept the client (its ConnAck) in that time, or nothing is started; without,
/// the client keeps trying in the background.
pub async fn start_camera(
    setup: CameraSetup,
    connected_within: Option<Duration>,
) -> Result<Camera, CameraError> {
    let mut options = MqttOptions::new(
        setup.client_id.clone(),
        setup.broker_host.clone(),
        setup.broker_port,
    );
    if let Some((user, password)) = &setup.credentials {
        options.set_credentials(user.clone(), password.clone());
    }
    let (client, mut events) = AsyncClient::new(options, 1024);
    if let Some(within) = connected_within {
        let no_broker = |reason: String| CameraError::NoBroker {
            host: setup.broker_host.clone(),
            port: setup.broker_port,
            reason,
        };
        match tokio::time::timeout(within, connected(&mut events)).await {
            Ok(Ok(())) => {}
            Ok(Err(reason)) => return Err(no_broker(reason)),
            Err(_) => return Err(no_broker(format!("no answer within {within:?}"))),
        }
    }
    let listener = TcpListener::bind(&setup.feed)
        .await
        .map_err(|source| CameraError::Feed {
            addr: setup.feed.clone(),
            source,
        })?;
    let feed = listener.local_addr().map_err(|source| CameraError::Feed {
        addr: setup.feed.clone(),
        source,
    })?;
    let sim = Arc::new(tokio::sync::Mutex::new(VisionSim::new(
        &setup.reader,
        setup.rates,
        setup.seed,
    )));
    let topic = format!("tracemark/{}/vision/{}/result", setup.line, setup.reader);
    let published = topic.clone();
    let task = Box::pin(async move {
        let carry = async move {
            // The event loop carries the publishes; it reconnects by itself on the next poll.
            loop {
                if let Err(error) = events.poll().await {
                    tracing::warn!(%error, "MQTT connection lost");
                    tokio::time::sleep(RECONNECT_PAUSE).await;
                }
            }
        };
        tokio::select! {
            served = serve_feed(listener, sim, client, published) => served,
            () = carry => Ok(()),
        }
    });
    Ok(Camera { feed, topic, task })
}

/// Polls `events` until the broker accepts the connection; the first error is the reason it
/// did not.
async fn connected(events: &mut EventLoop) -> Result<(), String> {
    loop {
        match events.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => return Ok(()),
            Ok(_) => {}
            Err(error) => return Err(error.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_camera_without_a_broker_is_not_started() {
        // A port nothing listens on: bound, then released.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let setup = CameraSetup {
            reader: "cam1".into(),
            line: "bench".into(),
            client_id: "tracemark-sim-test".into(),
            broker_host: "127.0.0.1".into(),
            broker_port: port,
            credentials: None,
            rates: DamageRates::NONE,
            seed: 1,
            feed: "127.0.0.1:0".into(),
        };
        let error = start_camera(setup, Some(Duration::from_secs(10)))
            .await
            .expect_err("nothing answers");
        assert!(
            error
                .to_string()
                .starts_with(&format!("no MQTT broker answers at 127.0.0.1:{port}: ")),
            "{error}"
        );
    }
}
