//! The ERP receiver simulator over real HTTP: what it accepts, what it refuses and why, its
//! de-duplication, gzip, every fault kind, and its directory across a restart (SPEC §6).

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signer as _, SigningKey};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tracemark_sim::erp::faults::{FaultKind, FaultProfile};
use tracemark_sim::erp::signature::{PublicKey, SigningSecret, sign_v1};
use tracemark_sim::erp::{ErpConfig, ErpHandle, ErpSim};

/// Guard against a hung test; never a synchronisation point.
const GUARD: Duration = Duration::from_secs(30);
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OTHER_SECRET: &str = "whsec_c2VjcmV0LW9mLWFub3RoZXItZW5kcG9pbnQ=";

fn secret(text: &str) -> SigningSecret {
    SigningSecret::parse(text).expect("test secret")
}

/// An EPCIS 2.0 document of a batch: two units commissioned, packed into one case.
fn epcis(lot: &str) -> Value {
    let unit = |serial: &str| format!("https://id.gs1.org/01/09506000134352/21/{serial}");
    let sscc = "https://id.gs1.org/00/095060000000000018";
    json!({
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-12-05T10:00:00Z",
        "epcisBody": { "eventList": [
            {
                "type": "ObjectEvent",
                "eventTime": "2026-12-05T09:00:00Z",
                "eventTimeZoneOffset": "+08:00",
                "epcList": [unit("A1"), unit("A2"), sscc],
                "action": "ADD",
                "bizStep": "commissioning",
                "disposition": "active",
                "readPoint": { "id": "urn:epc:id:sgln:9506000.00001.line1" },
                "bizLocation": { "id": "urn:epc:id:sgln:9506000.00001.0" },
                "ilmd": { "cbvmda:lotNumber": lot, "cbvmda:itemExpirationDate": "2028-12-05" }
            },
            {
                "type": "AggregationEvent",
                "eventTime": "2026-12-05T09:10:00Z",
                "eventTimeZoneOffset": "+08:00",
                "parentID": sscc,
                "childEPCs": [unit("A1"), unit("A2")],
                "action": "ADD",
                "bizStep": "packing",
                "readPoint": { "id": "urn:epc:id:sgln:9506000.00001.line1" }
            }
        ]}
    })
}

fn body_of(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("serialises")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

/// One delivery as the sender makes it (SPEC §6).
#[derive(Debug, Clone)]
struct Delivery {
    key: String,
    body: Vec<u8>,
    content_type: &'static str,
    gzip: bool,
    secret: &'static str,
    ed25519: Option<SigningKey>,
    idempotency_header: Option<String>,
}

impl Delivery {
    fn new(key: &str, body: Vec<u8>) -> Self {
        Delivery {
            key: key.to_owned(),
            body,
            content_type: "application/ld+json",
            gzip: false,
            secret: SECRET,
            ed25519: None,
            idempotency_header: None,
        }
    }

    async fn send(&self, addr: SocketAddr) -> reqwest::Result<reqwest::Response> {
        let wire = if self.gzip {
            gzip(&self.body)
        } else {
            self.body.clone()
        };
        let timestamp = now().to_string();
        let mut signature = sign_v1(&secret(self.secret), &self.key, &timestamp, &wire);
        if let Some(key) = &self.ed25519 {
            let message = [self.key.as_bytes(), b".", timestamp.as_bytes(), b".", &wire].concat();
            let signed = key.sign(&message);
            signature = format!("{signature} v1a,{}", STANDARD.encode(signed.to_bytes()));
        }
        let idempotency = self
            .idempotency_header
            .clone()
            .unwrap_or_else(|| format!("\"{}\"", self.key));
        let mut request = client()
            .post(format!("http://{addr}/epcis/capture"))
            .header("content-type", self.content_type)
            .header("idempotency-key", idempotency)
            .header("webhook-id", &self.key)
            .header("webhook-timestamp", timestamp)
            .header("webhook-signature", signature)
            .body(wire);
        if self.gzip {
            request = request.header("content-encoding", "gzip");
        }
        tokio::time::timeout(GUARD, request.send())
            .await
            .expect("answered in time")
    }
}

/// A client that opens a new connection per request, so a reset meets only its own request.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client")
}

async fn start(config: ErpConfig) -> (SocketAddr, ErpHandle) {
    ErpSim::start(config).await.expect("receiver starts")
}

fn config() -> ErpConfig {
    ErpConfig::new(secret(SECRET))
}

async fn answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = response.json::<Value>().await.expect("a JSON answer");
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_delivery_is_accepted_with_a_receipt() {
    let (addr, erp) = start(config()).await;
    let document = body_of(&epcis("LOT-1"));
    let delivery = Delivery::new("0b6c1d6e-7a8f-4a8e-9d2b-5f3c2e1a0b9c", document.clone());
    let (status, body) = answer(delivery.send(addr).await.expect("sent")).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["receipt"]
            .as_str()
            .is_some_and(|r| r.starts_with("rcpt-")),
        "{body}"
    );
    assert_eq!(body["batch_id"], "LOT-1");
    assert_eq!(body["events"], 2);
    let accepted = erp.accepted();
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].key, delivery.key);
    assert_eq!(accepted[0].batch_id.as_deref(), Some("LOT-1"));
    assert_eq!(accepted[0].content_type, "application/ld+json");
    assert_eq!(erp.document(&delivery.key).as_deref(), Some(&document[..]));
    assert_eq!(erp.statuses().get(&200), Some(&1));
    assert!(erp.refusals().is_empty());
    // What a script reads over HTTP.
    let listed: Value = client()
        .get(format!("http://{addr}/accepted"))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    assert_eq!(listed[0]["key"], delivery.key.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_is_401_and_nothing_is_stored() {
    let (addr, erp) = start(config()).await;
    let mut delivery = Delivery::new("k-wrong-secret", body_of(&epcis("LOT-1")));
    delivery.secret = OTHER_SECRET;
    let (status, body) = answer(delivery.send(addr).await.expect("sent")).await;
    assert_eq!(status, 401);
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains("v1")),
        "{body}"
    );
    assert!(erp.accepted().is_empty());
    assert_eq!(erp.refusals().get(&401), Some(&1));
    // Unsigned: 401 naming the missing header.
    let unsigned = client()
        .post(format!("http://{addr}/"))
        .header("content-type", "application/ld+json")
        .body(body_of(&epcis("LOT-1")))
        .send()
        .await
        .expect("sent");
    let (status, body) = answer(unsigned).await;
    assert_eq!(status, 401);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("webhook-id")),
        "{body}"
    );
    assert!(erp.accepted().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ed25519_key_requires_a_v1a_signature_too() {
    let signing = SigningKey::from_bytes(&[7; 32]);
    let mut config = config();
    config.public_key =
        Some(PublicKey::from_bytes(signing.verifying_key().as_bytes()).expect("key"));
    let (addr, erp) = start(config).await;
    let mut delivery = Delivery::new("k-ed25519", body_of(&epcis("LOT-1")));
    let (status, body) = answer(delivery.send(addr).await.expect("sent")).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains("v1a")),
        "{body}"
    );
    delivery.ed25519 = Some(SigningKey::from_bytes(&[8; 32]));
    assert_eq!(delivery.send(addr).await.expect("sent").status(), 401);
    delivery.ed25519 = Some(signing);
    assert_eq!(delivery.send(addr).await.expect("sent").status(), 200);
    assert_eq!(erp.accepted().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_key_and_body_replays_the_first_answer() {
    let (addr, erp) = start(config()).await;
    let delivery = Delivery::new("k-replay", body_of(&epcis("LOT-1")));
    let first = delivery.send(addr).await.expect("sent");
    assert!(first.headers().get("idempotent-replayed").is_none());
    let (status, first) = answer(first).await;
    assert_eq!(status, 200);
    let second = delivery.send(addr).await.expect("sent");
    assert_eq!(
        second
            .headers()
            .get("idempotent-replayed")
            .map(|v| v.as_bytes()),
        Some(&b"true"[..])
    );
    let (status, second) = answer(second).await;
    assert_eq!(status, 200);
    assert_eq!(first, second);
    assert_eq!(erp.accepted().len(), 1);
    assert_eq!(erp.replays(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_key_with_another_body_is_422() {
    let (addr, erp) = start(config()).await;
    let delivery = Delivery::new("k-reused", body_of(&epcis("LOT-1")));
    assert_eq!(delivery.send(addr).await.expect("sent").status(), 200);
    let other = Delivery::new("k-reused", body_of(&epcis("LOT-2")));
    let (status, body) = answer(other.send(addr).await.expect("sent")).await;
    assert_eq!(status, 422);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("k-reused")),
        "{body}"
    );
    assert_eq!(erp.accepted().len(), 1);
    assert_eq!(erp.accepted()[0].batch_id.as_deref(), Some("LOT-1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_documents_and_headers_are_400_with_the_reason() {
    let (addr, erp) = start(config()).await;

    let mut no_parent = epcis("LOT-1");
    let aggregation = &mut no_parent["epcisBody"]["eventList"][1];
    aggregation
        .as_object_mut()
        .expect("object")
        .remove("parentID");
    let (status, body) = answer(
        Delivery::new("k-no-parent", body_of(&no_parent))
            .send(addr)
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!(status, 400);
    let details = body["details"].to_string();
    assert!(
        details.contains("/epcisBody/eventList/1") && details.contains("parentID"),
        "{body}"
    );

    let mut no_time = epcis("LOT-1");
    no_time["epcisBody"]["eventList"][0]
        .as_object_mut()
        .expect("object")
        .remove("eventTime");
    let (status, body) = answer(
        Delivery::new("k-no-time", body_of(&no_time))
            .send(addr)
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("JSON Schema")),
        "{body}"
    );
    assert!(body["details"].to_string().contains("eventTime"), "{body}");

    // ILMD on an ObjectEvent ADD that does not commission (the schema only requires ADD).
    let mut stray_ilmd = epcis("LOT-1");
    let mut shipping = stray_ilmd["epcisBody"]["eventList"][0].clone();
    shipping["bizStep"] = json!("shipping");
    stray_ilmd["epcisBody"]["eventList"]
        .as_array_mut()
        .expect("events")
        .push(shipping);
    let (status, body) = answer(
        Delivery::new("k-ilmd", body_of(&stray_ilmd))
            .send(addr)
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let details = body["details"].to_string();
    assert!(
        details.contains("/epcisBody/eventList/2") && details.contains("ILMD"),
        "{body}"
    );

    let mut malformed_key = Delivery::new("k-bare", body_of(&epcis("LOT-1")));
    malformed_key.idempotency_header = Some("k-bare".to_owned());
    let (status, body) = answer(malformed_key.send(addr).await.expect("sent")).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("Idempotency-Key")),
        "{body}"
    );

    let mut xml = Delivery::new(
        "k-xml",
        b"<EPCISDocument><unclosed></EPCISDocument>".to_vec(),
    );
    xml.content_type = "application/xml";
    let (status, body) = answer(xml.send(addr).await.expect("sent")).await;
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains("XML")),
        "{body}"
    );

    let mut text = Delivery::new("k-text", b"hello".to_vec());
    text.content_type = "text/plain";
    assert_eq!(text.send(addr).await.expect("sent").status(), 415);

    assert!(erp.accepted().is_empty());
    assert_eq!(erp.refusals().get(&400), Some(&5));
    assert_eq!(erp.refusals().get(&415), Some(&1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_bodies_are_taken_and_stored_inflated() {
    let (addr, erp) = start(config()).await;
    let document = body_of(&epcis("LOT-GZ"));
    let mut delivery = Delivery::new("k-gzip", document.clone());
    delivery.gzip = true;
    let (status, body) = answer(delivery.send(addr).await.expect("sent")).await;
    assert_eq!(status, 200, "{body}");
    let accepted = erp.accepted();
    assert!(accepted[0].gzip);
    assert_eq!(accepted[0].batch_id.as_deref(), Some("LOT-GZ"));
    assert_eq!(erp.document("k-gzip").as_deref(), Some(&document[..]));

    // A platform payload, gzip too.
    let mut platform = Delivery::new("k-platform", br#"{"batch_id":"B-7","codes":[]}"#.to_vec());
    platform.content_type = "application/json";
    platform.gzip = true;
    assert_eq!(platform.send(addr).await.expect("sent").status(), 200);
    assert_eq!(erp.accepted()[1].batch_id.as_deref(), Some("B-7"));

    // A truncated gzip stream, signed as sent: 400, nothing stored.
    let wire = gzip(&document);
    let truncated = &wire[..wire.len() / 2];
    let timestamp = now().to_string();
    let response = client()
        .post(format!("http://{addr}/"))
        .header("content-type", "application/ld+json")
        .header("content-encoding", "gzip")
        .header("idempotency-key", "\"k-truncated\"")
        .header("webhook-id", "k-truncated")
        .header("webhook-timestamp", &timestamp)
        .header(
            "webhook-signature",
            sign_v1(&secret(SECRET), "k-truncated", &timestamp, truncated),
        )
        .body(truncated.to_vec())
        .send()
        .await
        .expect("sent");
    let (status, body) = answer(response).await;
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains("gzip")),
        "{body}"
    );
    assert_eq!(erp.accepted().len(), 2);
}

/// What a sender observes of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Status(u16, Option<String>),
    Reset,
}

/// Whether the connection was reset (RST), as opposed to closed or timed out.
fn is_reset(error: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionReset)
        {
            return true;
        }
        source = cause.source();
    }
    false
}

async fn attempt(addr: SocketAddr, delivery: &Delivery) -> (Seen, Duration) {
    let started = Instant::now();
    let seen = match delivery.send(addr).await {
        Ok(response) => {
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            Seen::Status(response.status().as_u16(), retry_after)
        }
        Err(error) => {
            assert!(is_reset(&error), "a reset, not {error:?}");
            Seen::Reset
        }
    };
    (seen, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_fault_kind_is_what_the_sender_sees() {
    let slow = Duration::from_millis(300);
    let mut config = config();
    config.slow_delay = slow;
    config.retry_after_secs = 7;
    config.fault_script = vec![
        Some(FaultKind::InternalError),
        Some(FaultKind::Unavailable),
        Some(FaultKind::TooManyRequests),
        Some(FaultKind::ResetBeforeCommit),
        Some(FaultKind::Slow),
        Some(FaultKind::ResetAfterCommit),
    ];
    let (addr, erp) = start(config).await;
    let first = Delivery::new("k-faults-1", body_of(&epcis("LOT-1")));
    let second = Delivery::new("k-faults-2", body_of(&epcis("LOT-2")));

    assert_eq!(attempt(addr, &first).await.0, Seen::Status(500, None));
    assert_eq!(
        attempt(addr, &first).await.0,
        Seen::Status(503, Some("7".to_owned()))
    );
    assert_eq!(attempt(addr, &first).await.0, Seen::Status(429, None));
    assert_eq!(attempt(addr, &first).await.0, Seen::Reset);
    assert!(
        erp.accepted().is_empty(),
        "nothing committed before a reset-before"
    );
    let (seen, took) = attempt(addr, &first).await;
    assert_eq!(seen, Seen::Status(200, None));
    assert!(took >= slow, "a slow answer took {took:?}");
    assert_eq!(erp.accepted().len(), 1);

    // Reset after the commit: the sender saw nothing, the receiver has it; the retry replays.
    assert_eq!(attempt(addr, &second).await.0, Seen::Reset);
    assert_eq!(erp.accepted().len(), 2);
    let retry = second.send(addr).await.expect("sent");
    assert!(retry.headers().get("idempotent-replayed").is_some());
    assert_eq!(retry.status(), 200);
    assert_eq!(erp.accepted().len(), 2);

    let faults = erp.faults();
    for kind in FaultKind::ALL {
        assert_eq!(faults.get(&kind), Some(&1), "{kind:?}");
    }
    assert_eq!(erp.refusals().get(&503), Some(&1));
}

/// Sends `n` deliveries (each retried until accepted, as a sender does) against a receiver
/// with `seed`, and returns what was seen in order and the faults counted.
async fn run_heavy(seed: u64, n: usize) -> (Vec<Seen>, Vec<(FaultKind, u64)>) {
    let mut config = config();
    config.faults = FaultProfile::Heavy;
    config.seed = seed;
    config.slow_delay = Duration::from_millis(50);
    config.retry_after_secs = 1;
    let (addr, erp) = start(config).await;
    let mut seen = Vec::new();
    for i in 0..n {
        let delivery = Delivery::new(&format!("k-heavy-{i}"), body_of(&epcis(&format!("L{i}"))));
        loop {
            let (outcome, _) = attempt(addr, &delivery).await;
            let done = outcome == Seen::Status(200, None);
            seen.push(outcome);
            if done {
                break;
            }
        }
    }
    // Every delivery accepted exactly once, whatever the faults.
    let keys: Vec<String> = erp.accepted().into_iter().map(|r| r.key).collect();
    let expected: Vec<String> = (0..n).map(|i| format!("k-heavy-{i}")).collect();
    assert_eq!(keys, expected);
    (seen, erp.faults().into_iter().collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heavy_profile_with_a_fixed_seed_repeats_exactly() {
    let (seen, faults) = run_heavy(42, 30).await;
    let kinds: Vec<FaultKind> = faults.iter().map(|(kind, _)| *kind).collect();
    assert_eq!(kinds, FaultKind::ALL, "every kind drawn: {faults:?}");
    assert!(seen.contains(&Seen::Reset));
    assert!(seen.contains(&Seen::Status(503, Some("1".to_owned()))));
    assert!(seen.contains(&Seen::Status(429, None)));
    assert!(seen.contains(&Seen::Status(500, None)));
    let (again, faults_again) = run_heavy(42, 30).await;
    assert_eq!(seen, again);
    assert_eq!(faults, faults_again);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_keeps_what_was_accepted_across_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = config();
    config.dir = Some(dir.path().to_owned());
    let (addr, erp) = start(config.clone()).await;
    let delivery = Delivery::new(
        "4f1e2d3c-0000-4000-8000-00000000000a",
        body_of(&epcis("L1")),
    );
    let (status, first) = answer(delivery.send(addr).await.expect("sent")).await;
    assert_eq!(status, 200);
    let before = erp.accepted();
    erp.shutdown().await;
    assert!(
        client()
            .get(format!("http://{addr}/accepted"))
            .send()
            .await
            .is_err()
    );

    let file = dir.path().join(format!("{}.json", delivery.key));
    let stored: Value =
        serde_json::from_slice(&std::fs::read(&file).expect("one file per document"))
            .expect("JSON");
    assert_eq!(stored["record"]["key"], delivery.key.as_str());
    assert_eq!(
        stored["document"].as_str().map(str::as_bytes),
        Some(&delivery.body[..])
    );

    let (addr, erp) = start(config).await;
    assert_eq!(erp.accepted(), before);
    let (status, replayed) = answer(delivery.send(addr).await.expect("sent")).await;
    assert_eq!(status, 200);
    assert_eq!(replayed, first);
    assert_eq!(erp.replays(), 1);
    let other = Delivery::new(&delivery.key, body_of(&epcis("L2")));
    assert_eq!(other.send(addr).await.expect("sent").status(), 422);
    assert_eq!(erp.accepted().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_prints_its_address_first_and_serves() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret_file = dir.path().join("secret");
    std::fs::write(&secret_file, format!("{SECRET}\n")).expect("secret file");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tracemark-sim"))
        .args(["erp", "--listen", "127.0.0.1:0", "--secret-file"])
        .arg(&secret_file)
        .args(["--faults", "none", "--dir"])
        .arg(dir.path().join("accepted"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("tracemark-sim starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = tokio::time::timeout(GUARD, lines.next_line())
        .await
        .expect("in time")
        .expect("readable")
        .expect("a first line");
    let addr: SocketAddr = first
        .strip_prefix("listening: ")
        .unwrap_or_else(|| panic!("first line is `listening: ADDR`, got `{first}`"))
        .parse()
        .expect("an address");
    let delivery = Delivery::new("k-binary", body_of(&epcis("LOT-BIN")));
    assert_eq!(delivery.send(addr).await.expect("sent").status(), 200);
    stdin.write_all(b"status\n").await.expect("stdin");
    let status = tokio::time::timeout(GUARD, lines.next_line())
        .await
        .expect("in time")
        .expect("readable")
        .expect("a status line");
    let status: Value = serde_json::from_str(&status).expect("JSON status");
    assert_eq!(status["accepted"], 1);
    assert_eq!(status["statuses"]["200"], 1);
    drop(stdin);
    let exit = tokio::time::timeout(GUARD, child.wait())
        .await
        .expect("ends when stdin closes")
        .expect("exit status");
    assert!(exit.success());
    assert!(dir.path().join("accepted/k-binary.json").exists());
}
