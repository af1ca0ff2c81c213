//! The `manual` packing station end to end (docs/aggregation.md "Manual mode"): a simulated
//! hand scanner (`tracemark_sim::scanner`) over a real TCP socket (port 0) and over a
//! pseudo-terminal, the station task, and the store. Every answer of the station — good, not
//! verified, other batch, already packed, unknown, package closed, full, nothing open,
//! unreadable — then a batch's units packed into cartons and the cartons onto pallets; the
//! store's hierarchy and the batch's package reconciliation balance. On SQLite and PostgreSQL.

#[macro_use]
mod common;

use common::*;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracemark::aggregation::manual::{ScannerSource, StationSetup, StationStats, run_station};
use tracemark::config::Commands;
use tracemark_drivers::scanner::{ParseOptions, ScannerListener};
use tracemark_drivers::transport::{SerialSettings, Transport};
use tracemark_sim::scanner::{HandScanner, Packer, opened_sscc};
use tracemark_store::{CodeState, PackageLevel, PackageState, RejectReason, Store, Transition};

const GTIN: &str = "09506000134352";

fn commands() -> Commands {
    Commands {
        new: "NEW".into(),
        close: "CLOSE".into(),
        cancel: "CANCEL".into(),
        remove: "REMOVE".into(),
    }
}

fn setup(store: &Store, batch: i64, level: PackageLevel, capacity: i64) -> StationSetup {
    StationSetup {
        store: store.clone(),
        actor: actor().on_device("packing@test"),
        batch,
        level,
        capacity: Some(capacity),
        commands: commands(),
        options: ParseOptions::default(),
        labels: None,
    }
}

/// A station listening on a free local port; returns the task and the address.
async fn listening(
    setup: StationSetup,
    stop: watch::Receiver<bool>,
) -> (JoinHandle<StationStats>, String) {
    let listener = ScannerListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    let task = tokio::spawn(run_station(setup, ScannerSource::Listen(listener), stop));
    (task, address)
}

async fn scanner_at(address: &str) -> HandScanner<tokio::net::TcpStream> {
    HandScanner::new(
        tokio::net::TcpStream::connect(address)
            .await
            .expect("connect"),
    )
}

/// Batch A with seven verified units and one rejected one (last), batch B with one verified.
async fn line_output(store: &Store) -> (i64, Vec<String>, String, String) {
    let mut p = product("p", GTIN);
    p.pack_sizes = vec![3, 2];
    store.add_product(&p).await.expect("add");
    packing_producer(store).await;
    let (a, codes) = verified_batch(store, "p", "A", 7).await;
    let (_, other) = verified_batch(store, "p", "B", 1).await;
    let rejected = store
        .allocate("p", 1, Some(a.id))
        .await
        .expect("allocate")
        .codes
        .remove(0);
    let mut changes: Vec<Transition> = [CodeState::Sent, CodeState::Printed]
        .into_iter()
        .map(|s| Transition::to(rejected.as_str(), s))
        .collect();
    let mut reject = Transition::to(rejected.as_str(), CodeState::Rejected);
    reject.reason = Some(RejectReason::NoRead);
    changes.push(reject);
    store.transition_all(&changes).await.expect("reject");
    (a.id, codes, rejected, other[0].clone())
}

async fn every_answer_then_a_batch_packed_onto_pallets(store: Store) {
    let (batch, units, rejected, foreign) = line_output(&store).await;
    let (stop_tx, stop) = watch::channel(false);
    let (cartons_task, cartons_at) =
        listening(setup(&store, batch, PackageLevel::Carton, 3), stop.clone()).await;
    let (pallets_task, pallets_at) =
        listening(setup(&store, batch, PackageLevel::Pallet, 2), stop).await;
    let mut scanner = scanner_at(&cartons_at).await;

    // Nothing open yet.
    let u = |i: usize| units[i].as_str();
    assert_eq!(
        scanner.scan_unit(u(0)).await.expect("reply"),
        format!("BAD {} no carton open: scan its label or NEW", u(0))
    );
    assert_eq!(
        scanner.command("CLOSE").await.expect("reply"),
        "BAD CLOSE no carton open: scan its label or NEW"
    );
    // Lines that are no scans.
    assert_eq!(
        scanner.send_raw(b"]C0CL\xFFSE\r\n").await.expect("reply"),
        "BAD ? byte 5 is not UTF-8 (0xFF)"
    );
    assert!(
        scanner
            .send_raw(b"CLOSE\r")
            .await
            .expect("reply")
            .starts_with("BAD ? no symbology identifier")
    );
    assert!(
        scanner
            .scan("]C0HELLO")
            .await
            .expect("reply")
            .starts_with("BAD HELLO not a code")
    );

    let reply = scanner.command("NEW").await.expect("reply");
    let first = opened_sscc(&reply).expect("opened");
    assert_eq!(reply, format!("OK OPEN {first} 0/3"));
    assert_eq!(
        scanner.scan_unit(u(0)).await.expect("reply"),
        format!("OK {} 1/3", u(0))
    );
    // Each refusal, with the store's reason; a refused scan changes nothing in the store.
    let head = store.audit_head().await.expect("head");
    let unknown = format!("(01){GTIN}(21)999999999999");
    for (code, reason) in [
        (u(0), format!("already scanned into {first}")),
        (rejected.as_str(), "not verified (rejected)".to_owned()),
        (
            foreign.as_str(),
            format!("of batch {}, not {batch}", batch + 1),
        ),
        (unknown.as_str(), "unknown code".to_owned()),
    ] {
        assert_eq!(
            scanner.scan_unit(code).await.expect("reply"),
            format!("BAD {code} {reason}")
        );
    }
    assert_eq!(store.audit_head().await.expect("head"), head);
    for (i, n) in [(1, 2), (2, 3)] {
        assert_eq!(
            scanner.scan_unit(u(i)).await.expect("reply"),
            format!("OK {} {n}/3", u(i))
        );
    }
    // Full.
    assert_eq!(
        scanner.scan_unit(u(3)).await.expect("reply"),
        format!("BAD {} over capacity (3)", u(3))
    );
    // REMOVE then the unit: out of the scans; scanned again: in.
    assert!(
        scanner
            .command("REMOVE")
            .await
            .expect("reply")
            .starts_with("OK REMOVE")
    );
    assert_eq!(
        scanner.scan_unit(u(2)).await.expect("reply"),
        format!("OK REMOVED {} 2/3", u(2))
    );
    assert_eq!(
        scanner.scan_unit(u(2)).await.expect("reply"),
        format!("OK {} 3/3", u(2))
    );
    // Nothing is linked before CLOSE.
    assert_eq!(
        store.package(&first).await.expect("carton").children_count,
        0
    );
    assert_eq!(
        scanner.command("CLOSE").await.expect("reply"),
        format!("OK CLOSED {first} 3/3")
    );
    // The closed carton's label does not open it again.
    assert_eq!(
        scanner.scan_label(&first).await.expect("reply"),
        format!("BAD {first} carton closed (reopen it first: tracemark pack reopen {first})")
    );
    // Already packed.
    let reply = scanner.command("NEW").await.expect("reply");
    let second = opened_sscc(&reply).expect("opened");
    assert_eq!(
        scanner.scan_unit(u(1)).await.expect("reply"),
        format!("BAD {} already in {first}", u(1))
    );
    assert!(
        scanner
            .command("CANCEL")
            .await
            .expect("reply")
            .starts_with(&format!("OK CANCEL {second} 0 scans"))
    );
    // A carton allocated by `pack new` opens by its label.
    let third = tracemark::app::packing::new_package(
        &store,
        &actor(),
        batch,
        PackageLevel::Carton,
        Some(3),
    )
    .await
    .expect("pack new")
    .sscc;
    assert_eq!(
        scanner.scan_label(&third).await.expect("reply"),
        format!("OK OPEN {third} 0/3")
    );
    for (i, n) in [(3, 1), (4, 2), (5, 3)] {
        assert_eq!(
            scanner.scan_unit(u(i)).await.expect("reply"),
            format!("OK {} {n}/3", u(i))
        );
    }
    assert!(
        scanner
            .command("CLOSE")
            .await
            .expect("reply")
            .starts_with("OK CLOSED")
    );
    // The packer's routine for the rest: one short carton.
    let mut packer = Packer::new(scanner);
    let cases = packer.fill_all(&units[6..], 3, true).await.expect("packed");
    assert_eq!(cases.len(), 1);
    let fourth = cases[0].sscc.clone();
    assert_eq!(cases[0].closed, format!("OK CLOSED {fourth} 1/3 short"));
    // The carton `NEW` opened and CANCEL left is empty: void it.
    tracemark::app::packing::void(&store, &actor(), &second)
        .await
        .expect("void");

    // The palletiser: cartons onto pallets of 2.
    let mut palletiser = scanner_at(&pallets_at).await;
    assert_eq!(
        palletiser.scan_unit(u(0)).await.expect("reply"),
        format!("BAD {} a unit: this station puts cartons on pallets", u(0))
    );
    assert_eq!(
        palletiser.scan_label(&first).await.expect("reply"),
        format!("BAD {first} a carton: this station fills pallets")
    );
    let mut pallet_packer = Packer::new(palletiser);
    let pallets = pallet_packer
        .fill_all(&[first.clone(), third.clone(), fourth.clone()], 2, false)
        .await
        .expect("pallets");
    assert_eq!(pallets.len(), 2);
    assert!(pallets.iter().all(|p| p.refused.is_empty()), "{pallets:?}");
    assert!(pallets[0].closed.ends_with(" 2/2"), "{:?}", pallets[0]);
    assert!(
        pallets[1].closed.ends_with(" 1/2 short"),
        "{:?}",
        pallets[1]
    );

    stop_tx.send(true).expect("stop");
    let cartons = cartons_task.await.expect("carton station");
    let pallet_stats = pallets_task.await.expect("palletiser");
    assert_eq!((cartons.closed, cartons.short, cartons.packed), (3, 1, 7));
    assert_eq!((pallet_stats.closed, pallet_stats.packed), (2, 3));

    // The store's hierarchy and reconciliation.
    let tree = store
        .package_contents(&pallets[0].sscc)
        .await
        .expect("pallet");
    assert_eq!(tree.package.state, PackageState::Closed);
    let held: Vec<&str> = tree
        .cartons
        .iter()
        .map(|c| c.package.sscc.as_str())
        .collect();
    assert_eq!(held, [first.as_str(), third.as_str()]);
    assert_eq!(tree.cartons[0].units, units[..3].to_vec());
    for unit in &units {
        let record = store.code(unit).await.expect("unit");
        assert_eq!(record.state, CodeState::Packed, "{unit}");
    }
    let reconciliation = store
        .package_reconciliation(batch)
        .await
        .expect("reconcile");
    assert!(reconciliation.balanced, "{reconciliation:?}");
    assert_eq!(
        (
            reconciliation.cartons_closed,
            reconciliation.cartons_short,
            reconciliation.cartons_voided,
            reconciliation.pallets_closed
        ),
        (3, 1, 1, 2)
    );
    assert_eq!(store.verify_audit().await.expect("audit").first_bad, None);
}

both!(every_answer_then_a_batch_packed_onto_pallets);

/// A serial scanner: the station opens the pseudo-terminal's path as its port.
async fn a_serial_scanner_on_a_pty(store: Store) {
    let (batch, units, _, _) = line_output(&store).await;
    let (device, host) = tokio_serial::SerialStream::pair().expect("pty pair");
    let path = tokio_serial::SerialPort::name(&host).expect("pty path");
    let (stop_tx, stop) = watch::channel(false);
    let source = ScannerSource::Connect(Transport::Serial(SerialSettings::new(path, 9600)));
    let task = tokio::spawn(run_station(
        setup(&store, batch, PackageLevel::Carton, 3),
        source,
        stop,
    ));
    // Readiness: the station clears the port's buffers when it opens it (drivers/src/
    // transport.rs), so a scan sent before that is lost, as at a real station. Scan CANCEL
    // until one is answered.
    let mut scanner = HandScanner::new(device);
    let ready = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let answered =
                tokio::time::timeout(Duration::from_millis(500), scanner.command("CANCEL")).await;
            if let Ok(reply) = answered {
                return reply;
            }
        }
    })
    .await
    .expect("the station opened the port");
    assert!(!ready.expect("a reply").is_empty(), "an answer to CANCEL");
    let mut packer = Packer::new(scanner);
    let cases = packer.fill_all(&units[..4], 3, true).await.expect("packed");
    assert_eq!(cases.len(), 2);
    assert_eq!(cases[0].closed, format!("OK CLOSED {} 3/3", cases[0].sscc));
    assert_eq!(
        cases[1].closed,
        format!("OK CLOSED {} 1/3 short", cases[1].sscc)
    );
    stop_tx.send(true).expect("stop");
    assert_eq!(task.await.expect("station").packed, 4);
    let carton = store
        .package_contents(&cases[0].sscc)
        .await
        .expect("carton");
    assert_eq!(carton.units, units[..3].to_vec());
    drop(host);
}

both!(a_serial_scanner_on_a_pty);
