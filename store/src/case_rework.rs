//! A case the packing station sent to rework (issue 14 item 2, `case_camera` mode): recorded
//! as one audit event, `package.case_rejected`, so that every refused case is on the chain
//! with its reasons and codes, and counted. Nothing else changes: the units of a refused case
//! were never packed and stay loose (`verified`).

use serde::Serialize;
use serde_json::json;

use crate::sql::audit::{begin, finish};
use crate::{Store, StoreError};

/// The audit event's kind.
pub const CASE_REJECTED: &str = "package.case_rejected";

/// One refused case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseRework {
    /// The batch being packed.
    pub batch_id: i64,
    /// The case camera.
    pub reader: String,
    /// The camera's sequence number of the case read.
    pub seq: u64,
    /// Every reason, each with its code or count (`(01)…(21)…: rejected`, `missing: 11 found`).
    pub reasons: Vec<String>,
    /// Every code the camera decoded in the case, in its order.
    pub codes: Vec<String>,
}

impl Store {
    /// Records that a case went to rework (audited as `package.case_rejected`).
    pub async fn record_case_rework(&self, rework: &CaseRework) -> Result<(), StoreError> {
        if rework.reasons.is_empty() {
            return Err(StoreError::invalid(
                "reasons",
                "a case goes to rework for at least one reason",
            ));
        }
        self.batch(rework.batch_id).await?;
        let (tx, head) = begin(&self.db).await?;
        let detail = json!({
            "batch": rework.batch_id,
            "reader": rework.reader,
            "seq": rework.seq,
            "reasons": rework.reasons,
            "codes": rework.codes,
        });
        let subject = format!("batch:{}", rework.batch_id);
        finish(tx, &self.actor, head, CASE_REJECTED, &subject, detail).await
    }
}
