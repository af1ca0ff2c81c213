//! Rework and the label at the command line (issue 14 items 3 and 4, docs/aggregation.md
//! "Rework and the label"): a carton whose verified label says 3 loses a unit (`pack remove`);
//! `pack close` then refuses it (exit 2, naming the label and the counts) and changes nothing;
//! `pack label SSCC --config LINE` prints its new label on the line's label printer (the
//! simulator), the scanner's read comes back over the MQTT broker, the carton is `verified` with
//! its new count, and `pack close` closes it. On SQLite and PostgreSQL, against the test broker.

#[macro_use]
mod common;

use std::time::Duration;

use common::*;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tracemark_sim::labels::{LabelFaultRates, LabelSim};
use tracemark_sim::marker::MarkerSim;
use tracemark_store::label::LabelRead;
use tracemark_store::{PackageState, Store};

const GTIN: &str = "09506000134352";
const SCANNER: &str = "labelscan";

fn template_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../line-configs/labels/logistic-label.zpl")
}

/// The label printer simulator on a free port and its scanner publishing each read to
/// `tracemark/<line>/vision/labelscan/result` on the broker at `host:port`. Returns the
/// printer's address.
async fn label_printer(sim: &LabelSim, host: &str, port: u16, line: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    let printer = sim.printer().clone();
    tokio::spawn(async move { printer.serve_tcp(listener).await });
    let (payloads_tx, mut payloads) = mpsc::unbounded_channel();
    tokio::spawn(sim.clone().run_scanner(SCANNER.to_owned(), payloads_tx));
    let options = rumqttc::MqttOptions::new(format!("{line}-scanner"), host, port);
    let (client, mut events) = rumqttc::AsyncClient::new(options, 16);
    let (ready_tx, ready) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut ready_tx = Some(ready_tx);
        while let Ok(event) = events.poll().await {
            if matches!(event, rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_)))
                && let Some(tx) = ready_tx.take()
            {
                let _ = tx.send(());
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(10), ready)
        .await
        .expect("the scanner's client connects")
        .expect("connected");
    let topic = format!("tracemark/{line}/vision/{SCANNER}/result");
    tokio::spawn(async move {
        while let Some(payload) = payloads.recv().await {
            client
                .publish(topic.clone(), rumqttc::QoS::AtLeastOnce, false, payload)
                .await
                .expect("publish");
        }
    });
    address
}

/// The demo line as `line`, on the test broker, labelling on the printer at `printer`.
fn line_config(dir: &std::path::Path, line: &str, mqtt: &str, printer: &str) -> String {
    let demo = include_str!("../../line-configs/demo.toml");
    assert!(demo.contains("id = \"demo\""), "demo.toml's line id");
    assert!(
        demo.contains("url = \"mqtt://127.0.0.1:1883\""),
        "demo.toml's broker"
    );
    let base = demo
        .split("\n[packing.label]\n")
        .next()
        .unwrap_or_default()
        .replace("id = \"demo\"", &format!("id = \"{line}\""))
        .replace(
            "url = \"mqtt://127.0.0.1:1883\"",
            &format!("url = \"{mqtt}\""),
        );
    let text = format!(
        "{base}\n[packing.label]\ntransport = {{ type = \"tcp\", address = \"{printer}\" }}\n\
         template = \"{}\"\nscanner = \"{SCANNER}\"\nread_timeout_ms = 5000\n",
        template_path().display()
    );
    let path = dir.join("line.toml");
    std::fs::write(&path, text).expect("write the config");
    path.to_str().expect("a UTF-8 path").to_owned()
}

/// Runs the binary off the runtime's threads; returns (exit code, stdout, stderr).
async fn run(url: &str, args: &[&str]) -> (i32, String, String) {
    let url = url.to_owned();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = tracemark(&url, &args);
        (out.status.code().unwrap_or(-1), stdout(&out), stderr(&out))
    })
    .await
    .expect("the command ran")
}

async fn a_reworked_carton_gets_a_new_label(store: Store) {
    let Some(mqtt) = mqtt_url() else { return };
    let authority = mqtt.strip_prefix("mqtt://").expect("an mqtt:// URL");
    let (host, port) = authority.rsplit_once(':').expect("host:port");
    let port: u16 = port.parse().expect("port");
    // Both stores' tests share the broker: each its own line id.
    let line = format!("label-{}-{}", std::process::id(), store.url().len());
    let mut p = product("p", GTIN);
    p.pack_sizes = vec![3, 2];
    store.add_product(&p).await.expect("add");
    packing_producer(&store).await;
    let (batch, units) = verified_batch(&store, "p", "A", 3).await;
    let url = store.url().to_owned();

    // A carton of 3 whose label was verified with 3, then a unit out of it.
    let (code, sscc, err) = run(&url, &["pack", "new", "--batch", &batch.id.to_string()]).await;
    assert_eq!(code, 0, "{err}");
    let sscc = sscc.trim().to_owned();
    let mut add = vec!["pack", "add", sscc.as_str()];
    add.extend(units.iter().map(String::as_str));
    assert_eq!(run(&url, &add).await.0, 0);
    let labelled = store
        .label_read(&sscc, LabelRead::Verified)
        .await
        .expect("labelled and verified");
    assert_eq!(labelled.label_count, Some(3), "{labelled:?}");
    let (code, _, err) = run(&url, &["pack", "remove", &units[0]]).await;
    assert_eq!(code, 0, "{err}");

    // Its label now says 3 and it holds 2: the close is refused and changes nothing.
    let before = store.audit_head().await.expect("head");
    let (code, out, err) = run(&url, &["pack", "close", &sscc]).await;
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("its label says 3, it holds 2") && err.contains("tracemark pack label"),
        "{err}"
    );
    assert_eq!(store.audit_head().await.expect("head"), before);

    // A new label, printed and read back over the broker.
    let sim = LabelSim::new(
        &std::fs::read_to_string(template_path()).expect("template"),
        LabelFaultRates::NONE,
        11,
    );
    let printer = label_printer(&sim, host, port, &line).await;
    let dir = tempdir();
    let config = line_config(dir.path(), &line, &mqtt, &printer);
    let (code, out, err) = run(&url, &["pack", "label", &sscc, "--config", &config]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("{sscc}: label verified")), "{out}");
    let relabelled = store.package(&sscc).await.expect("package");
    assert_eq!(relabelled.state, PackageState::Verified, "{relabelled:?}");
    assert_eq!(relabelled.label_count, Some(2), "{relabelled:?}");
    let applied = sim.applied();
    let last = applied.last().expect("a label printed");
    assert!(last.good(), "{last:?}");
    assert_eq!(last.sent_for.as_deref(), Some(sscc.as_str()));

    let (code, _, err) = run(&url, &["pack", "close", &sscc]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        store.package(&sscc).await.expect("package").state,
        PackageState::Closed
    );
    assert_eq!(store.verify_audit().await.expect("verify").first_bad, None);
}
both!(a_reworked_carton_gets_a_new_label);
