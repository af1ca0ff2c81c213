//! The decision for each reason, alone and together.

use std::collections::HashMap;

use super::*;
use crate::aggregation::case_read::SymbolRead;

/// The scanner data of unit `n` (GTIN 09506000134352, serial `S<n>`) and its stored text.
fn data(n: u32) -> String {
    format!("]d20109506000134352\u{1d}21S{n}")
}

fn code(n: u32) -> String {
    format!("(01)09506000134352(21)S{n}")
}

fn case(symbols: &[Option<String>], short: bool) -> CaseRead {
    CaseRead {
        reader: "casecam".into(),
        seq: 1,
        ts: None,
        reads: symbols
            .iter()
            .map(|data| SymbolRead {
                data: data.clone(),
                grade: None,
            })
            .collect(),
        short,
    }
}

/// Units 1..=`n`, each read.
fn units(range: std::ops::RangeInclusive<u32>) -> Vec<Option<String>> {
    range.map(|n| Some(data(n))).collect()
}

/// Units 1–10 verified, 11 packed, 12 rejected, 13 pending, everything else foreign.
fn world(code_text: &str) -> Known {
    let known: HashMap<String, Known> = (1..=10)
        .map(|n| (code(n), Known::Verified))
        .chain([
            (code(11), Known::Packed),
            (code(12), Known::Rejected),
            (code(13), Known::Pending),
        ])
        .collect();
    known.get(code_text).copied().unwrap_or(Known::Foreign)
}

fn decide_on(symbols: &[Option<String>], per_case: u32, short: bool) -> CaseDecision {
    let read = case(symbols, short);
    let codes = codes_of(&read);
    decide(&read, &codes, per_case, world)
}

fn problems(decision: CaseDecision) -> Vec<String> {
    match decision {
        CaseDecision::Reject { problems } => problems.iter().map(ToString::to_string).collect(),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn exactly_the_case_of_verified_units_is_accepted() {
    assert_eq!(
        decide_on(&units(1..=4), 4, false),
        CaseDecision::Accept {
            codes: (1..=4).map(code).collect()
        }
    );
}

#[test]
fn fewer_symbols_are_missing_units() {
    assert_eq!(
        problems(decide_on(&units(1..=3), 4, false)),
        ["missing: 3 found"]
    );
    assert_eq!(problems(decide_on(&[], 4, false)), ["missing: 0 found"]);
}

#[test]
fn a_case_closed_short_on_purpose_is_accepted_but_never_empty() {
    assert_eq!(
        decide_on(&units(1..=3), 4, true),
        CaseDecision::Accept {
            codes: (1..=3).map(code).collect()
        }
    );
    assert_eq!(problems(decide_on(&[], 4, true)), ["missing: 0 found"]);
}

#[test]
fn more_symbols_are_too_many() {
    assert_eq!(
        problems(decide_on(&units(1..=5), 4, false)),
        ["too many: 5 found"]
    );
}

#[test]
fn an_unreadable_symbol_is_named_by_its_position() {
    let mut symbols = units(1..=4);
    symbols[2] = None;
    assert_eq!(
        problems(decide_on(&symbols, 4, false)),
        ["symbol 3: unreadable"]
    );
}

#[test]
fn foreign_codes_and_data_that_is_no_code_are_foreign() {
    let mut symbols = units(1..=4);
    symbols[0] = Some(data(99));
    symbols[1] = Some("]d2HELLO".to_owned());
    assert_eq!(
        problems(decide_on(&symbols, 4, false)),
        [
            format!("{}: foreign", code(99)),
            "]d2HELLO: foreign".to_owned()
        ]
    );
}

#[test]
fn a_rejected_unit_put_back_is_named() {
    let mut symbols = units(1..=4);
    symbols[3] = Some(data(12));
    assert_eq!(
        problems(decide_on(&symbols, 4, false)),
        [format!("{}: rejected", code(12))]
    );
}

#[test]
fn an_already_packed_unit_is_named() {
    let mut symbols = units(1..=4);
    symbols[1] = Some(data(11));
    assert_eq!(
        problems(decide_on(&symbols, 4, false)),
        [format!("{}: already packed", code(11))]
    );
}

#[test]
fn the_same_code_twice_is_a_duplicate() {
    let mut symbols = units(1..=4);
    symbols[3] = Some(data(1));
    assert_eq!(
        problems(decide_on(&symbols, 4, false)),
        [format!("{}: duplicate", code(1))]
    );
}

#[test]
fn every_reason_is_given_at_once() {
    let symbols = vec![
        Some(data(1)),
        None,
        Some(data(99)),
        Some(data(12)),
        Some(data(11)),
        Some(data(1)),
    ];
    assert_eq!(
        problems(decide_on(&symbols, 4, false)),
        [
            "too many: 6 found".to_owned(),
            "symbol 2: unreadable".to_owned(),
            format!("{}: foreign", code(99)),
            format!("{}: rejected", code(12)),
            format!("{}: already packed", code(11)),
            format!("{}: duplicate", code(1)),
        ]
    );
}

#[test]
fn a_unit_not_yet_committed_holds_the_case_unless_it_is_refused_anyway() {
    let mut symbols = units(1..=4);
    symbols[0] = Some(data(13));
    assert_eq!(
        decide_on(&symbols, 4, false),
        CaseDecision::Hold {
            pending: vec![code(13)]
        }
    );
    symbols[1] = None;
    assert_eq!(
        problems(decide_on(&symbols, 4, false)),
        ["symbol 2: unreadable"]
    );
}
