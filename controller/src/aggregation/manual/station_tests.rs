//! The station's answers, one by one, with the store's answers scripted.

use super::scan::{Command, Read};
use super::station::*;
use tracemark_store::PackageLevel;

const CARTON: &str = "095060000000000015";
const OTHER: &str = "095060000000000022";
const U1: &str = "(01)09506000134352(21)A1";
const U2: &str = "(01)09506000134352(21)A2";

fn view(sscc: &str, children: i64, capacity: i64, short: bool) -> PackageView {
    PackageView {
        sscc: sscc.into(),
        children,
        capacity,
        short,
    }
}

fn command(command: Command, text: &str) -> Read {
    Read::Command(command, text.into())
}

/// Scans `read`; when the station asks, checks the question and answers `answer`.
fn exchange(station: &mut Station, read: Read, want: Option<Ask>, answer: Answer) -> String {
    match station.scan(read) {
        Step::Ask(ask) => {
            assert_eq!(Some(ask), want);
            station.answer(answer).to_string()
        }
        Step::Reply(reply) => {
            assert_eq!(want, None, "expected a question, got {reply}");
            reply.to_string()
        }
    }
}

fn reply(station: &mut Station, read: Read) -> String {
    match station.scan(read) {
        Step::Reply(reply) => reply.to_string(),
        Step::Ask(ask) => panic!("unexpected question {ask:?}"),
    }
}

/// A carton station with `CARTON` (capacity 3) open.
fn opened() -> Station {
    let mut station = Station::new(PackageLevel::Carton);
    let said = exchange(
        &mut station,
        Read::Package(CARTON.into()),
        Some(Ask::Open {
            sscc: CARTON.into(),
        }),
        Answer::Opened(Ok(view(CARTON, 0, 3, false))),
    );
    assert_eq!(said, format!("OK OPEN {CARTON} 0/3"));
    station
}

fn check(scanned: &[&str], item: &str) -> Option<Ask> {
    Some(Ask::Check {
        sscc: CARTON.into(),
        scanned: scanned.iter().map(|s| (*s).to_owned()).collect(),
        item: item.into(),
    })
}

#[test]
fn a_good_unit_is_counted_and_close_packs_the_scans_in_one_ask() {
    let mut station = opened();
    let said = exchange(
        &mut station,
        Read::Unit(U1.into()),
        check(&[], U1),
        Answer::Checked(Ok(())),
    );
    assert_eq!(said, format!("OK {U1} 1/3"));
    let said = exchange(
        &mut station,
        Read::Unit(U2.into()),
        check(&[U1], U2),
        Answer::Checked(Ok(())),
    );
    assert_eq!(said, format!("OK {U2} 2/3"));
    let said = exchange(
        &mut station,
        command(Command::Close, "CLOSE"),
        Some(Ask::Close {
            sscc: CARTON.into(),
            children: vec![U1.into(), U2.into()],
        }),
        Answer::Closed(Ok(view(CARTON, 2, 3, true))),
    );
    assert_eq!(said, format!("OK CLOSED {CARTON} 2/3 short"));
    assert_eq!(station.open_package(), None);
    let stats = station.stats();
    assert_eq!((stats.closed, stats.short, stats.packed), (1, 1, 2));
    assert_eq!((stats.scans, stats.good, stats.bad), (4, 4, 0));
}

#[test]
fn each_refusal_of_the_store_is_answered_bad_with_its_reason() {
    let mut station = opened();
    for reason in [
        "not verified (rejected)",
        "of batch 3, not 7",
        "already in 095060000000000022",
        "unknown code",
        "carton closed",
        "over capacity (3)",
        "already scanned into 095060000000000015",
    ] {
        let said = exchange(
            &mut station,
            Read::Unit(U1.into()),
            check(&[], U1),
            Answer::Checked(Err(reason.into())),
        );
        assert_eq!(said, format!("BAD {U1} {reason}"));
    }
    assert_eq!(station.open_package(), Some((CARTON, &[][..])));
    assert_eq!(station.stats().bad, 7);
}

#[test]
fn nothing_open_unknown_scans_and_unreadable_lines_are_bad() {
    let mut station = Station::new(PackageLevel::Carton);
    assert_eq!(
        reply(&mut station, Read::Unit(U1.into())),
        format!("BAD {U1} no carton open: scan its label or NEW")
    );
    for (cmd, text) in [
        (Command::Close, "CLOSE"),
        (Command::Cancel, "CANCEL"),
        (Command::Remove, "REMOVE"),
    ] {
        assert_eq!(
            reply(&mut station, command(cmd, text)),
            format!("BAD {text} no carton open: scan its label or NEW")
        );
    }
    assert_eq!(
        reply(
            &mut station,
            Read::Unknown {
                data: "HELLO".into(),
                reason: "not a code: x".into()
            }
        ),
        "BAD HELLO not a code: x"
    );
    assert_eq!(
        station.unreadable("byte 5 is not UTF-8 (0xFF)").to_string(),
        "BAD ? byte 5 is not UTF-8 (0xFF)"
    );
}

#[test]
fn a_closed_or_foreign_package_does_not_open() {
    let mut station = Station::new(PackageLevel::Carton);
    let said = exchange(
        &mut station,
        Read::Package(CARTON.into()),
        Some(Ask::Open {
            sscc: CARTON.into(),
        }),
        Answer::Opened(Err(
            "carton closed (reopen it first: tracemark pack reopen 095060000000000015)".into(),
        )),
    );
    assert_eq!(
        said,
        format!("BAD {CARTON} carton closed (reopen it first: tracemark pack reopen {CARTON})")
    );
    assert_eq!(station.open_package(), None);
}

#[test]
fn new_allocates_and_a_refused_close_keeps_the_scans() {
    let mut station = Station::new(PackageLevel::Carton);
    let said = exchange(
        &mut station,
        command(Command::New, "NEW"),
        Some(Ask::New),
        Answer::Opened(Ok(view(OTHER, 0, 12, false))),
    );
    assert_eq!(said, format!("OK OPEN {OTHER} 0/12"));
    exchange(
        &mut station,
        Read::Unit(U1.into()),
        Some(Ask::Check {
            sscc: OTHER.into(),
            scanned: vec![],
            item: U1.into(),
        }),
        Answer::Checked(Ok(())),
    );
    // With scans held, neither NEW nor another label replaces the open carton.
    assert_eq!(
        reply(&mut station, command(Command::New, "NEW")),
        format!("BAD NEW {OTHER} has 1 scans: CLOSE or CANCEL it first")
    );
    assert_eq!(
        reply(&mut station, Read::Package(CARTON.into())),
        format!("BAD {CARTON} {OTHER} is open with 1 scans: CLOSE or CANCEL it first")
    );
    let said = exchange(
        &mut station,
        command(Command::Close, "CLOSE"),
        Some(Ask::Close {
            sscc: OTHER.into(),
            children: vec![U1.into()],
        }),
        Answer::Closed(Err(format!("pack: {OTHER}: {U1}: already in {CARTON}"))),
    );
    assert_eq!(
        said,
        format!("BAD CLOSE pack: {OTHER}: {U1}: already in {CARTON}")
    );
    assert_eq!(station.open_package(), Some((OTHER, &[U1.to_owned()][..])));
}

#[test]
fn remove_takes_the_next_scan_out_and_cancel_drops_them_all() {
    let mut station = opened();
    for (scanned, item) in [(&[][..], U1), (&[U1][..], U2)] {
        exchange(
            &mut station,
            Read::Unit(item.into()),
            check(scanned, item),
            Answer::Checked(Ok(())),
        );
    }
    assert_eq!(
        reply(&mut station, command(Command::Remove, "REMOVE")),
        format!("OK REMOVE scan what to take out of {CARTON}")
    );
    assert_eq!(
        reply(&mut station, Read::Unit(U1.into())),
        format!("OK REMOVED {U1} 1/3")
    );
    reply(&mut station, command(Command::Remove, "REMOVE"));
    assert_eq!(
        reply(&mut station, Read::Unit(U1.into())),
        format!("BAD {U1} not scanned into {CARTON}")
    );
    // REMOVE applies to one scan only: the next unit is checked again.
    assert!(matches!(
        station.scan(Read::Unit(U1.into())),
        Step::Ask(Ask::Check { .. })
    ));
    station.answer(Answer::Checked(Ok(())));
    assert_eq!(
        reply(&mut station, command(Command::Cancel, "CANCEL")),
        format!("OK CANCEL {CARTON} 2 scans dropped")
    );
    assert_eq!(station.open_package(), None);
}

#[test]
fn a_reopened_package_counts_what_it_holds() {
    let mut station = Station::new(PackageLevel::Carton);
    let said = exchange(
        &mut station,
        Read::Package(CARTON.into()),
        Some(Ask::Open {
            sscc: CARTON.into(),
        }),
        Answer::Opened(Ok(view(CARTON, 10, 12, false))),
    );
    assert_eq!(said, format!("OK OPEN {CARTON} 10/12"));
    // Scanning the open label again only repeats where it stands.
    assert_eq!(
        reply(&mut station, Read::Package(CARTON.into())),
        format!("OK OPEN {CARTON} 10/12")
    );
}

#[test]
fn a_palletiser_opens_a_pallet_and_checks_cartons_one_level_up() {
    const PALLET: &str = "095060000000000039";
    let mut station = Station::new(PackageLevel::Pallet);
    assert_eq!(
        reply(&mut station, Read::Unit(U1.into())),
        format!("BAD {U1} a unit: this station puts cartons on pallets")
    );
    let said = exchange(
        &mut station,
        Read::Package(PALLET.into()),
        Some(Ask::Open {
            sscc: PALLET.into(),
        }),
        Answer::Opened(Ok(view(PALLET, 0, 2, false))),
    );
    assert_eq!(said, format!("OK OPEN {PALLET} 0/2"));
    let said = exchange(
        &mut station,
        Read::Package(CARTON.into()),
        Some(Ask::Check {
            sscc: PALLET.into(),
            scanned: vec![],
            item: CARTON.into(),
        }),
        Answer::Checked(Ok(())),
    );
    assert_eq!(said, format!("OK {CARTON} 1/2"));
    let said = exchange(
        &mut station,
        Read::Package(OTHER.into()),
        Some(Ask::Check {
            sscc: PALLET.into(),
            scanned: vec![CARTON.into()],
            item: OTHER.into(),
        }),
        Answer::Checked(Err("not closed (allocated)".into())),
    );
    assert_eq!(said, format!("BAD {OTHER} not closed (allocated)"));
    reply(&mut station, command(Command::Remove, "REMOVE"));
    assert_eq!(
        reply(&mut station, Read::Package(CARTON.into())),
        format!("OK REMOVED {CARTON} 0/2")
    );
}
