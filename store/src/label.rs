//! GS1 logistic labels of cartons and pallets (issue 14 item 3; docs/aggregation.md "Labels"):
//! a label read back as its SSCC verifies the package and records the count it carries; a label
//! that does not is recorded with what was read, before it is reprinted.

use serde::Serialize;

use crate::package::Package;
use crate::{Store, StoreError, sql};

/// Why a printed label was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelFault {
    /// The scanner read nothing (or nothing in time).
    NoRead,
    /// The scanner read something that is not this package's SSCC.
    Mismatch,
}

impl LabelFault {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            LabelFault::NoRead => "no_read",
            LabelFault::Mismatch => "mismatch",
        }
    }
}

/// A label that did not read back as its SSCC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelRejection {
    /// Which label of the package this was, from 1.
    pub attempt: u32,
    /// Why.
    pub fault: LabelFault,
    /// What the scanner read (its data, symbology identifier included), if anything.
    pub read: Option<String>,
}

impl Store {
    /// Records that the label of package `sscc` was printed: `labelled` (from `allocated`,
    /// `verified` or `reopened`; a reprint of a `labelled` package stays so, unrecorded).
    pub async fn label_printed(&self, sscc: &str) -> Result<Package, StoreError> {
        sql::packages::labelled(&self.db, &self.actor, sscc).await
    }

    /// Records that the label of the `labelled` package `sscc` was read back as its SSCC:
    /// `verified`, with the count it carries (`label_count` = its children now). One
    /// `package.state` event.
    pub async fn label_verified(&self, sscc: &str) -> Result<Package, StoreError> {
        sql::labels::verified(&self.db, &self.actor, sscc).await
    }

    /// Records that the label of the `labelled` package `sscc` was read back as its SSCC, and
    /// closes it, in one transaction: [`Store::label_verified`] and
    /// [`Store::set_package_state`] to `closed`, with their two `package.state` events. The
    /// close's rules hold (an empty package is voided, not closed); its label carries the
    /// count it holds, so it is never stale.
    pub async fn close_labelled(&self, sscc: &str) -> Result<Package, StoreError> {
        sql::labels::verified_and_closed(&self.db, &self.actor, sscc).await
    }

    /// Records a label of package `sscc` that did not read back as its SSCC: a
    /// `package.label_rejected` event with the attempt, the fault and what was read. The
    /// package does not change.
    pub async fn label_rejected(
        &self,
        sscc: &str,
        rejection: &LabelRejection,
    ) -> Result<(), StoreError> {
        sql::labels::rejected(&self.db, &self.actor, sscc, rejection).await
    }
}
