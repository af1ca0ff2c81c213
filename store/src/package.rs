//! Aggregation (SPEC §3a, issue 14): cartons and pallets with their SSCCs, the links of units to
//! cartons and of cartons to pallets, their states, and the rework that changes them.
//!
//! - **SSCCs** are extension digit + the producer's GS1 company prefix + a serial reference +
//!   check digit (`tracemark_codes::gs1::Sscc`). The reference comes from `sscc_counter`,
//!   advanced in the very transaction that records the package, so an SSCC is never issued
//!   twice, even across `kill -9`. Sequential: SSCCs must be unique, not secret.
//! - **Links** are one column each (`codes.package_sscc`, `packages.parent_sscc`): a unit is in
//!   at most one carton and a carton on at most one pallet by construction.
//! - **Every link operation is all or nothing**: each child is checked, and a refusal
//!   ([`StoreError::PackRefused`]) names every offending child with its [`LinkProblem`]; then
//!   nothing is written and the audit chain does not move.
//! - The units' state changes (`verified → packed`, and back in rework) are made by the same
//!   transaction as the link and recorded in its one event (`package.pack`, `package.unpack`,
//!   `package.replace`), whose detail lists the SSCC and every code.

use std::fmt;

use serde::Serialize;

use crate::reconcile::PackageReconciliation;
use crate::vocab::{CodeState, PackageLevel, PackageState};
use crate::{Store, StoreError, sql};

/// How the producer's SSCCs are built (GS1 General Specifications §2.2.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SsccCoding {
    /// The GS1 company prefix, 4 to 12 digits.
    pub company_prefix: String,
    /// The extension digit, 0–9.
    pub extension_digit: u8,
}

impl SsccCoding {
    /// Checks the prefix and digit with the rules of `tracemark_codes::gs1::Sscc::new`.
    pub fn validate(&self) -> Result<(), StoreError> {
        tracemark_codes::gs1::Sscc::new(self.extension_digit, &self.company_prefix, 0)
            .map(|_| ())
            .map_err(|e| StoreError::invalid("gs1_company_prefix", e))
    }
}

/// A carton or pallet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Package {
    /// Its SSCC, 18 digits.
    pub sscc: String,
    /// Carton or pallet.
    pub level: PackageLevel,
    /// The batch its units are of.
    pub batch_id: i64,
    /// The batch's product.
    pub product_id: String,
    /// Units per carton, or cartons per pallet.
    pub capacity: i64,
    /// Its state.
    pub state: PackageState,
    /// A carton's pallet.
    pub parent: Option<String>,
    /// Closed with fewer children than its capacity.
    pub short: bool,
    /// Units in a carton, or cartons on a pallet.
    pub children_count: i64,
    /// When its SSCC was allocated (RFC 3339).
    pub created_at: String,
    /// When it was last closed.
    pub closed_at: Option<String>,
    /// The count on its verified label (AI 37); `None`: no verified label.
    pub label_count: Option<i64>,
    /// The shipment that shipped it (docs/shipping.md).
    pub shipment_id: Option<i64>,
}

impl Package {
    /// Its label was verified, and its count has changed since: it needs a new label before it
    /// closes (docs/aggregation.md "Labels").
    pub fn needs_new_label(&self) -> bool {
        self.label_count
            .is_some_and(|count| count != self.children_count)
    }

    /// Why it may not close now, if it may not: its verified label's count is out of date.
    pub fn close_refusal(&self) -> Option<String> {
        match self.label_count {
            Some(count) if self.needs_new_label() => Some(format!(
                "{} {}: its label says {count}, it holds {}: print and verify a new label \
                 first (tracemark pack label {} --config LINE.toml)",
                self.level, self.sscc, self.children_count, self.sscc
            )),
            _ => None,
        }
    }
}

/// A package and what is in it: a pallet's cartons (each with its units), a carton's units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PackageContents {
    /// The package.
    #[serde(flatten)]
    pub package: Package,
    /// A pallet's cartons.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    // The type holds itself: its schema refers to itself instead of expanding forever.
    #[cfg_attr(feature = "openapi", schema(no_recursion))]
    pub cartons: Vec<PackageContents>,
    /// A carton's unit codes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub units: Vec<String>,
}

/// Why a child may not be linked to (or unlinked from) a package (SPEC §3a).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkProblem {
    /// No code (or package) of this store.
    Unknown,
    /// Given twice in one request.
    ListedTwice,
    /// A unit that is not verified (its state).
    NotVerified(CodeState),
    /// Of another batch than the package's (`of`: the child's batch, if any).
    OtherBatch {
        /// The child's batch.
        of: Option<i64>,
        /// The package's batch.
        want: i64,
    },
    /// Already in this package.
    AlreadyIn(String),
    /// The package does not take or give children in its state (closed, palletised, …).
    PackageNotOpen {
        /// Carton or pallet.
        level: PackageLevel,
        /// Its state.
        state: PackageState,
    },
    /// The package would hold more than its capacity.
    OverCapacity(i64),
    /// Taking out a unit (or carton) that is in no package (its state).
    NotInPackage(String),
    /// Taking out of a package that is not open: reopen it first.
    InClosedPackage {
        /// The package.
        sscc: String,
        /// Its state.
        state: PackageState,
    },
    /// A carton put onto a pallet must be closed (its state).
    NotClosed(PackageState),
    /// A package of the wrong level (a pallet given where a carton goes).
    WrongLevel(PackageLevel),
}

impl fmt::Display for LinkProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkProblem::Unknown => f.write_str("unknown code"),
            LinkProblem::ListedTwice => f.write_str("listed twice"),
            LinkProblem::NotVerified(state) => write!(f, "not verified ({state})"),
            LinkProblem::OtherBatch { of: Some(of), want } => {
                write!(f, "of batch {of}, not {want}")
            }
            LinkProblem::OtherBatch { of: None, want } => write!(f, "of no batch, not {want}"),
            LinkProblem::AlreadyIn(sscc) => write!(f, "already in {sscc}"),
            LinkProblem::PackageNotOpen { level, state } => write!(f, "{level} {state}"),
            LinkProblem::OverCapacity(capacity) => write!(f, "over capacity ({capacity})"),
            LinkProblem::NotInPackage(state) => write!(f, "not in a package ({state})"),
            LinkProblem::InClosedPackage { sscc, state } => {
                write!(f, "in {sscc}, which is {state} (reopen it first)")
            }
            LinkProblem::NotClosed(state) => write!(f, "not closed ({state})"),
            LinkProblem::WrongLevel(level) => write!(f, "a {level}"),
        }
    }
}

/// One refused child: the code (or SSCC) given and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The code or SSCC as given.
    pub item: String,
    /// Why.
    pub problem: LinkProblem,
}

/// `CODE: reason; CODE: reason`, in the order given.
pub fn list_refusals(refusals: &[Refusal]) -> String {
    refusals
        .iter()
        .map(|r| format!("{}: {}", r.item, r.problem))
        .collect::<Vec<_>>()
        .join("; ")
}

impl Store {
    /// Sets the producer's GS1 company prefix and SSCC extension digit (the producer must be
    /// set). Audited as `producer.gs1`.
    pub async fn set_sscc_coding(&self, coding: &SsccCoding) -> Result<(), StoreError> {
        coding.validate()?;
        sql::packages::set_sscc_coding(&self.db, &self.actor, coding).await
    }

    /// The producer's SSCC coding, if it has a GS1 company prefix.
    pub async fn sscc_coding(&self) -> Result<Option<SsccCoding>, StoreError> {
        sql::packages::sscc_coding(&self.db).await
    }

    /// Allocates an SSCC and records a package of batch `batch_id`, `allocated`. Its capacity
    /// is `capacity` or the product's pack size of that level.
    pub async fn create_package(
        &self,
        batch_id: i64,
        level: PackageLevel,
        capacity: Option<i64>,
    ) -> Result<Package, StoreError> {
        let capacity = self.capacity(batch_id, level, capacity).await?;
        sql::packages::create(&self.db, &self.actor, batch_id, level, capacity).await
    }

    /// A new carton of batch `batch_id` with the verified units `codes` in it, `allocated`:
    /// [`Store::create_package`] and [`Store::pack`] in one transaction, all or nothing (a
    /// refusal allocates no SSCC). Its capacity is as `create_package`'s. A crash leaves no
    /// empty carton behind, and the store commits once for the two. The answer is the carton
    /// as the transaction leaves it (no read after it).
    pub async fn pack_new_carton(
        &self,
        batch_id: i64,
        capacity: Option<i64>,
        codes: &[String],
    ) -> Result<Package, StoreError> {
        let level = PackageLevel::Carton;
        let capacity = self.capacity(batch_id, level, capacity).await?;
        let wanted: Vec<&str> = codes.iter().map(String::as_str).collect();
        let located = self.locator.locate(self, &wanted).await?;
        sql::links::create_and_pack(&self.db, &self.actor, batch_id, capacity, codes, &located)
            .await
    }

    /// The capacity of a new package of `level` for batch `batch_id`: `capacity`, or the
    /// product's pack size of that level. A capacity given needs no read: the transaction that
    /// makes the package finds its batch or refuses it (`sql::packages::create_in`).
    async fn capacity(
        &self,
        batch_id: i64,
        level: PackageLevel,
        capacity: Option<i64>,
    ) -> Result<i64, StoreError> {
        match capacity {
            Some(n) if n >= 1 => Ok(n),
            Some(n) => Err(StoreError::invalid(
                "capacity",
                format!("{n} is not at least 1"),
            )),
            None => {
                let batch = self.batch(batch_id).await?;
                let product = self.product(&batch.product_id).await?;
                match product.pack_sizes.get(level.pack_size_index()) {
                    Some(n) => Ok(i64::from(*n)),
                    None => Err(StoreError::invalid(
                        "capacity",
                        format!(
                            "product {} has no pack size for a {level}: give a capacity",
                            product.id
                        ),
                    )),
                }
            }
        }
    }

    /// One package.
    pub async fn package(&self, sscc: &str) -> Result<Package, StoreError> {
        sql::packages::package(&self.db, sscc)
            .await?
            .ok_or_else(|| not_found(sscc))
    }

    /// A package with its cartons and units.
    pub async fn package_contents(&self, sscc: &str) -> Result<PackageContents, StoreError> {
        let package = self.package(sscc).await?;
        sql::packages::contents(&self.db, package).await
    }

    /// The packages of a batch, pallets first, each in SSCC order.
    pub async fn packages_of_batch(&self, batch_id: i64) -> Result<Vec<Package>, StoreError> {
        self.batch(batch_id).await?;
        sql::packages::of_batch(&self.db, batch_id).await
    }

    /// Puts verified units of the carton's batch, in no package, into the open carton `sscc`
    /// (they become `packed`); all or none.
    pub async fn pack(&self, sscc: &str, codes: &[String]) -> Result<Package, StoreError> {
        let wanted: Vec<&str> = codes.iter().map(String::as_str).collect();
        let located = self.locator.locate(self, &wanted).await?;
        sql::links::pack(&self.db, &self.actor, sscc, codes, &located, false).await
    }

    /// What [`Store::pack`] would answer, changing nothing: `Ok` when it would pack every code,
    /// its refusal otherwise (a hand-scanner station asks before it accepts each scan).
    pub async fn check_pack(&self, sscc: &str, codes: &[String]) -> Result<(), StoreError> {
        let wanted: Vec<&str> = codes.iter().map(String::as_str).collect();
        let located = self.locator.locate(self, &wanted).await?;
        sql::links::pack(&self.db, &self.actor, sscc, codes, &located, true)
            .await
            .map(|_| ())
    }

    /// Takes packed units out of their open cartons (they become `verified`); all or none.
    /// Returns each code with the carton it left.
    pub async fn unpack_codes(
        &self,
        codes: &[String],
    ) -> Result<Vec<(String, String)>, StoreError> {
        let wanted: Vec<&str> = codes.iter().map(String::as_str).collect();
        let located = self.locator.locate(self, &wanted).await?;
        sql::links::unpack_codes(&self.db, &self.actor, codes, &located).await
    }

    /// Replaces the packed unit `old` by the verified unit `new` in `old`'s open carton, in one
    /// transaction. Returns the carton.
    pub async fn replace_code(&self, old: &str, new: &str) -> Result<Package, StoreError> {
        let located = self.locator.locate(self, &[old, new]).await?;
        let sscc = sql::links::replace(&self.db, &self.actor, old, new, &located).await?;
        self.package(&sscc).await
    }

    /// Takes every child out of the open package `sscc` (units become `verified`, cartons
    /// `closed`); returns how many.
    pub async fn unpack_package(&self, sscc: &str) -> Result<usize, StoreError> {
        let package = self.package(sscc).await?;
        match package.level {
            PackageLevel::Carton => {
                let units = sql::packages::units_of(&self.db, sscc).await?;
                if units.is_empty() {
                    return Ok(0);
                }
                let located = {
                    let wanted: Vec<&str> = units.iter().map(String::as_str).collect();
                    self.locator.locate(self, &wanted).await?
                };
                sql::links::unpack_codes(&self.db, &self.actor, &units, &located)
                    .await
                    .map(|out| out.len())
            }
            PackageLevel::Pallet => {
                let cartons = sql::packages::cartons_of(&self.db, sscc).await?;
                if cartons.is_empty() {
                    return Ok(0);
                }
                sql::links::unpack_cartons(&self.db, &self.actor, &cartons)
                    .await
                    .map(|out| out.len())
            }
        }
    }

    /// Puts closed cartons of the pallet's batch, on no pallet, onto the open pallet `sscc`
    /// (they become `palletised`); all or none.
    pub async fn pack_cartons(
        &self,
        pallet: &str,
        cartons: &[String],
    ) -> Result<Package, StoreError> {
        sql::links::pack_cartons(&self.db, &self.actor, pallet, cartons, false).await
    }

    /// What [`Store::pack_cartons`] would answer, changing nothing (see [`Store::check_pack`]).
    pub async fn check_pack_cartons(
        &self,
        pallet: &str,
        cartons: &[String],
    ) -> Result<(), StoreError> {
        sql::links::pack_cartons(&self.db, &self.actor, pallet, cartons, true)
            .await
            .map(|_| ())
    }

    /// Takes cartons off their open pallets (they become `closed` again); all or none. Returns
    /// each carton with the pallet it left.
    pub async fn unpack_cartons(
        &self,
        cartons: &[String],
    ) -> Result<Vec<(String, String)>, StoreError> {
        sql::links::unpack_cartons(&self.db, &self.actor, cartons).await
    }

    /// The batch's loose units that the line verified (in no package; not those taken out of
    /// a carton in rework), in the order it verified them: what an interrupted packing station
    /// had in its open case, to resume it.
    pub async fn loose_units(&self, batch_id: i64) -> Result<Vec<String>, StoreError> {
        self.batch(batch_id).await?;
        sql::loose::loose_units(&self.db, batch_id).await
    }

    /// After a restore: advances every SSCC counter past the SSCCs the snapshot cannot know
    /// (by 1,000,000 references, or a tenth of a long prefix's reference space), with an
    /// `sscc.skip` event. Returns (prefix, extension digit, next reference) per counter.
    pub async fn skip_sscc_references(
        &self,
        why: &str,
    ) -> Result<Vec<(String, i64, i64)>, StoreError> {
        sql::packages::skip_references(&self.db, &self.actor, why).await
    }

    /// The reconciliation of batch `batch_id`'s cartons and pallets (issue 14 item 5).
    pub async fn package_reconciliation(
        &self,
        batch_id: i64,
    ) -> Result<PackageReconciliation, StoreError> {
        self.batch(batch_id).await?;
        let figures = sql::packages::figures(&self.db, batch_id, None).await?;
        Ok(PackageReconciliation::from_figures(&figures))
    }

    /// [`Store::package_reconciliation`] of the batch `tally` counted (the codes' links to
    /// cartons taken from it instead of another pass over the batch's codes).
    pub async fn package_reconciliation_of(
        &self,
        batch_id: i64,
        tally: &crate::report::BatchTally,
    ) -> Result<PackageReconciliation, StoreError> {
        self.batch(batch_id).await?;
        let links = (tally.packed_in_no_carton, tally.linked_not_packed);
        let figures = sql::packages::figures(&self.db, batch_id, Some(links)).await?;
        Ok(PackageReconciliation::from_figures(&figures))
    }

    /// Moves a package to `to` (`PackageState::can_become`). Closing records whether it is
    /// short (fewer children than its capacity) and refuses an empty package (void it);
    /// voiding refuses a package with children. `palletised` and `shipped` are reached by
    /// [`Store::pack_cartons`] and shipping, not here.
    pub async fn set_package_state(
        &self,
        sscc: &str,
        to: PackageState,
    ) -> Result<Package, StoreError> {
        if matches!(to, PackageState::Palletised | PackageState::Shipped) {
            return Err(StoreError::invalid(
                "state",
                format!("a package becomes {to} by being put on a pallet or shipped"),
            ));
        }
        sql::packages::set_state(&self.db, &self.actor, sscc, to).await
    }
}

/// The error of an SSCC that is no package here.
pub(crate) fn not_found(sscc: &str) -> StoreError {
    StoreError::NotFound {
        what: "package",
        id: sscc.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_read_as_the_operator_needs_them() {
        let refusals = [
            Refusal {
                item: "(01)09506000134352(21)1".into(),
                problem: LinkProblem::NotVerified(CodeState::Rejected),
            },
            Refusal {
                item: "(01)09506000134352(21)2".into(),
                problem: LinkProblem::OtherBatch {
                    of: Some(3),
                    want: 7,
                },
            },
            Refusal {
                item: "(01)09506000134352(21)3".into(),
                problem: LinkProblem::AlreadyIn("009506000100000017".into()),
            },
            Refusal {
                item: "x".into(),
                problem: LinkProblem::Unknown,
            },
            Refusal {
                item: "(01)09506000134352(21)4".into(),
                problem: LinkProblem::PackageNotOpen {
                    level: PackageLevel::Carton,
                    state: PackageState::Closed,
                },
            },
            Refusal {
                item: "(01)09506000134352(21)5".into(),
                problem: LinkProblem::OverCapacity(12),
            },
        ];
        assert_eq!(
            list_refusals(&refusals),
            "(01)09506000134352(21)1: not verified (rejected); \
             (01)09506000134352(21)2: of batch 3, not 7; \
             (01)09506000134352(21)3: already in 009506000100000017; x: unknown code; \
             (01)09506000134352(21)4: carton closed; (01)09506000134352(21)5: over capacity (12)"
        );
    }

    #[test]
    fn a_company_prefix_has_4_to_12_digits() {
        let coding = |prefix: &str, digit| SsccCoding {
            company_prefix: prefix.into(),
            extension_digit: digit,
        };
        assert!(coding("9506000", 0).validate().is_ok());
        assert!(coding("950600012345", 9).validate().is_ok());
        assert!(coding("950", 0).validate().is_err());
        assert!(coding("9506000123456", 0).validate().is_err());
        assert!(coding("95O6000", 0).validate().is_err());
        assert!(coding("9506000", 10).validate().is_err());
    }
}
