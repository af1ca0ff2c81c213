//! The API's QA, batch release, packing and upload operations (issue 16 item 3) on both
//! stores: each one succeeds through HTTP with a token of its role, a token of another role
//! gets 403, and a malformed body is a 400 naming the member. The rules under them are tested
//! here too through `app` (batch release with four eyes, who settled a reject, rework inside
//! one package) — those need no users.

#[macro_use]
mod common;

use common::*;
use serde_json::{Value, json};
use tracemark::app::page::PageRequest;
use tracemark::app::users::{self, Role};
use tracemark::app::{AppError, batches, packing, qa};
use tracemark::http::server::{HttpServer, ServeOptions};
use tracemark_store::{Actor, BatchState, CodeState, NewBatch, PackageLevel, Store, Transition};

const GTIN: &str = "09506000134352";

fn named(user: &str) -> Actor {
    Actor {
        user: user.into(),
        device: "test-bench".into(),
    }
}

fn new_batch(lot: &str) -> NewBatch {
    NewBatch {
        product_id: "p".into(),
        lot: lot.into(),
        quantity: 100,
        production_date: "2025-03-01".into(),
        expiry_date: None,
        line: Some("line-1".into()),
        simulated: false,
    }
}

/// (01)GTIN(21)SERIAL as a scanner reads it: ]d2 01GTIN 21SERIAL.
fn scan_of(code: &str) -> String {
    let serial = code.rsplit_once("(21)").map(|(_, s)| s).unwrap_or_default();
    format!("]d201{GTIN}21{serial}")
}

/// A batch started by `starter`, with `verified` units verified and `rejected` rejected
/// (no read) after them.
async fn batch_with_rejects(
    store: &Store,
    starter: &Actor,
    lot: &str,
    verified: usize,
    rejected: usize,
) -> (i64, Vec<String>) {
    let batch = batches::create(store, starter, &new_batch(lot))
        .await
        .expect("create");
    batches::set_state(store, starter, batch.id, BatchState::Running)
        .await
        .expect("start");
    let codes = store
        .allocate("p", (verified + rejected) as u64, Some(batch.id))
        .await
        .expect("allocate")
        .codes;
    for state in [CodeState::Sent, CodeState::Printed] {
        let changes: Vec<Transition> = codes.iter().map(|c| Transition::to(c, state)).collect();
        store.transition_all(&changes).await.expect("print");
    }
    let changes: Vec<Transition> = codes
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i < verified {
                Transition::to(c, CodeState::Verified)
            } else {
                Transition {
                    reason: Some("no_read".parse().expect("a reason")),
                    ..Transition::to(c, CodeState::Rejected)
                }
            }
        })
        .collect();
    store.transition_all(&changes).await.expect("verify");
    (batch.id, codes)
}

async fn a_batch_is_released_once_by_a_qa_user_who_did_not_start_it(store: Store) {
    store
        .add_product(&product("p", GTIN))
        .await
        .expect("product");
    let (starter, other) = (named("li.wei"), named("wang.fang"));
    let (id, codes) = batch_with_rejects(&store, &starter, "L1", 2, 1).await;

    match batches::release(&store, &other, id).await {
        Err(AppError::Conflict { field: "state", .. }) => {}
        other => panic!("a running batch: {other:?}"),
    }
    batches::set_state(&store, &starter, id, BatchState::Closed)
        .await
        .expect("close");
    match batches::release(&store, &other, id).await {
        Err(AppError::Conflict {
            field: "reconciliation",
            ..
        }) => {}
        other => panic!("a reject still to settle: {other:?}"),
    }
    qa::destroy(&store, &other, &codes[2..])
        .await
        .expect("destroy");
    match batches::release(&store, &starter, id).await {
        Err(AppError::Forbidden(reason)) => assert!(reason.contains("li.wei"), "{reason}"),
        other => panic!("the starter: {other:?}"),
    }
    let released = batches::release(&store, &other, id)
        .await
        .expect("another user releases");
    assert_eq!(released.started_by.as_deref(), Some("li.wei"));
    assert_eq!(released.released_by.as_deref(), Some("wang.fang"));
    assert!(released.released_at.is_some());
    let stored = batches::get(&store, id).await.expect("the batch");
    assert_eq!(stored.released_by.as_deref(), Some("wang.fang"));
    match batches::release(&store, &other, id).await {
        Err(AppError::Conflict {
            field: "released", ..
        }) => {}
        other => panic!("twice: {other:?}"),
    }
    let events = store.events(0, 10_000).await.expect("events");
    let release = events
        .iter()
        .find(|e| e.kind == "batch.release")
        .expect("the release is audited");
    assert_eq!(
        (release.user.as_str(), release.subject.as_str()),
        ("wang.fang", format!("batch:{id}").as_str())
    );
    assert!(
        store
            .verify_audit()
            .await
            .expect("verify")
            .first_bad
            .is_none()
    );

    // The settled reject names who destroyed it, and when.
    let rejects = qa::rejects(&store, id, true).await.expect("rejects");
    assert_eq!(rejects.settled.len(), 1);
    assert_eq!(rejects.settled[0].settled_by.as_deref(), Some("wang.fang"));
    assert!(rejects.settled[0].settled_at.is_some());
    assert!(
        qa::rejects(&store, id, false)
            .await
            .expect("rejects")
            .settled
            .is_empty()
    );
}
both!(a_batch_is_released_once_by_a_qa_user_who_did_not_start_it);

async fn a_batch_started_before_started_by_was_recorded_is_checked_from_the_audit_chain(
    store: Store,
) {
    store
        .add_product(&product("p", GTIN))
        .await
        .expect("product");
    let (starter, other) = (named("li.wei"), named("wang.fang"));
    let (id, _) = batch_with_rejects(&store, &starter, "L1", 2, 0).await;
    batches::set_state(&store, &starter, id, BatchState::Closed)
        .await
        .expect("close");
    // As a store migrated from before 0016 has it.
    raw(&store, "UPDATE batches SET started_by = NULL")
        .await
        .expect("forget the starter");
    assert!(matches!(
        batches::release(&store, &starter, id).await,
        Err(AppError::Forbidden(_))
    ));
    batches::release(&store, &other, id).await.expect("release");
}
both!(a_batch_started_before_started_by_was_recorded_is_checked_from_the_audit_chain);

async fn rework_through_a_package_refuses_items_of_another(store: Store) {
    packing_producer(&store).await;
    store
        .add_product(&product("p", GTIN))
        .await
        .expect("product");
    let (batch, codes) = verified_batch(&store, "p", "L1", 4).await;
    let qa_user = named("wang.fang");
    let one = packing::new_package(&store, &qa_user, batch.id, PackageLevel::Carton, Some(4))
        .await
        .expect("a carton");
    let two = packing::new_package(&store, &qa_user, batch.id, PackageLevel::Carton, Some(4))
        .await
        .expect("a carton");
    packing::add(&store, &qa_user, &one.sscc, &codes[..2])
        .await
        .expect("pack");
    packing::add(&store, &qa_user, &two.sscc, &codes[2..3])
        .await
        .expect("pack");
    let refused = packing::remove_from(&store, &qa_user, &one.sscc, &codes[1..3]).await;
    match refused {
        Err(AppError::Conflict {
            field: "pack",
            reason,
        }) => {
            assert!(
                reason.contains(&codes[2]) && reason.contains(&two.sscc),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
    // Nothing changed.
    assert_eq!(
        packing::show(&store, &one.sscc)
            .await
            .expect("show")
            .units
            .len(),
        2
    );
    let removed = packing::remove_from(&store, &qa_user, &one.sscc, &codes[1..2])
        .await
        .expect("remove");
    assert_eq!(removed, [(codes[1].clone(), one.sscc.clone())]);
    assert!(matches!(
        packing::replace_in(&store, &qa_user, &one.sscc, &codes[2], &codes[3]).await,
        Err(AppError::Conflict { field: "pack", .. })
    ));
    packing::replace_in(&store, &qa_user, &one.sscc, &codes[0], &codes[3])
        .await
        .expect("replace");
}
both!(rework_through_a_package_refuses_items_of_another);

/// The rejects list is read from the store a page at a time: its pages, laid end to end, are
/// the whole list (rejected, then destroyed, then released, each in counter order) with who
/// settled each, and a page past the end is empty.
async fn rejects_are_read_a_page_at_a_time(store: Store) {
    store
        .add_product(&product("p", GTIN))
        .await
        .expect("product");
    let (id, codes) = batch_with_rejects(&store, &named("li.wei"), "L1", 1, 8).await;
    let qa_user = named("wang.fang");
    qa::destroy(&store, &qa_user, &codes[2..5])
        .await
        .expect("destroy three");
    qa::release(&store, &qa_user, &codes[6], &scan_of(&codes[6]), "B")
        .await
        .expect("release one");
    let whole = qa::rejects(&store, id, true).await.expect("the whole list");
    let mut expected: Vec<(String, Option<String>)> = whole
        .rejected
        .iter()
        .map(|c| (c.code.clone(), None))
        .collect();
    expected.extend(
        whole
            .settled
            .iter()
            .map(|s| (s.code.code.clone(), s.settled_by.clone())),
    );
    assert_eq!(expected.len(), 8, "{expected:?}");

    let mut paged = Vec::new();
    for page in 1..=4 {
        let request = PageRequest {
            page: Some(page),
            per_page: Some(3),
        };
        let answer = qa::rejects_page(&store, id, true, request)
            .await
            .expect("a page");
        assert_eq!(answer.units.total, 8);
        assert_eq!(
            (answer.to_settle, answer.destroyed, answer.released),
            (4, 3, 1)
        );
        if page == 4 {
            assert!(answer.units.items.is_empty(), "past the end");
        }
        paged.extend(
            answer
                .units
                .items
                .into_iter()
                .map(|u| (u.code.code, u.settled_by)),
        );
    }
    assert_eq!(paged, expected);
    assert!(
        paged[4..]
            .iter()
            .all(|(_, by)| by.as_deref() == Some("wang.fang")),
        "{paged:?}"
    );

    let open = qa::rejects_page(&store, id, false, PageRequest::default())
        .await
        .expect("rejects to settle");
    assert_eq!(open.units.total, 4);
    assert_eq!(open.units.items.len(), 4);
}
both!(rejects_are_read_a_page_at_a_time);

// ---- through HTTP (needs app::users) ----

struct Api {
    server: HttpServer,
    client: reqwest::Client,
}

impl Api {
    async fn start(store: &Store) -> Api {
        let server = HttpServer::start(
            store.clone(),
            ServeOptions {
                addr: "127.0.0.1:0".parse().expect("an address"),
                tls: None,
            },
        )
        .await
        .expect("serve");
        Api {
            server,
            client: reqwest::Client::new(),
        }
    }

    /// `method path` with `token`, and a JSON `body` when given: the status and the answer.
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .request(
                method.parse().expect("a method"),
                format!("{}/api/v1{path}", self.server.url()),
            )
            .bearer_auth(token);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("a response");
        let status = response.status().as_u16();
        let text = response.text().await.expect("a body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Asserts `token` may not call it (403), then that a good token may (`expected`), and
    /// returns the answer.
    async fn allowed(
        &self,
        method: &str,
        path: &str,
        wrong: &str,
        right: &str,
        body: Option<Value>,
        expected: u16,
    ) -> Value {
        let (status, answer) = self.call(method, path, wrong, body.clone()).await;
        assert_eq!(status, 403, "{method} {path} with the wrong role: {answer}");
        let (status, answer) = self.call(method, path, right, body).await;
        assert_eq!(status, expected, "{method} {path}: {answer}");
        answer
    }

    /// Asserts that `body` is a 400 naming `field`.
    async fn malformed(&self, method: &str, path: &str, token: &str, body: Value, field: &str) {
        let (status, problem) = self.call(method, path, token, Some(body.clone())).await;
        assert_eq!(status, 400, "{method} {path} {body}: {problem}");
        assert_eq!(problem["field"], field, "{method} {path} {body}: {problem}");
    }
}

/// A user `name` with `role`, and a bearer token of theirs.
async fn token(store: &Store, name: &str, role: Role) -> String {
    users::add_user(store, &actor(), name, role, "correct horse battery staple")
        .await
        .expect("add a user (app::users)");
    users::create_token(store, &actor(), name, None)
        .await
        .expect("a token (app::users)")
        .token
}

async fn qa_operations_over_http(store: Store) {
    store
        .add_product(&product("p", GTIN))
        .await
        .expect("product");
    let op = token(&store, "li.wei", Role::Operator).await;
    let qa1 = token(&store, "wang.fang", Role::Qa).await;
    let qa2 = token(&store, "zhao.min", Role::Qa).await;
    // QA user wang.fang started this one: she may settle its rejects, not release it.
    let (id, codes) = batch_with_rejects(&store, &named("wang.fang"), "L1", 2, 3).await;
    let api = Api::start(&store).await;

    let (status, page) = api
        .call(
            "GET",
            &format!("/batches/{id}/rejects?per_page=2"),
            &op,
            None,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["to_settle"], 3, "{page}");
    assert_eq!(page["units"]["total"], 3, "{page}");
    assert_eq!(page["units"]["items"].as_array().map(Vec::len), Some(2));

    let answer = api
        .allowed(
            "POST",
            "/qa/destroy",
            &op,
            &qa1,
            Some(json!({"codes": [codes[2]]})),
            200,
        )
        .await;
    assert_eq!(answer["destroyed"], 1);
    api.malformed("POST", "/qa/destroy", &qa1, json!({"codes": "x"}), "codes")
        .await;

    let release = json!({"code": codes[3], "scan": scan_of(&codes[3]), "grade": "A"});
    let answer = api
        .allowed("POST", "/qa/release", &op, &qa1, Some(release), 200)
        .await;
    assert_eq!(answer["grade"], "A", "{answer}");
    api.malformed(
        "POST",
        "/qa/release",
        &qa1,
        json!({"code": 1, "scan": "x", "grade": "A"}),
        "code",
    )
    .await;

    api.allowed(
        "POST",
        "/qa/sample",
        &op,
        &qa1,
        Some(json!({"code": codes[0]})),
        200,
    )
    .await;
    api.malformed("POST", "/qa/sample", &qa1, json!({"code": []}), "code")
        .await;
    api.malformed(
        "POST",
        "/qa/sample",
        &qa1,
        json!({"code": codes[1], "x": 1}),
        "x",
    )
    .await;

    qa::destroy(&store, &named("wang.fang"), &codes[4..])
        .await
        .expect("destroy");
    let (_, all) = api
        .call("GET", &format!("/batches/{id}/rejects?all=true"), &op, None)
        .await;
    assert_eq!(all["to_settle"], 0, "{all}");
    let settled = all["units"]["items"].as_array().expect("units");
    assert_eq!(settled.len(), 3, "{all}");
    assert!(
        settled.iter().all(|u| u["settled_by"] == "wang.fang"),
        "{all}"
    );

    // Batch release: closed first; never by its starter (four eyes); once.
    let path = format!("/batches/{id}/release");
    let (status, problem) = api.call("POST", &path, &qa2, None).await;
    assert_eq!(status, 409, "{problem}");
    batches::set_state(&store, &named("li.wei"), id, BatchState::Closed)
        .await
        .expect("close");
    let (status, problem) = api.call("POST", &path, &qa1, None).await;
    assert_eq!(status, 403, "the starter: {problem}");
    let batch = api.allowed("POST", &path, &op, &qa2, None, 200).await;
    assert_eq!(batch["released_by"], "zhao.min", "{batch}");
    let (status, problem) = api.call("POST", &path, &qa2, None).await;
    assert_eq!(status, 409, "twice: {problem}");
}
both!(qa_operations_over_http);

async fn packing_operations_over_http(store: Store) {
    packing_producer(&store).await;
    store
        .add_product(&product("p", GTIN))
        .await
        .expect("product");
    let op = token(&store, "li.wei", Role::Operator).await;
    let qa1 = token(&store, "wang.fang", Role::Qa).await;
    let (batch, codes) = verified_batch(&store, "p", "L1", 5).await;
    let bench = actor();
    let carton = |capacity| {
        packing::new_package(
            &store,
            &bench,
            batch.id,
            PackageLevel::Carton,
            Some(capacity),
        )
    };
    let one = carton(4).await.expect("a carton").sscc;
    let two = carton(4).await.expect("a carton").sscc;
    let api = Api::start(&store).await;

    let (status, list) = api
        .call("GET", &format!("/batches/{}/packages", batch.id), &op, None)
        .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["packages"].as_array().map(Vec::len), Some(2), "{list}");

    let add = format!("/packages/{one}/add");
    let package = api
        .allowed(
            "POST",
            &add,
            &op,
            &qa1,
            Some(json!({"codes": codes[..3]})),
            200,
        )
        .await;
    assert_eq!(package["children_count"], 3, "{package}");
    api.malformed("POST", &add, &qa1, json!({"codes": [1]}), "codes[0]")
        .await;

    let (status, contents) = api
        .call("GET", &format!("/packages/{one}"), &op, None)
        .await;
    assert_eq!(status, 200, "{contents}");
    assert_eq!(
        contents["units"].as_array().map(Vec::len),
        Some(3),
        "{contents}"
    );

    let remove = format!("/packages/{one}/remove");
    let removed = api
        .allowed(
            "POST",
            &remove,
            &op,
            &qa1,
            Some(json!({"codes": [codes[2]]})),
            200,
        )
        .await;
    assert_eq!(removed, json!([{"item": codes[2], "from": one}]));
    api.malformed("POST", &remove, &qa1, json!({"codes": null}), "codes")
        .await;
    let (status, problem) = api
        .call(
            "POST",
            &format!("/packages/{two}/remove"),
            &qa1,
            Some(json!({"codes": [codes[0]]})),
        )
        .await;
    assert_eq!(
        (status, problem["field"].clone()),
        (409, json!("pack")),
        "{problem}"
    );

    let replace = format!("/packages/{one}/replace");
    api.allowed(
        "POST",
        &replace,
        &op,
        &qa1,
        Some(json!({"old": codes[1], "new": codes[3]})),
        200,
    )
    .await;
    api.malformed(
        "POST",
        &replace,
        &qa1,
        json!({"old": codes[0], "new": 5}),
        "new",
    )
    .await;

    let closed = api
        .allowed(
            "POST",
            &format!("/packages/{one}/close"),
            &op,
            &qa1,
            None,
            200,
        )
        .await;
    assert_eq!(closed["state"], "closed", "{closed}");
    let reopened = api
        .allowed(
            "POST",
            &format!("/packages/{one}/reopen"),
            &op,
            &qa1,
            None,
            200,
        )
        .await;
    assert_eq!(reopened["state"], "reopened", "{reopened}");
    let unpacked = api
        .allowed(
            "POST",
            &format!("/packages/{one}/unpack"),
            &op,
            &qa1,
            None,
            200,
        )
        .await;
    assert_eq!(unpacked["removed"], 2, "{unpacked}");
    let voided = api
        .allowed(
            "POST",
            &format!("/packages/{two}/void"),
            &op,
            &qa1,
            None,
            200,
        )
        .await;
    assert_eq!(voided["state"], "voided", "{voided}");
}
both!(packing_operations_over_http);

async fn upload_operations_over_http(store: Store) {
    store
        .add_product(&product("p", GTIN))
        .await
        .expect("product");
    let op = token(&store, "li.wei", Role::Operator).await;
    let int = token(&store, "chen.jie", Role::Integrator).await;
    let api = Api::start(&store).await;
    // Port 9 (discard): nothing is sent in this test; the target only has to be valid.
    let target = json!({"name": "erp", "url": "http://127.0.0.1:9/in", "format": "platform"});

    let added = api
        .allowed(
            "POST",
            "/upload-targets",
            &op,
            &int,
            Some(target.clone()),
            201,
        )
        .await;
    assert_eq!(added["name"], "erp", "{added}");
    api.malformed(
        "POST",
        "/upload-targets",
        &int,
        json!({"name": "x", "url": "http://127.0.0.1:9/", "format": "platform", "gzip": "yes"}),
        "gzip",
    )
    .await;
    api.malformed(
        "POST",
        "/upload-targets",
        &int,
        json!({"name": "x", "url": "http://127.0.0.1:9/", "format": "csv"}),
        "format",
    )
    .await;
    let (status, targets) = api.call("GET", "/upload-targets", &op, None).await;
    assert_eq!(status, 200, "{targets}");
    assert_eq!(targets[0]["name"], "erp", "{targets}");

    // A closed batch is enqueued for the target; removing the target fails the delivery.
    let (id, _) = batch_with_rejects(&store, &named("li.wei"), "L1", 2, 0).await;
    batches::set_state(&store, &named("li.wei"), id, BatchState::Closed)
        .await
        .expect("close");
    let (status, page) = api.call("GET", "/uploads?per_page=1", &op, None).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["total"], 1, "{page}");
    assert_eq!(page["items"][0]["state"], "pending", "{page}");
    let removed = api
        .allowed("DELETE", "/upload-targets/erp", &op, &int, None, 200)
        .await;
    assert_eq!(removed["failed_deliveries"], 1, "{removed}");

    // Added again, the failed delivery can be retried.
    let (status, _) = api
        .call("POST", "/upload-targets", &int, Some(target))
        .await;
    assert_eq!(status, 201);
    let retried = api
        .allowed(
            "POST",
            &format!("/uploads/{id}/erp/retry"),
            &op,
            &int,
            None,
            200,
        )
        .await;
    assert_eq!(retried["state"], "pending", "{retried}");
}
both!(upload_operations_over_http);

async fn token_operations_over_http(store: Store) {
    let admin = token(&store, "boss", Role::Admin).await;
    let op = token(&store, "li.wei", Role::Operator).await;
    let machine = users::create_token(&store, &actor(), "li.wei", Some(30))
        .await
        .expect("a second token (app::users)")
        .token;
    let api = Api::start(&store).await;

    let listed = api
        .allowed("GET", "/users/li.wei/tokens", &op, &admin, None, 200)
        .await;
    assert_eq!(listed["total"], 2, "{listed}");
    let text = listed.to_string();
    assert!(
        !text.contains(&machine) && !text.contains("sha256") && !text.contains("hash"),
        "no token or hash in the list: {text}"
    );
    let second = listed["items"][1]["id"].as_i64().expect("a token id");
    assert!(listed["items"][1]["expires_at"].is_string(), "{listed}");

    // Another user's path cannot revoke it, and nothing changes.
    let (status, problem) = api
        .call(
            "DELETE",
            &format!("/users/boss/tokens/{second}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(status, 404, "{problem}");
    let (status, _) = api.call("GET", "/session", &machine, None).await;
    assert_eq!(status, 200, "the token still works after a refused revoke");
    let (status, problem) = api.call("GET", "/users/nobody/tokens", &admin, None).await;
    assert_eq!(status, 404, "{problem}");

    let revoked = api
        .allowed(
            "DELETE",
            &format!("/users/li.wei/tokens/{second}"),
            &op,
            &admin,
            None,
            200,
        )
        .await;
    assert_eq!(revoked["revoked"], true, "{revoked}");
    let (status, _) = api.call("GET", "/session", &machine, None).await;
    assert_eq!(status, 401, "a revoked token is refused");
    let (status, _) = api.call("GET", "/session", &op, None).await;
    assert_eq!(status, 200, "the user's other token still works");
    let events = store.events(0, 10_000).await.expect("events");
    let revocations: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "user.token_revoked")
        .collect();
    assert_eq!(revocations.len(), 1, "one revocation in the audit chain");
    assert_eq!(revocations[0].user, "boss", "{:?}", revocations[0]);
}
both!(token_operations_over_http);

/// The command line calls the same functions: `batch release` (four eyes) and `qa rejects
/// --all` (who settled each reject).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_releases_a_batch_and_lists_who_settled_rejects() {
    let dir = tempdir();
    let url = sqlite_url(dir.path());
    let store = open(&url).await;
    store
        .add_product(&product("p", GTIN))
        .await
        .expect("product");
    let (id, codes) = batch_with_rejects(&store, &named("li.wei"), "L1", 1, 1).await;
    store.close().await;
    let id = id.to_string();
    let run = |args: &[&str]| tracemark(&url, args);

    let destroyed = run(&["--user", "wang.fang", "qa", "destroy", &codes[1]]);
    assert!(destroyed.status.success(), "{}", stderr(&destroyed));
    let listed = run(&["qa", "rejects", &id, "--all"]);
    assert!(
        stdout(&listed).contains("destroyed by wang.fang at "),
        "{}",
        stdout(&listed)
    );
    let listed = run(&["qa", "rejects", &id, "--all", "--json"]);
    let value: Value = serde_json::from_str(&stdout(&listed)).expect("JSON");
    assert_eq!(value["settled"][0]["settled_by"], "wang.fang", "{value}");

    let closed = run(&["--user", "li.wei", "batch", "close", &id]);
    assert!(closed.status.success(), "{}", stderr(&closed));
    let refused = run(&["--user", "li.wei", "batch", "release", &id]);
    assert_eq!(refused.status.code(), Some(2), "{}", stdout(&refused));
    assert!(
        stderr(&refused).contains("four eyes"),
        "{}",
        stderr(&refused)
    );
    let released = run(&["--user", "wang.fang", "batch", "release", &id]);
    assert!(released.status.success(), "{}", stderr(&released));
    assert!(
        stdout(&released).contains("released by wang.fang"),
        "{}",
        stdout(&released)
    );
    let again = run(&["--user", "zhao.min", "batch", "release", &id]);
    assert_eq!(again.status.code(), Some(2), "{}", stdout(&again));
}
