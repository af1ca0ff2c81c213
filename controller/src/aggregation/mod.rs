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
//! - `manual/`: the `manual` mode, a hand-scanner station the line does not feed.
//!
//! The line runtime feeds it (`line/core.rs`): each verified code once its `verified` is
//! committed, in order; never when the line has no `[packing]`.

//! With `[packing] mode = "case_camera"` (docs/aggregation.md "Case camera mode") a case
//! camera reads each filled case instead, and the case is packed only when its codes are
//! exactly a case of verified, unpacked units of the batch:
//!
//! - `case_read.rs`: the camera's payload, parsed; `case_mqtt.rs`: its subscription;
//! - `case_decision.rs`: accept or rework, and why, without I/O;
//! - `case_camera.rs`: the task that keeps the batch's packable codes and carries the
//!   decisions out.
//!
//! [`start_station`] starts the task of the line's mode.

pub mod case_camera;
pub mod case_decision;
pub mod case_mqtt;
pub mod case_read;
mod core;
pub mod label;
mod machine;
pub mod manual;
pub mod store_gate;

pub use self::core::{CHANNEL, CasePackerCount, PackingReport, spawn_packing};
pub use machine::Plan;
pub use store_gate::StoreGate;

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::{Line, Packing, PackingMode};
use crate::verify::mqtt::Link;
use crate::verify::payload::FieldMap;
use tracemark_store::{Product, Store};

/// Starts the packing task of `line`'s `[packing]` mode for `batch`: the sender takes the
/// verified codes (line/core.rs forwards them), the handle returns what it did. A case camera's
/// subscription is made and acknowledged by the broker first (within `connect_timeout`).
/// `cases` is the case packer's count when `plan.case_packer_count` (inferred mode); `labels`
/// the label station of `[packing.label]`; `gate` the line's store writer's status, which
/// packing waits for in a central store outage (`store_gate.rs`).
/// `Err` says why the station cannot start.
#[allow(clippy::too_many_arguments)] // each is one thing the station is made of
pub async fn start_station(
    store: Store,
    batch: i64,
    plan: Plan,
    line: &Line,
    cases: Option<CasePackerCount>,
    labels: Option<label::LabelStation>,
    gate: StoreGate,
    connect_timeout: Duration,
) -> Result<(mpsc::Sender<String>, JoinHandle<PackingReport>), String> {
    let Some(packing) = &line.packing else {
        return Err("the line has no [packing]".to_owned());
    };
    match (packing.mode, &packing.case_camera) {
        (PackingMode::Inferred, _) => Ok(spawn_packing(store, batch, plan, cases, labels, gate)),
        (PackingMode::CaseCamera, Some(camera)) => {
            let subscription = crate::verify::subscription_for(line)
                .ok_or("the case camera needs an [mqtt] broker")?;
            let subscription = case_mqtt::CaseSubscription {
                endpoint: subscription.endpoint,
                client_id: format!("{}-cases", subscription.client_id),
                line: line.id.clone(),
                reader: camera.reader.clone(),
                field_map: FieldMap::new(camera.field_map.clone()),
            };
            let broker = subscription.endpoint.describe();
            let (cases, mut link) =
                case_mqtt::spawn_case_subscription(subscription).map_err(|e| e.to_string())?;
            let subscribed =
                tokio::time::timeout(connect_timeout, link.wait_for(|l| *l == Link::Subscribed))
                    .await;
            if !matches!(subscribed, Ok(Ok(_))) {
                return Err(format!(
                    "the case camera's subscription at MQTT broker {broker} was not ready within \
                     {} ms",
                    connect_timeout.as_millis()
                ));
            }
            Ok(case_camera::spawn_case_camera(
                store, batch, plan, cases, labels, gate,
            ))
        }
        (PackingMode::CaseCamera, None) => Err("case_camera without a case camera".to_owned()),
        (PackingMode::Manual, _) => Err(
            "a manual station is its own task (aggregation::manual), not fed by the line"
                .to_owned(),
        ),
    }
}

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
        case_packer_count: packing.case_packer_count,
    })
}
