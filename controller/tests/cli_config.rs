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
    assert!(err.contains("3 errors"), "{err}");
    for want in [
        "conveyor.speed_upm: 99999",
        "markers.m1.type: \"laser\"",
        "markers.m1.transport.address: \"printer\"",
    ] {
        assert!(err.contains(want), "missing {want:?} in {err}");
    }
    assert!(stdout(&out).is_empty());
}
