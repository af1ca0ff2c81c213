//! A line with more than one reader: every reader must pass a unit, each at its own position
//! and minimum grade.

use std::collections::BTreeMap;

use super::super::mqtt::{Received, Subscription, receive};
use super::super::*;
use super::{GATE, MARKER, PITCH, READER, code, scan};

/// The grading camera sits two pitches after the reading one.
const GRADER: u64 = READER + 2 * PITCH;

/// cam1 reads at `READER` with the product's grade C; grader at `GRADER` demands B.
fn two_readers() -> Tracker {
    Tracker::new(TrackerConfig {
        marker_counts: MARKER,
        readers: vec![
            TrackedReader::new("cam1", READER, Grade::C),
            TrackedReader::new("grader", GRADER, Grade::B),
        ],
        gate_counts: GATE,
        window_counts: PITCH / 2,
        max_consecutive_rejects: 10,
    })
}

fn units(t: &mut Tracker, n: u32) {
    for i in 0..n {
        t.unit_detected(u64::from(i) * PITCH);
        t.printed(&code(i)).expect("print");
    }
}

fn read_by(
    reader: &str,
    seq: u64,
    data: Option<String>,
    grade: Option<Grade>,
    encoder: u64,
) -> ReadResult {
    ReadResult {
        reader: reader.into(),
        seq,
        ts: None,
        data,
        grade,
        encoder: Some(encoder),
    }
}

fn at(position: u64, unit_index: u32) -> u64 {
    u64::from(unit_index) * PITCH + position
}

#[test]
fn a_unit_is_verified_only_when_every_reader_passed_it() {
    let mut t = two_readers();
    units(&mut t, 2);
    let first = read_by("cam1", 1, Some(scan(0)), Some(Grade::A), at(READER, 0));
    assert_eq!(
        t.result(&first, gs1_code_of),
        None,
        "the grader has not seen it"
    );
    assert_eq!(t.stats().partial_passes, 1);
    let second = read_by("grader", 1, Some(scan(0)), Some(Grade::B), at(GRADER, 0));
    let verdict = t
        .result(&second, gs1_code_of)
        .expect("both passed: decided");
    assert_eq!(verdict.outcome, Outcome::Verified);
    assert_eq!(verdict.code.as_deref(), Some(code(0).as_str()));
    assert_eq!(
        verdict.grade,
        Some(Grade::B),
        "the worst grade the readers gave"
    );
    assert_eq!(t.stats().verified, 1);
}

#[test]
fn the_readers_may_report_in_any_order() {
    let mut t = two_readers();
    units(&mut t, 1);
    let grader = read_by("grader", 1, Some(scan(0)), Some(Grade::A), at(GRADER, 0));
    assert_eq!(t.result(&grader, gs1_code_of), None);
    let cam1 = read_by("cam1", 1, Some(scan(0)), Some(Grade::A), at(READER, 0));
    let verdict = t.result(&cam1, gs1_code_of).expect("decided");
    assert_eq!(verdict.outcome, Outcome::Verified);
}

#[test]
fn a_later_reader_rejects_a_unit_the_first_passed() {
    let mut t = two_readers();
    units(&mut t, 3);
    // Unit 0: grade C passes cam1 (C) but not the grader (B).
    t.result(
        &read_by("cam1", 1, Some(scan(0)), Some(Grade::C), at(READER, 0)),
        gs1_code_of,
    );
    let low = t
        .result(
            &read_by("grader", 1, Some(scan(0)), Some(Grade::C), at(GRADER, 0)),
            gs1_code_of,
        )
        .expect("decided");
    assert_eq!(low.outcome, Outcome::Rejected(RejectReason::LowGrade));
    assert_eq!(low.unit, 1);
    // Unit 1: the grader reads nothing where cam1 read the code.
    t.result(
        &read_by("cam1", 2, Some(scan(1)), Some(Grade::A), at(READER, 1)),
        gs1_code_of,
    );
    let no_read = t
        .result(
            &read_by("grader", 2, None, None, at(GRADER, 1)),
            gs1_code_of,
        )
        .expect("decided");
    assert_eq!(
        (no_read.unit, no_read.outcome),
        (2, Outcome::Rejected(RejectReason::NoRead))
    );
    // Unit 2: cam1 rejects it first; the grader's pass afterwards changes nothing.
    let first = t
        .result(&read_by("cam1", 3, None, None, at(READER, 2)), gs1_code_of)
        .expect("decided");
    assert_eq!(first.outcome, Outcome::Rejected(RejectReason::NoRead));
    let after = read_by("grader", 3, Some(scan(2)), Some(Grade::A), at(GRADER, 2));
    assert_eq!(t.result(&after, gs1_code_of), None);
    assert_eq!(t.stats().verified, 0);
}

#[test]
fn a_unit_only_one_reader_passed_is_late_at_the_gate() {
    let mut t = two_readers();
    units(&mut t, 1);
    t.result(
        &read_by("cam1", 1, Some(scan(0)), Some(Grade::A), at(READER, 0)),
        gs1_code_of,
    );
    let late = t.advance(GATE);
    assert_eq!(late.len(), 1, "{late:?}");
    assert_eq!(late[0].outcome, Outcome::Rejected(RejectReason::Late));
    assert_eq!(late[0].code.as_deref(), Some(code(0).as_str()));
}

#[test]
fn a_second_read_by_the_same_reader_changes_nothing() {
    let mut t = two_readers();
    units(&mut t, 1);
    t.result(
        &read_by("cam1", 1, Some(scan(0)), Some(Grade::A), at(READER, 0)),
        gs1_code_of,
    );
    // A double trigger: the same camera again, now with a failing grade, then a no-read.
    let again = read_by("cam1", 2, Some(scan(0)), Some(Grade::F), at(READER, 0));
    assert_eq!(t.result(&again, gs1_code_of), None);
    assert_eq!(
        t.result(&read_by("cam1", 3, None, None, at(READER, 0)), gs1_code_of),
        None,
        "a no-read by a camera that already passed the unit matches no other unit"
    );
    assert_eq!(t.stats().extra_reads, 1);
    assert_eq!(t.stats().unmatched, 1);
    let verdict = t
        .result(
            &read_by("grader", 1, Some(scan(0)), Some(Grade::A), at(GRADER, 0)),
            gs1_code_of,
        )
        .expect("decided");
    assert_eq!(verdict.outcome, Outcome::Verified);
}

#[test]
fn a_result_from_a_reader_not_on_the_line_matches_nothing() {
    let mut t = two_readers();
    units(&mut t, 1);
    let stranger = read_by("cam9", 1, None, None, at(READER, 0));
    assert_eq!(t.result(&stranger, gs1_code_of), None);
    assert_eq!(t.stats().unmatched, 1);
    assert_eq!(
        t.stats().rejected.iter().sum::<u64>(),
        0,
        "no unit was rejected"
    );
}

#[test]
fn each_reader_has_its_own_field_map() {
    let subscription = Subscription::new("127.0.0.1", 1883, "l1")
        .with_reader("cam1", FieldMap::default())
        .with_reader(
            "dataman",
            FieldMap::new(BTreeMap::from([
                ("seq".to_owned(), "id".to_owned()),
                ("data".to_owned(), "results.0.string".to_owned()),
            ])),
        );
    let own = br#"{"reader":"cam1","seq":5,"data":"]d2010950600013435221A1B2C3"}"#;
    let dataman = br#"{"id":6,"results":[{"string":"]d2010950600013435221A1B2C3"}]}"#;
    let Received::Result(a) = receive("tracemark/l1/vision/cam1/result", own, &subscription) else {
        panic!("cam1 publishes tracemark's own JSON");
    };
    assert_eq!((a.reader.as_str(), a.seq), ("cam1", 5));
    let Received::Result(b) = receive("tracemark/l1/vision/dataman/result", dataman, &subscription)
    else {
        panic!("dataman publishes its own shape, read by its field map");
    };
    assert_eq!((b.reader.as_str(), b.seq), ("dataman", 6));
    // Each map applies to its own reader only.
    assert!(matches!(
        receive("tracemark/l1/vision/cam1/result", dataman, &subscription),
        Received::Malformed { .. }
    ));
}

#[test]
fn a_line_with_two_readers_tracks_both_with_the_stricter_grade() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../line-configs/pharma-carton.toml");
    let line = crate::config::load_with_env(&path, BTreeMap::new()).expect("pharma-carton.toml");
    let geometry = tracker_config_for(&line, Grade::C).expect("marker, readers and gate");
    // 10 counts/mm: cam1 at 420 mm, the grader at 620 mm.
    assert_eq!(
        geometry.readers,
        [
            TrackedReader::new("cam1", 4200, Grade::C),
            TrackedReader::new("grader", 6200, Grade::B),
        ]
    );
    // A product stricter than the grader raises both.
    let strict = tracker_config_for(&line, Grade::A).expect("geometry");
    assert!(strict.readers.iter().all(|r| r.min_grade == Grade::A));
    let subscription = subscription_for(&line).expect("[mqtt]");
    assert_eq!(
        subscription.readers.keys().collect::<Vec<_>>(),
        ["cam1", "grader"]
    );
}
