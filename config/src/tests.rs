use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::*;
use tracemark_drivers::lineio::LineIoMap;

pub(crate) fn write(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("line.toml");
    std::fs::write(&path, text).expect("write the config");
    path
}

pub(crate) fn errors_of(text: &str) -> Vec<String> {
    let dir = tempfile::tempdir().expect("tempdir");
    match load_with_env(&write(dir.path(), text), BTreeMap::new()) {
        Ok(line) => panic!("expected errors, got {line:?}"),
        Err(e) => e.errors.iter().map(ToString::to_string).collect(),
    }
}

/// The smallest line that runs: a marker, a reader, a gate on its PLC, the broker.
pub(crate) const MINIMAL: &str = r#"
[line]
id = "l1"
[conveyor]
speed_upm = 300
[markers.m1]
type = "linx_rci"
position_mm = 100
transport = { type = "serial", path = "/dev/ttyS1" }
[readers.cam1]
position_mm = 200
[plcs.io]
transport = { type = "tcp", address = "10.0.0.2:502" }
[gate]
position_mm = 300
plc = "io"
[mqtt]
url = "mqtt://localhost"
"#;

/// [`MINIMAL`] without its `[mqtt]` table, for tests that write their own.
pub(crate) fn minimal_without_mqtt() -> String {
    MINIMAL.replace("[mqtt]\nurl = \"mqtt://localhost\"\n", "")
}

/// [`MINIMAL`] and its errors.
pub(crate) fn load_text(text: &str) -> Result<Line, Vec<String>> {
    let dir = tempfile::tempdir().expect("tempdir");
    load_with_env(&write(dir.path(), text), BTreeMap::new())
        .map_err(|e| e.errors.iter().map(ToString::to_string).collect())
}

#[test]
fn the_shipped_line_configs_are_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../line-configs");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("line-configs/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            if let Err(e) = load_with_env(&path, BTreeMap::new()) {
                panic!("{e}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 1, "no configs in {}", dir.display());
}

#[test]
fn minimal_config_gets_its_defaults() {
    let dir = tempfile::tempdir().expect("tempdir");
    let line = load_with_env(&write(dir.path(), MINIMAL), BTreeMap::new()).expect("valid");
    assert_eq!(line.name, "l1");
    let marker = &line.markers[0];
    assert_eq!((marker.low_watermark, marker.high_watermark), (4, 16));
    assert_eq!(marker.timeout, Duration::from_millis(500));
    assert_eq!(
        marker.transport,
        Transport::Serial {
            path: "/dev/ttyS1".into(),
            baud: 9600,
            parity: tracemark_drivers::transport::Parity::None,
            data_bits: tracemark_drivers::transport::DataBits::Eight,
            stop_bits: tracemark_drivers::transport::StopBits::One
        }
    );
    assert_eq!(marker.position_counts, 100);
    let gate = line.gate.expect("a gate");
    assert_eq!((gate.coil, gate.confirm_input), (0, 0), "the default map's");
    assert_eq!(gate.plc.line_io, LineIoMap::default());
    assert_eq!(gate.half_window_counts, 50, "half the default 100 mm pitch");
    assert_eq!(line.mqtt.expect("a broker").port, 1883);
}

#[test]
fn every_error_is_reported_with_its_key_path() {
    let errors = errors_of(
        r#"
[line]
id = "Line 1"
colour = "red"
codes_in_hand_minutes = 0
[conveyor]
speed_upm = 0
[markers.m1]
type = "videojet"
position_mm = 100
transport = { type = "serial", path = "/dev/ttyS1", baud = 9601 }
low_watermark = 20
[markers.m2]
type = "zipher"
position_mm = 50
transport = { type = "serial", path = "/dev/ttyS1" }
[markers.m3]
type = "zpl"
position_mm = "far"
transport = { type = "tcp", address = "printer" }
[readers.cam1]
position_mm = 80
min_grade = "E"
[gate]
position_mm = 90
plc = "nope"
coil = 0
confirm_input = 0
[extras]
x = 1
"#,
    );
    let expected = [
        "extras: unknown section (expected one of: line, conveyor, mqtt, markers, readers, plcs, gate, packing, dispatch)",
        "line.colour: unknown key `colour` (expected one of: id, name, product, codes_in_hand_minutes)",
        "line.codes_in_hand_minutes: 0 is not between 1 and 240",
        "line.id: \"Line 1\" must be 1–32 characters",
        "markers.m3.position_mm: invalid type",
        "conveyor.speed_upm: 0 is not between 1 and 12000",
        "markers.m1.type: \"videojet\" is not one of",
        "markers.m1.low_watermark: 20 must be at least 1 and below high_watermark (16)",
        "markers.m1.transport.baud: 9601 is not a standard rate",
        "markers.m2.transport: serial /dev/ttyS1 is already used by markers.m1",
        "readers.cam1.position_mm: 80 mm is not after the last marker (100 mm)",
        "readers.cam1.min_grade: \"E\" is not A, B, C or D",
        "gate.plc: \"nope\" is not a [plcs.<name>]",
        "gate.position_mm: 90 mm is not after the last reader or marker (100 mm)",
        "mqtt: missing: [mqtt] with `url`",
    ];
    for want in expected {
        assert!(
            errors.iter().any(|e| e.starts_with(want)),
            "missing {want:?} in {errors:#?}"
        );
    }
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");
}

#[test]
fn a_line_has_at_most_64_readers() {
    let readers: String = (0..65)
        .map(|i| format!("[readers.cam{i}]\nposition_mm = {}\n", 200 + i))
        .collect();
    let errors = errors_of(&format!(
        "[line]\nid = \"l1\"\n[conveyor]\nspeed_upm = 60\n[markers.m1]\ntype = \"zipher\"\n\
         position_mm = 100\ntransport = {{ type = \"tcp\", address = \"10.0.0.1:3002\" }}\n\
         {readers}[mqtt]\nurl = \"mqtt://broker\"\n\
         [plcs.io]\ntransport = {{ type = \"tcp\", address = \"10.0.0.2:502\" }}\n\
         [gate]\nposition_mm = 400\nplc = \"io\"\n"
    ));
    assert_eq!(
        errors,
        ["readers: 65 readers: a line has at most 64"],
        "{errors:#?}"
    );
}

#[test]
fn missing_sections_and_bad_transports_are_named() {
    let errors = errors_of("[mqtt]\nurl = \"tcp://broker\"\n");
    for want in [
        "line: missing",
        "conveyor: missing",
        "markers: missing",
        "readers: missing",
        "gate: missing",
        "mqtt.url: \"tcp://broker\" must start with mqtt:// or mqtts://",
    ] {
        assert!(
            errors.iter().any(|e| e.starts_with(want)),
            "missing {want:?} in {errors:?}"
        );
    }
    let errors = errors_of(&MINIMAL.replace(
        "{ type = \"serial\", path = \"/dev/ttyS1\" }",
        "{ type = \"tcp\", address = \"10.0.0.5:0\" }",
    ));
    assert_eq!(
        errors,
        [
            "markers.m1.transport.address: \"10.0.0.5:0\" is not host:port with a port from 1 to 65535"
        ]
    );
    let errors = errors_of(&MINIMAL.replace("type = \"serial\"", "type = \"usb\""));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("markers.m1.transport.type: unknown variant `usb`"),
        "{errors:?}"
    );
}

#[test]
fn a_broken_plc_is_not_also_reported_as_unknown() {
    // A required key of the wrong type breaks the PLC; the other key's mistake is still found.
    let errors = errors_of(&MINIMAL.replace(
        "transport = { type = \"tcp\", address = \"10.0.0.2:502\" }",
        "transport = 502\nunit_id = 300",
    ));
    assert_eq!(errors.len(), 2, "{errors:?}");
    for want in [
        "plcs.io.transport: invalid type: integer `502`, expected a transport table",
        "plcs.io.unit_id: invalid value: integer `300`",
    ] {
        assert!(
            errors.iter().any(|e| e.starts_with(want)),
            "{want:?} not in {errors:?}"
        );
    }
}

#[test]
fn environment_overrides_apply_and_are_validated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), MINIMAL);
    let env = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    let line = load_with_env(
        &path,
        env(&[
            ("TRACEMARK_CONVEYOR__SPEED_UPM", "900"),
            ("TRACEMARK_MARKERS__M1__TRANSPORT__PATH", "/dev/ttyUSB3"),
            // Not overrides: the command line's own variables.
            ("TRACEMARK_DB", "sqlite://x.db"),
            ("TRACEMARK_USER", "alice"),
        ]),
    )
    .expect("valid");
    assert_eq!(line.speed_upm, 900);
    assert!(matches!(
        &line.markers[0].transport,
        Transport::Serial { path, .. } if path == "/dev/ttyUSB3"
    ));
    let errors = load_with_env(&path, env(&[("TRACEMARK_CONVEYOR__SPEED_UPM", "fast")]))
        .expect_err("a string speed");
    assert!(
        errors.errors[0]
            .to_string()
            .starts_with("conveyor.speed_upm: invalid type"),
        "{errors}"
    );
}

#[test]
fn syntax_errors_and_missing_files_are_errors_not_panics() {
    let errors = errors_of("[line\nid = 1");
    assert_eq!(errors.len(), 1);
    let missing = load_with_env(Path::new("/nonexistent/line.toml"), BTreeMap::new())
        .expect_err("missing file");
    assert!(
        missing.to_string().contains("cannot read the file"),
        "{missing}"
    );
}

#[test]
fn a_modbus_marker_register_map_is_checked_key_by_key() {
    let errors = errors_of(
        r#"
[line]
id = "l1"
[conveyor]
speed_upm = 30
[markers.cij]
type = "modbus_marker"
position_mm = 100
transport = { type = "serial", path = "/dev/ttyS1", baud = 19200, parity = "even" }
[markers.cij.registers]
code_register = 100
code_registers = 32
load = { type = "register", address = 110, value = 1 }
[markers.cij.registers.counter]
width = 24
[markers.m2]
type = "linx_rci"
position_mm = 120
transport = { type = "serial", path = "/dev/ttyS2" }
registers = { code_register = 5 }
"#,
    );
    let joined = errors.join("\n");
    for expected in [
        "markers.cij.registers.load.address: 110 is inside the code field",
        "markers.cij.registers.counter.width: 24 is not 16 or 32",
        "markers.m2.registers: only a modbus_marker has a register map",
    ] {
        assert!(joined.contains(expected), "{expected:?} not in:\n{joined}");
    }
    // Unknown keys in the map are errors too, with their path.
    let unknown = errors_of(
        r#"
[line]
id = "l1"
[conveyor]
speed_upm = 30
[markers.cij]
type = "modbus_marker"
position_mm = 100
transport = { type = "tcp", address = "10.0.0.9:502" }
registers = { code_regster = 100 }
"#,
    );
    assert!(unknown.join("\n").contains("code_regster"), "{unknown:?}");
}

#[test]
fn a_modbus_marker_without_a_map_gets_the_default_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = MINIMAL.replace("linx_rci", "modbus_marker");
    let line = load_with_env(&write(dir.path(), &text), BTreeMap::new()).expect("valid");
    let marker = &line.markers[0];
    assert_eq!(
        marker.kind,
        super::MarkerKind::ModbusMarker {
            unit_id: 1,
            registers: tracemark_drivers::modbus_marker::ModbusMarkerMap::default()
        }
    );
}

#[test]
fn mqtt_tls_files_are_checked_and_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("notes.txt"), "not a certificate\n").expect("write");
    std::fs::write(
        dir.path().join("client.pem"),
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    )
    .expect("write");
    let errors_with = |mqtt: &str| -> Vec<String> {
        let path = write(
            dir.path(),
            &format!("{}\n[mqtt]\n{mqtt}", minimal_without_mqtt()),
        );
        match load_with_env(&path, BTreeMap::new()) {
            Ok(line) => panic!("expected errors, got {line:?}"),
            Err(e) => e.errors.iter().map(ToString::to_string).collect(),
        }
    };
    let notes = dir.path().join("notes.txt");
    assert_eq!(
        errors_with(
            "url = \"mqtts://broker\"\nca_file = \"notes.txt\"\nclient_cert_file = \"client.pem\"\n"
        ),
        [
            format!(
                "mqtt.ca_file: {} holds no `-----BEGIN CERTIFICATE-----` (PEM expected)",
                notes.display()
            ),
            "mqtt.client_key_file: a client certificate needs its key".to_owned(),
        ]
    );
    assert_eq!(
        errors_with(
            "url = \"mqtt://broker\"\nclient_cert_file = \"client.pem\"\nclient_key_file = \"gone.key\"\n"
        ),
        [
            "mqtt.client_cert_file: only used with mqtts://",
            "mqtt.client_key_file: only used with mqtts://",
        ]
    );
    let missing = errors_with("url = \"mqtts://broker\"\nca_file = \"gone.pem\"\n");
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert!(
        missing[0].starts_with(&format!(
            "mqtt.ca_file: cannot read {}",
            dir.path().join("gone.pem").display()
        )),
        "{missing:?}"
    );
}

#[test]
fn marker_templates_and_label_fields_are_checked_per_type() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("laser.toml"), "model = \"x\"\nbogus = 1\n").expect("write");
    let errors_with = |text: &str| -> Vec<String> {
        let path = write(dir.path(), text);
        match load_with_env(&path, BTreeMap::new()) {
            Ok(line) => panic!("expected errors, got {line:?}"),
            Err(e) => e.errors.iter().map(ToString::to_string).collect(),
        }
    };
    assert_eq!(
        errors_with(&MINIMAL.replace(
            "type = \"linx_rci\"",
            "type = \"linx_rci\"\ntemplate = \"laser.toml\"\nlabel_fields = { 2 = \"x\" }"
        )),
        [
            "markers.m1.template: only a zpl or an ascii marker has a template",
            "markers.m1.label_fields.2: only a zpl marker has label fields",
        ]
    );
    assert_eq!(
        errors_with(&MINIMAL.replace(
            "type = \"linx_rci\"",
            "type = \"zpl\"\nlabel_fields = { 1 = \"the code?\", two = \"x\" }"
        )),
        [
            "markers.m1.label_fields.1: a field number from 2 to 9999 (^FN1 carries the code)",
            "markers.m1.label_fields.two: a field number from 2 to 9999 (^FN1 carries the code)",
        ]
    );
    let errors = errors_with(&MINIMAL.replace(
        "type = \"linx_rci\"",
        "type = \"ascii\"\ntemplate = \"laser.toml\"",
    ));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with(&format!(
            "markers.m1.template: {}: ",
            dir.path().join("laser.toml").display()
        )) && errors[0].contains("bogus"),
        "{errors:?}"
    );
    assert_eq!(
        errors_with(&MINIMAL.replace("type = \"linx_rci\"", "type = \"ascii\"")),
        ["markers.m1.template: an ascii marker needs its device description file"]
    );
}
