//! The API's contract (issue 16 item 3) on both stores: the OpenAPI document is served and
//! every operation in it declares its roles; the server enforces the document (no credentials:
//! 401 on every operation that needs a role); errors are RFC 9457 problem details naming the
//! field; an unknown path is a 404 problem.

#[macro_use]
mod common;

use common::*;
use serde_json::Value;
use tracemark::http::server::{HttpServer, ServeOptions};
use tracemark_store::Store;

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

/// Every operation in the document: (method, path, roles).
fn operations(document: &Value) -> Vec<(String, String, Vec<String>)> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            let roles = operation["x-tracemark-roles"]
                .as_array()
                .unwrap_or_else(|| panic!("{method} {path}: no x-tracemark-roles"))
                .iter()
                .map(|r| r.as_str().expect("a role").to_owned())
                .collect();
            found.push((method.to_uppercase(), path.clone(), roles));
        }
    }
    found
}

/// `path` with every `{param}` replaced by 1.
fn concrete(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => in_param = true,
            '}' => {
                in_param = false;
                out.push('1');
            }
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    out
}

fn assert_problem(status: u16, content_type: Option<&str>, body: &Value, context: &str) {
    assert_eq!(
        content_type,
        Some("application/problem+json"),
        "{context}: {body}"
    );
    assert_eq!(body["status"], status, "{context}: {body}");
    assert!(body["title"].is_string(), "{context}: {body}");
    assert!(body["detail"].is_string(), "{context}: {body}");
}

async fn the_document_declares_roles_and_the_server_enforces_them(store: Store) {
    let server = serve(store).await;
    let client = reqwest::Client::new();
    let base = server.url();
    let document: Value = client
        .get(format!("{base}/api/v1/openapi.json"))
        .send()
        .await
        .expect("get the document")
        .json()
        .await
        .expect("JSON");
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        document["openapi"]
    );
    let operations = operations(&document);
    assert!(operations.len() >= 8, "{operations:?}");
    let known = ["operator", "qa", "integrator", "admin"];
    for (method, path, roles) in &operations {
        assert!(
            roles.iter().all(|r| known.contains(&r.as_str())),
            "{method} {path}: {roles:?}"
        );
        if roles.is_empty() {
            continue; // public (login)
        }
        // No credentials: 401, whatever the operation.
        let response = client
            .request(
                method.parse().expect("a method"),
                format!("{base}{}", concrete(path)),
            )
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .expect("a response");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        assert!(response.headers().contains_key("www-authenticate"));
        let body: Value = response.json().await.expect("a problem");
        assert_eq!(status, 401, "{method} {path}: {body}");
        assert_problem(
            401,
            content_type.as_deref(),
            &body,
            &format!("{method} {path}"),
        );
        // A wrong token is no better.
        let response = client
            .request(
                method.parse().expect("a method"),
                format!("{base}{}", concrete(path)),
            )
            .bearer_auth("tmk_not-a-token")
            .send()
            .await
            .expect("a response");
        assert_eq!(response.status().as_u16(), 401, "{method} {path}");
    }
    // Reads are open to every role; the batch writes to operators only (SPEC §8).
    let roles_of = |id: &str| -> Vec<String> {
        let (_, _, roles) = operations
            .iter()
            .find(|(m, p, _)| document["paths"][p][m.to_lowercase()]["operationId"] == id)
            .unwrap_or_else(|| panic!("{id} not in the document"));
        roles.clone()
    };
    assert_eq!(roles_of("list_batches"), known);
    assert_eq!(roles_of("create_batch"), ["operator"]);
    for id in [
        "list_rejects",
        "list_packages",
        "get_package",
        "list_deliveries",
    ] {
        assert_eq!(roles_of(id), known, "{id}");
    }
    assert_eq!(roles_of("list_upload_targets"), known);
    for id in [
        "destroy_rejects",
        "release_reject",
        "sample_unit",
        "release_batch",
        "pack_add",
        "pack_remove",
        "pack_replace",
        "pack_unpack",
        "pack_close",
        "pack_reopen",
        "pack_void",
    ] {
        assert_eq!(roles_of(id), ["qa"], "{id}");
    }
    for id in [
        "retry_delivery",
        "add_upload_target",
        "remove_upload_target",
    ] {
        assert_eq!(roles_of(id), ["integrator"], "{id}");
    }
    assert_eq!(roles_of("login"), Vec::<String>::new());
}
both!(the_document_declares_roles_and_the_server_enforces_them);

async fn malformed_requests_are_problems_naming_the_field(store: Store) {
    let server = serve(store).await;
    let client = reqwest::Client::new();
    let base = server.url();
    let login = |body: &'static str| {
        client
            .post(format!("{base}/api/v1/session"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    for (body, field) in [
        (r#"{"name": "op"}"#, "body"),
        (r#"{"name": 7, "password": "x"}"#, "name"),
        (r#"{"name": "op", "password": "x", "extra": 1}"#, "extra"),
        ("not json", "body"),
    ] {
        let response = login(body).await.expect("a response");
        let status = response.status().as_u16();
        let problem: Value = response.json().await.expect("a problem");
        assert_eq!(status, 400, "{body}: {problem}");
        assert_eq!(problem["field"], field, "{body}: {problem}");
    }
    let response = client
        .post(format!("{base}/api/v1/session"))
        .body(r#"{"name": "op", "password": "x"}"#)
        .send()
        .await
        .expect("a response");
    let problem: Value = response.json().await.expect("a problem");
    assert_eq!(problem["field"], "content-type", "{problem}");

    let response = client
        .get(format!("{base}/api/v1/no-such-thing"))
        .send()
        .await
        .expect("a response");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let problem: Value = response.json().await.expect("a problem");
    assert_eq!(status, 404);
    assert_problem(404, content_type.as_deref(), &problem, "unknown path");
}
both!(malformed_requests_are_problems_naming_the_field);
