//! Settling what a stopped or killed run left on the line, before a batch resumes and after a
//! run ends (SPEC §3: a code is never lost or left unaccounted).
//!
//! After a crash the marker's buffer is cleared when the driver reconnects and the belt between
//! the marker and the gate is purged by the operator (docs/operator.md), so:
//! - `reserved` and `sent` codes were never printed on a unit that leaves the line: `voided`;
//! - `printed` codes without a camera decision are on purged units: `rejected` (`late`: no
//!   result before the unit reached the gate), for QA to destroy.

use serde::Serialize;

use tracemark_store::{CodeState, RejectReason, Store, StoreError, Transition};

/// Codes read per query while settling.
const PAGE: i64 = 10_000;

/// What a restart settled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Recovered {
    /// `reserved`/`sent` codes voided.
    pub voided: u64,
    /// `printed` codes rejected as `late`.
    pub rejected_late: u64,
}

/// Settles the codes a previous run of `batch` left in flight.
pub(crate) async fn settle(store: &Store, batch: i64) -> Result<Recovered, StoreError> {
    let voided = void_unprinted(store, batch).await?;
    let rejected_late = move_all(store, batch, CodeState::Printed, CodeState::Rejected).await?;
    if voided + rejected_late > 0 {
        tracing::warn!(
            batch,
            voided,
            rejected_late,
            "resuming the batch: codes left in flight by the previous run are settled"
        );
    }
    Ok(Recovered {
        voided,
        rejected_late,
    })
}

/// Voids every `reserved` or `sent` code of `batch`; returns how many.
pub(crate) async fn void_unprinted(store: &Store, batch: i64) -> Result<u64, StoreError> {
    Ok(
        move_all(store, batch, CodeState::Reserved, CodeState::Voided).await?
            + move_all(store, batch, CodeState::Sent, CodeState::Voided).await?,
    )
}

async fn move_all(
    store: &Store,
    batch: i64,
    from: CodeState,
    to: CodeState,
) -> Result<u64, StoreError> {
    let reason = (to == CodeState::Rejected).then_some(RejectReason::Late);
    let mut moved = 0;
    loop {
        let codes = store.codes_of_batch(batch, from, PAGE).await?;
        if codes.is_empty() {
            return Ok(moved);
        }
        let changes: Vec<Transition> = codes
            .into_iter()
            .map(|c| Transition {
                code: c.code,
                to,
                reason,
                read: None,
            })
            .collect();
        store.transition_all(&changes).await?;
        moved += changes.len() as u64;
    }
}
