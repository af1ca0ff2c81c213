//! The embedded MQTT broker (rumqttd) that `tracemark demo` and `tracemark simulate` run, so a
//! whole line needs no service started by hand. A plant runs its own broker (Mosquitto, EMQX,
//! HiveMQ); the controller talks to either the same way.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};

/// A running embedded broker. It lives until the process ends (rumqttd has no shutdown).
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedBroker {
    addr: SocketAddr,
}

/// Why the broker did not start.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// No free local port.
    #[error("no free local port for the embedded MQTT broker: {0}")]
    Port(std::io::Error),
    /// The broker's threads did not start.
    #[error("the embedded MQTT broker did not start: {0}")]
    Start(String),
}

impl EmbeddedBroker {
    /// Starts an MQTT 3.1.1 broker on a free port of 127.0.0.1 and waits until it accepts
    /// connections.
    pub fn start() -> Result<EmbeddedBroker, BrokerError> {
        // rumqttd binds the address it is given and does not report a port chosen by the OS:
        // ask the OS for a free port, release it, and hand it over.
        let addr = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(BrokerError::Port)?;
        let mut broker = Broker::new(config(addr));
        std::thread::Builder::new()
            .name("mqtt-broker".to_owned())
            .spawn(move || {
                if let Err(e) = broker.start() {
                    tracing::error!(error = %e, "embedded MQTT broker stopped");
                }
            })
            .map_err(|e| BrokerError::Start(e.to_string()))?;
        // Readiness: the listener accepts a connection (bounded, so a broker that cannot bind
        // is an error rather than a hang).
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut wait = Duration::from_millis(5);
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(EmbeddedBroker { addr });
            }
            if Instant::now() > deadline {
                return Err(BrokerError::Start(format!(
                    "{addr} does not accept connections"
                )));
            }
            std::thread::sleep(wait);
            wait = (wait * 2).min(Duration::from_millis(100));
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

fn config(addr: SocketAddr) -> Config {
    let connections = ConnectionSettings {
        connection_timeout_ms: 5_000,
        max_payload_size: crate::mqtt_endpoint::MAX_PACKET,
        // A burst of results may wait for the controller: let many be in flight.
        max_inflight_count: 500,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let server = ServerSettings {
        name: "v4-1".to_owned(),
        listen: addr,
        tls: None,
        next_connection_delay_ms: 1,
        connections,
    };
    Config {
        id: 0,
        router: RouterConfig {
            // Each line holds six or seven connections (the controller's results, cases,
            // labels and images; the twin's cameras), so 100 stopped at 16 lines: rumqttd
            // turns a connection beyond this away, and the client's reconnect under the same
            // id then panics the broker (rumqttd 0.20 `server/broker.rs`, will handlers).
            max_connections: 1_000,
            max_outgoing_packet_count: 1_000,
            max_segment_size: 100 * 1024 * 1024,
            max_segment_count: 10,
            ..RouterConfig::default()
        },
        v4: Some(HashMap::from([("1".to_owned(), server)])),
        ..Config::default()
    }
}
