//! The case camera's packing task against a real store, on SQLite and PostgreSQL
//! (`aggregation::case_camera`; docs/aggregation.md "Case camera mode"): cases of units verified
//! by an earlier run (loaded at start) and of units verified after the case was read (the race
//! with the forwarded stream) are packed; refused cases are recorded with their reasons; a case
//! whose unit is never verified is refused once the hold runs out; the last case closes short,
//! and accepted cases fill pallets. After a restart, a case read redelivered for a case already
//! packed is recognised, not reworked. In a central store outage the cases are decided and
//! packed once the line's records have reached the store (issue 18). A new carton retried after
//! its first try's answer was lost counts as done (issue 20).

#[macro_use]
mod common;

use common::*;
use tokio::sync::{mpsc, watch};
use tracemark::aggregation::case_camera::spawn_case_camera;
use tracemark::aggregation::case_mqtt::CaseReceived;
use tracemark::aggregation::case_read::{CaseRead, SymbolRead};
use tracemark::aggregation::store_gate::{Attempt, carton_holding, new_carton};
use tracemark::aggregation::{Plan, StoreGate};
use tracemark_store::case_rework::CASE_REJECTED;
use tracemark_store::fault::Outage;
use tracemark_store::writer::WriterStatus;
use tracemark_store::{CodeState, PackageLevel, Store, StoreError, Transition};

const GTIN: &str = "09506000134352";

/// The scanner data of a stored code `(01)…(21)…` (21 is last: no separator needed).
fn data(code: &str) -> String {
    format!("]d2{}", code.replace("(01)", "01").replace("(21)", "21"))
}

fn case(seq: u64, codes: &[&str], short: bool) -> CaseReceived {
    CaseReceived::Case(CaseRead {
        reader: "casecam".into(),
        seq,
        ts: None,
        reads: codes
            .iter()
            .map(|c| SymbolRead {
                data: Some(data(c)),
                grade: None,
            })
            .collect(),
        short,
    })
}

async fn set(store: &Store, codes: &[String], states: &[CodeState]) {
    for state in states {
        let changes: Vec<Transition> = codes
            .iter()
            .map(|c| Transition::to(c.as_str(), *state))
            .collect();
        store.transition_all(&changes).await.expect("transition");
    }
}

async fn station_decides_and_packs(store: Store) {
    store
        .add_product(&product("p", GTIN))
        .await
        .expect("add the product");
    packing_producer(&store).await;
    // 16 verified before the station starts; 8 more allocated to the batch, printed only.
    let (batch, verified) = verified_batch(&store, "p", "L1", 16).await;
    let late = store
        .allocate("p", 8, Some(batch.id))
        .await
        .expect("allocate")
        .codes;
    set(&store, &late, &[CodeState::Sent, CodeState::Printed]).await;
    let (other, foreign) = verified_batch(&store, "p", "L2", 1).await;
    assert_ne!(other.id, batch.id);

    let (cases_tx, cases) = mpsc::channel(16);
    let plan = Plan {
        units_per_case: 4,
        cases_per_pallet: 2,
        case_packer_count: false,
    };
    let (codes_tx, task) = spawn_case_camera(
        store.clone(),
        batch.id,
        plan,
        cases,
        None,
        StoreGate::default(),
    );
    let v: Vec<&str> = verified.iter().map(String::as_str).collect();
    let l: Vec<&str> = late.iter().map(String::as_str).collect();
    // 1: units of an earlier run, known from the store at start.
    cases_tx.send(case(1, &v[0..4], false)).await.expect("send");
    // 2: read before its units' `verified` committed; they commit and are forwarded after.
    cases_tx.send(case(2, &l[0..4], false)).await.expect("send");
    set(&store, &late[0..4], &[CodeState::Verified]).await;
    for code in &late[0..4] {
        codes_tx.send(code.clone()).await.expect("forward");
    }
    // 3: a unit of case 1 again, and 4: a unit of another batch.
    cases_tx
        .send(case(3, &[v[4], v[5], v[6], v[0]], false))
        .await
        .expect("send");
    cases_tx
        .send(case(4, &[v[7], v[8], v[9], &foreign[0]], false))
        .await
        .expect("send");
    // 5: a unit never verified: held, then refused when the hold runs out.
    cases_tx
        .send(case(5, &[v[10], v[11], v[12], l[4]], false))
        .await
        .expect("send");
    // 6: a redelivery of case 2 (QoS 1) is dropped; 7: the last case, closed short.
    cases_tx.send(case(2, &l[0..4], false)).await.expect("send");
    cases_tx
        .send(case(7, &[v[13], v[14]], true))
        .await
        .expect("send");
    drop(codes_tx);
    drop(cases_tx);
    let report = task.await.expect("the task");

    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(report.cases_reworked, 3, "{report:?}");
    assert_eq!(report.packed, 10, "{report:?}");
    assert_eq!(report.cartons, 3, "{report:?}");
    assert_eq!(report.partial_cartons, 1, "{report:?}");
    assert_eq!(report.pallets, 2, "{report:?}");
    for code in v[0..4].iter().chain(&l[0..4]).chain(&v[13..15]) {
        let record = store.code(code).await.expect("code");
        assert_eq!(record.state, CodeState::Packed, "{code}");
    }
    for code in &v[4..13] {
        assert_eq!(
            store.code(code).await.expect("code").state,
            CodeState::Verified,
            "{code} is loose"
        );
    }
    let packages = store.packages_of_batch(batch.id).await.expect("packages");
    let cartons: Vec<_> = packages
        .iter()
        .filter(|p| p.level == PackageLevel::Carton)
        .collect();
    assert_eq!(cartons.len(), 3);
    assert!(cartons.iter().all(|c| c.parent.is_some()), "{cartons:?}");

    let events = store.events(0, 10_000).await.expect("events");
    let reasons: Vec<String> = events
        .iter()
        .filter(|e| e.kind == CASE_REJECTED)
        .map(|e| {
            let detail: serde_json::Value = serde_json::from_str(&e.detail).expect("JSON");
            detail["reasons"][0].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    assert_eq!(
        reasons,
        [
            format!("{}: already packed", v[0]),
            format!("{}: foreign", foreign[0]),
            format!("{}: rejected", l[4]),
        ]
    );

    // A restart: a new task, and the broker redelivers case 2's read, which the killed run had
    // not acknowledged. Its carton is the record: no rework, nothing packed twice.
    let (cases_tx, cases) = mpsc::channel(16);
    let (codes_tx, task) = spawn_case_camera(
        store.clone(),
        batch.id,
        plan,
        cases,
        None,
        StoreGate::default(),
    );
    cases_tx.send(case(2, &l[0..4], false)).await.expect("send");
    // A case of units packed in two cartons is not a repeat: rework.
    cases_tx
        .send(case(8, &[v[0], v[1], l[0], l[1]], false))
        .await
        .expect("send");
    drop(codes_tx);
    drop(cases_tx);
    let report = task.await.expect("the task");
    assert_eq!(report.case_reads_repeated, 1, "{report:?}");
    assert_eq!(report.cases_reworked, 1, "{report:?}");
    assert_eq!(report.cartons, 0, "{report:?}");
    assert_eq!(report.failed, 0, "{report:?}");
}

both!(station_decides_and_packs);

/// A central store outage (issue 18, `aggregation::store_gate`): the line's records wait in the
/// edge journal, so the station is fed units whose `verified` the store does not hold yet. The
/// cases read meanwhile are packed once the journal has been forwarded; nothing fails, nothing
/// is packed twice.
async fn cases_read_in_an_outage_are_packed_once_the_journal_is_forwarded(store: Store) {
    store
        .add_product(&product("p", GTIN))
        .await
        .expect("add the product");
    packing_producer(&store).await;
    let (batch, verified) = verified_batch(&store, "p", "L1", 4).await;
    // Four more whose `verified` went into the journal: printed, as far as the store knows.
    let journaled = store
        .allocate("p", 4, Some(batch.id))
        .await
        .expect("allocate")
        .codes;
    set(&store, &journaled, &[CodeState::Sent, CodeState::Printed]).await;

    // The station's own connection to the store goes down with the outage.
    let outage = Outage::manual();
    let station_store = Store::open_with_outage(store.url(), actor(), outage.clone())
        .await
        .expect("the station's store");
    outage.begin();
    let (status, writer) = watch::channel(WriterStatus {
        unreachable: true,
        held: 0,
        spooled: 4,
    });
    let (cases_tx, cases) = mpsc::channel(16);
    let plan = Plan {
        units_per_case: 4,
        cases_per_pallet: 2,
        case_packer_count: false,
    };
    let (codes_tx, task) = spawn_case_camera(
        station_store.clone(),
        batch.id,
        plan,
        cases,
        None,
        StoreGate::of_writer(writer),
    );
    for code in &journaled {
        codes_tx.send(code.clone()).await.expect("forward");
    }
    let v: Vec<&str> = verified.iter().map(String::as_str).collect();
    let j: Vec<&str> = journaled.iter().map(String::as_str).collect();
    cases_tx.send(case(1, &v, false)).await.expect("send");
    cases_tx.send(case(2, &j, false)).await.expect("send");
    let during = store.packages_of_batch(batch.id).await.expect("packages");
    assert!(
        during.is_empty(),
        "nothing packed in the outage: {during:?}"
    );

    // The store answers again, and the writer forwards its journal: then packing goes on.
    outage.end();
    set(&store, &journaled, &[CodeState::Verified]).await;
    status.send_replace(WriterStatus::default());
    drop(codes_tx);
    drop(cases_tx);
    let report = task.await.expect("the task");
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(report.cases_reworked, 0, "{report:?}");
    assert_eq!(report.packed, 8, "{report:?}");
    assert_eq!(report.cartons, 2, "{report:?}");
    assert_eq!(report.pallets, 1, "{report:?}");
    for code in verified.iter().chain(&journaled) {
        let record = store.code(code).await.expect("code");
        assert_eq!(record.state, CodeState::Packed, "{code}");
    }
    let packages = store.packages_of_batch(batch.id).await.expect("packages");
    assert_eq!(packages.len(), 3, "two cartons on one pallet: {packages:?}");
    station_store.close().await;
}

both!(cases_read_in_an_outage_are_packed_once_the_journal_is_forwarded);

/// A carton made with its units in one transaction (issue 20), retried after the store went
/// away: when the first try had committed and its answer was lost, the retry finds the carton
/// holding exactly those units and counts it as done; a first try refused the same way, or a
/// retry whose units are not exactly one carton's, is refused as it was.
async fn a_retried_new_carton_whose_answer_was_lost_counts_as_done(store: Store) {
    store
        .add_product(&product("p", GTIN))
        .await
        .expect("add the product");
    packing_producer(&store).await;
    let (batch, codes) = verified_batch(&store, "p", "L1", 6).await;
    let first = new_carton(&store, Attempt::First, batch.id, 4, &codes[0..3])
        .await
        .expect("the first try");
    assert_eq!((first.children_count, first.capacity), (3, 4));

    let again = new_carton(&store, Attempt::Retry, batch.id, 4, &codes[0..3])
        .await
        .expect("the retry of a try that was committed");
    assert_eq!(again, first, "the same carton, not a second one");
    let first_again = new_carton(&store, Attempt::First, batch.id, 4, &codes[0..3]).await;
    assert!(
        matches!(first_again, Err(StoreError::PackRefused { .. })),
        "{first_again:?}"
    );
    // Two of the carton's units and one loose: not the carton's case, refused.
    let other = [codes[0].clone(), codes[1].clone(), codes[3].clone()];
    let mixed = new_carton(&store, Attempt::Retry, batch.id, 4, &other).await;
    assert!(
        matches!(mixed, Err(StoreError::PackRefused { .. })),
        "{mixed:?}"
    );
    let cartons = store.packages_of_batch(batch.id).await.expect("packages");
    assert_eq!(cartons.len(), 1, "{cartons:?}");
    assert_eq!(
        carton_holding(&store, &codes[0..3]).await.expect("read"),
        Some(first.sscc)
    );
    assert_eq!(
        carton_holding(&store, &codes[0..2]).await.expect("read"),
        None
    );
    assert_eq!(
        carton_holding(&store, &codes[3..5]).await.expect("read"),
        None
    );
}
both!(a_retried_new_carton_whose_answer_was_lost_counts_as_done);
