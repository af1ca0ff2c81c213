//! `[packing] mode = "manual"` in virtual commissioning (`tracemark simulate`), on both stacks:
//! the line runs no packing of its own; after it, a simulated packer at a hand-scanner station
//! (`tracemark_sim::scanner` over TCP) packs the twin's physical cases — `NEW`, the units,
//! `CLOSE` — and a palletiser stacks them, each package labelled on the twin's label printer.
//! Under heavy camera damage and heavy label faults the records agree with the physical cases
//! and pallets, every package closed with its own label, nothing is loose, and every batch's
//! packages balance.

use tracemark_line_tests::{
    Stack, assert_clean_run, line_config, on_both_stacks, one_line_at_a_time, write_line_config,
};

async fn a_packer_packs_the_twins_cases_by_hand(stack: Stack) {
    let Some(site) = stack.site().await else {
        return;
    };
    let _line = one_line_at_a_time().await;
    let text = std::fs::read_to_string(line_config("pharma-carton.toml")).expect("read config");
    let manual = "[packing]\nmode = \"manual\"\nunits_per_case = 7\ncases_per_pallet = 3\n\n\
                  [packing.scanner]\ntransport = { type = \"tcp\", address = \"127.0.0.1:7001\" }\n\
                  listen = true\n\n[packing.palletiser]\n\
                  transport = { type = \"tcp\", address = \"127.0.0.1:7002\" }\nlisten = true\n";
    // The line without its own `[packing]`, and a manual station instead, labelling on the
    // line's label printer (its `[packing.label]`, the config's last section).
    let line = text.split("\n[packing]\n").next().unwrap_or_default();
    let label = text
        .split("\n[packing.label]\n")
        .nth(1)
        .expect("pharma-carton.toml has a [packing.label]");
    let text = format!("{line}\n{manual}\n[packing.label]\n{label}");
    assert!(
        text.contains("mode = \"manual\""),
        "the config changed: {text}"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("manual.toml");
    write_line_config(&config, &text);
    let config = config.to_str().expect("a UTF-8 path");
    let out = site
        .run(
            "simulate",
            &[
                "--config",
                config,
                "--units",
                "100",
                "--faults",
                "heavy",
                "--packing-faults",
                "heavy",
            ],
        )
        .await;
    let s = assert_clean_run(&out, 100);
    assert!(s["rejected"].as_i64().unwrap_or(0) > 0, "{s:#}");
    assert_eq!(s["aggregation_disagreements"].as_i64(), Some(0), "{s:#}");
    assert_eq!(s["loose"].as_i64(), Some(0), "{s:#}");
    let packed = s["packed"].as_i64().unwrap_or(-1);
    assert_eq!(
        Some(packed),
        s["verified"]
            .as_i64()
            .zip(s["reconciliation"]["sampled"].as_i64())
            .map(|(v, m)| v - m),
        "{s:#}"
    );
    assert_eq!(s["cartons"].as_i64(), Some((packed + 6) / 7), "{s:#}");
    // Every carton and pallet closed with its label read back, misprints reprinted.
    let packages = s["cartons"].as_u64().unwrap_or(0) + s["pallets"].as_u64().unwrap_or(0);
    assert!(s["pallets"].as_u64().unwrap_or(0) > 0, "{s:#}");
    assert_eq!(s["labels"]["verified"].as_u64(), Some(packages), "{s:#}");
    assert_eq!(s["labels"]["failed"].as_u64(), Some(0), "{s:#}");
    assert_eq!(
        s["labels"]["printed"].as_u64(),
        s["labels"]["rejected"].as_u64().map(|r| r + packages),
        "{s:#}"
    );
    let store = site.open().await;
    for batch in store.batches().await.expect("batches") {
        let reconciliation = store
            .package_reconciliation(batch.id)
            .await
            .expect("package reconciliation");
        assert!(reconciliation.balanced, "{reconciliation:?}");
    }
    site.finish().await;
}

on_both_stacks!(a_packer_packs_the_twins_cases_by_hand);
