//! The label station against the simulated ZPL label printer and label scanner (issue 14 item
//! 3): a good label verifies the package (at a packing station's close, and closes it in the same
//! transaction: issue 20); a wrong barcode and an unreadable label are recorded
//! and reprinted; a printer out of ribbon is waited out with the operator alarm up; a package
//! whose labels never read back stays open. On SQLite and PostgreSQL.

#[macro_use]
mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tracemark::aggregation::label::{LabelError, LabelSettings, LabelStation};
use tracemark::verify::mqtt::{Received, Subscription, receive};
use tracemark::verify::payload::FieldMap;
use tracemark_drivers::transport::Transport;
use tracemark_drivers::zpl::logistic::{DEFAULT_TEMPLATE_NAME, LogisticTemplate};
use tracemark_sim::labels::{LabelFaultRates, LabelSim, Misprint};
use tracemark_sim::marker::MarkerSim;
use tracemark_store::label::LabelFault;
use tracemark_store::{PackageLevel, PackageState, Store};

const SCANNER: &str = "labelscan";

fn template_body() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../line-configs/labels/logistic-label.zpl");
    std::fs::read_to_string(path).expect("template")
}

/// The simulators on a free port, the scanner's payloads parsed as the controller's MQTT
/// subscription parses them, and the station.
async fn station(store: &Store) -> (LabelStation, LabelSim) {
    let rates = LabelFaultRates {
        ribbon_replace_ms: 300,
        ..LabelFaultRates::NONE
    };
    let sim = LabelSim::new(&template_body(), rates, 7);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let printer = sim.printer().clone();
    tokio::spawn(async move { printer.serve_tcp(listener).await });
    let (payloads_tx, mut payloads) = mpsc::unbounded_channel();
    tokio::spawn(sim.clone().run_scanner(SCANNER.to_owned(), payloads_tx));
    let (reads_tx, reads) = mpsc::channel(16);
    let subscription =
        Subscription::new("localhost", 1883, "line-1").with_reader(SCANNER, FieldMap::default());
    tokio::spawn(async move {
        let topic = format!("tracemark/line-1/vision/{SCANNER}/result");
        while let Some(payload) = payloads.recv().await {
            let received = receive(&topic, &payload, &subscription);
            assert!(matches!(received, Received::Result(_)), "{received:?}");
            if reads_tx.send(received).await.is_err() {
                return;
            }
        }
    });
    let settings = LabelSettings {
        transport: Transport::Tcp(address.to_string()),
        template: LogisticTemplate::new(DEFAULT_TEMPLATE_NAME, &template_body()).expect("template"),
        scanner: SCANNER.to_owned(),
        reprint_limit: 2,
        read_timeout: Duration::from_secs(5),
        print_timeout: Duration::from_secs(5),
        reply_timeout: Duration::from_millis(500),
    };
    (LabelStation::new(store.clone(), settings, reads), sim)
}

async fn carton_of(store: &Store, batch: i64, code: &str) -> String {
    let carton = store
        .create_package(batch, PackageLevel::Carton, Some(2))
        .await
        .expect("carton");
    store
        .pack(&carton.sscc, &[code.to_owned()])
        .await
        .expect("pack");
    carton.sscc
}

async fn label_events(store: &Store, sscc: &str) -> Vec<serde_json::Value> {
    store
        .events(0, 10_000)
        .await
        .expect("events")
        .into_iter()
        .filter(|e| e.kind == "package.label_rejected" && e.subject == format!("package:{sscc}"))
        .map(|e| serde_json::from_str(&e.detail).expect("detail"))
        .collect()
}

async fn label_station_verifies_reprints_and_waits(store: Store) {
    packing_producer(&store).await;
    store
        .add_product(&product("p", "09506000134352"))
        .await
        .expect("product");
    let (batch, codes) = verified_batch(&store, "p", "L1", 5).await;
    let (mut station, sim) = station(&store).await;

    // A good label: verified with its count, then it closes.
    let good = carton_of(&store, batch.id, &codes[0]).await;
    sim.script(None, false);
    let outcome = station.label_and_verify(&good).await.expect("good label");
    assert_eq!((outcome.labels, outcome.rejected.len()), (1, 0));
    let package = store.package(&good).await.expect("package");
    assert_eq!(
        (package.state, package.label_count),
        (PackageState::Verified, Some(1))
    );
    store
        .set_package_state(&good, PackageState::Closed)
        .await
        .expect("a verified package closes");

    // The wrong barcode (the previous label's), then a good one.
    let second = carton_of(&store, batch.id, &codes[1]).await;
    sim.script(Some(Misprint::WrongBarcode), false);
    sim.script(None, false);
    let outcome = station.label_and_verify(&second).await.expect("reprinted");
    assert_eq!(outcome.labels, 2);
    assert_eq!(outcome.rejected[0].fault, LabelFault::Mismatch);
    assert_eq!(outcome.rejected[0].read, Some(format!("]C100{good}")));
    let events = label_events(&store, &second).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["fault"], "mismatch");
    assert_eq!(events[0]["read"], format!("]C100{good}"));
    assert_eq!(events[0]["attempt"], 1);

    // Unreadable, then good; the ribbon runs out as the good one prints: the station waits,
    // with the alarm up, until the ribbon is replaced, and goes on.
    let third = carton_of(&store, batch.id, &codes[2]).await;
    let mut alarm = station.alarm();
    let raised = tokio::spawn(async move {
        alarm
            .wait_for(|a| a.as_deref().is_some_and(|a| a.contains("ribbon out")))
            .await
            .is_ok()
    });
    sim.script(Some(Misprint::Unreadable), false);
    sim.script(None, true);
    let outcome = station.label_and_verify(&third).await.expect("reprinted");
    assert_eq!(outcome.labels, 2);
    assert_eq!(outcome.rejected[0].fault, LabelFault::NoRead);
    assert_eq!(
        label_events(&store, &third).await[0]["read"],
        serde_json::Value::Null
    );
    assert!(
        raised.await.expect("alarm task"),
        "the alarm said ribbon out"
    );
    assert_eq!(*station.alarm().borrow(), None, "cleared");
    assert!(
        station.report().operator_waits >= 1,
        "{:?}",
        station.report()
    );

    // The next package prints as usual. A packing station's close: the label read back
    // verifies and closes the package in one transaction, both steps recorded in order.
    let fourth = carton_of(&store, batch.id, &codes[3]).await;
    sim.script(None, false);
    let (seq, _) = store.audit_head().await.expect("head");
    let packed = store.package(&fourth).await.expect("the carton");
    let closed = station
        .label_and_close(&packed)
        .await
        .expect("after the ribbon");
    assert_eq!(
        (closed.state, closed.label_count, closed.short),
        (PackageState::Closed, Some(1), true)
    );
    let steps: Vec<(String, serde_json::Value)> = store
        .events(seq, 100)
        .await
        .expect("events")
        .into_iter()
        .filter(|e| e.subject == format!("package:{fourth}"))
        .map(|e| {
            let detail: serde_json::Value = serde_json::from_str(&e.detail).expect("detail");
            (e.kind, detail["to"].clone())
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("package.state".to_owned(), "labelled".into()),
            ("package.state".to_owned(), "verified".into()),
            ("package.state".to_owned(), "closed".into()),
        ]
    );

    // Never readable: three labels, three records, and the package stays open.
    let fifth = carton_of(&store, batch.id, &codes[4]).await;
    for _ in 0..3 {
        sim.script(Some(Misprint::Unreadable), false);
    }
    let error = station
        .label_and_verify(&fifth)
        .await
        .expect_err("gives up");
    assert!(
        matches!(error, LabelError::Rejected { labels: 3, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("stays open"), "{error}");
    assert_eq!(label_events(&store, &fifth).await.len(), 3);
    let package = store.package(&fifth).await.expect("package");
    assert_eq!(
        (package.state, package.label_count),
        (PackageState::Labelled, None)
    );

    // The ground truth: what is physically on each package is its own readable label last.
    let applied = sim.applied();
    assert_eq!(applied.len(), 1 + 2 + 2 + 1 + 3);
    let mut last: BTreeMap<String, bool> = BTreeMap::new();
    for label in &applied {
        last.insert(label.sent_for.clone().expect("sent for"), label.good());
    }
    for sscc in [&good, &second, &third, &fourth] {
        assert_eq!(last.get(sscc.as_str()), Some(&true), "{sscc}: {applied:?}");
    }
    assert_eq!(last.get(fifth.as_str()), Some(&false));
    let report = station.report().clone();
    assert_eq!(
        (
            report.printed,
            report.verified,
            report.rejected,
            report.failed
        ),
        (9, 4, 5, 1)
    );
}

both!(label_station_verifies_reprints_and_waits);
