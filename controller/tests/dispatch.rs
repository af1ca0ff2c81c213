//! The dispatch station end to end (issue 17 item 2; docs/shipping.md "The dispatch station"),
//! on SQLite and PostgreSQL: a simulated hand scanner (`tracemark_sim::scanner`) over a real TCP
//! socket (port 0), the station task, `app::dispatch` and the store. Every answer — nothing
//! open, unknown order, an open carton, a carton on a pallet, a unit, shipped — then two orders
//! shipped (one by its Code 128 reference, one by a GS1 AI (400) label); refused scans move
//! nothing in the store; each order is filled by its shipment. Dispatch orders over the API
//! (who may enter them) and on the command line.

#[macro_use]
mod common;

use common::*;
use serde_json::Value;
use tokio::sync::watch;
use tracemark::aggregation::manual::ScannerSource;
use tracemark::app::dispatch;
use tracemark::app::users::{self, Role};
use tracemark::config::DispatchCommands;
use tracemark::dispatch::{DispatchSetup, run_dispatch};
use tracemark::http::server::{HttpServer, ServeOptions};
use tracemark_drivers::scanner::{ParseOptions, ScannerListener};
use tracemark_sim::scanner::HandScanner;
use tracemark_store::{CodeState, NewDispatchOrder, PackageLevel, Store};

const GTIN: &str = "09506000134352";
const BUYER: &str = "某某五金店";

struct Dock {
    pallet: String,
    on_pallet: String,
    loose: String,
    open: String,
    unit: String,
}

/// Nine verified units of product `p` in three closed cartons, the first two on a closed
/// pallet; a fourth carton open with one more unit.
async fn dock(store: &Store) -> Dock {
    let mut p = product("p", GTIN);
    p.pack_sizes = vec![3, 2];
    store.add_product(&p).await.expect("add");
    packing_producer(store).await;
    let (batch, units) = verified_batch(store, "p", "A", 10).await;
    let (pallet, cartons) = cartons_and_a_pallet(store, batch.id, &units[..9]).await;
    let open = store
        .create_package(batch.id, PackageLevel::Carton, None)
        .await
        .expect("carton")
        .sscc;
    store
        .pack(&open, &units[9..])
        .await
        .expect("pack the open carton");
    Dock {
        pallet,
        on_pallet: cartons[0].clone(),
        loose: cartons[2].clone(),
        open,
        unit: units[0].clone(),
    }
}

fn order(reference: &str) -> NewDispatchOrder {
    NewDispatchOrder {
        order_ref: reference.into(),
        buyer_name: BUYER.into(),
        buyer_address: "福建省福州市鼓楼区五一路1号".into(),
        buyer_contact: "0591-87654321".into(),
    }
}

async fn the_station_ships_an_order(store: Store) {
    let dock = dock(&store).await;
    dispatch::add_order(&store, &actor(), &order("SO-1"))
        .await
        .expect("order 1");
    dispatch::add_order(&store, &actor(), &order("SO-2"))
        .await
        .expect("order 2");
    let twice = dispatch::add_order(&store, &actor(), &order("SO-1"))
        .await
        .expect_err("entered twice");
    assert!(twice.to_string().contains("exists already"), "{twice}");

    let listener = ScannerListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    let setup = DispatchSetup {
        store: store.clone(),
        actor: actor().on_device("dispatch@test"),
        commands: DispatchCommands {
            ship: "SHIP".into(),
            cancel: "CANCEL".into(),
            remove: "REMOVE".into(),
        },
        options: ParseOptions::default(),
    };
    let (stop_tx, stop) = watch::channel(false);
    let task = tokio::spawn(run_dispatch(setup, ScannerSource::Listen(listener), stop));
    let mut scanner = HandScanner::new(
        tokio::net::TcpStream::connect(&address)
            .await
            .expect("connect"),
    );

    let head = store.audit_head().await.expect("head");
    assert_eq!(
        scanner.scan_label(&dock.pallet).await.expect("reply"),
        format!(
            "BAD {} no order open: scan the order's reference first",
            dock.pallet
        )
    );
    let unknown = scanner.command("SO-9").await.expect("reply");
    assert!(
        unknown.starts_with("BAD SO-9 no dispatch order \"SO-9\""),
        "{unknown}"
    );
    assert_eq!(
        scanner.command("SO-1").await.expect("reply"),
        format!("OK ORDER SO-1 {BUYER}")
    );
    // Each refusal with the shipment's own reason.
    for (sscc, reason) in [
        (
            &dock.open,
            "not closed (allocated): close it first".to_owned(),
        ),
        (
            &dock.on_pallet,
            format!(
                "on pallet {}: ship the pallet, or take the carton off it first",
                dock.pallet
            ),
        ),
        (&"095060000000099996".to_owned(), "unknown SSCC".to_owned()),
    ] {
        let reply = scanner.scan_label(sscc).await.expect("reply");
        assert_eq!(reply, format!("BAD {sscc} {reason}"));
    }
    let unit = scanner.scan_unit(&dock.unit).await.expect("reply");
    assert!(
        unit.starts_with("BAD ") && unit.contains("SSCC label"),
        "{unit}"
    );
    assert_eq!(
        scanner.scan_label(&dock.pallet).await.expect("reply"),
        format!("OK {} 1 packages", dock.pallet)
    );
    // A package named on the pallet it rides on is refused by the shipment's rule.
    let inside = scanner.scan_label(&dock.on_pallet).await.expect("reply");
    assert!(inside.contains("which is named too"), "{inside}");
    // Checking scans writes nothing: the audit chain has not moved.
    assert_eq!(store.audit_head().await.expect("head"), head);

    let shipped = scanner.command("SHIP").await.expect("reply");
    assert!(
        shipped.starts_with("OK SHIPPED SO-1 shipment ")
            && shipped.ends_with(" 3 packages 6 units"),
        "{shipped}"
    );
    let filled = dispatch::order(&store, "SO-1").await.expect("order");
    let shipment = store
        .shipment(filled.shipment_id.expect("filled"))
        .await
        .expect("shipment");
    assert_eq!(shipment.order_ref.as_deref(), Some("SO-1"));
    assert_eq!(shipment.buyer_name, BUYER);
    assert_eq!(shipment.ssccs, vec![dock.pallet.clone()]);
    assert_eq!(
        store.code(&dock.unit).await.expect("unit").state,
        CodeState::Shipped
    );
    // The order is filled: scanned again, it is refused.
    let again = scanner.command("SO-1").await.expect("reply");
    assert!(
        again.starts_with("BAD SO-1 order SO-1 was shipped (shipment "),
        "{again}"
    );

    // The second order from the pick list's GS1-128 with AI (400), REMOVE and SHIP.
    assert_eq!(
        scanner.scan("]C1400SO-2").await.expect("reply"),
        format!("OK ORDER SO-2 {BUYER}")
    );
    assert_eq!(
        scanner.scan_label(&dock.loose).await.expect("reply"),
        format!("OK {} 1 packages", dock.loose)
    );
    assert_eq!(
        scanner.command("REMOVE").await.expect("reply"),
        "OK REMOVE scan what to take out of order SO-2"
    );
    assert_eq!(
        scanner.scan_label(&dock.loose).await.expect("reply"),
        format!("OK REMOVED {} 0 packages", dock.loose)
    );
    assert_eq!(
        scanner.command("SHIP").await.expect("reply"),
        "BAD SHIP nothing scanned for order SO-2"
    );
    scanner.scan_label(&dock.loose).await.expect("reply");
    let shipped = scanner.command("SHIP").await.expect("reply");
    assert!(shipped.ends_with(" 1 packages 3 units"), "{shipped}");
    let open = dispatch::orders_page(&store, true, Default::default())
        .await
        .expect("open orders");
    assert_eq!(open.total, 0);

    stop_tx.send(true).expect("stop");
    let stats = task.await.expect("the station");
    assert_eq!((stats.shipments, stats.packages, stats.units), (2, 4, 9));
    assert_eq!(stats.good + stats.bad, stats.scans);
    assert!(
        store
            .verify_audit()
            .await
            .expect("verify")
            .first_bad
            .is_none()
    );
}
both!(the_station_ships_an_order);

/// The ERP enters orders with an integrator's token, the clerk with an operator's; QA may
/// not (403, nothing written). A reference entered twice is a 400 naming `order`.
async fn orders_over_the_api(store: Store) {
    let mut tokens = Vec::new();
    for role in [Role::Integrator, Role::Operator, Role::Qa] {
        let name = format!("{}-user", role.as_str());
        users::add_user(&store, &actor(), &name, role, "correct horse battery")
            .await
            .expect("a user");
        tokens.push(
            users::create_token(&store, &actor(), &name, Some(1))
                .await
                .expect("a token")
                .token,
        );
    }
    let server = HttpServer::start(
        store.clone(),
        ServeOptions {
            addr: "127.0.0.1:0".parse().expect("an address"),
            tls: None,
        },
    )
    .await
    .expect("serve");
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/dispatch-orders", server.url());
    let body = |reference: &str| {
        serde_json::json!({
            "order_ref": reference, "buyer_name": BUYER, "buyer_address": "福州市",
            "buyer_contact": "0591-1",
        })
    };
    let head = store.audit_head().await.expect("head");
    let refused = client
        .post(&url)
        .bearer_auth(&tokens[2])
        .json(&body("SO-1"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(refused.status().as_u16(), 403);
    assert_eq!(store.audit_head().await.expect("head"), head);
    for (token, reference) in [(&tokens[0], "SO-1"), (&tokens[1], "SO-2")] {
        let created = client
            .post(&url)
            .bearer_auth(token)
            .json(&body(reference))
            .send()
            .await
            .expect("an answer");
        assert_eq!(created.status().as_u16(), 201);
    }
    let twice = client
        .post(&url)
        .bearer_auth(&tokens[0])
        .json(&body("SO-1"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(twice.status().as_u16(), 400);
    let problem: Value = twice.json().await.expect("JSON");
    assert!(problem.to_string().contains("exists already"), "{problem}");
    let list: Value = client
        .get(format!("{url}?open=true"))
        .bearer_auth(&tokens[2])
        .send()
        .await
        .expect("an answer")
        .json()
        .await
        .expect("JSON");
    assert_eq!(list["total"], 2);
    let one: Value = client
        .get(format!("{url}/SO-2"))
        .bearer_auth(&tokens[2])
        .send()
        .await
        .expect("an answer")
        .json()
        .await
        .expect("JSON");
    assert_eq!(one["buyer_name"], BUYER);
    assert!(one["shipment_id"].is_null());
    let missing = client
        .get(format!("{url}/SO-9"))
        .bearer_auth(&tokens[2])
        .send()
        .await
        .expect("an answer");
    assert_eq!(missing.status().as_u16(), 404);
}
both!(orders_over_the_api);

/// `tracemark dispatch order` and `dispatch orders`; a missing field is exit status 2 naming it.
#[test]
fn orders_on_the_command_line() {
    let dir = tempdir();
    let url = sqlite_url(dir.path());
    let out = tracemark(
        &url,
        &[
            "dispatch",
            "order",
            "--order",
            "SO-1",
            "--buyer-name",
            BUYER,
            "--buyer-address",
            "福州市",
            "--buyer-contact",
            "0591-1",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("SO-1  某某五金店"),
        "{}",
        stdout(&out)
    );
    let out = tracemark(
        &url,
        &[
            "dispatch",
            "order",
            "--order",
            "SO-2",
            "--buyer-name",
            BUYER,
            "--buyer-address",
            " ",
            "--buyer-contact",
            "0591-1",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("buyer_address"), "{}", stderr(&out));
    let out = tracemark(&url, &["dispatch", "orders", "--open", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let page: Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["order_ref"], "SO-1");
}
