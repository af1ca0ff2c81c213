//! Whatever arrives on the case camera's topic, the case-read parser
//! (`tracemark::aggregation::case_read`) gives a case read or an error naming the field, never
//! a panic — with tracemark's own field names and with a vendor's field map of dotted paths —
//! and the decision on a parsed read (`case_decision`) never panics either: a case is
//! accepted only with exactly the expected number of distinct, packable codes.
#![no_main]

use std::collections::BTreeMap;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use tracemark::aggregation::case_decision::{CaseDecision, Known, codes_of, decide};
use tracemark::aggregation::case_read::parse_case_read;
use tracemark::verify::FieldMap;

static VENDOR: LazyLock<FieldMap> = LazyLock::new(|| {
    FieldMap::new(BTreeMap::from([
        ("reads".to_owned(), "job.results".to_owned()),
        ("data".to_owned(), "decode.0.string".to_owned()),
        ("grade".to_owned(), "quality.overall".to_owned()),
        ("seq".to_owned(), "job.id".to_owned()),
    ]))
});

fuzz_target!(|data: &[u8]| {
    for map in [&FieldMap::default(), &*VENDOR] {
        let Ok(read) = parse_case_read(data, map, "casecam") else {
            continue;
        };
        let codes = codes_of(&read);
        assert_eq!(codes.len(), read.reads.len());
        for per_case in [1, 12] {
            // Every code packable: only the count, unreadables and duplicates can refuse it.
            match decide(&read, &codes, per_case, |_| Known::Verified) {
                CaseDecision::Accept { codes: accepted } => {
                    assert!(accepted.len() <= per_case as usize);
                    let distinct: std::collections::HashSet<_> = accepted.iter().collect();
                    assert_eq!(distinct.len(), accepted.len());
                }
                CaseDecision::Reject { problems } => assert!(!problems.is_empty()),
                CaseDecision::Hold { .. } => panic!("nothing was pending"),
            }
        }
    }
});
