//! `manual` packing in a twin run (docs/aggregation.md "Manual mode"): the line does not feed a
//! hand-scanner station, so after the run a simulated packer (`tracemark_sim::scanner`) packs the
//! twin's physical cases — the units that passed the gate, in gate order, `units_per_case` to a
//! case — at a station of its own over a local TCP socket: `NEW`, each unit's GS1 DataMatrix,
//! `CLOSE`; then a palletiser stacks the cartons `cases_per_pallet` to a pallet. The records
//! are then compared with those cases like any other mode's (`packing.rs`): every unit the
//! station refused is a disagreement. With `[packing.label]` both print each package's label on
//! the twin's label printer before they close, as the line's station would.

use std::collections::HashSet;

use tokio::sync::watch;
use tracemark_drivers::scanner::{ParseOptions, ScannerListener};
use tracemark_sim::scanner::{HandScanner, Packer};
use tracemark_sim::twin::GroundTruth;
use tracemark_store::{CodeState, PackageLevel, RejectReason, Store};

use super::CommissioningError;
use crate::aggregation::Plan;
use crate::aggregation::label::{LabelReport, SharedLabelStation};
use crate::aggregation::manual::{ScannerSource, StationSetup, run_station};
use crate::config::Commands;
use crate::verify::gs1_code_of;

/// The packer and palletiser at work on the twin's cases of batch `batch`.
pub(super) async fn pack_by_hand(
    store: &Store,
    batch: i64,
    truth: &GroundTruth,
    plan: Plan,
    labels: Option<SharedLabelStation>,
) -> Result<Option<LabelReport>, CommissioningError> {
    let pulled: HashSet<String> = store
        .codes_of_batch(batch, CodeState::Rejected, i64::MAX)
        .await?
        .into_iter()
        .filter(|r| r.reason == Some(RejectReason::GateFault))
        .map(|r| r.code)
        .collect();
    let cases: Vec<Vec<String>> = truth
        .cases(plan.units_per_case as usize, |unit| {
            unit.printed
                .as_deref()
                .and_then(gs1_code_of)
                .is_some_and(|code| pulled.contains(&code))
        })
        .iter()
        .map(|case| {
            case.iter()
                .filter_map(|unit| unit.printed.as_deref().and_then(gs1_code_of))
                .collect()
        })
        .collect();
    let packer_failed = |e: tracemark_sim::scanner::ScannerError| CommissioningError::Setup {
        what: "the simulated packer",
        source: std::io::Error::other(e.to_string()),
    };
    let mut cartons = Vec::new();
    let (mut packer, stop, task) = station(
        store,
        batch,
        PackageLevel::Carton,
        plan.units_per_case,
        labels.clone(),
    )
    .await?;
    for case in &cases {
        cartons.push(packer.fill(case, true).await.map_err(packer_failed)?.sscc);
    }
    let _ = stop.send(true);
    let _ = task.await;
    if plan.cases_per_pallet > 0 {
        let (mut palletiser, stop, task) = station(
            store,
            batch,
            PackageLevel::Pallet,
            plan.cases_per_pallet,
            labels.clone(),
        )
        .await?;
        palletiser
            .fill_all(&cartons, plan.cases_per_pallet as usize, false)
            .await
            .map_err(packer_failed)?;
        let _ = stop.send(true);
        let _ = task.await;
    }
    Ok(match labels {
        Some(station) => Some(station.lock().await.report().clone()),
        None => None,
    })
}

/// A station of `level` on a free local port, and a packer connected to it; send `true` to
/// stop it.
async fn station(
    store: &Store,
    batch: i64,
    level: PackageLevel,
    capacity: u32,
    labels: Option<SharedLabelStation>,
) -> Result<
    (
        Packer<tokio::net::TcpStream>,
        watch::Sender<bool>,
        tokio::task::JoinHandle<crate::aggregation::manual::StationStats>,
    ),
    CommissioningError,
> {
    let listener = ScannerListener::bind("127.0.0.1:0")
        .await
        .map_err(super::setup("the packing station's port"))?;
    let address = listener
        .local_addr()
        .map_err(super::setup("the packing station's port"))?;
    let setup = StationSetup {
        store: store.clone(),
        actor: store.actor().on_device("packing-twin"),
        batch,
        level,
        capacity: Some(i64::from(capacity)),
        commands: Commands {
            new: "NEW".into(),
            close: "CLOSE".into(),
            cancel: "CANCEL".into(),
            remove: "REMOVE".into(),
        },
        options: ParseOptions::default(),
        labels,
    };
    let (stop_tx, stop) = watch::channel(false);
    let task = tokio::spawn(run_station(setup, ScannerSource::Listen(listener), stop));
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .map_err(super::setup("the packing station"))?;
    Ok((Packer::new(HandScanner::new(stream)), stop_tx, task))
}
