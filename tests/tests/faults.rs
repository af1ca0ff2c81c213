//! The whole line end to end under every fault profile: `tracemark demo` — the line runtime
//! against the line twin, devices over their real protocols (Linx RCI over a pty, Modbus TCP,
//! MQTT) — compared unit by unit with ground truth, on both stacks. Every run must end with no
//! escape, no duplicate, nothing unaccounted and a balanced reconciliation.

use serde_json::Value;
use tracemark_line_tests::{Stack, assert_clean_run, on_both_stacks, one_line_at_a_time};

/// `tracemark demo ARGS…` on a fresh site of `stack`, checked clean; `None` when the stack is
/// not configured here (skipped).
async fn clean_demo(stack: Stack, units: u64, args: &[&str]) -> Option<Value> {
    let site = stack.site().await?;
    let _line = one_line_at_a_time().await;
    let units_arg = units.to_string();
    let mut all = vec!["--units", units_arg.as_str()];
    all.extend_from_slice(args);
    let out = site.run("demo", &all).await;
    let s = assert_clean_run(&out, units);
    if let Some(mqtt) = &site.mqtt {
        // The controller published its state for the plant (retained): the final counters.
        let line = s["line_id"].as_str().expect("line id");
        let state = tracemark_line_tests::retained(mqtt, &format!("tracemark/{line}/state")).await;
        assert_eq!(state["units"], units, "{state:#}");
        assert_eq!(state["verified"], s["line"]["verified"], "{state:#}");
    }
    site.finish().await;
    Some(s)
}

async fn without_faults_every_unit_is_verified(stack: Stack) {
    let Some(s) = clean_demo(stack, 120, &["--speed", "3000", "--faults", "none"]).await else {
        return;
    };
    assert_eq!(s["verified"], 120, "{s:#}");
    assert_eq!(s["rejected"], 0, "{s:#}");
    assert_eq!(s["false_rejects"], 0, "{s:#}");
    assert_eq!(s["line"]["underruns"], 0, "{s:#}");
}

async fn default_damage_reconciles(stack: Stack) {
    let Some(s) = clean_demo(stack, 200, &["--speed", "3000"]).await else {
        return;
    };
    assert!(s["verified"].as_i64().unwrap_or(0) > 150, "{s:#}");
}

async fn heavy_damage_diverts_every_bad_unit(stack: Stack) {
    let Some(s) = clean_demo(stack, 200, &["--speed", "3000", "--faults", "heavy"]).await else {
        return;
    };
    let rejected = s["rejected"].as_i64().unwrap_or(0);
    assert!(rejected >= 8, "heavy damage rejects many units: {s:#}");
    assert!(
        s["diverted"].as_u64().unwrap_or(0) >= rejected as u64,
        "{s:#}"
    );
    assert!(
        s["line"]["rejected"]["no_read"].as_u64().unwrap_or(0) > 0,
        "{s:#}"
    );
}

/// A clean-camera demo of 200 units at 1,500 units/min with `fault` injected on the marker.
/// Units that went by the marker while it could not print are known to carry nothing: no good
/// unit is rejected, and no print is put on the wrong unit.
async fn with_marker_fault(stack: Stack, fault: &str) -> Option<Value> {
    let s = clean_demo(
        stack,
        200,
        &[
            "--speed",
            "1500",
            "--faults",
            "none",
            "--marker-fault",
            fault,
        ],
    )
    .await?;
    assert_eq!(s["false_rejects"], 0, "{s:#}");
    assert_eq!(
        s["line"]["rejected"]["mismatch"].as_u64().unwrap_or(0),
        0,
        "{s:#}"
    );
    Some(s)
}

async fn rides_through_a_marker_disconnect(stack: Stack) {
    with_marker_fault(stack, "80:disconnect").await;
}

/// Ink out for 50 units: the marker faults (its buffer voided), units go by unprinted and are
/// diverted as `no_read`; nothing escapes and the batch reconciles.
async fn rides_through_an_ink_out(stack: Stack) {
    let Some(s) = with_marker_fault(stack, "60:ink-out").await else {
        return;
    };
    assert!(s["unprinted"].as_u64().unwrap_or(0) > 0, "{s:#}");
    assert!(
        s["line"]["rejected"]["no_read"].as_u64().unwrap_or(0) > 0,
        "{s:#}"
    );
    assert!(
        s["line"]["passed_unprinted"].as_u64().unwrap_or(0) > 0,
        "{s:#}"
    );
}

on_both_stacks!(
    without_faults_every_unit_is_verified,
    default_damage_reconciles,
    heavy_damage_diverts_every_bad_unit,
    rides_through_a_marker_disconnect,
    rides_through_an_ink_out,
);

#[tokio::test]
async fn bad_arguments_say_what_is_wrong() {
    let Some(site) = Stack::Embedded.site().await else {
        return;
    };
    let out = site.run("demo", &["--marker-fault", "x:disconnect"]).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a unit number"), "{stderr}");
    let out = site.run("demo", &["--marker-fault", "3:melt"]).await;
    assert!(String::from_utf8_lossy(&out.stderr).contains("disconnect"));
    let out = site.run("demo", &["--mqtt", "tcp://broker"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--mqtt"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
