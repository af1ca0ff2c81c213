//! The `tracemark codes` command line: output shape and error contract (scripts depend on both).

use std::process::{Command, Output};

fn tracemark(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tracemark"))
        .args(args)
        .output()
        .expect("tracemark runs")
}

fn stdout_json(output: &Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout.clone()).expect("utf-8");
    assert_eq!(
        text.lines().count(),
        1,
        "one JSON object on one line: {text}"
    );
    serde_json::from_str(&text).expect("JSON")
}

/// Exit status 2 and exactly one line on stderr that names the field and the reason.
fn assert_input_error(output: &Output, expected: &str) {
    assert_eq!(
        output.status.code(),
        Some(2),
        "stdout: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains(expected),
        "{stderr:?} should contain {expected:?}"
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn parse_prints_every_form() {
    let output = tracemark(&["codes", "parse", "]d2010950600013435210LOT1\u{1d}21A1B2C3"]);
    let json = stdout_json(&output);
    assert_eq!(json["scheme"], "gs1");
    assert_eq!(json["symbology"], "]d2");
    assert_eq!(json["hri"], "(01)09506000134352(10)LOT1(21)A1B2C3");
    assert_eq!(json["element"], "010950600013435210LOT1\u{1d}21A1B2C3");
    assert_eq!(
        json["digital_link"],
        "https://id.gs1.org/01/09506000134352/10/LOT1/21/A1B2C3"
    );
    assert_eq!(json["ais"]["01"], "09506000134352");
    assert_eq!(json["ais"]["21"], "A1B2C3");
    // The raw text shows GS as the JSON escape \u001d, as the CLI contract says.
    assert!(String::from_utf8_lossy(&output.stdout).contains("LOT1\\u001d21"));
}

#[test]
fn parse_accepts_hri_and_digital_link_with_domain() {
    let json = stdout_json(&tracemark(&[
        "codes",
        "parse",
        "https://id.gs1.org/01/09506000134352/21/A1B2C3",
        "--domain",
        "https://trace.example.cn",
    ]));
    assert_eq!(json["form"], "digital_link");
    assert_eq!(json["hri"], "(01)09506000134352(21)A1B2C3");
    assert_eq!(
        json["digital_link"],
        "https://trace.example.cn/01/09506000134352/21/A1B2C3"
    );
}

#[test]
fn invalid_input_is_one_line_and_status_2() {
    assert_input_error(
        &tracemark(&["codes", "parse", "(01)09506000134352(21)A1B2 C3"]),
        "error: DATA: AI (21) at character 27: space is not in CSET 82",
    );
    assert_input_error(&tracemark(&["codes", "parse"]), "<DATA>");
    assert_input_error(&tracemark(&["codes", "frobnicate"]), "frobnicate");
}

#[test]
fn parse_recognises_the_other_schemes() {
    let ecode = stdout_json(&tracemark(&["codes", "parse", "1000112345678901234567890"]));
    assert_eq!(ecode["scheme"], "ecode");
    assert_eq!(ecode["nsi"], "0001");
    assert_eq!(
        ecode["url"],
        "https://www.iotroot.com/E=1000112345678901234567890"
    );
    assert!(ecode["hri"].is_null());

    let identity = stdout_json(&tracemark(&[
        "codes",
        "parse",
        "https://id.example.cn/p/K7Q2M9X4",
        "--identity-host",
        "id.example.cn",
        "--identity-prefix",
        "p",
    ]));
    assert_eq!(identity["scheme"], "digital_identity");
    assert_eq!(identity["serial"], "K7Q2M9X4");

    let pattern = "{date:YYMMDD}{serial:8:digits}{check:mod11-2}";
    let template = stdout_json(&tracemark(&[
        "codes",
        "parse",
        "261122000012343",
        "--template",
        pattern,
    ]));
    assert_eq!(template["scheme"], "template");
    assert_eq!(template["date"], "2026-11-22");
    assert_eq!(template["serial"], "00001234");

    assert_input_error(
        &tracemark(&["codes", "parse", "261122000012340", "--template", pattern]),
        "error: DATA: check character: position 15: expected '3' (mod11-2), found '0'",
    );
    assert_input_error(
        &tracemark(&["codes", "parse", "x", "--template", "{serial:0}"]),
        "error: --template: ",
    );
}

#[test]
fn render_writes_png_and_svg_that_read_back() {
    let dir = std::env::temp_dir().join(format!("tracemark-cli-render-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for (symbology, data, file) in [
        (
            "gs1-datamatrix",
            "(01)09506000134352(10)LOT1(21)A1B2C3",
            "dm.png",
        ),
        (
            "gs1-qr",
            "https://id.gs1.org/01/09506000134352/21/A1B2C3",
            "qr.svg",
        ),
        ("gs1-128", "(00)106141411234567897", "sscc.png"),
        ("qr", "https://id.example.cn/p/K7Q2M9X4", "plain.png"),
    ] {
        let out = dir.join(file);
        let out_text = out.to_str().expect("utf-8 path");
        let json = stdout_json(&tracemark(&[
            "codes",
            "render",
            "--data",
            data,
            "--symbology",
            symbology,
            "--out",
            out_text,
        ]));
        assert_eq!(json["symbology"], symbology);
        let written = std::fs::read(&out).expect("file written");
        assert_eq!(json["bytes"], written.len());
        if file.ends_with(".png") {
            let decoded = tracemark_codes::symbol::decode_png(&written).expect("decodes");
            let expected = if symbology.starts_with("gs1") {
                tracemark_codes::gs1::parse(data)
                    .expect("gs1")
                    .code
                    .to_element_string()
            } else {
                data.to_owned()
            };
            assert_eq!(decoded.data(), expected.as_bytes(), "{symbology}");
        } else {
            assert!(
                String::from_utf8_lossy(&written).starts_with("<svg"),
                "{file}"
            );
        }
    }
    // Module size is honoured.
    let out = dir.join("big.png");
    let json = stdout_json(&tracemark(&[
        "codes",
        "render",
        "--data",
        "(01)09506000134352",
        "--symbology",
        "gs1-datamatrix",
        "--module-px",
        "10",
        "--quiet-zone",
        "1",
        "--out",
        out.to_str().expect("utf-8"),
    ]));
    let modules = json["modules"][0].as_u64().expect("modules");
    assert_eq!(json["pixels"][0].as_u64(), Some((modules + 2) * 10));

    assert_input_error(
        &tracemark(&[
            "codes",
            "render",
            "--data",
            "(01)1",
            "--symbology",
            "gs1-qr",
            "--out",
            "x.png",
        ]),
        "error: --data: AI (01) at character 5",
    );
    assert_input_error(
        &tracemark(&[
            "codes",
            "render",
            "--data",
            "x",
            "--symbology",
            "pdf417",
            "--out",
            "x.png",
        ]),
        "error: --symbology: ",
    );
    assert_input_error(
        &tracemark(&[
            "codes",
            "render",
            "--data",
            "x",
            "--symbology",
            "qr",
            "--out",
            "x.gif",
        ]),
        "error: --out: the file name must end in .png or .svg",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn serials_are_stable_distinct_and_shaped() {
    let output = tracemark(&[
        "codes",
        "serials",
        "--gtin",
        "9506000134352",
        "--from",
        "0",
        "--count",
        "1000",
        "--length",
        "10",
    ]);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).expect("utf-8");
    let serials: Vec<&str> = text.lines().collect();
    assert_eq!(serials.len(), 1000);
    let distinct: std::collections::HashSet<&&str> = serials.iter().collect();
    assert_eq!(distinct.len(), 1000);
    let alphabet = tracemark_codes::serial::Alphabet::Safe;
    assert!(
        serials
            .iter()
            .all(|s| s.len() == 10 && s.chars().all(|c| alphabet.contains(c)))
    );
    // --from continues the same sequence: stateless and reproducible.
    let tail = tracemark(&[
        "codes",
        "serials",
        "--gtin",
        "09506000134352",
        "--from",
        "998",
        "--count",
        "2",
        "--length",
        "10",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&tail.stdout)
            .lines()
            .collect::<Vec<_>>(),
        serials[998..].to_vec()
    );

    // A key file changes every serial.
    let key_file = std::env::temp_dir().join(format!("tracemark-key-{}", std::process::id()));
    std::fs::write(&key_file, "11".repeat(32)).expect("key file");
    let keyed = tracemark(&[
        "codes",
        "serials",
        "--gtin",
        "9506000134352",
        "--count",
        "1000",
        "--length",
        "10",
        "--key-file",
        key_file.to_str().expect("utf-8"),
    ]);
    let keyed_text = String::from_utf8_lossy(&keyed.stdout).into_owned();
    assert!(keyed_text.lines().zip(&serials).all(|(a, b)| a != *b));
    let _ = std::fs::remove_file(&key_file);

    assert_input_error(
        &tracemark(&[
            "codes",
            "serials",
            "--gtin",
            "9506000134353",
            "--count",
            "1",
        ]),
        "error: --gtin: AI (01) at character 13: check digit is 3, expected 2",
    );
    assert_input_error(
        &tracemark(&[
            "codes",
            "serials",
            "--gtin",
            "9506000134352",
            "--count",
            "1",
            "--alphabet",
            "hex",
        ]),
        "error: --alphabet: ",
    );
    assert_input_error(
        &tracemark(&[
            "codes",
            "serials",
            "--gtin",
            "9506000134352",
            "--count",
            "1",
            "--length",
            "6",
            "--alphabet",
            "digits",
            "--planned-volume",
            "100000",
        ]),
        "error: --length: ",
    );
}
