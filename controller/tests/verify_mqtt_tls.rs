//! Reader results over TLS: a private Mosquitto with a TLS listener that requires a client
//! certificate and a password, certificates made for the test by a test CA. A result reaches
//! the tracker through it; an untrusted broker, a missing client certificate and a wrong
//! password are each reported on the link with their reason, and nothing is subscribed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::mosquitto::{Broker, mosquitto};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rumqttc::{AsyncClient, Event, Packet, QoS};
use tokio::sync::watch;
use tracemark::mqtt_endpoint::{BrokerEndpoint, TlsSettings};
use tracemark::verify::mqtt::{Link, Received, Subscription, spawn_subscription};

const GUARD: Duration = Duration::from_secs(20);
const USER: &str = "line1";
const PASSWORD: &str = "s3cret";

/// The test PKI's files.
struct Pki {
    ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
    /// A CA that signed nothing here: a broker it is asked to trust is untrusted.
    rogue_ca: PathBuf,
}

fn certificate_authority(name: &str) -> (rcgen::Certificate, KeyPair) {
    let key = KeyPair::generate().expect("CA key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let cert = params.self_signed(&key).expect("self-signed CA");
    (cert, key)
}

/// A leaf certificate for `names` (DNS names or IP addresses) signed by the CA; PEM cert, key.
fn leaf(
    names: &[&str],
    usage: ExtendedKeyUsagePurpose,
    ca: &(rcgen::Certificate, KeyPair),
) -> (String, String) {
    let key = KeyPair::generate().expect("leaf key");
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut params = CertificateParams::new(names).expect("leaf params");
    params
        .distinguished_name
        .push(DnType::CommonName, "tracemark test");
    params.extended_key_usages = vec![usage];
    let cert = params.signed_by(&key, &ca.0, &ca.1).expect("signed leaf");
    (cert.pem(), key.serialize_pem())
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write a PEM file");
    path
}

fn pki(dir: &Path) -> Pki {
    let ca = certificate_authority("tracemark test CA");
    let rogue = certificate_authority("someone else's CA");
    let (server_cert, server_key) = leaf(
        &["localhost", "127.0.0.1"],
        ExtendedKeyUsagePurpose::ServerAuth,
        &ca,
    );
    let (client_cert, client_key) = leaf(&["line1"], ExtendedKeyUsagePurpose::ClientAuth, &ca);
    Pki {
        ca: write(dir, "ca.pem", &ca.0.pem()),
        server_cert: write(dir, "server.pem", &server_cert),
        server_key: write(dir, "server.key", &server_key),
        client_cert: write(dir, "client.pem", &client_cert),
        client_key: write(dir, "client.key", &client_key),
        rogue_ca: write(dir, "rogue-ca.pem", &rogue.0.pem()),
    }
}

/// A private Mosquitto whose only listener is TLS with a client certificate and a password.
fn tls_broker(binary: PathBuf, dir: &Path, pki: &Pki) -> Broker {
    let passwords = dir.join("passwd");
    let made = Command::new("mosquitto_passwd")
        .arg("-c")
        .arg("-b")
        .arg(&passwords)
        .args([USER, PASSWORD])
        .status()
        .expect("run mosquitto_passwd");
    assert!(made.success(), "mosquitto_passwd failed");
    let options = format!(
        "cafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate true\n\
         allow_anonymous false\npassword_file {}\n",
        pki.ca.display(),
        pki.server_cert.display(),
        pki.server_key.display(),
        passwords.display()
    );
    let mut broker = Broker::with_listener_options(binary, dir, &options);
    broker.start();
    broker
}

fn endpoint(port: u16, pki: &Pki) -> BrokerEndpoint {
    let mut endpoint = BrokerEndpoint::plain("localhost", port);
    endpoint.credentials = Some((USER.to_owned(), PASSWORD.to_owned()));
    endpoint.tls = Some(TlsSettings {
        ca_file: Some(pki.ca.clone()),
        client_auth: Some((pki.client_cert.clone(), pki.client_key.clone())),
    });
    endpoint
}

fn subscription(endpoint: BrokerEndpoint, client: &str) -> Subscription {
    let mut subscription = Subscription::new(&endpoint.host, endpoint.port, "tls");
    subscription.endpoint = endpoint;
    subscription.client_id = format!("{client}-{}", std::process::id());
    subscription
}

/// Waits until the link is subscribed.
async fn until_subscribed(link: &mut watch::Receiver<Link>) {
    tokio::time::timeout(GUARD, link.wait_for(|l| *l == Link::Subscribed))
        .await
        .expect("subscribed over TLS within the guard")
        .expect("subscription task alive");
}

/// Waits until the link reports a connection failure, and returns its reason.
async fn failure_reason(link: &mut watch::Receiver<Link>) -> String {
    let state = tokio::time::timeout(
        GUARD,
        link.wait_for(|l| matches!(l, Link::Connecting(Some(_)) | Link::Subscribed)),
    )
    .await
    .expect("a connection failure within the guard")
    .expect("subscription task alive")
    .clone();
    match state {
        Link::Connecting(Some(reason)) => reason,
        other => panic!("expected a refused connection, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_arrive_over_tls_with_a_client_certificate_and_a_password() {
    let Some(binary) = mosquitto() else { return };
    let dir = common::tempdir();
    let pki = pki(dir.path());
    let broker = tls_broker(binary, dir.path(), &pki);
    let (mut results, mut link) =
        spawn_subscription(subscription(endpoint(broker.port, &pki), "tls-sub"))
            .expect("subscription options");
    until_subscribed(&mut link).await;

    // The camera's side, over the same TLS listener with its own client id.
    let options = endpoint(broker.port, &pki)
        .options(&format!("tls-cam-{}", std::process::id()))
        .expect("publisher options");
    let (client, mut events) = AsyncClient::new(options, 8);
    let payload = serde_json::json!({
        "reader": "cam1", "seq": 7, "ts": "2026-11-22T08:00:00Z", "symbology": "datamatrix",
        "data": "(01)09506000134352(21)TLS0001", "grade": "A", "encoder": 1200,
    })
    .to_string();
    client
        .publish(
            "tracemark/tls/vision/cam1/result",
            QoS::AtLeastOnce,
            false,
            payload,
        )
        .await
        .expect("queue the result");
    let publisher = tokio::spawn(async move {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::PubAck(_))) => return,
                Ok(_) => {}
                Err(error) => panic!("camera connection over TLS: {error}"),
            }
        }
    });
    let received = tokio::time::timeout(GUARD, results.recv())
        .await
        .expect("a result within the guard")
        .expect("subscription alive");
    match received {
        Received::Result(result) => {
            assert_eq!(result.seq, 7);
            assert_eq!(
                result.data.as_deref(),
                Some("(01)09506000134352(21)TLS0001")
            );
        }
        other => panic!("expected a result, got {other:?}"),
    }
    tokio::time::timeout(GUARD, publisher)
        .await
        .expect("the broker acknowledged the publish")
        .expect("publisher task");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_broker_a_missing_client_certificate_and_a_wrong_password_are_refused() {
    let Some(binary) = mosquitto() else { return };
    let dir = common::tempdir();
    let pki = pki(dir.path());
    let broker = tls_broker(binary, dir.path(), &pki);

    // The broker's certificate does not chain to the CA tracemark was told to trust.
    let mut untrusted = endpoint(broker.port, &pki);
    untrusted.tls = Some(TlsSettings {
        ca_file: Some(pki.rogue_ca.clone()),
        client_auth: Some((pki.client_cert.clone(), pki.client_key.clone())),
    });
    let (_results, mut link) =
        spawn_subscription(subscription(untrusted, "tls-rogue")).expect("options");
    let reason = failure_reason(&mut link).await;
    assert!(reason.to_lowercase().contains("certificate"), "{reason}");

    // No client certificate: the broker ends the handshake.
    let mut anonymous = endpoint(broker.port, &pki);
    anonymous.tls = Some(TlsSettings {
        ca_file: Some(pki.ca.clone()),
        client_auth: None,
    });
    let (_results, mut link) =
        spawn_subscription(subscription(anonymous, "tls-nocert")).expect("options");
    let reason = failure_reason(&mut link).await;
    assert!(!reason.is_empty());

    // The right certificates, the wrong password: the broker refuses the CONNECT.
    let mut wrong = endpoint(broker.port, &pki);
    wrong.credentials = Some((USER.to_owned(), "not the password".to_owned()));
    let (_results, mut link) =
        spawn_subscription(subscription(wrong, "tls-badpass")).expect("options");
    let reason = failure_reason(&mut link).await;
    assert!(
        reason.contains("NotAuthorized") || reason.contains("BadUserNamePassword"),
        "{reason}"
    );
}

#[test]
fn a_line_config_with_mqtts_gives_a_tls_endpoint_with_its_files() {
    let dir = common::tempdir();
    let pki = pki(dir.path());
    let config = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../line-configs/demo.toml"),
    )
    .expect("demo.toml");
    let (before, after) = config.split_once("[mqtt]").expect("demo has [mqtt]");
    let rest = after
        .split_once("\n[")
        .map(|(_, rest)| format!("\n[{rest}"))
        .unwrap_or_default();
    let mqtt = format!(
        "[mqtt]\nurl = \"mqtts://localhost\"\nusername = \"{USER}\"\n\
         password_env = \"TRACEMARK_TLS_TEST_PASSWORD\"\nca_file = \"ca.pem\"\n\
         client_cert_file = \"client.pem\"\nclient_key_file = \"client.key\"\n"
    );
    let path = dir.path().join("line.toml");
    // Written elsewhere: the label template it names relative to itself, made absolute.
    let labels = Path::new(env!("CARGO_MANIFEST_DIR")).join("../line-configs/labels");
    let rest = rest.replace(
        "template = \"labels/",
        &format!("template = \"{}/", labels.display()),
    );
    std::fs::write(&path, format!("{before}{mqtt}{rest}")).expect("write the config");
    let line = tracemark::config::load_with_env(&path, Default::default()).expect("valid config");
    let broker = line.mqtt.as_ref().expect("[mqtt]");
    let endpoint = BrokerEndpoint::of(broker);
    assert_eq!(endpoint.describe(), "mqtts://localhost:8883");
    assert_eq!(
        endpoint.tls,
        Some(TlsSettings {
            ca_file: Some(pki.ca.clone()),
            client_auth: Some((pki.client_cert.clone(), pki.client_key.clone())),
        })
    );
    endpoint
        .options("tracemark-tls")
        .expect("usable certificates");
}
