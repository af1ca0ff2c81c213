//! The twin's label printer and label scanner (`[packing.label]`; docs/aggregation.md
//! "Labels"): the ZPL label printer simulator on a free port, standing in for the configured
//! one, and the scanner publishing its reads over the line's broker. At the end, every package
//! the run closed must physically carry, as its last label, a readable label of its own SSCC.

use std::collections::HashSet;

use tokio::net::TcpListener;
use tracemark_sim::labels::{LabelFaultRates, LabelSim};
use tracemark_sim::marker::MarkerSim;
use tracemark_store::{PackageState, Store, StoreError};

use super::{CommissioningError, setup};
use crate::aggregation::label::{LabelStation, SCANNER_READY, SharedLabelStation};
use crate::config::{Line, Transport};
use crate::runtime::OwnRuntime;

/// Starts the simulators when `line` has `[packing.label]` and points the line at them.
pub(super) async fn start(
    line: &mut Line,
    twin: &OwnRuntime,
    broker: &(String, u16),
    rates: LabelFaultRates,
    seed: u64,
) -> Result<Option<LabelSim>, CommissioningError> {
    let line_id = line.id.clone();
    let Some(label) = line.packing.as_mut().and_then(|p| p.label.as_mut()) else {
        return Ok(None);
    };
    let sim = LabelSim::new(&label.template_body, rates, seed ^ 0x1abe1);
    let (printer, scanner, broker) = (sim.clone(), label.scanner.clone(), broker.clone());
    let address = twin
        .spawn(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let address = listener.local_addr()?;
            let served = printer.clone();
            tokio::spawn(async move { served.printer().serve_tcp(listener).await });
            let (payloads_tx, mut payloads) = tokio::sync::mpsc::unbounded_channel();
            tokio::spawn(printer.run_scanner(scanner.clone(), payloads_tx));
            let client = super::twin_mqtt_client(
                &broker,
                &format!("twin-labels-{line_id}"),
                256,
                "twin label scanner",
            )
            .await?;
            let topic = format!("tracemark/{line_id}/vision/{scanner}/result");
            tokio::spawn(async move {
                while let Some(payload) = payloads.recv().await {
                    tracing::debug!(payload = %String::from_utf8_lossy(&payload), "twin label scanner publishes");
                    let publish =
                        client.publish(topic.clone(), rumqttc::QoS::AtLeastOnce, false, payload);
                    if let Err(e) = publish.await {
                        tracing::warn!(error = %e, "twin label scanner cannot publish");
                    }
                }
            });
            Ok::<_, std::io::Error>(address)
        })
        .await?
        .map_err(setup("the label printer simulator"))?;
    label.transport = Transport::Tcp {
        host: address.ip().to_string(),
        port: address.port(),
    };
    Ok(Some(sim))
}

/// The line's label station, shared, when the twin has a label printer (`with_printer`): for
/// the simulated hand packer, which packs after the line's run.
pub(super) async fn station(
    store: &Store,
    line: &Line,
    with_printer: bool,
) -> Result<Option<SharedLabelStation>, CommissioningError> {
    if !with_printer {
        return Ok(None);
    }
    let station = LabelStation::for_line(store.clone(), line, SCANNER_READY)
        .await
        .map_err(|e| CommissioningError::Line(crate::line::LineError::Packing(e.to_string())))?;
    Ok(station.map(LabelStation::shared))
}

/// Packages the run closed whose last physical label does not read as their own SSCC.
pub(super) async fn disagreements(
    store: &Store,
    batch: i64,
    before: &HashSet<String>,
    sim: &LabelSim,
) -> Result<Vec<String>, StoreError> {
    let applied = sim.applied();
    let mut found = Vec::new();
    for package in store.packages_of_batch(batch).await? {
        let closed = matches!(
            package.state,
            PackageState::Closed | PackageState::Palletised | PackageState::Shipped
        );
        if before.contains(&package.sscc) || !closed {
            continue;
        }
        let last = applied
            .iter()
            .rev()
            .find(|label| label.sent_for.as_deref() == Some(package.sscc.as_str()));
        match last {
            Some(label) if label.good() => {}
            Some(label) => found.push(format!(
                "{} {}: closed with a label that reads {:?}",
                package.level, package.sscc, label.read
            )),
            None => found.push(format!(
                "{} {}: closed with no label on it",
                package.level, package.sscc
            )),
        }
    }
    Ok(found)
}
