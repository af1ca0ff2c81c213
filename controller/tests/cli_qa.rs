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
    assert!(value.get("settled").is_none(), "settled only with --all");

    // `--all` lists the settled rejects too, each with its reason and read.
    let all = stdout(&tracemark(&url, &["qa", "rejects", "1", "--all"]));
    assert!(
        all.contains(&format!(
            "{}  no_read     read nothing  destroyed",
            codes[1]
        )),
        "{all}"
    );
    assert!(
        all.contains(&format!(
            "{}  low_grade   read {:?} grade D; re-scan grade B  released",
            codes[2],
            scan_of(&codes[2])
        )),
        "{all}"
    );

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
    // The release keeps why the unit was rejected and the read it was rejected on; the re-scan
    // it rests on is kept beside them.
    let released = store.code(&codes[2]).await.expect("code");
    assert_eq!(
        (released.reason, released.grade, released.data.as_deref()),
        (
            Some(tracemark_store::RejectReason::LowGrade),
            Some(tracemark_store::Grade::D),
            Some(scan_of(&codes[2]).as_str())
        )
    );
    assert_eq!(
        released.release_read,
        Some(CodeRead {
            grade: Some(tracemark_store::Grade::B),
            data: Some(scan_of(&codes[2])),
        })
    );
    // The destroyed unit keeps its reason too.
    let destroyed = store.code(&codes[1]).await.expect("code");
    assert_eq!(
        destroyed.reason,
        Some(tracemark_store::RejectReason::NoRead)
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
    // `--user` names the user over TRACEMARK_USER.
    let by_flag = tracemark(&url, &["--user", "qa-lead", "qa", "destroy", &codes[3]]);
    assert!(by_flag.status.success(), "{}", stderr(&by_flag));
    let events = store.events(0, 100).await.expect("events");
    let last = events.last().expect("an event");
    assert_eq!(
        (last.kind.as_str(), last.user.as_str()),
        ("codes.transition", "qa-lead")
    );
    assert_eq!(store.verify_audit().await.expect("verify").first_bad, None);
}

/// A QA disposition without a named user is refused and changes nothing; other writes still
/// record `unknown` rather than fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qa_dispositions_need_a_named_user() {
    use tracemark::app::{AppError, qa};
    use tracemark_store::Actor;

    let dir = tempdir();
    let store = open(&sqlite_url(dir.path())).await;
    let codes = line_output(&store).await;
    let nobody = Actor {
        user: Actor::UNKNOWN_USER.to_owned(),
        device: "test-bench".to_owned(),
    };
    let refused = qa::destroy(&store, &nobody, &codes[1..2]).await;
    assert!(
        matches!(&refused, Err(AppError::Forbidden(why)) if why.contains("--user")),
        "{refused:?}"
    );
    let release = qa::release(&store, &nobody, &codes[2], &scan_of(&codes[2]), "A").await;
    assert!(
        matches!(release, Err(AppError::Forbidden(_))),
        "{release:?}"
    );
    let all = qa::destroy_all_rejects(&store, &nobody, 1).await;
    assert!(matches!(all, Err(AppError::Forbidden(_))), "{all:?}");
    assert_eq!(
        store.code(&codes[1]).await.expect("code").state,
        CodeState::Rejected
    );
    // Named, the same disposition goes through.
    let named = nobody.on_device("test-bench");
    let named = Actor {
        user: "qa-lead".to_owned(),
        ..named
    };
    qa::destroy(&store, &named, &codes[1..2])
        .await
        .expect("destroy");
}
