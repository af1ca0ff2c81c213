//! How tracemark's MQTT clients reach the plant broker (SPEC §5): address, keep-alive, user name
//! and password, and TLS. The result subscription and the state publisher both build their
//! client options here, so a broker that requires TLS or a login gets it from both.
//!
//! TLS is rustls with the `ring` provider: the broker's certificate must chain to the CA file
//! of the config (or, without one, to the system's roots) and name the host of the URL; a client
//! certificate is sent when the config gives one (Mosquitto `require_certificate true`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{MqttOptions, TlsConfiguration, Transport};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

/// Messages larger than this break the connection (rumqttc refuses them); reader results are
/// refused above `verify::payload::MAX_PAYLOAD` long before. The embedded broker's
/// `max_payload_size` is this, so a hostile publisher cannot reach it.
pub const MAX_PACKET: usize = 1024 * 1024;

/// Where the broker is and how to log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerEndpoint {
    /// Host name or address; with TLS, the name the broker's certificate must carry.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Keep-alive interval.
    pub keep_alive: Duration,
    /// User name and password, if the broker asks.
    pub credentials: Option<(String, String)>,
    /// TLS (`mqtts://`), or `None` for plain TCP.
    pub tls: Option<TlsSettings>,
}

/// The certificate files of a TLS connection (PEM).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsSettings {
    /// The CA certificates the broker's certificate must chain to; `None`: the system's roots.
    pub ca_file: Option<PathBuf>,
    /// A client certificate (chain) and its private key, for brokers that require one.
    pub client_auth: Option<(PathBuf, PathBuf)>,
}

/// Why client options could not be built: a certificate or key that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("mqtt TLS: {what} {path}: {detail}")]
    Pem {
        /// Which file: CA, client certificate, client key.
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// rustls refused the certificates (for example a key that does not match its certificate).
    #[error("mqtt TLS: {0}")]
    Rustls(String),
}

impl BrokerEndpoint {
    /// Plain TCP to `host:port`, no login, 30 s keep-alive.
    pub fn plain(host: &str, port: u16) -> Self {
        Self {
            host: host.to_owned(),
            port,
            keep_alive: Duration::from_secs(30),
            credentials: None,
            tls: None,
        }
    }

    /// The endpoint of a validated `[mqtt]` section; the password is read from the
    /// environment variable it names (empty when unset, so the broker says what is wrong).
    pub fn of(broker: &crate::config::Mqtt) -> Self {
        let credentials = broker.username.as_ref().map(|user| {
            let password = broker
                .password_env
                .as_ref()
                .and_then(|var| std::env::var(var).ok())
                .unwrap_or_default();
            (user.clone(), password)
        });
        Self {
            host: broker.host.clone(),
            port: broker.port,
            keep_alive: broker.keep_alive,
            credentials,
            tls: broker.tls.then(|| TlsSettings {
                ca_file: broker.ca_file.clone(),
                client_auth: broker.client_auth.clone(),
            }),
        }
    }

    /// `mqtt://host:port` or `mqtts://host:port`, for logs and errors.
    pub fn describe(&self) -> String {
        let scheme = if self.tls.is_some() { "mqtts" } else { "mqtt" };
        format!("{scheme}://{}:{}", self.host, self.port)
    }

    /// Client options for `client_id`: address, keep-alive, credentials and transport. The
    /// caller sets the session and acknowledgement settings its role needs.
    pub fn options(&self, client_id: &str) -> Result<MqttOptions, EndpointError> {
        let mut options = MqttOptions::new(client_id, self.host.clone(), self.port);
        options.set_keep_alive(self.keep_alive);
        if let Some((user, password)) = &self.credentials {
            options.set_credentials(user.clone(), password.clone());
        }
        if let Some(tls) = &self.tls {
            let config = client_config(tls)?;
            options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
                Arc::new(config),
            )));
        }
        Ok(options)
    }
}

fn client_config(tls: &TlsSettings) -> Result<ClientConfig, EndpointError> {
    let mut roots = RootCertStore::empty();
    match &tls.ca_file {
        Some(path) => {
            for cert in certificates("CA file", path)? {
                roots.add(cert).map_err(|e| EndpointError::Pem {
                    what: "CA file",
                    path: path.clone(),
                    detail: e.to_string(),
                })?;
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            for error in &native.errors {
                tracing::warn!(%error, "mqtt TLS: a system root certificate could not be loaded");
            }
            let (added, _ignored) = roots.add_parsable_certificates(native.certs);
            if added == 0 {
                return Err(EndpointError::Rustls(
                    "no ca_file and no usable system root certificates".into(),
                ));
            }
        }
    }
    let builder = ClientConfig::builder().with_root_certificates(roots);
    match &tls.client_auth {
        None => Ok(builder.with_no_client_auth()),
        Some((cert_file, key_file)) => {
            let chain = certificates("client certificate", cert_file)?;
            let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| EndpointError::Pem {
                what: "client key",
                path: key_file.clone(),
                detail: e.to_string(),
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| EndpointError::Rustls(e.to_string()))
        }
    }
}

/// Every certificate of a PEM file; at least one.
fn certificates(
    what: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, EndpointError> {
    let error = |detail: String| EndpointError::Pem {
        what,
        path: path.to_owned(),
        detail,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| error(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| error(e.to_string()))?;
    if certs.is_empty() {
        return Err(error("no CERTIFICATE block".into()));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_endpoint_describes_itself_and_builds_options() {
        let endpoint = BrokerEndpoint::plain("broker.plant", 1883);
        assert_eq!(endpoint.describe(), "mqtt://broker.plant:1883");
        let options = endpoint.options("tracemark-l1").expect("plain options");
        assert_eq!(options.broker_address(), ("broker.plant".to_owned(), 1883));
        assert_eq!(options.client_id(), "tracemark-l1");
    }

    #[test]
    fn unreadable_or_empty_pem_files_are_named_in_the_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no pem here\n").expect("write");
        let mut endpoint = BrokerEndpoint::plain("localhost", 8883);
        endpoint.tls = Some(TlsSettings {
            ca_file: Some(empty.clone()),
            client_auth: None,
        });
        let error = endpoint
            .options("c")
            .expect_err("no certificate")
            .to_string();
        assert!(
            error.contains("CA file")
                && error.contains("empty.pem")
                && error.contains("no CERTIFICATE"),
            "{error}"
        );
        endpoint.tls = Some(TlsSettings {
            ca_file: Some(dir.path().join("missing.pem")),
            client_auth: None,
        });
        let error = endpoint.options("c").expect_err("missing file").to_string();
        assert!(error.contains("missing.pem"), "{error}");
    }
}
