//! `tracemark pack station --config LINE --batch ID`: a line config's hand-scanner station run
//! alone for a batch (docs/aggregation.md "Manual mode"). The test is the scanner's base
//! station: it listens on a free port, the station (`listen = false`) connects to it, a
//! simulated packer packs the batch, Ctrl-C (SIGINT) stops the station, which prints its report.
//! A line without a manual station is refused with exit status 2. On SQLite and PostgreSQL.

#[macro_use]
mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use tracemark_sim::scanner::{HandScanner, Packer};
use tracemark_store::Store;

const GTIN: &str = "09506000134352";
const GUARD: Duration = Duration::from_secs(60);

/// The demo line with a manual station whose scanner is at `address`.
fn config(dir: &std::path::Path, packing: &str) -> std::path::PathBuf {
    // The demo line without its own `[packing]` (its last section).
    let demo = include_str!("../../line-configs/demo.toml")
        .split("\n[packing]\n")
        .next()
        .unwrap_or_default();
    let path = dir.join("line.toml");
    std::fs::write(&path, format!("{demo}\n{packing}")).expect("write the config");
    path
}

async fn hand_packing_off_line(store: Store) {
    let mut p = product("p", GTIN);
    p.pack_sizes = vec![3, 2];
    store.add_product(&p).await.expect("add");
    packing_producer(&store).await;
    let (batch, units) = verified_batch(&store, "p", "A", 4).await;
    let base_station = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = base_station.local_addr().expect("address");
    let dir = tempdir();
    let path = config(
        dir.path(),
        &format!(
            "[packing]\nmode = \"manual\"\nunits_per_case = 3\n\n[packing.scanner]\n\
             transport = {{ type = \"tcp\", address = \"{address}\" }}\n"
        ),
    );
    let child = Command::new(bin())
        .args(["pack", "station", "--config"])
        .arg(&path)
        .args(["--batch", &batch.id.to_string()])
        .env("TRACEMARK_DB", store.url())
        .env("TRACEMARK_USER", "tester")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the station");
    let (stream, _) = tokio::time::timeout(GUARD, base_station.accept())
        .await
        .expect("the station connects in time")
        .expect("accept");
    let mut packer = Packer::new(HandScanner::new(stream));
    let cases = tokio::time::timeout(GUARD, packer.fill_all(&units, 3, true))
        .await
        .expect("in time")
        .expect("packed");
    assert_eq!(cases.len(), 2);
    assert!(cases.iter().all(|c| c.refused.is_empty()), "{cases:?}");
    assert_eq!(
        cases[1].closed,
        format!("OK CLOSED {} 1/3 short", cases[1].sscc)
    );
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("the station ends");
    let (stdout, stderr) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!("station ready: carton: tcp://{address}")),
        "{stderr}"
    );
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).expect("JSON report");
    assert_eq!(report["cartons"]["closed"], 2, "{report}");
    assert_eq!(report["cartons"]["packed"], 4, "{report}");
    assert!(report["pallets"].is_null(), "{report}");
    let reconciliation = store
        .package_reconciliation(batch.id)
        .await
        .expect("reconcile");
    assert!(reconciliation.balanced, "{reconciliation:?}");
    assert_eq!(
        store
            .package_contents(&cases[0].sscc)
            .await
            .expect("carton")
            .units,
        units[..3].to_vec()
    );
}

both!(hand_packing_off_line);

async fn a_line_without_a_manual_station_is_refused(store: Store) {
    let mut p = product("p", GTIN);
    p.pack_sizes = vec![3, 2];
    store.add_product(&p).await.expect("add");
    packing_producer(&store).await;
    let (batch, _) = verified_batch(&store, "p", "A", 1).await;
    let dir = tempdir();
    let path = config(dir.path(), "[packing]\nmode = \"inferred\"\n");
    let path = path.to_string_lossy().into_owned();
    let batch = batch.id.to_string();
    let out = tracemark(
        store.url(),
        &["pack", "station", "--config", &path, "--batch", &batch],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the line's [packing] mode is `inferred`, not `manual`"),
        "{}",
        stderr(&out)
    );
}

both!(a_line_without_a_manual_station_is_refused);
