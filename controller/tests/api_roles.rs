//! Every API operation × every role, read from the served OpenAPI document (issue 16 tests):
//! a role the operation's `x-tracemark-roles` does not list is answered 403 and nothing changes
//! (the audit chain does not grow); a listed role gets past the check (never 401 or 403, never a
//! 5xx, whatever its dummy input). Then generated requests — random JSON bodies and path
//! parameters for every operation, as every role — never get a 5xx, and no answer carries a
//! password, a token or a hash.

#[macro_use]
mod common;

use std::collections::BTreeMap;

use common::*;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;
use tracemark::app::users::{self, Role};
use tracemark::http::server::{HttpServer, ServeOptions};
use tracemark_store::Store;

const PASSWORD: &str = "correct horse battery";

async fn serve(store: Store) -> HttpServer {
    HttpServer::start(
        store,
        ServeOptions {
            addr: "127.0.0.1:0".parse().expect("an address"),
            tls: None,
        },
    )
    .await
    .expect("serve")
}

/// One bearer token per role.
async fn tokens(store: &Store) -> BTreeMap<Role, String> {
    let mut tokens = BTreeMap::new();
    for role in Role::ALL {
        let name = format!("{}-user", role.as_str());
        users::add_user(store, &actor(), &name, role, PASSWORD)
            .await
            .expect("add a user");
        let token = users::create_token(store, &actor(), &name, Some(1))
            .await
            .expect("a token");
        tokens.insert(role, token.token);
    }
    tokens
}

/// Every operation: (method, path template, roles, whether it takes a body).
fn operations(document: &Value) -> Vec<(String, String, Vec<String>, bool)> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            let roles = operation["x-tracemark-roles"]
                .as_array()
                .expect("x-tracemark-roles")
                .iter()
                .map(|r| r.as_str().expect("a role").to_owned())
                .collect();
            found.push((
                method.to_uppercase(),
                path.clone(),
                roles,
                operation.get("requestBody").is_some(),
            ));
        }
    }
    found
}

/// `path` with every `{param}` replaced by `value`.
fn fill(path: &str, value: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .map_or(rest.len(), |e| start + e + 1);
        out.push_str(value);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// The sequence number of the audit chain's last event.
async fn audit_length(store: &Store) -> i64 {
    store.audit_head().await.expect("the audit chain").0
}

async fn every_operation_by_every_role(store: Store) {
    let tokens = tokens(&store).await;
    let server = serve(store.clone()).await;
    let client = reqwest::Client::new();
    let base = server.url();
    let document: Value = client
        .get(format!("{base}/api/v1/openapi.json"))
        .send()
        .await
        .expect("the document")
        .json()
        .await
        .expect("JSON");
    let operations = operations(&document);
    let mut checked = 0;
    for (method, path, roles, _) in &operations {
        if roles.is_empty() {
            continue; // public: login
        }
        for (role, token) in &tokens {
            let before = audit_length(&store).await;
            let response = client
                .request(
                    method.parse().expect("a method"),
                    format!("{base}{}", fill(path, "1")),
                )
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .expect("an answer");
            let status = response.status().as_u16();
            let body = response.text().await.unwrap_or_default();
            let context = format!("{method} {path} as {role:?}: {status} {body}");
            if roles.iter().any(|r| r == role.as_str()) {
                assert!(!matches!(status, 401 | 403), "{context}");
                assert!(status < 500, "{context}");
            } else {
                assert_eq!(status, 403, "{context}");
                assert_eq!(audit_length(&store).await, before, "changed: {context}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 4 * 8, "{checked} checks");
}
both!(every_operation_by_every_role);

/// A JSON value of any shape, small.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[ -~]{0,12}".prop_map(Value::from),
        Just(Value::from("2026-12-05")),
        Just(Value::from("closed")),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    "[a-z_]{1,10}".boxed(),
                    Just("state".to_owned()).boxed(),
                    Just("codes".to_owned()).boxed(),
                    Just("quantity".to_owned()).boxed(),
                    Just("lot".to_owned()).boxed(),
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

async fn generated_requests_never_get_a_server_error(store: Store) {
    let tokens = tokens(&store).await;
    let server = serve(store.clone()).await;
    let client = reqwest::Client::new();
    let base = server.url();
    let document: Value = client
        .get(format!("{base}/api/v1/openapi.json"))
        .send()
        .await
        .expect("the document")
        .json()
        .await
        .expect("JSON");
    let operations = operations(&document);
    let roles: Vec<Role> = Role::ALL.to_vec();
    // Draw the cases first (proptest's runner is synchronous), then send them.
    let mut runner = TestRunner::new(Config {
        cases: 1,
        ..Config::default()
    });
    let strategy = (
        0..operations.len(),
        0..roles.len(),
        any_json(),
        prop_oneof![
            Just("1".to_owned()),
            Just("0".to_owned()),
            Just("-1".to_owned()),
            Just("9223372036854775807".to_owned()),
            Just("not-a-number".to_owned()),
            Just("%20".to_owned()),
            "[a-zA-Z0-9_.-]{1,24}".prop_map(String::from),
        ],
    );
    let mut cases: Vec<(usize, usize, Value, String)> = Vec::new();
    for _ in 0..300 {
        let tree = strategy.new_tree(&mut runner).expect("a case");
        cases.push(tree.current());
    }
    for (operation, role, body, param) in cases {
        let (method, path, _, takes_body) = &operations[operation];
        let mut request = client
            .request(
                method.parse().expect("a method"),
                format!("{base}{}", fill(path, &param)),
            )
            .bearer_auth(&tokens[&roles[role]]);
        if *takes_body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("an answer");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        assert!(
            status < 500,
            "{method} {path} ({param}) as {:?} with {body}: {status} {text}",
            roles[role]
        );
        for secret in tokens.values() {
            assert!(
                !text.contains(secret.as_str()),
                "a token in an answer: {text}"
            );
        }
        assert!(!text.contains(PASSWORD), "a password in an answer: {text}");
        assert!(
            !text.contains("$argon2"),
            "a password hash in an answer: {text}"
        );
    }
}
both!(generated_requests_never_get_a_server_error);
