//! `tracemark qa …`: rejects listed, destroyed, released only on a matching re-scan at the
//! product's grade, verified units sampled; every action audited with the user.

mod common;

use common::*;
use tracemark_store::{CodeRead, CodeState, Store, Transition};

fn to(code: &str, state: CodeState, reason: Option<&str>) -> Transition {
    Transition {
        code: code.to_owned(),
        to: state,
        reason: reason.map(|r| r.parse().expect("a reject reason")),
        read: None,
    }
}

/// A batch of five codes: 0 verified, 1–3 rejected (no_read, low_grade, mismatch), 4 printed.
async fn line_output(store: &Store) -> Vec<String> {
    let mut p = product("p", "09506000134352");
    p.min_grade = tracemark_store::Grade::B;
    store.add_product(&p).await.expect("add");
    let batch = running_batch(store, "p", 5).await;
    let codes = store
        .allocate("p", 5, Some(batch.id))
        .await
        .expect("allocate")
        .codes;
    for state in [CodeState::Sent, CodeState::Printed] {
        let all: Vec<Transition> = codes.iter().map(|c| to(c, state, None)).collect();
        store.transition_all(&all).await.expect("print");
    }
    store
        .transition_all(&[
            to(&codes[0], CodeState::Verified, None),
            to(&codes[1], CodeState::Rejected, Some("no_read")),
            Transition {
                read: Some(CodeRead {
                    grade: Some(tracemark_store::Grade::D),
                    data: Some(scan_of(&codes[2])),
                }),
                ..to(&codes[2], CodeState::Rejected, Some("low_grade"))
            },
            Transition {
                read: Some(CodeRead {
                    grade: Some(tracemark_store::Grade::A),
                    data: Some(scan_of(&codes[0])),
                }),
                ..to(&codes[3], CodeState::Rejected, Some("mismatch"))
            },
        ])
        .await
        .expect("verify");
    codes
}

fn scan_of(code: &str) -> String {
    // (01)GTIN(21)SERIAL → ]d2 01GTIN 21SERIAL (the serial is last: no separator).
    let serial = code.rsplit_once("(21)").map(|(_, s)| s).unwrap_or_default();
    format!("]d20109506000134352 21{serial}").replace(' ', "")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qa_settles_rejects_and_samples() {
    let dir = tempdir();
    let url = sqlite_url(dir.path());
    let store = open(&url).await;
    let codes = line_output(&store).await;
    store.close().await;

    let list = tracemark(&url, &["qa", "rejects", "1"]);
    assert!(list.status.success(), "{}", stderr(&list));
    let text = stdout(&list);
    assert!(
        text.starts_with("batch 1: 3 rejected to settle, 0 destroyed, 0 released"),
        "{text}"
    );
    // Each reject with what the camera saw.
    assert!(
        text.contains(&format!(
            "{}  low_grade   read {:?} grade D",
            codes[2],
            scan_of(&codes[2])
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("{}  no_read     read nothing", codes[1])),
        "{text}"
    );

    // Destroying is all or nothing: a verified code in the list changes nothing.
    let refused = tracemark(&url, &["qa", "destroy", &codes[1], &codes[0]]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    let destroyed = tracemark(&url, &["qa", "destroy", &codes[1]]);
    assert!(destroyed.status.success(), "{}", stderr(&destroyed));

    // Release: the re-scan must read this code, at grade B or better (the product's minimum).
    let release = |code: &str, scan: &str, grade: &str| {
        tracemark(
            &url,
            &["qa", "release", code, "--scan", scan, "--grade", grade],
        )
    };
    let wrong = release(&codes[2], &scan_of(&codes[3]), "A");
    assert_eq!(wrong.status.code(), Some(2));
    assert!(
        stderr(&wrong).contains("stays rejected"),
        "{}",
        stderr(&wrong)
    );
    let low = release(&codes[2], &scan_of(&codes[2]), "C");
    assert_eq!(low.status.code(), Some(2));
    assert!(
        stderr(&low).contains("below product p's minimum B"),
        "{}",
        stderr(&low)
    );
    let garbage = tracemark(
        &url,
        &[
            "qa", "release", &codes[2], "--scan", "hello", "--grade", "A",
        ],
    );
    assert_eq!(garbage.status.code(), Some(2));
    let released = release(&codes[2], &scan_of(&codes[2]), "B");
    assert!(released.status.success(), "{}", stderr(&released));
    // Only a rejected unit can be released, only a verified one sampled.
    let not_rejected = release(&codes[0], &scan_of(&codes[0]), "A");
    assert_eq!(not_rejected.status.code(), Some(2));
    assert_eq!(
        tracemark(&url, &["qa", "sample", &codes[4]]).status.code(),
        Some(2),
        "a printed, unverified unit is not a sample"
    );
    let sampled = tracemark(&url, &["qa", "sample", &codes[0]]);
    assert!(sampled.status.success(), "{}", stderr(&sampled));

    let json = stdout(&tracemark(&url, &["qa", "rejects", "1", "--json"]));
    let value: serde_json::Value = serde_json::from_str(json.trim()).expect("one JSON object");
    assert_eq!(value["to_settle"], 1);
    assert_eq!(value["destroyed"], 1);
    assert_eq!(value["released"], 1);
    assert_eq!(value["rejected"][0]["reason"], "mismatch");
    assert_eq!(value["rejected"][0]["grade"], "A");
    assert_eq!(value["rejected"][0]["data"], scan_of(&codes[0]));

    let store = open(&url).await;
    let states: Vec<CodeState> = {
        let mut states = Vec::new();
        for code in &codes {
            states.push(store.code(code).await.expect("code").state);
        }
        states
    };
    assert_eq!(
        states,
        [
            CodeState::Sampled,
            CodeState::Destroyed,
            CodeState::Released,
            CodeState::Rejected,
            CodeState::Printed
        ]
    );
    // The release rests on the re-scan: it is the code's read now.
    let released = store.code(&codes[2]).await.expect("code");
    assert_eq!(
        (released.grade, released.data),
        (Some(tracemark_store::Grade::B), Some(scan_of(&codes[2])))
    );
    // Every QA action is an event with the user who did it.
    let events = store.events(0, 100).await.expect("events");
    let qa_events = events
        .iter()
        .filter(|e| e.kind == "codes.transition" && e.user == "tester")
        .filter(|e| {
            e.detail.contains("destroyed")
                || e.detail.contains("released")
                || e.detail.contains("sampled")
        })
        .count();
    assert_eq!(qa_events, 3);
    assert_eq!(store.verify_audit().await.expect("verify").first_bad, None);
}
