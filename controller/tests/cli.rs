//! The command line end to end: happy path, and bad input that must exit 2 with one
//! `error: <field>: <reason>` line and change nothing.

mod common;

use std::process::Output;

use common::*;

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        stdout(out),
        stderr(out)
    );
    stdout(out)
}

/// Exit status 2, exactly one stderr line `error: <field>: …`.
fn input_error(out: &Output, field: &str) -> String {
    let err = stderr(out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "stdout: {}\nstderr: {err}",
        stdout(out)
    );
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.starts_with(&format!("error: {field}: ")),
        "expected field {field}: {err}"
    );
    err
}

/// The audit log as text: any write shows up here.
fn log(url: &str) -> String {
    ok(&tracemark(url, &["audit", "log", "--limit", "100000"]))
}

fn setup(url: &str) {
    ok(&tracemark(
        url,
        &[
            "product",
            "add",
            "--id",
            "cable",
            "--gtin",
            "09506000134352",
            "--name",
            "BV cable",
            "--model",
            "BV 2.5",
            "--category",
            "wire and cable",
            "--standard",
            "GB/T 5023.3",
            "--pack-sizes",
            "10,40",
        ],
    ));
}

#[test]
fn end_to_end_sqlite() {
    let dir = tempdir();
    let url = sqlite_url(dir.path());
    setup(&url);
    ok(&tracemark(
        &url,
        &[
            "producer",
            "set",
            "--name",
            "某某电缆有限公司",
            "--uscc",
            "91350100M000100Y43",
            "--address",
            "福州",
            "--contact",
            "0591-1",
            "--business-licence",
            "91350100M000100Y43",
        ],
    ));
    assert!(ok(&tracemark(&url, &["producer", "show"])).contains("91350100M000100Y43"));
    assert!(ok(&tracemark(&url, &["product", "list"])).starts_with("cable\t09506000134352"));
    assert!(ok(&tracemark(&url, &["product", "show", "cable"])).contains("\"model\": \"BV 2.5\""));
    assert!(
        ok(&tracemark(&url, &["product", "show", "cable"]))
            .contains("\"pack_sizes\": [\n    10,\n    40\n  ]")
    );
    let created = ok(&tracemark(
        &url,
        &[
            "batch",
            "create",
            "--product",
            "cable",
            "--lot",
            "L1",
            "--quantity",
            "5",
            "--production-date",
            "2025-03-01",
            "--expiry",
            "2030-01-01",
            "--line",
            "line-1",
        ],
    ));
    assert!(created.starts_with("batch 1 cable lot L1"), "{created}");
    ok(&tracemark(&url, &["batch", "start", "1"]));
    let out = dir.path().join("codes.csv");
    let out_arg = out.display().to_string();
    ok(&tracemark(
        &url,
        &[
            "codes",
            "allocate",
            "--product",
            "cable",
            "--count",
            "5",
            "--batch",
            "1",
            "--out",
            &out_arg,
            "--format",
            "csv",
        ],
    ));
    let csv = std::fs::read_to_string(&out).expect("read the export");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "product,counter,serial,code");
    let first: Vec<&str> = lines[1].split(',').collect();
    let serial = first[2];
    assert!(
        serial.len() == 12 && serial.bytes().all(|b| b.is_ascii_digit()),
        "{serial}"
    );
    assert_ne!(serial, "000000000000", "FF1 serials, not a counter");
    assert_eq!(
        first,
        [
            "cable",
            "0",
            serial,
            &format!("(01)09506000134352(21){serial}")
        ]
    );
    assert_eq!(lines.len(), 6);
    let dl = ok(&tracemark(
        &url,
        &[
            "codes",
            "allocate",
            "--product",
            "cable",
            "--count",
            "2",
            "--format",
            "dl",
        ],
    ));
    let dl_serial = dl
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("https://id.gs1.org/01/09506000134352/21/"))
        .expect("a Digital Link URI");
    assert_eq!(dl_serial.len(), 12, "{dl}");
    let element = ok(&tracemark(
        &url,
        &[
            "codes",
            "allocate",
            "--product",
            "cable",
            "--count",
            "1",
            "--format",
            "element",
        ],
    ));
    let element = element.trim();
    assert!(
        element.starts_with("010950600013435221") && element.len() == 30,
        "{element}"
    );
    let code = first[3];
    ok(&tracemark(
        &url,
        &["codes", "set-state", "--to", "sent", code],
    ));
    ok(&tracemark(
        &url,
        &["codes", "set-state", "--to", "printed", code],
    ));
    ok(&tracemark(
        &url,
        &["codes", "set-state", "--to", "verified", code],
    ));
    assert!(ok(&tracemark(&url, &["codes", "show", code])).contains("\"state\": \"verified\""));
    ok(&tracemark(&url, &["batch", "pause", "1"]));
    ok(&tracemark(&url, &["batch", "resume", "1"]));
    ok(&tracemark(&url, &["batch", "close", "1"]));
    let report = ok(&tracemark(&url, &["batch", "report", "1"]));
    assert!(
        report.contains("allocated 5  = voided 4 + printed 1"),
        "{report}"
    );
    assert!(report.contains("balanced"), "{report}");
    let json = ok(&tracemark(
        &url,
        &["batch", "report", "1", "--format", "json"],
    ));
    let value: serde_json::Value = serde_json::from_str(&json).expect("json report");
    assert_eq!(value["reconciliation"]["balanced"], true);
    assert_eq!(value["batch"]["state"], "closed");
    assert!(ok(&tracemark(&url, &["batch", "list"])).contains("closed"));
    assert!(ok(&tracemark(&url, &["audit", "verify"])).starts_with("audit chain ok"));
    // JSON logs: one JSON object per line on stderr.
    let out = std::process::Command::new(bin())
        .args(["--log-format", "json", "batch", "list"])
        .env("TRACEMARK_DB", &url)
        .env("TRACEMARK_LOG", "debug")
        .output()
        .expect("run tracemark");
    ok(&out);
    let logs = stderr(&out);
    assert!(!logs.is_empty(), "debug logs expected");
    for line in logs.lines() {
        let value: serde_json::Value = serde_json::from_str(line).expect("a JSON log line");
        assert!(value.get("level").is_some(), "{line}");
    }
}

#[test]
fn bad_input_changes_nothing() {
    let dir = tempdir();
    let url = sqlite_url(dir.path());
    setup(&url);
    ok(&tracemark(
        &url,
        &[
            "batch",
            "create",
            "--product",
            "cable",
            "--lot",
            "L1",
            "--quantity",
            "5",
            "--production-date",
            "2025-03-01",
        ],
    ));
    let allocated = ok(&tracemark(
        &url,
        &["codes", "allocate", "--product", "cable", "--count", "3"],
    ));
    let first_code = allocated.lines().next().expect("a code").to_owned();
    let before = log(&url);
    let batch = |args: &[&str]| {
        let mut all = vec!["batch", "create"];
        all.extend_from_slice(args);
        tracemark(&url, &all)
    };
    input_error(
        &tracemark(
            &url,
            &["codes", "allocate", "--product", "nope", "--count", "3"],
        ),
        "product",
    );
    input_error(
        &batch(&[
            "--product",
            "nope",
            "--lot",
            "L2",
            "--quantity",
            "1",
            "--production-date",
            "2025-03-01",
        ]),
        "product",
    );
    input_error(
        &batch(&[
            "--product",
            "cable",
            "--lot",
            "L1",
            "--quantity",
            "1",
            "--production-date",
            "2025-03-01",
        ]),
        "lot",
    );
    input_error(
        &batch(&[
            "--product",
            "cable",
            "--lot",
            "L2",
            "--quantity",
            "1",
            "--production-date",
            "2025-02-30",
        ]),
        "production_date",
    );
    input_error(
        &batch(&[
            "--product",
            "cable",
            "--lot",
            "L2",
            "--quantity",
            "1",
            "--production-date",
            "01/03/2025",
        ]),
        "production_date",
    );
    input_error(
        &batch(&[
            "--product",
            "cable",
            "--lot",
            "L2",
            "--quantity",
            "1",
            "--production-date",
            "2025-03-01",
            "--expiry",
            "2025-02-01",
        ]),
        "expiry",
    );
    input_error(
        &batch(&[
            "--product",
            "cable",
            "--lot",
            "L2",
            "--quantity",
            "0",
            "--production-date",
            "2025-03-01",
        ]),
        "quantity",
    );
    input_error(&tracemark(&url, &["batch", "pause", "1"]), "state");
    input_error(&tracemark(&url, &["batch", "show", "7"]), "batch");
    let code = first_code.as_str();
    input_error(
        &tracemark(&url, &["codes", "set-state", "--to", "printed", code]),
        "state",
    );
    input_error(
        &tracemark(&url, &["codes", "set-state", "--to", "flying", code]),
        "state",
    );
    input_error(
        &tracemark(
            &url,
            &[
                "codes",
                "set-state",
                "--to",
                "sent",
                code,
                "(01)09506000134352(21)9",
            ],
        ),
        "code",
    );
    input_error(
        &tracemark(
            &url,
            &[
                "product",
                "add",
                "--id",
                "x",
                "--gtin",
                "09506000134353",
                "--name",
                "X",
            ],
        ),
        "gtin",
    );
    input_error(
        &tracemark(
            &url,
            &[
                "product",
                "add",
                "--id",
                "cable",
                "--gtin",
                "4006381333931",
                "--name",
                "X",
            ],
        ),
        "id",
    );
    input_error(
        &tracemark(
            &url,
            &[
                "product",
                "add",
                "--id",
                "y",
                "--gtin",
                "96385074",
                "--name",
                "Y",
                "--pack-sizes",
                "10,0",
            ],
        ),
        "pack_sizes",
    );
    input_error(
        &tracemark(
            &url,
            &[
                "producer",
                "set",
                "--name",
                "n",
                "--uscc",
                "123",
                "--address",
                "a",
                "--contact",
                "c",
                "--business-licence",
                "b",
            ],
        ),
        "uscc",
    );
    assert_eq!(log(&url), before, "refused commands wrote nothing");
    assert!(ok(&tracemark(&url, &["audit", "verify"])).starts_with("audit chain ok"));
}

#[test]
fn corrupt_database_file_is_an_input_error_and_unchanged() {
    let dir = tempdir();
    let path = dir.path().join("tracemark.db");
    let garbage =
        b"this is not an SQLite database, but it is long enough to look like one. ".repeat(100);
    std::fs::write(&path, &garbage).expect("write");
    let url = sqlite_url(dir.path());
    let err = input_error(&tracemark(&url, &["product", "list"]), "db");
    assert!(err.contains("not a database"), "{err}");
    assert!(
        std::fs::read(&path).expect("read") == garbage,
        "file changed"
    );
    input_error(&tracemark("mysql://x", &["product", "list"]), "db");
}

#[test]
fn audit_verify_names_the_first_bad_event() {
    let dir = tempdir();
    let url = sqlite_url(dir.path());
    setup(&url);
    for _ in 0..3 {
        ok(&tracemark(
            &url,
            &["codes", "allocate", "--product", "cable", "--count", "2"],
        ));
    }
    let tamper = "DROP TRIGGER events_append_only_update; \
         UPDATE events SET actor_user = 'mallory' WHERE seq = 3;";
    let status = std::process::Command::new("sqlite3")
        .arg(dir.path().join("tracemark.db"))
        .arg(tamper)
        .status();
    if !status.is_ok_and(|s| s.success()) {
        // No sqlite3 shell here: tamper through sqlx instead.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let pool = sqlx::SqlitePool::connect(&url).await.expect("connect");
            sqlx::raw_sql(tamper).execute(&pool).await.expect("tamper");
            pool.close().await;
        });
    }
    let out = tracemark(&url, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("broken at event 3"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn product_import_toml_and_csv_all_or_nothing() {
    let dir = tempdir();
    let url = sqlite_url(dir.path());
    let toml_path = dir.path().join("products.toml");
    std::fs::write(
        &toml_path,
        r#"
[[product]]
id = "helmet"
gtin = "09506000134352"
name = "Safety helmet"
category = "safety helmets"
model = "H-1"
standard = "GB 2811-2019"
licence = "XK15-001-00001"
retention_years = 5

[[product]]
id = "detector"
gtin = "4006381333931"
name = "Gas detector"
ccc = "2024010000000001"
"#,
    )
    .expect("write");
    let out = ok(&tracemark(
        &url,
        &["product", "import", &toml_path.display().to_string()],
    ));
    assert_eq!(out.trim(), "2 products imported");
    let before = log(&url);
    // Every problem is reported, and a file with any problem imports nothing.
    let csv_path = dir.path().join("products.csv");
    std::fs::write(
        &csv_path,
        "id,gtin,name,model\nnew1,96385074,New one,M\nhelmet,9506000134376,Dup id,M\nbad,12345678,Bad GTIN,M\n",
    )
    .expect("write");
    let err = input_error(
        &tracemark(
            &url,
            &["product", "import", &csv_path.display().to_string()],
        ),
        "file",
    );
    assert!(err.contains("product[1] (helmet).id"), "{err}");
    assert!(err.contains("product[2] (bad).gtin"), "{err}");
    assert_eq!(log(&url), before, "nothing imported");
    let unknown = dir.path().join("unknown.toml");
    std::fs::write(
        &unknown,
        "[[product]]\nid = \"x\"\ngtin = \"96385074\"\nname = \"X\"\ncolour = \"red\"\n",
    )
    .expect("write");
    let err = input_error(
        &tracemark(&url, &["product", "import", &unknown.display().to_string()]),
        "file",
    );
    assert!(err.contains("colour"), "{err}");
    std::fs::write(&csv_path, "id,gtin,name\nnew1,96385074,New one\n").expect("write");
    ok(&tracemark(
        &url,
        &["product", "import", &csv_path.display().to_string()],
    ));
    assert_eq!(
        ok(&tracemark(&url, &["product", "list"])).lines().count(),
        3
    );
}

#[test]
fn backup_and_restore_sqlite() {
    let dir = tempdir();
    let url = sqlite_url(dir.path());
    setup(&url);
    ok(&tracemark(
        &url,
        &["codes", "allocate", "--product", "cable", "--count", "50"],
    ));
    let snapshot = dir.path().join("snapshot.db");
    let snap = snapshot.display().to_string();
    let out = ok(&tracemark(&url, &["backup", "--out", &snap]));
    assert!(out.contains("2 events"), "{out}");
    input_error(&tracemark(&url, &["backup", "--out", &snap]), "out");
    let restored_url = format!("sqlite://{}", dir.path().join("restored.db").display());
    let out = ok(&tracemark(
        &restored_url,
        &["restore", &snap, "--counter-gap", "1000"],
    ));
    assert!(out.contains("3 events verified"), "{out}");
    input_error(&tracemark(&restored_url, &["restore", &snap]), "db");
    // The restored store skips 1000 serials: codes issued after the snapshot are never reissued.
    let next = ok(&tracemark(
        &restored_url,
        &["codes", "allocate", "--product", "cable", "--count", "1"],
    ));
    let shown = ok(&tracemark(&restored_url, &["codes", "show", next.trim()]));
    assert!(shown.contains("\"counter\": 1050"), "{shown}");
    assert_eq!(log(&url).lines().count(), 2, "the original is untouched");
}

/// `--store-fault` (issue 18) is checked before anything runs: exit 2, the option, the value
/// and what is wrong with it named, and no store created.
#[test]
fn bad_store_fault_values_are_refused_before_anything_runs() {
    let dir = tempdir();
    let url = sqlite_url(dir.path());
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../line-configs/demo.toml");
    for (value, reason) in [
        (
            "outage:25s",
            "expected outage:AT:DURATION, e.g. outage:25s:15s",
        ),
        ("crash:1s:2s", "unknown fault \"crash\""),
        ("outage:soon:15s", "AT: \"soon\" is not a duration"),
        ("outage:25s:0s", "DURATION: must be more than 0"),
    ] {
        for command in [
            vec!["demo", "--store-fault", value],
            vec!["simulate", "--config", config, "--store-fault", value],
        ] {
            let out = tracemark(&url, &command);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{command:?}: {err}");
            assert!(
                err.contains(&format!("invalid value '{value}' for '--store-fault")),
                "{command:?}: {err}"
            );
            assert!(err.contains(reason), "{command:?}: {err}");
        }
    }
    assert!(!dir.path().join("tracemark.db").exists());
}
