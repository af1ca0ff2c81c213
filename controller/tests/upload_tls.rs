//! Delivery over HTTPS (SPEC §6, issue 15 item 3): rustls, trusting the target's `--ca-file`; a
//! CA file that holds no certificate is refused when the target is added. The receiver here is
//! a minimal TLS endpoint that records what it was sent and answers 200.

#[macro_use]
mod common;

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tracemark::app::{batches, uploads};
use tracemark_store::upload::{DeliveryState, UploadFormat};
use tracemark_store::{BatchState, NewBatch};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A CA and a server certificate for 127.0.0.1 signed by it: (CA PEM, cert PEM, key PEM).
fn pki() -> (String, String, String) {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "test CA");
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = params.self_signed(&ca_key).expect("CA");
    let key = KeyPair::generate().expect("leaf key");
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).expect("leaf params");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&key, &ca, &ca_key).expect("leaf");
    (ca.pem(), cert.pem(), key.serialize_pem())
}

/// Each request's head (lower-cased) and body length.
type Seen = Arc<Mutex<Vec<(String, usize)>>>;

/// Serves HTTPS on a free port in a thread: each request's head and body length recorded,
/// answered 200. Returns the port and the record.
fn tls_receiver(cert: &str, key: &str) -> (u16, Seen) {
    let certs = vec![CertificateDer::from_pem_slice(cert.as_bytes()).expect("cert")];
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server config");
    let config = Arc::new(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { continue };
            let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
            let Ok(conn) = rustls::ServerConnection::new(config.clone()) else {
                continue;
            };
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            let mut bytes = Vec::new();
            let mut chunk = [0u8; 8192];
            let (head, length) = loop {
                match tls.read(&mut chunk) {
                    Ok(0) | Err(_) => break (String::new(), usize::MAX),
                    Ok(n) => bytes.extend_from_slice(&chunk[..n]),
                }
                let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
                    continue;
                };
                let head = String::from_utf8_lossy(&bytes[..end]).to_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if bytes.len() >= end + 4 + length {
                    break (head, length);
                }
            };
            if length == usize::MAX {
                continue; // the handshake failed (an untrusting client) or the peer left
            }
            record.lock().expect("lock").push((head, length));
            let _ = tls
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    (port, seen)
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivered_over_https_trusting_the_ca_file() {
    let dir = tempdir();
    let store = open(&sqlite_url(dir.path())).await;
    let (ca, cert, key) = pki();
    let (port, seen) = tls_receiver(&cert, &key);
    let target = |name: &str, ca_file| uploads::NewTarget {
        name: name.into(),
        url: format!("https://127.0.0.1:{port}/epcis"),
        format: UploadFormat::EpcisXml,
        secret_file: Some(write(dir.path(), "secret", SECRET)),
        ed25519_key_file: None,
        ca_file,
        gzip: false,
    };
    let not_pem = write(dir.path(), "not.pem", "hello");
    let refused = uploads::add_target(&store, &actor(), target("bad", Some(not_pem))).await;
    let message = refused.expect_err("no certificate in it").to_string();
    assert!(message.contains("ca_file"), "{message}");
    let ca_file = write(dir.path(), "ca.pem", &ca);
    uploads::add_target(&store, &actor(), target("tls", Some(ca_file)))
        .await
        .expect("add");

    store
        .add_product(&product("p", "09506000134352"))
        .await
        .expect("add");
    let batch = store
        .create_batch(&NewBatch {
            product_id: "p".into(),
            lot: "T".into(),
            quantity: 1,
            production_date: "2026-12-01".into(),
            expiry_date: None,
            line: None,
            simulated: false,
        })
        .await
        .expect("create");
    batches::set_state(&store, &actor(), batch.id, BatchState::Running)
        .await
        .expect("start");
    batches::set_state(&store, &actor(), batch.id, BatchState::Closed)
        .await
        .expect("close");

    let config = uploads::SenderConfig::new(dir.path().join("spool"));
    let actor = actor();
    let run = uploads::run(&store, &actor, &config, true, std::future::pending());
    let report = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("ends")
        .expect("runs");
    assert_eq!(report.delivered.len(), 1, "{report:?}");
    let delivery = store.delivery(batch.id, "tls").await.expect("delivery");
    assert_eq!(delivery.state, DeliveryState::Delivered);
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 1);
    let (head, length) = &seen[0];
    assert!(head.starts_with("post /epcis http/1.1"), "{head}");
    assert!(head.contains("content-type: application/xml"), "{head}");
    assert!(
        head.contains(&format!("idempotency-key: \"{}\"", delivery.uuid)),
        "{head}"
    );
    assert!(head.contains("webhook-signature: v1,"), "{head}");
    assert_eq!(Some(*length as i64), delivery.body_bytes);
}
