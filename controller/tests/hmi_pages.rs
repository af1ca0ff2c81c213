//! The HMI's uploads, users and packing pages (issue 16 item 4; docs/hmi.md) over HTTP on both
//! stores: each user logs in through the API and fetches each page's HTML; every role sees the
//! data, and only the role the API lets act gets the controls (a retry for the integrator, the
//! user forms for the administrator, the rework for QA). Without a session a page sends the
//! browser to the login page; a user's language turns the pages to Chinese.

#[macro_use]
mod common;

use common::*;
use tracemark::app::uploads::{self, NewTarget};
use tracemark::app::users::{self, Language, Role};
use tracemark::app::{batches, packing};
use tracemark::http::server::{HttpServer, ServeOptions};
use tracemark_store::upload::UploadFormat;
use tracemark_store::{BatchState, NewBatch, PackageLevel, Store};

const GTIN: &str = "09506000134352";
const PASSWORD: &str = "correct horse battery staple";
/// The users of the test, one per role.
const USERS: [(&str, Role); 4] = [
    ("li.wei", Role::Operator),
    ("wang.fang", Role::Qa),
    ("chen.jie", Role::Integrator),
    ("boss", Role::Admin),
];

struct Hmi {
    server: HttpServer,
    client: reqwest::Client,
}

impl Hmi {
    async fn start(store: &Store) -> Hmi {
        let server = HttpServer::start(
            store.clone(),
            ServeOptions {
                addr: "127.0.0.1:0".parse().expect("an address"),
                tls: None,
            },
        )
        .await
        .expect("serve");
        // Redirects are asserted, not followed.
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client");
        Hmi { server, client }
    }

    /// Logs `name` in through the API; the session cookie (`name=value`).
    async fn log_in(&self, name: &str) -> String {
        let response = self
            .client
            .post(format!("{}/api/v1/session", self.server.url()))
            .header("content-type", "application/json")
            .body(serde_json::json!({"name": name, "password": PASSWORD}).to_string())
            .send()
            .await
            .expect("a response");
        assert_eq!(response.status().as_u16(), 200, "log {name} in");
        let cookie = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .expect("a session cookie");
        cookie.split(';').next().unwrap_or_default().to_owned()
    }

    /// `path` with `cookie` (none: without a session): the status and the HTML.
    async fn page(&self, path: &str, cookie: Option<&str>) -> (u16, String) {
        let mut request = self.client.get(format!("{}{path}", self.server.url()));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.expect("a response");
        let status = response.status().as_u16();
        (status, response.text().await.expect("a body"))
    }
}

/// A closed batch whose delivery to target `erp` failed (the target was removed while it was
/// pending) and can be retried (the target is back): the batch's number.
async fn failed_delivery(store: &Store) -> i64 {
    let bench = actor();
    let target = || NewTarget {
        name: "erp".into(),
        // Port 9 (discard): nothing is sent in this test.
        url: "http://127.0.0.1:9/in".into(),
        format: UploadFormat::Platform,
        secret_file: None,
        ed25519_key_file: None,
        ca_file: None,
        gzip: false,
    };
    uploads::add_target(store, &bench, target())
        .await
        .expect("a target");
    let batch = batches::create(
        store,
        &bench,
        &NewBatch {
            product_id: "p".into(),
            lot: "UP1".into(),
            quantity: 10,
            production_date: "2025-03-01".into(),
            expiry_date: None,
            line: None,
            simulated: false,
        },
    )
    .await
    .expect("a batch");
    for state in [BatchState::Running, BatchState::Closed] {
        batches::set_state(store, &bench, batch.id, state)
            .await
            .expect("run and close the batch");
    }
    assert_eq!(
        uploads::remove_target(store, &bench, "erp")
            .await
            .expect("remove the target"),
        1
    );
    uploads::add_target(store, &bench, target())
        .await
        .expect("the target again");
    batch.id
}

/// Whether `html` holds `needle`, with the page in the message when it is not as expected.
fn has(html: &str, needle: &str) -> bool {
    html.contains(needle)
}

async fn each_page_shows_each_role_its_controls(store: Store) {
    packing_producer(&store).await;
    store
        .add_product(&product("p", GTIN))
        .await
        .expect("product");
    for (name, role) in USERS {
        users::add_user(&store, &actor(), name, role, PASSWORD)
            .await
            .expect("a user");
    }
    let failed = failed_delivery(&store).await;
    let (batch, codes) = verified_batch(&store, "p", "L1", 3).await;
    let carton = packing::new_package(&store, &actor(), batch.id, PackageLevel::Carton, Some(4))
        .await
        .expect("a carton")
        .sscc;
    packing::add(&store, &actor(), &carton, &codes[..2])
        .await
        .expect("pack two units");
    let hmi = Hmi::start(&store).await;

    for (name, role) in USERS {
        let cookie = hmi.log_in(name).await;
        let cookie = Some(cookie.as_str());
        let integrator = role == Role::Integrator;
        let admin = role == Role::Admin;
        let qa = role == Role::Qa;

        let (status, html) = hmi.page("/uploads", cookie).await;
        assert_eq!(status, 200, "{name} /uploads: {html}");
        assert!(has(&html, &format!("data-role=\"{}\"", role.as_str())));
        assert!(
            has(
                &html,
                &format!("data-delivery=\"{failed}/erp\" data-state=\"failed\"")
            ),
            "{name}: {html}"
        );
        assert!(has(&html, "data-target=\"erp\""), "{name}: {html}");
        for control in [
            "data-retry-batch=",
            "id=\"add-target\"",
            "data-remove-target=",
        ] {
            assert_eq!(has(&html, control), integrator, "{name} {control}: {html}");
        }

        let (status, html) = hmi.page("/users", cookie).await;
        assert_eq!(status, 200, "{name} /users: {html}");
        for (listed, listed_role) in USERS {
            assert!(
                has(
                    &html,
                    &format!(
                        "data-user=\"{listed}\" data-role=\"{}\" data-disabled=\"false\"",
                        listed_role.as_str()
                    )
                ),
                "{name} sees {listed}: {html}"
            );
        }
        for control in [
            "id=\"add-user\"",
            "data-set-role",
            "data-disable data-confirm",
            "data-set-password",
            "data-create-token",
        ] {
            assert_eq!(has(&html, control), admin, "{name} {control}: {html}");
        }

        let (status, html) = hmi.page(&format!("/packing?sscc={carton}"), cookie).await;
        assert_eq!(status, 200, "{name} /packing: {html}");
        assert!(
            has(&html, "<span id=\"package-count\">2</span>"),
            "{name}: {html}"
        );
        for code in &codes[..2] {
            assert!(has(&html, &format!("data-unit=\"{code}\"")), "{code}");
        }
        // The list is the carton's batch's, though only the carton was asked for.
        assert!(
            has(&html, &format!("<tr data-sscc=\"{carton}\"")),
            "{name}: {html}"
        );
        for control in [
            "data-remove=",
            "data-pack-op=\"reopen\"",
            "data-pack-op=\"close\"",
            "data-pack-op=\"unpack\"",
            "data-pack-op=\"void\"",
            "id=\"pack-add\"",
            "id=\"pack-replace\"",
        ] {
            assert_eq!(has(&html, control), qa, "{name} {control}: {html}");
        }
    }

    // No session: to the login page. An unknown package: its problem, as a page.
    for path in ["/uploads", "/users", "/packing"] {
        let (status, _) = hmi.page(path, None).await;
        assert_eq!(status, 303, "{path} without a session");
    }
    let cookie = hmi.log_in("wang.fang").await;
    let (status, html) = hmi
        .page("/packing?sscc=000000000000000000", Some(&cookie))
        .await;
    assert_eq!(status, 404, "{html}");
    assert!(has(&html, "000000000000000000"), "{html}");
    let (status, html) = hmi.page("/uploads?page=0", Some(&cookie)).await;
    assert_eq!(status, 400, "{html}");

    // A user's language: the pages in Chinese.
    users::set_language(&store, &actor(), "chen.jie", Language::ZhCn)
        .await
        .expect("Chinese");
    let cookie = hmi.log_in("chen.jie").await;
    let (_, html) = hmi.page("/uploads", Some(&cookie)).await;
    assert!(has(&html, "<html lang=\"zh-CN\">"), "{html}");
    assert!(has(&html, ">重试</button>"), "{html}");
    assert!(has(&html, "失败"), "{html}");
}
both!(each_page_shows_each_role_its_controls);
