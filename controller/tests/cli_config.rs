//! `tracemark config validate`: the shipped configs pass; a broken one gets every error.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

fn validate(file: &Path, env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(bin());
    command.args(["config", "validate"]).arg(file);
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("run tracemark config validate")
}

#[test]
fn demo_config_is_valid_and_summarised() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../line-configs/demo.toml");
    let out = validate(&demo, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("valid"), "{text}");
    assert!(
        text.contains("marker inkjet (linx_rci, serial /dev/ttyUSB0 9600)"),
        "{text}"
    );
    // An override from the environment shows in the result, and is validated too.
    let out = validate(
        &demo,
        &[("TRACEMARK_MARKERS__INKJET__TRANSPORT__PATH", "/dev/ttyUSB7")],
    );
    assert!(
        stdout(&out).contains("serial /dev/ttyUSB7 9600"),
        "{}",
        stdout(&out)
    );
    let out = validate(&demo, &[("TRACEMARK_GATE__POSITION_MM", "10")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("gate.position_mm: 10 mm"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn broken_config_reports_every_error_and_exits_2() {
    let dir = tempdir();
    let file = dir.path().join("line.toml");
    std::fs::write(
        &file,
        "[line]\nid = \"l1\"\n[conveyor]\nspeed_upm = 99999\n\
         [markers.m1]\ntype = \"laser\"\nposition_mm = 10\n\
         transport = { type = \"tcp\", address = \"printer\" }\n",
    )
    .expect("write");
    let out = validate(&file, &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("6 errors"), "{err}");
    for want in [
        "readers: missing",
        "gate: missing",
        "mqtt: missing",
        "conveyor.speed_upm: 99999",
        "markers.m1.type: \"laser\"",
        "markers.m1.transport.address: \"printer\"",
    ] {
        assert!(err.contains(want), "missing {want:?} in {err}");
    }
    assert!(stdout(&out).is_empty());
}

#[test]
fn the_trial_configs_mistakes_all_come_out_of_one_validate_run() {
    // Issue 19: a typo, a bad port and a reader before the marker took three rounds.
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../line-configs/demo.toml");
    let text = std::fs::read_to_string(demo)
        .expect("demo.toml")
        .replace("high_watermark = 12", "hight_watermark = 12")
        .replace(
            "address = \"127.0.0.1:1502\"",
            "address = \"127.0.0.1:70000\"",
        )
        .replace("position_mm = 700", "position_mm = 200")
        // Written elsewhere: the label template it names relative to itself, made absolute.
        .replace(
            "template = \"labels/",
            &format!(
                "template = \"{}/",
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../line-configs/labels")
                    .display()
            ),
        );
    let dir = tempdir();
    let file = dir.path().join("trial.toml");
    std::fs::write(&file, text).expect("write");
    let out = validate(&file, &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("3 errors"), "{err}");
    for want in [
        "markers.inkjet.hight_watermark: unknown key `hight_watermark`; did you mean \
         `high_watermark`?",
        "plcs.line_io.transport.address: \"127.0.0.1:70000\" is not host:port",
        "readers.cam1.position_mm: 200 mm is not after the last marker (250 mm)",
    ] {
        assert!(err.contains(want), "missing {want:?} in {err}");
    }
}

#[test]
fn a_line_without_a_gate_is_refused_by_validate_as_simulate_refused_it() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../line-configs/demo.toml");
    let text = std::fs::read_to_string(demo).expect("demo.toml");
    let cut = text.find("[gate]").expect("demo.toml has a gate");
    let end = text.find("[mqtt]").expect("demo.toml has mqtt");
    let dir = tempdir();
    let file = dir.path().join("no-gate.toml");
    std::fs::write(&file, format!("{}{}", &text[..cut], &text[end..])).expect("write");
    let out = validate(&file, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("gate: missing: [gate]"),
        "{}",
        stderr(&out)
    );
}
