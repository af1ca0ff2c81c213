//! Golden vectors of the case-read payload: tracemark's own JSON, a vendor's shape through a
//! field map, and every refusal naming its field and path.

use std::collections::BTreeMap;

use super::*;
use crate::verify::payload::MAX_PAYLOAD;

const CODE_A: &str = "]d2010950600013435221A1B2C3";
const CODE_B: &str = "]d2010950600013435221A1B2C4";

fn own(payload: &str) -> Result<CaseRead, PayloadError> {
    parse_case_read(payload.as_bytes(), &FieldMap::default(), "casecam")
}

fn problem(payload: &str) -> String {
    own(payload).expect_err("refused").to_string()
}

#[test]
fn tracemarks_own_case_read_parses_whole() {
    let read = own(&format!(
        r#"{{"reader":"casecam","seq":7,"ts":"2026-12-05T08:00:00.123Z",
            "reads":[{{"data":"{CODE_A}","grade":"B"}},{{"data":null}},{{"data":"{CODE_B}","grade":3}}]}}"#
    ))
    .expect("parsed");
    assert_eq!(
        read,
        CaseRead {
            reader: "casecam".into(),
            seq: 7,
            ts: Some("2026-12-05T08:00:00.123Z".into()),
            reads: vec![
                SymbolRead {
                    data: Some(CODE_A.into()),
                    grade: Some(Grade::B),
                },
                SymbolRead {
                    data: None,
                    grade: None,
                },
                SymbolRead {
                    data: Some(CODE_B.into()),
                    grade: Some(Grade::B),
                },
            ],
            short: false,
        }
    );
}

#[test]
fn an_empty_case_a_short_case_and_a_topic_named_reader() {
    let read = own(r#"{"seq":1,"reads":[],"short":true}"#).expect("parsed");
    assert_eq!(read.reader, "casecam");
    assert!(read.reads.is_empty());
    assert!(read.short);
    assert_eq!(read.ts, None);
    // An empty data string is an unreadable symbol, as a unit reader's empty data is a no-read.
    let read = own(r#"{"seq":2,"reads":[{"data":""}]}"#).expect("parsed");
    assert_eq!(read.reads[0].data, None);
}

#[test]
fn a_vendor_payload_is_read_through_the_field_map() {
    let map = FieldMap::new(BTreeMap::from([
        ("reads".to_owned(), "job.results".to_owned()),
        ("data".to_owned(), "decode.string".to_owned()),
        ("grade".to_owned(), "quality.overall".to_owned()),
        ("seq".to_owned(), "job.id".to_owned()),
    ]));
    let payload = format!(
        r#"{{"job":{{"id":42,"results":[{{"decode":{{"string":"{CODE_A}"}},"quality":{{"overall":"A"}}}},
            {{"decode":{{"string":null}}}}]}}}}"#
    );
    let read = parse_case_read(payload.as_bytes(), &map, "vendorcam").expect("parsed");
    assert_eq!(read.reader, "vendorcam");
    assert_eq!(read.seq, 42);
    assert_eq!(read.reads.len(), 2);
    assert_eq!(read.reads[0].data.as_deref(), Some(CODE_A));
    assert_eq!(read.reads[0].grade, Some(Grade::A));
    assert_eq!(read.reads[1].data, None);
    // The error names the vendor's path, inside the read that is wrong.
    let wrong = r#"{"job":{"id":1,"results":[{"decode":{"string":5}}]}}"#;
    assert_eq!(
        parse_case_read(wrong.as_bytes(), &map, "vendorcam")
            .expect_err("refused")
            .to_string(),
        "field data (path \"job.results.0.decode.string\"): expected a string or null"
    );
}

#[test]
fn every_refusal_names_the_field_and_where() {
    assert_eq!(
        problem(r#"{"reads":[]}"#),
        "field seq (path \"seq\") is missing"
    );
    assert_eq!(
        problem(r#"{"seq":-1,"reads":[]}"#),
        "field seq (path \"seq\"): expected a non-negative integer"
    );
    assert_eq!(
        problem(r#"{"seq":1}"#),
        "field reads (path \"reads\") is missing"
    );
    assert_eq!(
        problem(r#"{"seq":1,"reads":{"data":null}}"#),
        "field reads (path \"reads\"): expected a list of reads"
    );
    assert_eq!(
        problem(r#"{"seq":1,"reads":[{"data":null},"x"]}"#),
        "field reads (path \"reads.1\"): expected an object"
    );
    assert_eq!(
        problem(r#"{"seq":1,"reads":[{"grade":"A"}]}"#),
        "field data (path \"reads.0.data\") is missing"
    );
    assert_eq!(
        problem(&format!(
            r#"{{"seq":1,"reads":[{{"data":"{CODE_A}","grade":"Z"}}]}}"#
        )),
        "field grade (path \"reads.0.grade\"): expected A–D, F or 0–4"
    );
    assert_eq!(
        problem(r#"{"seq":1,"reads":[],"short":"yes"}"#),
        "field short (path \"short\"): expected true or false"
    );
    assert_eq!(
        problem(r#"{"reader":"","seq":1,"reads":[]}"#),
        "field reader (path \"reader\"): expected a name of 1–64 characters"
    );
    assert_eq!(
        problem(r#"{"seq":1,"ts":5,"reads":[]}"#),
        "field ts (path \"ts\"): expected a string"
    );
    assert_eq!(problem("[1]"), "not JSON: expected a JSON object");
    assert!(problem("{\"seq\":").starts_with("not JSON: "));
    let long = format!(r#"{{"seq":1,"reads":[{{"data":"{}"}}]}}"#, "x".repeat(4097));
    assert_eq!(
        problem(&long),
        "field data (path \"reads.0.data\"): longer than 4096 characters"
    );
}

#[test]
fn sizes_are_bounded_before_and_after_parsing() {
    let huge = vec![b' '; MAX_PAYLOAD + 1];
    assert_eq!(
        parse_case_read(&huge, &FieldMap::default(), "c"),
        Err(PayloadError::TooLarge(MAX_PAYLOAD + 1))
    );
    let many = format!(
        r#"{{"seq":1,"reads":[{}]}}"#,
        vec!["{\"data\":null}"; MAX_READS + 1].join(",")
    );
    assert_eq!(
        problem(&many),
        format!(
            "field reads (path \"reads\"): {} reads: a case has at most {MAX_READS}",
            MAX_READS + 1
        )
    );
}

#[test]
fn truncated_payloads_never_panic() {
    let whole = format!(
        r#"{{"reader":"casecam","seq":7,"reads":[{{"data":"{CODE_A}","grade":"B"}},{{"data":null}}]}}"#
    );
    for end in 0..whole.len() {
        let _ = parse_case_read(&whole.as_bytes()[..end], &FieldMap::default(), "c");
    }
    assert!(own(&whole).is_ok());
}
