//! The dispatch station's decisions: every answer, without a store.

use tracemark_drivers::scanner::{ParseOptions, parse_line};

use super::station::{Answer, Ask, Read, Station, Step, recognise};
use crate::config::DispatchCommands;

const PALLET: &str = "095060000000000015";
const CARTON: &str = "095060000000000022";

fn commands() -> DispatchCommands {
    DispatchCommands {
        ship: "SHIP".into(),
        cancel: "CANCEL".into(),
        remove: "REMOVE".into(),
    }
}

fn read(line: &str) -> Read {
    let scan = parse_line(line.as_bytes(), ParseOptions::default()).expect("line");
    recognise(&scan, &commands())
}

/// The reply text of a scan that needs no store.
fn reply(station: &mut Station, line: &str) -> String {
    match station.scan(read(line)) {
        Step::Reply(reply) => reply.to_string(),
        Step::Ask(ask) => panic!("{line}: asked {ask:?}"),
    }
}

fn ask(station: &mut Station, line: &str) -> Ask {
    match station.scan(read(line)) {
        Step::Ask(ask) => ask,
        Step::Reply(reply) => panic!("{line}: answered {reply}"),
    }
}

fn opened(station: &mut Station, order: &str) {
    assert_eq!(
        ask(station, &format!("]C0{order}")),
        Ask::Order {
            order_ref: order.into()
        }
    );
    assert_eq!(
        station
            .answer(Answer::Order(Ok("某某五金店".into())))
            .to_string(),
        format!("OK ORDER {order} 某某五金店")
    );
}

#[test]
fn scans_are_recognised() {
    assert_eq!(
        read(&format!("]C100{PALLET}")),
        Read::Package(PALLET.into())
    );
    // The pick list's GS1-128 with AI (400), the customer's purchase order number.
    assert_eq!(read("]C1400SO-2026-1"), Read::Order("SO-2026-1".into()));
    assert_eq!(read("]C0SO-2026-1"), Read::Order("SO-2026-1".into()));
    assert!(matches!(read("]C0SHIP"), Read::Command(..)));
    let Read::Other { reason, .. } = read("]d2010950600013435221A1B2") else {
        panic!("a unit is no package");
    };
    assert!(reason.contains("SSCC label"), "{reason}");
}

#[test]
fn an_order_then_packages_then_ship() {
    let mut station = Station::default();
    assert_eq!(
        reply(&mut station, &format!("]C100{PALLET}")),
        format!("BAD {PALLET} no order open: scan the order's reference first")
    );
    assert_eq!(
        reply(&mut station, "]C0SHIP"),
        "BAD SHIP no order open: scan the order's reference first"
    );
    opened(&mut station, "SO-1");
    assert_eq!(
        reply(&mut station, "]C0SHIP"),
        "BAD SHIP nothing scanned for order SO-1"
    );
    assert_eq!(
        ask(&mut station, &format!("]C100{PALLET}")),
        Ask::Check {
            scanned: vec![],
            sscc: PALLET.into()
        }
    );
    assert_eq!(
        station.answer(Answer::Checked(Ok(()))).to_string(),
        format!("OK {PALLET} 1 packages")
    );
    assert_eq!(
        reply(&mut station, &format!("]C100{PALLET}")),
        format!("BAD {PALLET} already scanned for order SO-1")
    );
    // The store refuses the carton: the reason is passed on, the scans stay as they were.
    ask(&mut station, &format!("]C100{CARTON}"));
    assert_eq!(
        station
            .answer(Answer::Checked(Err(
                "not closed (open): close it first".into()
            )))
            .to_string(),
        format!("BAD {CARTON} not closed (open): close it first")
    );
    // Another order while this one has scans.
    assert_eq!(
        reply(&mut station, "]C0SO-2"),
        "BAD SO-2 order SO-1 has 1 scans: SHIP or CANCEL it first"
    );
    assert_eq!(
        ask(&mut station, "]C0SHIP"),
        Ask::Ship {
            order_ref: "SO-1".into(),
            ssccs: vec![PALLET.into()]
        }
    );
    assert_eq!(
        station.answer(Answer::Shipped(Ok((7, 3, 400)))).to_string(),
        "OK SHIPPED SO-1 shipment 7 3 packages 400 units"
    );
    assert!(station.open_order().is_none());
    let stats = station.stats();
    assert_eq!((stats.shipments, stats.packages, stats.units), (1, 3, 400));
    assert_eq!(stats.scans, 9);
    assert_eq!(stats.good + stats.bad, stats.scans);
}

#[test]
fn remove_cancel_and_a_refused_ship() {
    let mut station = Station::default();
    opened(&mut station, "SO-1");
    assert_eq!(
        reply(&mut station, "]C0REMOVE"),
        "BAD REMOVE nothing scanned for order SO-1"
    );
    ask(&mut station, &format!("]C100{PALLET}"));
    station.answer(Answer::Checked(Ok(())));
    ask(&mut station, &format!("]C100{CARTON}"));
    station.answer(Answer::Checked(Ok(())));
    assert_eq!(
        reply(&mut station, "]C0REMOVE"),
        "OK REMOVE scan what to take out of order SO-1"
    );
    assert_eq!(
        reply(&mut station, &format!("]C100{CARTON}")),
        format!("OK REMOVED {CARTON} 1 packages")
    );
    // SHIP refused (shipped by someone else meanwhile): the scans stay.
    ask(&mut station, "]C0SHIP");
    assert_eq!(
        station
            .answer(Answer::Shipped(Err("ship: already shipped".into())))
            .to_string(),
        "BAD SHIP ship: already shipped"
    );
    assert_eq!(
        station.open_order().map(|(o, s)| (o.to_owned(), s.len())),
        Some(("SO-1".to_owned(), 1))
    );
    assert_eq!(
        reply(&mut station, "]C0CANCEL"),
        "OK CANCEL SO-1 1 scans dropped"
    );
    assert!(station.open_order().is_none());
    // An unknown order is the store's refusal.
    ask(&mut station, "]C0SO-9");
    assert_eq!(
        station
            .answer(Answer::Order(Err("no dispatch order \"SO-9\"".into())))
            .to_string(),
        "BAD SO-9 no dispatch order \"SO-9\""
    );
    assert!(station.open_order().is_none());
}
