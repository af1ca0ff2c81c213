//! Virtual commissioning (`tracemark simulate`) of the shipped line configs, on both stacks:
//! each config's devices replaced by simulators of the same protocols and geometry.

use serde_json::Value;
use tracemark_line_tests::{
    Stack, assert_clean_run, line_config, on_both_stacks, one_line_at_a_time, write_line_config,
};

/// `tracemark simulate --config line-configs/CONFIG ARGS…` on a fresh site, checked clean.
async fn simulate(stack: Stack, config: &str, units: u64, args: &[&str]) -> Option<Value> {
    let site = stack.site().await?;
    let _line = one_line_at_a_time().await;
    let config = line_config(config);
    let config = config.to_str().expect("a UTF-8 path");
    let units_arg = units.to_string();
    let mut all = vec!["--config", config, "--units", units_arg.as_str()];
    all.extend_from_slice(args);
    let out = site.run("simulate", &all).await;
    let s = assert_clean_run(&out, units);
    site.finish().await;
    Some(s)
}

/// The pharma carton line: a Zipher-style coder over TCP, a stricter grade, a shorter pitch.
/// Heavy damage against `max_consecutive_rejects = 3` stops the line now and then; the run
/// (acknowledged automatically) still ends reconciled.
async fn the_pharma_carton_line(stack: Stack) {
    let Some(s) = simulate(stack, "pharma-carton.toml", 120, &["--faults", "heavy"]).await else {
        return;
    };
    assert_eq!(
        s["line_id"].as_str().map(|id| id.starts_with("pharma-1")),
        Some(true),
        "{s:#}"
    );
    assert!(s["rejected"].as_i64().unwrap_or(0) > 0, "{s:#}");
    // Its case packer (`[packing] mode = "inferred"`, 10 a case, 5 cases a pallet): every
    // verified carton is packed, the cases hold what physically went into them.
    let (verified, sampled) = (
        s["verified"].as_i64(),
        s["reconciliation"]["sampled"].as_i64(),
    );
    let packed = s["packed"].as_i64().unwrap_or(-1);
    assert_eq!(
        Some(packed),
        verified.zip(sampled).map(|(v, m)| v - m),
        "{s:#}"
    );
    assert_eq!(s["loose"].as_i64(), Some(0), "{s:#}");
    let cartons = s["cartons"].as_i64().unwrap_or(0);
    assert_eq!(cartons, (packed + 9) / 10, "{s:#}");
    assert_eq!(
        s["partial_cartons"].as_i64(),
        Some(i64::from(packed % 10 != 0)),
        "{s:#}"
    );
    assert_eq!(s["pallets"].as_i64(), Some((cartons + 4) / 5), "{s:#}");
    assert_eq!(s["aggregation_disagreements"].as_i64(), Some(0), "{s:#}");
}

/// Inferred packing under heavy camera damage, with cases of 7 and pallets of 3 so most runs
/// end with a partial case and a partial pallet: no unit is in two cartons, every carton is on
/// one pallet, the records agree with the twin's physical cases, and the batch closes balanced.
async fn inferred_packing_under_heavy_damage(stack: Stack) {
    let Some(site) = stack.site().await else {
        return;
    };
    let _line = one_line_at_a_time().await;
    let text = std::fs::read_to_string(line_config("pharma-carton.toml")).expect("read config");
    let text = text
        .replace("units_per_case = 10", "units_per_case = 7")
        .replace("cases_per_pallet = 5", "cases_per_pallet = 3");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("packing.toml");
    write_line_config(&config, &text);
    let config = config.to_str().expect("a UTF-8 path");
    let out = site
        .run(
            "simulate",
            &["--config", config, "--units", "100", "--faults", "heavy"],
        )
        .await;
    let s = assert_clean_run(&out, 100);
    assert!(s["rejected"].as_i64().unwrap_or(0) > 0, "{s:#}");
    assert_eq!(s["aggregation_disagreements"].as_i64(), Some(0), "{s:#}");
    assert_eq!(s["loose"].as_i64(), Some(0), "{s:#}");
    let store = site.open().await;
    let batches = store.batches().await.expect("batches");
    let mut seen = std::collections::HashSet::new();
    let mut cartons = 0;
    for batch in &batches {
        for package in store.packages_of_batch(batch.id).await.expect("packages") {
            let contents = store
                .package_contents(&package.sscc)
                .await
                .expect("contents");
            if package.level == tracemark_store::PackageLevel::Carton {
                cartons += 1;
                assert!(contents.units.len() <= 7, "{contents:?}");
                assert!(
                    package.parent.is_some(),
                    "a carton on no pallet: {package:?}"
                );
            }
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
    assert_eq!(
        seen.len() as i64,
        s["packed"].as_i64().unwrap_or(-1),
        "{s:#}"
    );
    assert_eq!(Some(cartons), s["cartons"].as_i64(), "{s:#}");
    // Each carton is made with its units in one transaction: its `package.create` is followed
    // at once by its `package.pack` (none is allocated as its case opens, left empty by a crash).
    let events = store.events(0, 1_000_000).await.expect("events");
    let mut made = 0;
    for (i, event) in events.iter().enumerate() {
        if event.kind != "package.create" || !event.detail.contains("\"carton\"") {
            continue;
        }
        made += 1;
        let next = events.get(i + 1).expect("an event after a carton's create");
        assert_eq!(
            (next.seq, next.kind.as_str(), next.subject.as_str()),
            (event.seq + 1, "package.pack", event.subject.as_str()),
            "{event:?}"
        );
    }
    assert_eq!(
        made, cartons,
        "every carton's create is followed by its pack"
    );
    site.finish().await;
}

/// The cable line: a Modbus register printer over RTU on a pseudo-terminal, described by the
/// config's register map; heavy camera damage, at four times the line's speed so the test is
/// short.
async fn the_cable_line(stack: Stack) {
    let Some(s) = simulate(
        stack,
        "cable.toml",
        40,
        &["--speed", "120", "--faults", "heavy"],
    )
    .await
    else {
        return;
    };
    assert_eq!(
        s["line_id"].as_str().map(|id| id.starts_with("cable-3")),
        Some(true),
        "{s:#}"
    );
    assert!(s["rejected"].as_i64().unwrap_or(0) > 0, "{s:#}");
}

/// The cable line's printer runs out of ink at coil 10: its status bit faults it, the coils
/// that go by unprinted are diverted, none is a false reject, and the batch reconciles.
async fn the_cable_line_rides_through_an_ink_out_over_modbus(stack: Stack) {
    let Some(s) = simulate(
        stack,
        "cable.toml",
        40,
        &[
            "--speed",
            "120",
            "--faults",
            "none",
            "--marker-fault",
            "10:ink-out",
        ],
    )
    .await
    else {
        return;
    };
    assert!(s["unprinted"].as_u64().unwrap_or(0) > 0, "{s:#}");
    assert_eq!(s["false_rejects"], 0, "{s:#}");
}

/// Asserts a run of `config` printed and verified every unit through its marker's protocol:
/// the line id it ran under, every unit printed, and each reject diverted.
fn assert_every_unit_marked(s: &Value, line_id: &str, units: i64) {
    assert_eq!(
        s["line_id"].as_str().map(|id| id.starts_with(line_id)),
        Some(true),
        "{s:#}"
    );
    assert_eq!(s["printed"].as_i64(), Some(units), "{s:#}");
    assert_eq!(
        s["line"]["diverted"],
        s["line"]["rejected"]
            .as_object()
            .map_or(0, |r| { r.values().filter_map(Value::as_i64).sum::<i64>() }),
        "{s:#}"
    );
}

/// The appliance packing line: a ZPL print-and-apply labeller over TCP, its label template
/// and a fixed product-name field from the config, at twelve times the line's speed.
async fn the_appliance_label_line(stack: Stack) {
    let Some(s) = simulate(stack, "appliance-labels.toml", 20, &["--speed", "240"]).await else {
        return;
    };
    assert_every_unit_marked(&s, "pack-2", 20);
}

/// The breaker line: a laser driven by the generic ASCII driver from the Keyence MD-X device
/// description, one string in the laser at a time.
async fn the_breaker_laser_line(stack: Stack) {
    let Some(s) = simulate(stack, "breaker-laser.toml", 20, &["--speed", "240"]).await else {
        return;
    };
    assert_every_unit_marked(&s, "mcb-1", 20);
}

/// The cosmetics filling line: a Codenet continuous-inkjet printer over TCP at its own speed,
/// with heavy camera damage.
async fn the_cosmetics_line(stack: Stack) {
    let Some(s) = simulate(stack, "cosmetics.toml", 60, &["--faults", "heavy"]).await else {
        return;
    };
    assert_every_unit_marked(&s, "fill-4", 60);
    assert!(s["rejected"].as_i64().unwrap_or(0) > 0, "{s:#}");
}

on_both_stacks!(
    the_appliance_label_line,
    the_breaker_laser_line,
    the_cosmetics_line,
    the_pharma_carton_line,
    inferred_packing_under_heavy_damage,
    the_cable_line,
    the_cable_line_rides_through_an_ink_out_over_modbus,
);

/// The demo line with its PLC's line I/O map relocated (`[plcs.line_io.map]`): the twin's PLC
/// serves the map of the config, the runtime drives the gate there, and the run reconciles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relocated_line_io_map_runs_end_to_end() {
    let Some(site) = Stack::Embedded.site().await else {
        return;
    };
    let _line = one_line_at_a_time().await;
    let demo = std::fs::read_to_string(line_config("demo.toml")).expect("read demo.toml");
    // The gate's addresses come from the map alone: drop the [gate] copies of them.
    let gate_keys = ["coil = 0", "confirm_input = 0"];
    let mut config: String = demo
        .lines()
        .filter(|line| !gate_keys.iter().any(|key| line.starts_with(key)))
        .map(|line| format!("{line}\n"))
        .collect();
    config.push_str(
        "\n[plcs.line_io.map]\ninput_registers = 1000\ngate_confirm_input = 20\n\
         line_running_input = 17\ngate_coil = 30\nline_stop_coil = 31\n\
         stack_light_red_coil = 40\nstack_light_amber_coil = 42\nstack_light_green_coil = 44\n\
         watchdog_register = 500\ngate_half_window_register = 501\n\
         gate_confirm_timeout_register = 503\nreject_queue_registers = 2000\n",
    );
    let path = site.dir.path().join("relocated.toml");
    write_line_config(&path, &config);
    let out = site
        .run(
            "simulate",
            &[
                "--config",
                path.to_str().expect("a UTF-8 path"),
                "--units",
                "40",
                "--faults",
                "heavy",
            ],
        )
        .await;
    let s = assert_clean_run(&out, 40);
    assert!(s["rejected"].as_i64().unwrap_or(0) > 0, "{s:#}");
    site.finish().await;
}
