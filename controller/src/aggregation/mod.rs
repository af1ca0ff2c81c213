//! The packing station's runtime (SPEC §3a, issue 14; docs/aggregation.md "Inferred mode"):
//! with `[packing] mode = "inferred"`, the units that pass the gate verified fill the open case
//! in order, cases fill pallets, and each full case is packed in one store transaction.
//!
//! - `machine.rs`: the decisions, without I/O — which unit goes into which case, when a case is
//!   full, what closes short at the end;
//! - `core.rs`: the task that carries them out through the store;
//! - [`label`]: the label station — each package's GS1 logistic label printed and read back
//!   before it closes (`[packing.label]`).
//!
//! The line runtime feeds it (`line/core.rs`): each verified code once its `verified` is
//! committed, in order; never when the line has no `[packing]`.

mod core;
pub mod label;
mod machine;

pub use self::core::{CHANNEL, PackingReport, spawn_packing};
pub use machine::Plan;

use crate::config::Packing;
use tracemark_store::Product;

/// The counts of `packing` for `product`: `units_per_case` from the config or, when it leaves it
/// out, the product's first pack size. `Err` says what is missing.
pub fn plan_for(packing: &Packing, product: &Product) -> Result<Plan, String> {
    let units_per_case = match (packing.units_per_case, product.pack_sizes.first()) {
        (Some(n), _) => n,
        (None, Some(&n)) if n >= 1 => n,
        (None, _) => {
            return Err(format!(
                "[packing] has no units_per_case and product {} has no pack sizes \
                 (product add --pack-sizes)",
                product.id
            ));
        }
    };
    Ok(Plan {
        units_per_case,
        cases_per_pallet: packing.cases_per_pallet,
    })
}
