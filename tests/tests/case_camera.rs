//! `[packing] mode = "case_camera"` end to end (issue 14 items 2, 6, 7): the demo line with a
//! case camera, cases of 6 and pallets of 3 so a short run makes many cases, under each
//! `--packing-faults` profile, on both stacks. The records must agree with the twin's physical
//! cases (`aggregation_disagreements = 0`), the batch must balance, and under faults cases go
//! to rework — each recorded on the audit chain with its reasons.

use serde_json::Value;
use tracemark_line_tests::{
    Stack, assert_clean_run, line_config, on_both_stacks, one_line_at_a_time, write_line_config,
};

const UNITS: u64 = 300;
const PER_CASE: i64 = 6;

/// `simulate` of the demo line with cases of 6 under `--packing-faults profile`; checks what
/// every profile must hold and returns the summary.
async fn run(stack: Stack, profile: &str) -> Option<Value> {
    let site = stack.site().await?;
    let _line = one_line_at_a_time().await;
    let text = std::fs::read_to_string(line_config("demo.toml")).expect("read demo.toml");
    assert!(
        text.contains("mode = \"case_camera\""),
        "demo.toml packs by case camera"
    );
    let text = text
        .replace(
            "units_per_case = 12",
            &format!("units_per_case = {PER_CASE}"),
        )
        .replace("cases_per_pallet = 10", "cases_per_pallet = 3");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("case-camera.toml");
    write_line_config(&config, &text);
    let config = config.to_str().expect("a UTF-8 path");
    let units = UNITS.to_string();
    let out = site
        .run(
            "simulate",
            &[
                "--config",
                config,
                "--units",
                &units,
                "--speed",
                "3000",
                "--packing-faults",
                profile,
            ],
        )
        .await;
    let s = assert_clean_run(&out, UNITS);
    assert_eq!(s["aggregation_disagreements"].as_i64(), Some(0), "{s:#}");
    let count = |key: &str| s[key].as_i64().unwrap_or(-1);
    // Every verified unit is packed, sampled or loose; a loose one is in a reworked case or
    // fell off (the reconciliation balances them).
    assert_eq!(
        count("verified"),
        count("packed") + count("loose") + s["reconciliation"]["sampled"].as_i64().unwrap_or(0),
        "{s:#}"
    );
    assert!(count("cartons") > 0, "{s:#}");
    assert!(count("packed") <= count("cartons") * PER_CASE, "{s:#}");
    assert_eq!(count("pallets"), (count("cartons") + 2) / 3, "{s:#}");
    // demo.toml labels every package: each closed with its own label read back (a misprint
    // is reprinted; `labels.rs` in commissioning checks the physical labels).
    assert!(
        text.contains("[packing.label]"),
        "demo.toml labels packages"
    );
    let packages = count("cartons") + count("pallets");
    assert_eq!(s["labels"]["verified"].as_i64(), Some(packages), "{s:#}");
    assert_eq!(s["labels"]["failed"].as_i64(), Some(0), "{s:#}");

    let store = site.open().await;
    let mut reworks = 0;
    let mut after = 0;
    loop {
        let events = store.events(after, 1000).await.expect("events");
        let Some(last) = events.last() else {
            break;
        };
        after = last.seq;
        for event in events.iter().filter(|e| e.kind == "package.case_rejected") {
            reworks += 1;
            let detail: Value = serde_json::from_str(&event.detail).expect("detail JSON");
            assert!(
                detail["reasons"].as_array().is_some_and(|r| !r.is_empty()),
                "{detail:#}"
            );
        }
    }
    assert_eq!(reworks, count("cases_reworked"), "{s:#}");
    let mut seen = std::collections::HashSet::new();
    for batch in store.batches().await.expect("batches") {
        for package in store.packages_of_batch(batch.id).await.expect("packages") {
            let contents = store
                .package_contents(&package.sscc)
                .await
                .expect("contents");
            for unit in contents.units {
                assert!(seen.insert(unit.clone()), "{unit} in two packages");
            }
        }
        let reconciliation = store
            .package_reconciliation(batch.id)
            .await
            .expect("package reconciliation");
        assert!(reconciliation.balanced, "{reconciliation:?}");
    }
    assert_eq!(seen.len() as i64, count("packed"), "{s:#}");
    site.finish().await;
    Some(s)
}

/// No packing fault: every case is packed (the last one short), none reworked — unless the
/// line's reject gate did not confirm a unit (its fail-safe, `gate_faults`: a machine too busy
/// to keep the twin's gate in time). Such a unit may be rejected and not diverted, go on into
/// a case, and the case camera sends that case to rework, as it must: one at most for each.
async fn case_camera_without_faults(stack: Stack) {
    let Some(s) = run(stack, "none").await else {
        return;
    };
    let gate_faults = s["line"]["gate_faults"].as_i64().unwrap_or(-1);
    let reworked = s["cases_reworked"].as_i64().unwrap_or(-1);
    assert!((0..=gate_faults).contains(&reworked), "{s:#}");
    if reworked == 0 {
        assert_eq!(s["loose"].as_i64(), Some(0), "{s:#}");
    }
}

/// One case in 8 with a fault: those go to rework, the others are packed.
async fn case_camera_with_default_faults(stack: Stack) {
    let Some(s) = run(stack, "default").await else {
        return;
    };
    assert!(s["cases_reworked"].as_i64().unwrap_or(0) > 0, "{s:#}");
    assert!(s["loose"].as_i64().unwrap_or(0) > 0, "{s:#}");
}

/// One case in 3 with a fault, every kind of fault.
async fn case_camera_with_heavy_faults(stack: Stack) {
    let Some(s) = run(stack, "heavy").await else {
        return;
    };
    assert!(s["cases_reworked"].as_i64().unwrap_or(0) >= 5, "{s:#}");
    // The label faults of the profile: misprints recorded and reprinted.
    assert!(s["labels"]["rejected"].as_i64().unwrap_or(0) > 0, "{s:#}");
}

on_both_stacks!(
    case_camera_without_faults,
    case_camera_with_default_faults,
    case_camera_with_heavy_faults,
);
