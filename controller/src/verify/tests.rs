use std::collections::BTreeMap;

use super::mqtt::{Received, Subscription, receive};
use super::*;

/// The example payload of SPEC §5, byte for byte.
const SPEC_PAYLOAD: &str = r#"{"reader":"cam1","seq":1234,"ts":"2026-11-22T08:00:00.123Z","symbology":"datamatrix","data":"]d2010950600013435221A1B2C3","grade":"B","encoder":56789}"#;

fn no_map() -> FieldMap {
    FieldMap::default()
}

#[test]
fn spec_payload_parses() {
    let result = parse_result(SPEC_PAYLOAD.as_bytes(), &no_map(), "x").expect("valid");
    assert_eq!(
        result,
        ReadResult {
            reader: "cam1".into(),
            seq: 1234,
            ts: Some("2026-11-22T08:00:00.123Z".into()),
            data: Some("]d2010950600013435221A1B2C3".into()),
            grade: Some(Grade::B),
            encoder: Some(56789),
        }
    );
    assert_eq!(
        gs1_code_of(result.data.as_deref().expect("data")).as_deref(),
        Some("(01)09506000134352(21)A1B2C3")
    );
    let no_read = r#"{"reader":"cam1","seq":1235,"data":null,"grade":null}"#;
    let result = parse_result(no_read.as_bytes(), &no_map(), "x").expect("valid");
    assert_eq!(
        (result.data, result.grade, result.encoder),
        (None, None, None)
    );
}

#[test]
fn field_map_adapts_a_dataman_style_result() {
    let payload = r#"{"id":77,"results":[{"string":"]d2010950600013435221A1B2C3","quality":{"overall":3.2}}],"encoder":{"count":100}}"#;
    let map = FieldMap::new(BTreeMap::from([
        ("seq".to_owned(), "id".to_owned()),
        ("data".to_owned(), "results.0.string".to_owned()),
        ("grade".to_owned(), "results.0.quality.overall".to_owned()),
        ("encoder".to_owned(), "encoder.count".to_owned()),
    ]));
    let result = parse_result(payload.as_bytes(), &map, "cam2").expect("valid");
    assert_eq!(result.reader, "cam2", "the topic names the reader");
    assert_eq!(result.seq, 77);
    assert_eq!(result.grade, Some(Grade::B));
    assert_eq!(result.encoder, Some(100));
    assert!(result.data.is_some());
}

#[test]
fn malformed_payloads_are_errors_naming_the_field() {
    let cases: [(&[u8], &str); 9] = [
        (b"not json", "not JSON"),
        (b"[1,2]", "expected a JSON object"),
        (br#"{"data":null}"#, "field seq (path \"seq\") is missing"),
        (br#"{"seq":1}"#, "field data (path \"data\") is missing"),
        (
            br#"{"seq":-1,"data":null}"#,
            "field seq (path \"seq\"): expected a non-negative integer",
        ),
        (
            br#"{"seq":"1","data":null}"#,
            "field seq (path \"seq\"): expected a number",
        ),
        (
            br#"{"seq":1,"data":42}"#,
            "field data (path \"data\"): expected a string or null",
        ),
        (
            br#"{"seq":1,"data":null,"grade":"Z"}"#,
            "field grade (path \"grade\"): expected A–D, F or 0–4",
        ),
        (
            br#"{"seq":1,"data":null,"encoder":1.5}"#,
            "field encoder (path \"encoder\"): expected a non-negative integer",
        ),
    ];
    for (payload, want) in cases {
        let err = parse_result(payload, &no_map(), "cam1").expect_err("malformed");
        assert!(
            err.to_string().contains(want),
            "{:?}: {err}",
            String::from_utf8_lossy(payload)
        );
    }
    let huge = vec![b' '; payload::MAX_PAYLOAD + 1];
    assert!(matches!(
        parse_result(&huge, &no_map(), "cam1"),
        Err(PayloadError::TooLarge(_))
    ));
}

#[test]
fn topics_name_known_readers() {
    let any = Subscription::new("127.0.0.1", 1883, "l1");
    let readers = any.clone().with_reader("cam1", no_map());
    let topic = "tracemark/l1/vision/cam1/result";
    assert!(matches!(
        receive(topic, SPEC_PAYLOAD.as_bytes(), &readers),
        Received::Result(_)
    ));
    let other = receive(
        "tracemark/l1/vision/cam9/result",
        SPEC_PAYLOAD.as_bytes(),
        &readers,
    );
    assert!(
        matches!(&other, Received::Malformed { error: PayloadError::UnknownReader(r), .. } if r == "cam9"),
        "{other:?}"
    );
    // A payload that claims another reader than its topic is refused.
    let spoof = receive(
        "tracemark/l1/vision/cam2/result",
        SPEC_PAYLOAD.as_bytes(),
        &any,
    );
    assert!(matches!(spoof, Received::Malformed { .. }), "{spoof:?}");
    let bad = receive("tracemark/l1/other", b"{}", &any);
    assert!(matches!(
        bad,
        Received::Malformed {
            error: PayloadError::BadTopic(_),
            ..
        }
    ));
}

#[test]
fn grades_order_and_parse() {
    assert!(Grade::A > Grade::B && Grade::D > Grade::F);
    assert_eq!(Grade::parse("c"), Some(Grade::C));
    assert_eq!(Grade::parse("4"), Some(Grade::A));
    assert_eq!(Grade::from_number(1.49), Some(Grade::D));
    assert_eq!(Grade::from_number(4.5), None);
}

// ---- tracker ----

const MARKER: u64 = 100;
const READER: u64 = 300;
const GATE: u64 = 500;
const PITCH: u64 = 50;

fn tracker() -> Tracker {
    Tracker::new(TrackerConfig {
        marker_counts: MARKER,
        readers: vec![TrackedReader::new("cam1", READER, Grade::C)],
        gate_counts: GATE,
        window_counts: PITCH / 2,
        max_consecutive_rejects: 3,
    })
}

fn code(n: u32) -> String {
    format!("(01)09506000134352(21){n:06}")
}

fn scan(n: u32) -> String {
    format!("]d2010950600013435221{n:06}")
}

fn read(seq: u64, data: Option<String>, grade: Option<Grade>, encoder: u64) -> ReadResult {
    ReadResult {
        reader: "cam1".into(),
        seq,
        ts: None,
        data,
        grade,
        encoder: Some(encoder),
    }
}

/// Units at 0, 50, 100, … each with code i printed.
fn line_with_units(n: u32) -> Tracker {
    let mut t = tracker();
    for i in 0..n {
        t.unit_detected(u64::from(i) * PITCH);
        t.printed(&code(i)).expect("print");
    }
    t
}

fn at_reader(unit_index: u32) -> u64 {
    u64::from(unit_index) * PITCH + READER
}

#[test]
fn a_good_read_verifies_its_unit_before_it_reaches_the_gate() {
    let mut t = line_with_units(3);
    let verdict = t
        .result(
            &read(1, Some(scan(0)), Some(Grade::B), at_reader(0)),
            gs1_code_of,
        )
        .expect("decided");
    assert_eq!(verdict.outcome, Outcome::Verified);
    assert_eq!(verdict.code.as_deref(), Some(code(0).as_str()));
    assert_eq!(verdict.fire_at, GATE);
    // Content first: unit 2's result may come before unit 1's, and even without an encoder.
    let mut out_of_order = read(2, Some(scan(2)), Some(Grade::A), 0);
    out_of_order.encoder = None;
    let verdict = t.result(&out_of_order, gs1_code_of).expect("decided");
    assert_eq!((verdict.unit, verdict.outcome), (3, Outcome::Verified));
    assert_eq!(t.stats().verified, 2);
}

#[test]
fn every_reject_reason() {
    let mut t = line_with_units(6);
    t.code_issued(&code(99));
    let cases = [
        (read(1, None, None, at_reader(0)), RejectReason::NoRead),
        (
            read(2, Some(scan(1)), Some(Grade::D), at_reader(1)),
            RejectReason::LowGrade,
        ),
        // A code of this batch, but not one printed on a unit in flight.
        (
            read(3, Some(scan(99)), Some(Grade::A), at_reader(2)),
            RejectReason::Mismatch,
        ),
        (
            read(4, Some(scan(555)), Some(Grade::A), at_reader(3)),
            RejectReason::Unknown,
        ),
        // Unit 3 is decided, so a further read at its position matches nothing.
        (
            read(5, Some(scan(3)), Some(Grade::A), at_reader(3)),
            RejectReason::Unknown,
        ),
    ];
    let mut seen = Vec::new();
    for (result, reason) in cases.iter().take(4) {
        let verdict = t.result(result, gs1_code_of).expect("decided");
        assert_eq!(verdict.outcome, Outcome::Rejected(*reason), "{result:?}");
        seen.push(verdict.stop_line);
    }
    assert_eq!(
        seen,
        [false, false, true, false],
        "3 rejects in a row stop the line; the fourth is that same stop, not another"
    );
    assert!(t.result(&cases[4].0, gs1_code_of).is_none());
    assert_eq!(t.stats().unmatched, 1);
    // Duplicate: unit 4's code read good, then read again on unit 5 (a double print).
    let good = t
        .result(
            &read(6, Some(scan(4)), Some(Grade::A), at_reader(4)),
            gs1_code_of,
        )
        .expect("decided");
    assert_eq!(good.outcome, Outcome::Verified);
    assert!(!good.stop_line);
    let copy = t
        .result(
            &read(7, Some(scan(4)), Some(Grade::A), at_reader(5)),
            gs1_code_of,
        )
        .expect("decided");
    assert_eq!(copy.outcome, Outcome::Rejected(RejectReason::Duplicate));
    assert_eq!(copy.code.as_deref(), Some(code(5).as_str()));
    // Data that is not a code at all is unknown; a unit that reaches the gate without a result
    // is late.
    let mut t = line_with_units(2);
    let hello = t
        .result(
            &read(8, Some("]Q1hello".into()), Some(Grade::A), at_reader(1)),
            gs1_code_of,
        )
        .expect("decided");
    assert_eq!(hello.outcome, Outcome::Rejected(RejectReason::Unknown));
    assert!(t.advance(GATE - 1).is_empty());
    let late = t.advance(GATE);
    assert_eq!(late.len(), 1);
    assert_eq!(late[0].outcome, Outcome::Rejected(RejectReason::Late));
    assert_eq!(late[0].code.as_deref(), Some(code(0).as_str()));
    // A result for a unit that already left is not applied to another one.
    assert!(
        t.result(&read(9, Some(scan(0)), None, at_reader(0)), gs1_code_of)
            .is_none()
    );
    t.gate_fault();
    assert_eq!(t.stats().rejected[6], 1);
}

#[test]
fn a_redelivered_result_is_not_counted_twice() {
    let mut t = line_with_units(2);
    let result = read(1, Some(scan(0)), Some(Grade::B), at_reader(0));
    assert!(t.result(&result, gs1_code_of).is_some());
    assert!(t.result(&result, gs1_code_of).is_none());
    assert_eq!((t.stats().results, t.stats().redelivered), (1, 1));
    // A second read of a decided unit (another seq) does not change its verdict.
    assert!(
        t.result(&read(2, None, None, at_reader(0)), gs1_code_of)
            .is_none()
    );
    assert_eq!(t.stats().verified, 1);
}

#[test]
fn prints_without_units_wait_and_reprints_are_errors() {
    let mut t = tracker();
    assert_eq!(t.printed(&code(0)), Ok(Printed::Ahead));
    assert_eq!(
        t.printed(&code(0)),
        Err(TrackError::PrintedTwice(code(0))),
        "confirmed again: a reprint"
    );
    t.unit_detected(0);
    t.unit_detected(PITCH);
    assert!(t.place_ahead(PITCH + MARKER).is_empty());
    t.printed(&code(1)).expect("the second unit's print");
    assert_eq!(t.printed(&code(1)), Err(TrackError::PrintedTwice(code(1))));
    assert_eq!(t.units_in_flight(), 2);
}

/// The 32-line bench on a starved machine (session 23): the marker's confirmation was handled
/// before the poll that reported its unit's detection, was taken as a print without a unit,
/// and every later code went on the unit before its own. The code waits for the detection,
/// and goes on its unit once the poll shows that unit past the marker.
#[test]
fn a_confirmation_before_its_units_detection_waits_for_it() {
    let mut t = tracker();
    t.unit_detected(0);
    t.printed(&code(0)).expect("unit 1's print");
    assert!(t.place_ahead(MARKER).is_empty());
    // Unit 2's print is confirmed before the poll that reports unit 2.
    assert_eq!(t.printed(&code(1)), Ok(Printed::Ahead));
    // A poll reports unit 2 short of the marker: it cannot carry a print yet.
    t.unit_detected(PITCH);
    assert!(t.place_ahead(PITCH + MARKER - 1).is_empty());
    // A later confirmation queues behind the waiting one rather than jump onto unit 2.
    assert_eq!(t.printed(&code(2)), Ok(Printed::Ahead));
    t.unit_detected(2 * PITCH);
    assert!(t.place_ahead(2 * PITCH + MARKER).is_empty());
    for unit in 0..3u32 {
        let verdict = t
            .result(
                &read(
                    u64::from(unit) + 1,
                    Some(scan(unit)),
                    Some(Grade::A),
                    at_reader(unit),
                ),
                gs1_code_of,
            )
            .expect("decided");
        assert_eq!(
            (verdict.unit, verdict.outcome),
            (u64::from(unit) + 1, Outcome::Verified),
            "code {unit} on its own unit"
        );
    }
}

/// Session 22's wrecked lines left the codes confirmed with no unit `printed`: a code no unit
/// takes while the belt runs a photocell-to-gate length is given back for the machine to
/// settle, and the unit that carries it can never pass on it.
#[test]
fn a_code_no_unit_takes_is_given_back_and_never_verifies_a_unit() {
    let mut t = tracker();
    assert_eq!(t.printed(&code(0)), Ok(Printed::Ahead));
    assert!(t.place_ahead(GATE).is_empty(), "not yet a whole length");
    assert_eq!(
        t.place_ahead(GATE + 1),
        [Placed::Unplaced(code(0))],
        "given back"
    );
    // The unit carrying it turns up under the camera without a code of its own: the read is
    // no proof of its print, the code being settled already.
    t.unit_detected(2 * GATE);
    let verdict = t
        .result(
            &read(1, Some(scan(0)), Some(Grade::A), 2 * GATE + READER),
            gs1_code_of,
        )
        .expect("decided");
    assert_eq!(verdict.outcome, Outcome::Rejected(RejectReason::Mismatch));
    assert_eq!(t.stats().verified, 0);
}

/// Five confirmations with no unit are not one late detection: the fifth is a print on
/// nothing the line tracks, given back at once.
#[test]
fn more_codes_ahead_than_a_late_detection_explains_are_errors() {
    let mut t = tracker();
    for n in 0..4 {
        assert_eq!(t.printed(&code(n)), Ok(Printed::Ahead));
    }
    assert_eq!(
        t.printed(&code(4)),
        Err(TrackError::PrintWithoutUnit(code(4)))
    );
}

#[test]
fn the_demo_line_config_gives_subscription_and_geometry() {
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../line-configs/demo.toml");
    let line = crate::config::load_with_env(&demo, BTreeMap::new()).expect("demo.toml");
    let subscription = subscription_for(&line).expect("the demo line has [mqtt]");
    assert_eq!(
        subscription.topic_filter(),
        "tracemark/demo/vision/+/result"
    );
    assert_eq!(
        subscription.readers.keys().collect::<Vec<_>>(),
        ["cam1"],
        "every reader of the line, and only those"
    );
    assert_eq!(
        (
            subscription.endpoint.host.as_str(),
            subscription.endpoint.port
        ),
        ("127.0.0.1", 1883)
    );
    let geometry = tracker_config_for(&line, Grade::C).expect("marker, reader and gate");
    // 4 counts/mm: marker 250 mm, camera 700 mm, gate 1200 mm, pitch 120 mm.
    assert_eq!((geometry.marker_counts, geometry.gate_counts), (1000, 4800));
    assert_eq!(
        geometry.readers,
        [TrackedReader::new("cam1", 2800, Grade::C)]
    );
    assert_eq!(geometry.window_counts, 240);
    assert_eq!(geometry.max_consecutive_rejects, 5);
}

#[test]
fn an_empty_print_go_keeps_later_prints_on_their_own_units() {
    let mut t = tracker();
    for i in 0..3u64 {
        t.unit_detected(i * PITCH);
    }
    t.printed(&code(0)).expect("unit 1 printed");
    // Unit 2 went by the marker with its buffer empty.
    assert_eq!(t.print_missed(), Some(2));
    assert_eq!(
        t.printed(&code(2)),
        Ok(Printed::OnUnit(3)),
        "the next print is unit 3's"
    );
    let blank = t
        .result(&read(1, None, None, at_reader(1)), gs1_code_of)
        .expect("decided");
    assert_eq!(
        (blank.unit, blank.code, blank.outcome),
        (2, None, Outcome::Rejected(RejectReason::NoRead))
    );
    let good = t
        .result(
            &read(2, Some(scan(2)), Some(Grade::A), at_reader(2)),
            gs1_code_of,
        )
        .expect("decided");
    assert_eq!((good.unit, good.outcome), (3, Outcome::Verified));
    assert_eq!(tracker().print_missed(), None, "no unit waiting");
}

#[test]
fn a_confirmation_after_the_result_goes_to_the_rejected_unit_not_the_next() {
    let mut t = tracker();
    for i in 0..3u64 {
        t.unit_detected(i * PITCH);
    }
    t.code_issued(&code(0));
    // The camera finds nothing on unit 1 before the marker's confirmation of its print arrives.
    let blank = t
        .result(&read(1, None, None, at_reader(0)), gs1_code_of)
        .expect("decided");
    assert_eq!(blank.outcome, Outcome::Rejected(RejectReason::NoRead));
    assert_eq!(
        t.printed(&code(0)),
        Ok(Printed::OnRejectedUnit {
            unit: 1,
            reason: RejectReason::NoRead
        })
    );
    // Later prints stay on their own units.
    assert_eq!(t.printed(&code(1)), Ok(Printed::OnUnit(2)));
    let good = t
        .result(
            &read(2, Some(scan(1)), Some(Grade::A), at_reader(1)),
            gs1_code_of,
        )
        .expect("decided");
    assert_eq!((good.unit, good.outcome), (2, Outcome::Verified));
    assert_eq!(t.printed(&code(0)), Err(TrackError::PrintedTwice(code(0))));
}

#[test]
fn units_that_passed_a_marker_that_could_not_print_carry_nothing() {
    let mut t = tracker();
    for i in 0..4u64 {
        t.unit_detected(i * PITCH);
    }
    t.printed(&code(0)).expect("unit 1 printed");
    // The marker faulted; units 2 and 3 went by it; it is ready again before unit 4 arrives.
    assert_eq!(t.marker_ready(2 * PITCH + MARKER), 2);
    assert_eq!(t.marker_ready(2 * PITCH + MARKER), 0, "marked once");
    assert_eq!(t.printed(&code(3)), Ok(Printed::OnUnit(4)));
    let blank = t
        .result(&read(1, None, None, at_reader(1)), gs1_code_of)
        .expect("decided");
    assert_eq!((blank.unit, blank.code), (2, None));
    // A read of a sent code on a unit marked blank still proves the print (the read wins).
    t.code_issued(&code(2));
    let proven = t
        .result(
            &read(2, Some(scan(2)), Some(Grade::A), at_reader(2)),
            gs1_code_of,
        )
        .expect("decided");
    assert_eq!(
        (proven.unit, proven.code, proven.outcome),
        (3, Some(code(2)), Outcome::Verified)
    );
    assert_eq!(t.printed(&code(2)), Ok(Printed::AlreadyRead));
}

mod any_event_order {
    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Event {
        Detect,
        Printed(u32),
        Missed,
        MarkerReady,
        Read {
            code: Option<u32>,
            unit: u32,
            grade: u8,
        },
        Advance(u64),
    }

    fn event() -> impl Strategy<Value = Event> {
        prop_oneof![
            4 => Just(Event::Detect),
            4 => (0u32..40).prop_map(Event::Printed),
            1 => Just(Event::Missed),
            1 => Just(Event::MarkerReady),
            4 => (proptest::option::of(0u32..40), 0u32..40, 0u8..5)
                .prop_map(|(code, unit, grade)| Event::Read { code, unit, grade }),
            2 => (0u64..200).prop_map(Event::Advance),
        ]
    }

    proptest! {
        /// Whatever the devices and the camera say, in whatever order: no panic, a code is on
        /// at most one unit, and no code is verified twice.
        #[test]
        fn the_tracker_stays_consistent(events in proptest::collection::vec(event(), 1..200)) {
            let mut t = tracker();
            let mut encoder = 0u64;
            let mut verified = std::collections::HashSet::new();
            for (seq, event) in events.into_iter().enumerate() {
                match event {
                    Event::Detect => {
                        encoder += PITCH;
                        t.unit_detected(encoder);
                    }
                    Event::Printed(n) => {
                        t.code_issued(&code(n));
                        let _ = t.printed(&code(n));
                    }
                    Event::Missed => {
                        t.print_missed();
                    }
                    Event::MarkerReady => {
                        t.marker_ready(encoder);
                    }
                    Event::Read { code: n, unit, grade } => {
                        let result = read(
                            seq as u64,
                            n.map(scan),
                            Grade::from_number(f64::from(grade)),
                            at_reader(unit),
                        );
                        if let Some(verdict) = t.result(&result, gs1_code_of)
                            && verdict.outcome == Outcome::Verified
                        {
                            let code = verdict.code.expect("a verified unit has its code");
                            prop_assert!(verified.insert(code), "verified twice");
                        }
                    }
                    Event::Advance(by) => {
                        encoder += by;
                        t.advance(encoder);
                    }
                }
                let codes = t.codes_on_units();
                let distinct: std::collections::HashSet<&str> = codes.iter().copied().collect();
                prop_assert_eq!(distinct.len(), codes.len(), "a code on two units: {:?}", codes);
            }
        }
    }
}

/// A confirmation held up until its unit has reached the gate still goes with that unit, not
/// onto the next one — for as long as the belt runs one more photocell-to-gate length.
#[test]
fn a_confirmation_later_than_the_belt_goes_with_its_gone_unit() {
    let mut t = tracker();
    for i in 0..3u64 {
        t.unit_detected(i * PITCH);
    }
    // Unit 1 reads nothing and reaches the gate before its confirmation arrives.
    t.result(&read(1, None, None, at_reader(0)), gs1_code_of)
        .expect("decided");
    assert!(t.advance(GATE).is_empty(), "decided, not late");
    assert_eq!(t.units_in_flight(), 2);
    assert_eq!(
        t.printed(&code(0)),
        Ok(Printed::OnRejectedUnit {
            unit: 1,
            reason: RejectReason::NoRead
        })
    );
    assert_eq!(t.printed(&code(1)), Ok(Printed::OnUnit(2)));
    // Units 2 and 3 reach the gate without a result, unit 3 also without a confirmation.
    assert_eq!(t.advance(GATE + 2 * PITCH).len(), 2);
    assert_eq!(
        t.printed(&code(2)),
        Ok(Printed::OnRejectedUnit {
            unit: 3,
            reason: RejectReason::Late
        })
    );
    // Unit 4 goes the same way, and the belt runs a whole length on: too late for it now.
    t.unit_detected(1_000);
    assert_eq!(t.advance(1_000 + GATE).len(), 1);
    t.advance(1_000 + 2 * GATE + 1);
    assert_eq!(t.printed(&code(3)), Ok(Printed::Ahead));
    assert_eq!(
        t.place_ahead(1_000 + 2 * GATE + 1),
        [Placed::Unplaced(code(3))]
    );
}

#[path = "tests_readers.rs"]
mod readers;
