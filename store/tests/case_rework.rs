//! A case sent to rework by the case camera's station (issue 14 item 2), on SQLite and
//! PostgreSQL: one `package.case_rejected` event on the audit chain with its reasons and codes,
//! nothing else changed; a rework without a reason, or of an unknown batch, is refused.

#[macro_use]
#[path = "../../controller/tests/common/mod.rs"]
mod common;

use common::*;
use tracemark_store::case_rework::{CASE_REJECTED, CaseRework};
use tracemark_store::{CodeState, Store, StoreError};

async fn case_rework_is_audited(store: Store) {
    store
        .add_product(&product("p", "09506000134352"))
        .await
        .expect("add the product");
    let (batch, codes) = verified_batch(&store, "p", "L1", 3).await;
    let rework = CaseRework {
        batch_id: batch.id,
        reader: "casecam".into(),
        seq: 7,
        reasons: vec!["missing: 2 found".into(), format!("{}: rejected", codes[2])],
        codes: codes[..2].to_vec(),
    };
    store.record_case_rework(&rework).await.expect("recorded");
    let events = store.events(0, 10_000).await.expect("events");
    let event = events.last().expect("an event");
    assert_eq!(event.kind, CASE_REJECTED);
    assert_eq!(event.subject, format!("batch:{}", batch.id));
    let detail: serde_json::Value = serde_json::from_str(&event.detail).expect("JSON");
    assert_eq!(detail["seq"], 7);
    assert_eq!(detail["reader"], "casecam");
    assert_eq!(detail["reasons"][1], format!("{}: rejected", codes[2]));
    assert_eq!(detail["codes"].as_array().map(Vec::len), Some(2));
    // The units stay as they were: loose.
    for code in &codes {
        assert_eq!(
            store.code(code).await.expect("code").state,
            CodeState::Verified
        );
    }
    assert_eq!(store.verify_audit().await.expect("verify").first_bad, None);

    let head = store.audit_head().await.expect("head");
    let no_reason = CaseRework {
        reasons: Vec::new(),
        ..rework.clone()
    };
    assert!(matches!(
        store.record_case_rework(&no_reason).await,
        Err(StoreError::Invalid { .. })
    ));
    let unknown = CaseRework {
        batch_id: batch.id + 1000,
        ..rework
    };
    assert!(matches!(
        store.record_case_rework(&unknown).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(store.audit_head().await.expect("head"), head);
}

both!(case_rework_is_audited);
