//! The public code lookup (issue 17; SPEC §9; docs/lookup.md) on both stores: every state of a
//! code, every refused form, the linkset and the resolver description, HEAD, OPTIONS and CORS,
//! the language switch, scan counting and "scanned unusually often", the rate limit, the
//! lookup-only listener — and no private value in any byte of any answer.

#[macro_use]
mod common;

use common::*;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::Value;
use tracemark::app::lookup::LookupSettings;
use tracemark::app::products::{self, DocumentsChange};
use tracemark::http::server::{HttpServer, LiveOptions, ServeOptions};
use tracemark_store::{CodeState, NewBatch, RejectReason, Store, Transition};

const GTIN: &str = "09506000134352";
/// The private inspection report: it must never appear in an answer.
const PRIVATE_REPORT: &str = "https://docs.example.cn/PRIVATE-REPORT-7731.pdf";
/// The batch's line: not a public field.
const PRIVATE_LINE: &str = "line-secret-4417";
const MANUAL: &str = "https://docs.example.cn/manual-bv25.pdf";

fn options() -> ServeOptions {
    ServeOptions {
        addr: "127.0.0.1:0".parse().expect("an address"),
        tls: None,
    }
}

async fn serve(store: &Store, lookup: LookupSettings) -> HttpServer {
    HttpServer::start_live(
        store.clone(),
        options(),
        LiveOptions {
            lookup,
            ..LiveOptions::default()
        },
    )
    .await
    .expect("serve")
}

fn unlimited() -> LookupSettings {
    LookupSettings {
        rate_per_second: 0,
        ..LookupSettings::default()
    }
}

/// The Digital Link path of an HRI code `(01)GTIN(21)SERIAL`.
fn path_of(code: &str) -> String {
    let serial = code.split("(21)").nth(1).expect("a serial");
    format!("/01/{GTIN}/21/{serial}")
}

async fn apply(store: &Store, codes: &[String], to: CodeState) {
    let changes: Vec<Transition> = codes
        .iter()
        .map(|c| Transition {
            code: c.clone(),
            to,
            reason: (to == CodeState::Rejected).then_some(RejectReason::LowGrade),
            read: None,
        })
        .collect();
    for result in store.transition(&changes).await.expect("transition") {
        result.expect("an allowed change");
    }
}

/// The codes of each state, and the secrets of the store.
struct Fixture {
    genuine: String,
    destroyed: String,
    voided: String,
    rejected: String,
    reserved: String,
    simulated: String,
    secrets: Vec<String>,
}

async fn fixture(store: &Store) -> Fixture {
    packing_producer(store).await;
    store
        .add_product(&product("bv", GTIN))
        .await
        .expect("a product");
    products::set_documents(
        store,
        &actor(),
        "bv",
        DocumentsChange {
            inspection_report: Some(PRIVATE_REPORT.into()),
            inspection_report_public: None,
            manual: Some(MANUAL.into()),
        },
    )
    .await
    .expect("documents");
    let batch = store
        .create_batch(&NewBatch {
            product_id: "bv".into(),
            lot: "L7".into(),
            quantity: 100,
            production_date: "2026-11-30".into(),
            expiry_date: None,
            line: Some(PRIVATE_LINE.into()),
            simulated: false,
        })
        .await
        .expect("a batch");
    store
        .set_batch_state(batch.id, tracemark_store::BatchState::Running)
        .await
        .expect("start");
    let codes = store
        .allocate("bv", 6, Some(batch.id))
        .await
        .expect("allocate")
        .codes;
    // genuine, destroyed, rejected: printed; voided and reserved are never sent.
    let printed = codes[..3].to_vec();
    apply(store, &printed, CodeState::Sent).await;
    apply(store, &printed, CodeState::Printed).await;
    apply(store, &codes[..1], CodeState::Verified).await;
    apply(store, &codes[1..3], CodeState::Rejected).await;
    apply(store, &codes[1..2], CodeState::Destroyed).await;
    apply(store, &codes[3..4], CodeState::Voided).await;
    let simulated = store
        .create_batch(&NewBatch {
            product_id: "bv".into(),
            lot: "SIM".into(),
            quantity: 10,
            production_date: "2026-11-30".into(),
            expiry_date: None,
            line: Some(PRIVATE_LINE.into()),
            simulated: true,
        })
        .await
        .expect("a simulated batch");
    store
        .set_batch_state(simulated.id, tracemark_store::BatchState::Running)
        .await
        .expect("start");
    let sim = store
        .allocate("bv", 1, Some(simulated.id))
        .await
        .expect("allocate")
        .codes;
    apply(store, &sim, CodeState::Sent).await;
    apply(store, &sim, CodeState::Printed).await;
    apply(store, &sim, CodeState::Verified).await;
    Fixture {
        genuine: codes[0].clone(),
        destroyed: codes[1].clone(),
        rejected: codes[2].clone(),
        voided: codes[3].clone(),
        reserved: codes[4].clone(),
        simulated: sim[0].clone(),
        secrets: vec![
            PRIVATE_REPORT.into(),
            "PRIVATE-REPORT-7731".into(),
            PRIVATE_LINE.into(),
        ],
    }
}

/// Every answer seen, to search for private values.
#[derive(Default)]
struct Seen(Vec<(String, HeaderMap, Vec<u8>)>);

impl Seen {
    async fn get(
        &mut self,
        client: &reqwest::Client,
        url: &str,
        headers: &[(&'static str, &'static str)],
    ) -> (u16, HeaderMap, String) {
        self.send(client, reqwest::Method::GET, url, headers).await
    }

    async fn send(
        &mut self,
        client: &reqwest::Client,
        method: reqwest::Method,
        url: &str,
        headers: &[(&'static str, &'static str)],
    ) -> (u16, HeaderMap, String) {
        let mut request = client.request(method, url);
        for (name, value) in headers {
            request = request.header(*name, HeaderValue::from_static(value));
        }
        let response = request.send().await.expect("a response");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.expect("a body").to_vec();
        self.0.push((url.to_owned(), headers.clone(), body.clone()));
        (status, headers, String::from_utf8_lossy(&body).into_owned())
    }

    fn assert_none_contains(&self, secrets: &[String]) {
        assert!(!self.0.is_empty());
        for (url, headers, body) in &self.0 {
            for secret in secrets {
                let needle = secret.as_bytes();
                assert!(
                    !body.windows(needle.len()).any(|w| w == needle),
                    "{url}: the body holds {secret}"
                );
                for (name, value) in headers {
                    assert!(
                        !value.as_bytes().windows(needle.len()).any(|w| w == needle),
                        "{url}: header {name} holds {secret}"
                    );
                }
            }
        }
    }
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

const JSON: [(&str, &str); 1] = [("accept", "application/json")];
const HTML_EN: [(&str, &str); 2] = [
    ("accept", "text/html"),
    ("accept-language", "en-US,en;q=0.9"),
];

async fn every_state_and_no_private_value(store: Store) {
    let f = fixture(&store).await;
    // The serial key of the product is private too.
    let key_hex: String = sqlx::query_scalar("SELECT key_hex FROM product_keys")
        .fetch_one(
            &sqlx::AnyPool::connect(store.url())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "the test reads the key through its own pool: {}",
                        store.url()
                    )
                }),
        )
        .await
        .unwrap_or_default();
    let mut secrets = f.secrets.clone();
    if !key_hex.is_empty() {
        secrets.push(key_hex);
    }
    let server = serve(&store, unlimited()).await;
    let base = server.url();
    let client = reqwest::Client::new();
    let mut seen = Seen::default();

    // Genuine: page, JSON, linkset.
    let url = format!("{base}{}", path_of(&f.genuine));
    let (status, headers, body) = seen.get(&client, &url, &HTML_EN).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("data-state=\"genuine\""), "{body}");
    assert!(body.contains("Genuine"), "{body}");
    assert!(body.contains("某某电缆有限公司") && body.contains("GB/T 5023.3-2008"));
    assert!(body.contains(MANUAL) && body.contains("L7") && body.contains("2026-11-30"));
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert!(
        headers["link"]
            .to_str()
            .expect("text")
            .contains("rel=\"linkset\""),
        "{headers:?}"
    );
    let (status, headers, body) = seen.get(&client, &url, &JSON).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/json");
    let answer = json(&body);
    assert_eq!(answer["state"], "genuine", "{answer}");
    assert_eq!(answer["product"]["lot"], "L7");
    assert_eq!(answer["product"]["manual"], MANUAL);
    assert!(answer["product"]["inspection_report"].is_null(), "{answer}");
    assert_eq!(answer["producer"]["uscc"], "91350100M000100Y43");
    assert!(
        answer.get("flow").is_none(),
        "no flow until the producer publishes some"
    );

    // The linkset, by parameter and by Accept (RFC 9264 §4.2).
    for (link_url, headers) in [
        (format!("{url}?linkType=linkset"), &[][..]),
        (url.clone(), &[("accept", "application/linkset+json")][..]),
    ] {
        let (status, got, body) = seen.get(&client, &link_url, headers).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(got["content-type"], "application/linkset+json");
        let linkset = json(&body);
        let contexts = linkset["linkset"].as_array().expect("a linkset array");
        assert_eq!(contexts.len(), 1);
        let context = &contexts[0];
        let anchor = context["anchor"].as_str().expect("an anchor");
        assert!(anchor.ends_with(&path_of(&f.genuine)), "{anchor}");
        for rel in ["defaultLink", "pip", "traceability", "instructions"] {
            let targets = context[format!("https://gs1.org/voc/{rel}")]
                .as_array()
                .unwrap_or_else(|| panic!("{rel} in {linkset}"));
            assert!(targets[0]["href"].is_string(), "{rel}");
        }
        assert_eq!(
            context["https://gs1.org/voc/instructions"][0]["href"],
            MANUAL
        );
        assert!(
            context
                .get("https://gs1.org/voc/certificationInfo")
                .is_none()
        );
    }
    // A link type the unit has is followed; one it has not falls back to the page.
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    let (status, headers, _) = seen
        .get(
            &no_redirect,
            &format!("{url}?linkType=gs1:instructions"),
            &[],
        )
        .await;
    assert_eq!(status, 307);
    assert_eq!(headers["location"], MANUAL);
    let (status, _, body) = seen
        .get(
            &no_redirect,
            &format!("{url}?linkType=gs1:certificationInfo"),
            &HTML_EN,
        )
        .await;
    assert_eq!(
        status, 200,
        "the private report is no link: the page instead"
    );
    assert!(body.contains("data-state=\"genuine\""));
    // With the lot in the path, and as raw scanner data in every form.
    let (status, _, body) = seen
        .get(
            &client,
            &format!("{base}/01/{GTIN}/10/L7/21/{}", serial(&f.genuine)),
            &JSON,
        )
        .await;
    assert_eq!(
        (status, json(&body)["state"].clone()),
        (200, "genuine".into())
    );
    let element_string = format!("]d201{GTIN}10L7\u{1d}21{}", serial(&f.genuine));
    for data in [element_string.as_str(), f.genuine.as_str(), url.as_str()] {
        let (status, _, body) = seen
            .get(
                &client,
                &format!("{base}/lookup?code={}", encode(data)),
                &JSON,
            )
            .await;
        assert_eq!(status, 200, "{data}: {body}");
        assert_eq!(json(&body)["state"], "genuine");
    }

    // Invalid: destroyed, rejected, voided; simulated.
    for (code, state, because) in [
        (&f.destroyed, "invalid", Some("destroyed")),
        (&f.rejected, "invalid", Some("rejected")),
        (&f.voided, "invalid", Some("voided")),
        (&f.simulated, "simulated", None),
    ] {
        let url = format!("{base}{}", path_of(code));
        let (status, _, body) = seen.get(&client, &url, &JSON).await;
        assert_eq!(status, 200, "{body}");
        let answer = json(&body);
        assert_eq!(answer["state"], state, "{answer}");
        assert_eq!(answer["invalid_because"].as_str(), because, "{answer}");
        let (_, _, page) = seen.get(&client, &url, &HTML_EN).await;
        assert!(page.contains(&format!("data-state=\"{state}\"")), "{page}");
    }

    // Not issued: reserved (never printed), an unknown serial, a lot not the unit's.
    for path in [
        path_of(&f.reserved),
        format!("/01/{GTIN}/21/000000000000"),
        format!("/01/{GTIN}/10/OTHER/21/{}", serial(&f.genuine)),
        "/01/09506000134369/21/12345".to_owned(),
    ] {
        let url = format!("{base}{path}");
        let (status, headers, body) = seen.get(&client, &url, &JSON).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(headers["content-type"], "application/problem+json");
        let (status, _, page) = seen.get(&client, &url, &HTML_EN).await;
        assert_eq!(status, 404);
        assert!(page.contains("data-state=\"not_issued\""), "{page}");
    }

    // Refused forms: bad check digit, bad AI order, unknown AI, bad scanner data, bad Ecode.
    for path in [
        format!("/01/09506000134353/21/{}", serial(&f.genuine)),
        format!("/01/{GTIN}/21/{}/10/L7", serial(&f.genuine)),
        format!("/01/{GTIN}/21/{}?99999=1", serial(&f.genuine)),
        format!("/01/{GTIN}/21/{}/99/1", serial(&f.genuine)),
        "/lookup?code=%2801%2909506000134353%2821%29123".to_owned(),
        "/lookup?code=".to_owned(),
        "/E=12".to_owned(),
    ] {
        let (status, headers, body) = seen.get(&client, &format!("{base}{path}"), &[]).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(
            headers["content-type"], "application/problem+json",
            "{path}"
        );
        assert_eq!(headers["access-control-allow-origin"], "*");
        let problem = json(&body);
        assert_eq!(problem["status"], 400);
        assert!(problem["field"].is_string(), "{problem}");
    }
    let (status, _, page) = seen
        .get(&client, &format!("{base}/01/09506000134353/21/1"), &HTML_EN)
        .await;
    assert_eq!(status, 400);
    assert!(page.contains("data-state=\"bad_code\""), "{page}");
    // A valid Ecode and a digital-identity path: this store issues neither.
    for path in ["/E=1001234567890123456789012", "/di/AbC-12"] {
        let (status, _, body) = seen.get(&client, &format!("{base}{path}"), &JSON).await;
        assert_eq!(status, 404, "{path}: {body}");
    }

    // The resolver description.
    let (status, _, body) = seen
        .get(&client, &format!("{base}/.well-known/gs1resolver"), &[])
        .await;
    assert_eq!(status, 200);
    let description = json(&body);
    assert_eq!(description["resolverRoot"], base);
    assert_eq!(
        description["supportedPrimaryKeys"],
        serde_json::json!(["01"])
    );
    assert_eq!(description["linkTypeDefaultCanBeLinkset"], true);

    // HEAD (no body, no scan counted) and OPTIONS (CORS preflight).
    let before = json(&seen.get(&client, &url, &JSON).await.2)["scans"]["count"].clone();
    let (status, headers, body) = seen.send(&client, reqwest::Method::HEAD, &url, &[]).await;
    assert_eq!((status, body.as_str()), (200, ""));
    assert_eq!(headers["access-control-allow-origin"], "*");
    let after = json(&seen.get(&client, &url, &JSON).await.2)["scans"]["count"].clone();
    assert_eq!(
        after,
        serde_json::json!(before.as_u64().expect("a count") + 1)
    );
    let (status, headers, _) = seen
        .send(
            &client,
            reqwest::Method::OPTIONS,
            &url,
            &[
                ("origin", "https://shop.example"),
                ("access-control-request-method", "GET"),
            ],
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert!(
        headers["access-control-allow-methods"]
            .to_str()
            .expect("text")
            .contains("HEAD")
    );

    // The language: Accept-Language, the parameter, and the page's own link.
    let (_, _, zh) = seen
        .get(
            &client,
            &url,
            &[("accept-language", "zh-CN,zh;q=0.9,en;q=0.5")],
        )
        .await;
    assert!(zh.contains("lang=\"zh-CN\"") && zh.contains("正品"), "{zh}");
    assert!(zh.contains("?lang=en"), "the link to English: {zh}");
    let (_, _, en) = seen.get(&client, &format!("{url}?lang=en"), &[]).await;
    assert!(en.contains("lang=\"en\"") && en.contains("Genuine"), "{en}");
    let (_, _, default) = seen.get(&client, &url, &[]).await;
    assert!(default.contains("lang=\"zh-CN\""), "Chinese by default");

    seen.assert_none_contains(&secrets);

    // The producer publishes the report: now it shows, as a field and a link.
    products::set_documents(
        &store,
        &actor(),
        "bv",
        DocumentsChange {
            inspection_report_public: Some(true),
            ..DocumentsChange::default()
        },
    )
    .await
    .expect("publish the report");
    drop(server);
    let server = serve(&store, unlimited()).await;
    let url = format!("{}{}", server.url(), path_of(&f.genuine));
    let answer = json(&seen.get(&client, &url, &JSON).await.2);
    assert_eq!(answer["product"]["inspection_report"], PRIVATE_REPORT);
    let linkset = json(
        &seen
            .get(&client, &format!("{url}?linkType=linkset"), &[])
            .await
            .2,
    );
    assert_eq!(
        linkset["linkset"][0]["https://gs1.org/voc/certificationInfo"][0]["href"],
        PRIVATE_REPORT
    );
}

both!(every_state_and_no_private_value);

fn serial(code: &str) -> &str {
    code.split("(21)").nth(1).expect("a serial")
}

/// Percent-encodes everything but unreserved characters (a query value).
fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn scans_are_counted_and_a_copied_code_is_flagged(store: Store) {
    let f = fixture(&store).await;
    let settings = LookupSettings {
        scan_alert: 3,
        ..unlimited()
    };
    let server = serve(&store, settings.clone()).await;
    let url = format!("{}{}", server.url(), path_of(&f.genuine));
    let client = reqwest::Client::new();
    let mut seen = Seen::default();
    let mut first = None;
    for n in 1..=3u64 {
        let answer = json(&seen.get(&client, &url, &JSON).await.2);
        assert_eq!(answer["state"], "genuine", "scan {n}: {answer}");
        assert_eq!(answer["scans"]["count"], n);
        let at = answer["scans"]["first_at"]
            .as_str()
            .expect("a time")
            .to_owned();
        assert_eq!(first.get_or_insert(at.clone()), &at, "the first scan stays");
    }
    let answer = json(&seen.get(&client, &url, &JSON).await.2);
    assert_eq!(answer["state"], "scanned_often", "{answer}");
    assert_eq!(answer["scans"]["count"], 4);
    let (_, _, page) = seen.get(&client, &url, &HTML_EN).await;
    assert!(page.contains("data-state=\"scanned_often\""), "{page}");
    assert!(
        page.contains(first.as_deref().expect("a first scan")),
        "{page}"
    );
    // An invalid code's scans are counted too, but it stays invalid.
    let destroyed = format!("{}{}", server.url(), path_of(&f.destroyed));
    for _ in 0..5 {
        seen.get(&client, &destroyed, &JSON).await;
    }
    assert_eq!(
        json(&seen.get(&client, &destroyed, &JSON).await.2)["state"],
        "invalid"
    );

    // Shut down: the waiting counts are written, and a new server goes on from them.
    server.shutdown().await;
    let rows: Vec<(i64,)> = stored_scans(&store).await;
    assert_eq!(rows.iter().map(|r| r.0).sum::<i64>(), 5 + 6, "{rows:?}");
    let server = serve(&store, settings).await;
    let url = format!("{}{}", server.url(), path_of(&f.genuine));
    let answer = json(&seen.get(&client, &url, &JSON).await.2);
    assert_eq!(answer["scans"]["count"], 6);
    assert_eq!(answer["scans"]["first_at"].as_str(), first.as_deref());
    seen.assert_none_contains(&f.secrets);
}

both!(scans_are_counted_and_a_copied_code_is_flagged);

async fn stored_scans(store: &Store) -> Vec<(i64,)> {
    let pool = sqlx::AnyPool::connect(store.url()).await.expect("a pool");
    sqlx::query_as("SELECT scans FROM code_scans ORDER BY scans")
        .fetch_all(&pool)
        .await
        .expect("read code_scans")
}

async fn clients_are_rate_limited(store: Store) {
    let f = fixture(&store).await;
    let server = serve(
        &store,
        LookupSettings {
            rate_per_second: 1,
            burst: 3,
            ..LookupSettings::default()
        },
    )
    .await;
    let url = format!("{}{}", server.url(), path_of(&f.genuine));
    let client = reqwest::Client::new();
    let mut seen = Seen::default();
    for _ in 0..3 {
        assert_eq!(seen.get(&client, &url, &JSON).await.0, 200);
    }
    let (status, headers, body) = seen.get(&client, &url, &JSON).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(headers["access-control-allow-origin"], "*");
    let wait: u64 = headers["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!((1..=2).contains(&wait), "{wait}");
    // The API is not held up by the lookup's limit.
    let (status, _, _) = seen
        .get(
            &client,
            &format!("{}/api/v1/openapi.json", server.url()),
            &[],
        )
        .await;
    assert_eq!(status, 200);
    seen.assert_none_contains(&f.secrets);
}

both!(clients_are_rate_limited);

async fn the_public_listener_serves_only_the_lookup(store: Store) {
    let f = fixture(&store).await;
    let server = serve(&store, unlimited()).await;
    let public = HttpServer::start_public(server.lookup.clone(), options())
        .await
        .expect("the public listener");
    let client = reqwest::Client::new();
    let mut seen = Seen::default();
    let (status, _, body) = seen
        .get(
            &client,
            &format!("{}{}", public.url(), path_of(&f.genuine)),
            &JSON,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    for path in ["/api/v1/openapi.json", "/login", "/", "/api/v1/batches"] {
        let (status, _, body) = seen
            .get(&client, &format!("{}{path}", public.url()), &[])
            .await;
        assert_eq!(status, 404, "{path}: {body}");
    }
    // Both listeners count into one book.
    let answer = json(
        &seen
            .get(
                &client,
                &format!("{}{}", server.url(), path_of(&f.genuine)),
                &JSON,
            )
            .await
            .2,
    );
    assert_eq!(answer["scans"]["count"], 2);
    seen.assert_none_contains(&f.secrets);
}

both!(the_public_listener_serves_only_the_lookup);
