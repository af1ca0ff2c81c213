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

/// What the read of a printed label records ([`Store::label_read`]).
#[derive(Debug, Clone, Copy)]
pub enum LabelRead<'a> {
    /// Read back as its SSCC: `verified`, with the count it carries (`label_count` = its
    /// children now); the package stays open (`tracemark pack label`).
    Verified,
    /// Read back as its SSCC, and the package closed (a packing station's close): `verified`,
    /// then `closed`. The close's rules hold (an empty package is voided, not closed); its
    /// label carries the count it holds, so it is never stale.
    Closed,
    /// Not read back as its SSCC: a `package.label_rejected` event with the attempt, the fault
    /// and what was read. The package changes no further than its print's `labelled`.
    Rejected(&'a LabelRejection),
}

impl Store {
    /// Records that the label of package `sscc` was printed: `labelled` (from `allocated`,
    /// `verified` or `reopened`; a reprint of a `labelled` package stays so, unrecorded).
    pub async fn label_printed(&self, sscc: &str) -> Result<Package, StoreError> {
        sql::labels::printed_and_read(&self.db, &self.actor, sscc, None).await
    }

    /// Records a label of package `sscc` printed and then read as `read` says, in one
    /// transaction: `labelled` unless it is (as [`Store::label_printed`]), then the read's
    /// record — the events, in order, that the two steps would record one by one. The label
    /// station's one transaction a label: the print is recorded with its read, so a crash
    /// between the two leaves the package as it was, and the label is printed again, as after
    /// a crash before a print's own commit. The answer is the package as it leaves it; a
    /// refusal (the close's rules) records nothing.
    pub async fn label_read(&self, sscc: &str, read: LabelRead<'_>) -> Result<Package, StoreError> {
        sql::labels::printed_and_read(&self.db, &self.actor, sscc, Some(read)).await
    }
}
