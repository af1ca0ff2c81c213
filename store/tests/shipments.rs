//! Shipping on SQLite and PostgreSQL (issue 17 item 2, docs/shipping.md): every refusal names
//! every SSCC with its reason and changes nothing (the store compared before and after); a
//! shipment ships a pallet's cartons and every unit in them, once; the flow disclosure.

#[macro_use]
#[path = "../../controller/tests/common/mod.rs"]
mod common;

use common::*;
use tracemark_store::{
    CodeState, FlowField, NewShipment, PackageLevel, PackageState, ShipProblem, ShipRefusal, Store,
    StoreError, Transition,
};

const GTIN: &str = "09506000134352";

/// Product `p`: 3 units per carton, 2 cartons per pallet.
async fn packing_product(store: &Store) {
    let mut p = product("p", GTIN);
    p.pack_sizes = vec![3, 2];
    store.add_product(&p).await.expect("add the product");
}

/// A carton of batch `batch` holding `units`, closed when `close`.
async fn carton(store: &Store, batch: i64, units: &[String], close: bool) -> String {
    let carton = store
        .create_package(batch, PackageLevel::Carton, None)
        .await
        .expect("a carton");
    store.pack(&carton.sscc, units).await.expect("pack");
    if close {
        store
            .set_package_state(&carton.sscc, PackageState::Closed)
            .await
            .expect("close");
    }
    carton.sscc
}

/// Everything a shipment could change: the audit head, every package's state and shipment,
/// every code's state, the shipments.
async fn snapshot(store: &Store, batch: i64, codes: &[String]) -> String {
    let head = store.audit_head().await.expect("head");
    let packages: Vec<String> = store
        .packages_of_batch(batch)
        .await
        .expect("packages")
        .iter()
        .map(|p| format!("{} {} {:?}", p.sscc, p.state, p.shipment_id))
        .collect();
    let mut states = Vec::new();
    for code in codes {
        states.push(store.code(code).await.expect("a code").state);
    }
    let (shipments, total) = store.shipments_page(0, 100).await.expect("shipments");
    format!("{head:?}\n{packages:?}\n{states:?}\n{shipments:?} {total}")
}

fn to(ssccs: &[&str]) -> NewShipment {
    NewShipment {
        ssccs: ssccs.iter().map(|s| (*s).to_owned()).collect(),
        sale_time: Some("2026-12-06T08:00:00+08:00".into()),
        buyer_name: "某某五金店".into(),
        buyer_address: "福建省福州市鼓楼区".into(),
        buyer_contact: "0591-87654321".into(),
        order_ref: Some("PO-4711".into()),
    }
}

fn refusals<T: std::fmt::Debug>(result: Result<T, StoreError>) -> Vec<ShipRefusal> {
    match result {
        Err(StoreError::ShipRefused { refusals }) => refusals,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn refusal(sscc: &str, problem: ShipProblem) -> ShipRefusal {
    ShipRefusal {
        sscc: sscc.to_owned(),
        problem,
    }
}

async fn shipping(store: Store) {
    packing_product(&store).await;
    packing_producer(&store).await;
    let (batch, codes) = verified_batch(&store, "p", "L1", 15).await;
    let c1 = carton(&store, batch.id, &codes[0..3], true).await;
    let c2 = carton(&store, batch.id, &codes[3..6], true).await;
    let pallet = store
        .create_package(batch.id, PackageLevel::Pallet, None)
        .await
        .expect("a pallet")
        .sscc;
    store
        .pack_cartons(&pallet, &[c1.clone(), c2.clone()])
        .await
        .expect("palletise");
    store
        .set_package_state(&pallet, PackageState::Closed)
        .await
        .expect("close the pallet");
    let c3 = carton(&store, batch.id, &codes[6..9], true).await;
    let open = carton(&store, batch.id, &codes[9..12], false).await;
    let marked = carton(&store, batch.id, &codes[12..15], true).await;
    // A unit marked shipped by hand, outside any shipment: its carton may not ship.
    store
        .transition_all(&[Transition::to(codes[13].as_str(), CodeState::Shipped)])
        .await
        .expect("mark one unit shipped");
    let unknown = "095060000099999997";

    // Every refusal at once, in the order given; nothing changes.
    let before = snapshot(&store, batch.id, &codes).await;
    let refused = refusals(
        store
            .ship(&to(&[unknown, &c1, &pallet, &open, &marked, &c3, &c3]))
            .await,
    );
    assert_eq!(
        refused,
        [
            refusal(unknown, ShipProblem::Unknown),
            refusal(&c1, ShipProblem::InNamedPallet(pallet.clone())),
            refusal(&open, ShipProblem::NotClosed(PackageState::Allocated)),
            refusal(
                &marked,
                ShipProblem::Units(vec![(codes[13].clone(), CodeState::Shipped)])
            ),
            refusal(&c3, ShipProblem::ListedTwice),
        ]
    );
    assert_eq!(snapshot(&store, batch.id, &codes).await, before);
    // A carton on a pallet that is not named.
    assert_eq!(
        refusals(store.ship(&to(&[&c2])).await),
        [refusal(&c2, ShipProblem::OnPallet(pallet.clone()))]
    );
    // A flow record without a buyer: the field is named.
    let mut nameless = to(&[&c3]);
    nameless.buyer_name = " ".into();
    assert!(
        matches!(
            store.ship(&nameless).await,
            Err(StoreError::Invalid {
                field: "buyer_name",
                ..
            })
        ),
        "a shipment without a buyer"
    );
    assert_eq!(snapshot(&store, batch.id, &codes).await, before);

    // The pallet (with its two cartons) and a carton: 9 units, one flow record.
    let shipped = store.ship(&to(&[&pallet, &c3])).await.expect("ship");
    let mut named = vec![pallet.clone(), c3.clone()];
    named.sort();
    assert_eq!(shipped.ssccs, named);
    assert_eq!((shipped.quantity, shipped.packages), (9, 4));
    assert_eq!(shipped.sale_time, "2026-12-06T00:00:00Z");
    assert_eq!(shipped.order_ref.as_deref(), Some("PO-4711"));
    for sscc in [&pallet, &c1, &c2, &c3] {
        let package = store.package(sscc).await.expect("a package");
        assert_eq!(
            (package.state, package.shipment_id),
            (PackageState::Shipped, Some(shipped.id)),
            "{sscc}"
        );
    }
    for code in &codes[0..9] {
        assert_eq!(
            store.code(code).await.expect("a code").state,
            CodeState::Shipped
        );
    }
    for code in &codes[9..12] {
        assert_eq!(
            store.code(code).await.expect("a code").state,
            CodeState::Packed
        );
    }
    let event = store
        .events(shipped.event_seq - 1, 1)
        .await
        .expect("events")
        .remove(0);
    assert_eq!(event.kind, "shipment.ship");
    assert_eq!(event.subject, format!("shipment:{}", shipped.id));

    // Shipped twice: the carton again, and a carton whose pallet shipped.
    let before = snapshot(&store, batch.id, &codes).await;
    assert_eq!(
        refusals(store.ship(&to(&[&c3, &c1])).await),
        [
            refusal(&c3, ShipProblem::Shipped(Some(shipped.id))),
            refusal(&c1, ShipProblem::Shipped(Some(shipped.id))),
        ]
    );
    assert_eq!(snapshot(&store, batch.id, &codes).await, before);
    // Shipped is final: no rework, no state change.
    assert!(
        store
            .set_package_state(&c3, PackageState::Reopened)
            .await
            .is_err()
    );
    assert!(
        store
            .transition_all(&[Transition::to(codes[0].as_str(), CodeState::Verified)])
            .await
            .is_err()
    );

    // The shipment of a unit, the list.
    assert_eq!(
        store.shipment_of_code(&codes[4]).await.expect("read"),
        Some(shipped.clone())
    );
    assert_eq!(
        store.shipment_of_code(&codes[10]).await.expect("read"),
        None
    );
    let (page, total) = store.shipments_page(0, 10).await.expect("a page");
    assert_eq!((page, total), (vec![shipped.clone()], 1));
    assert_eq!(
        store.shipment_batches(shipped.id).await.expect("batches"),
        [batch.id]
    );

    // The flow disclosure: nothing public by default, then the producer's choice.
    assert!(store.flow_disclosure("p").await.expect("read").is_empty());
    let chosen = store
        .set_flow_disclosure("p", &[FlowField::Quantity, FlowField::SaleTime])
        .await
        .expect("set");
    assert_eq!(chosen, [FlowField::SaleTime, FlowField::Quantity]);
    assert_eq!(store.flow_disclosure("p").await.expect("read"), chosen);
    store.set_flow_disclosure("p", &[]).await.expect("set none");
    assert!(store.flow_disclosure("p").await.expect("read").is_empty());
    assert!(matches!(
        store.set_flow_disclosure("nope", &[]).await,
        Err(StoreError::NotFound { .. })
    ));

    let report = store.verify_audit().await.expect("verify");
    assert_eq!(report.first_bad, None, "{report:?}");
}
both!(shipping);

/// A backup holds the shipments and the disclosure (the copy knows the new tables).
async fn backup_keeps_shipments(store: Store) {
    packing_product(&store).await;
    packing_producer(&store).await;
    let (batch, codes) = verified_batch(&store, "p", "L1", 3).await;
    let c1 = carton(&store, batch.id, &codes, true).await;
    let shipped = store.ship(&to(&[&c1])).await.expect("ship");
    store
        .set_flow_disclosure("p", &[FlowField::BuyerName])
        .await
        .expect("set");
    let dir = tempdir();
    let file = dir.path().join("backup.db");
    store.backup(&file).await.expect("backup");
    let copy = open(&format!("sqlite://{}", file.display())).await;
    assert_eq!(copy.shipment(shipped.id).await.expect("read"), shipped);
    assert_eq!(
        copy.flow_disclosure("p").await.expect("read"),
        [FlowField::BuyerName]
    );
    copy.close().await;
}
both!(backup_keeps_shipments);
