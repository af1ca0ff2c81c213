//! One test per refusal that `tracemark run` or `simulate` made before `config validate` did
//! (issue 19), and the "all mistakes in one pass" behaviour of the trial config.

use super::tests::{MINIMAL, errors_of, load_text};
use super::*;

/// `errors` has an error starting with each of `wanted`, and no other.
fn assert_exactly(errors: &[String], wanted: &[&str]) {
    for want in wanted {
        assert!(
            errors.iter().any(|e| e.starts_with(want)),
            "{want:?} not in {errors:#?}"
        );
    }
    assert_eq!(errors.len(), wanted.len(), "{errors:#?}");
}

#[test]
fn the_trial_configs_three_mistakes_come_out_in_one_pass() {
    let errors = errors_of(&MINIMAL.replace(
        "transport = { type = \"serial\", path = \"/dev/ttyS1\" }",
        "transport = { type = \"tcp\", address = \"127.0.0.1:70000\" }\nhight_watermark = 12",
    )
    .replace("[readers.cam1]\nposition_mm = 200", "[readers.cam1]\nposition_mm = 50"));
    assert_exactly(
        &errors,
        &[
            "markers.m1.hight_watermark: unknown key `hight_watermark`; did you mean \
             `high_watermark`?",
            "markers.m1.transport.address: \"127.0.0.1:70000\" is not host:port with a port \
             from 1 to 65535",
            "readers.cam1.position_mm: 50 mm is not after the last marker (100 mm)",
        ],
    );
}

#[test]
fn unknown_keys_and_variants_are_all_reported_with_a_suggestion() {
    let errors = errors_of(
        &MINIMAL
            .replace(
                "type = \"linx_rci\"",
                "type = \"linx_rc\"\ntimout_ms = 300\nlow_watermrk = 2\nposition_mm_ = 1",
            )
            .replace("address = \"10.0.0.2:502\"", "adress = \"10.0.0.2:502\"")
            .replace("type = \"tcp\"", "type = \"tpc\""),
    );
    assert_exactly(
        &errors,
        &[
            "markers.m1.timout_ms: unknown key `timout_ms`; did you mean `timeout_ms`?",
            "markers.m1.low_watermrk: unknown key `low_watermrk`; did you mean `low_watermark`?",
            "markers.m1.position_mm_: unknown key `position_mm_`; did you mean `position_mm`?",
            "markers.m1.type: \"linx_rc\" is not one of linx_rci, zipher, codenet, zpl, \
             modbus_marker, ascii; did you mean `linx_rci`?",
            "plcs.io.transport.type: unknown variant `tpc`; did you mean `tcp`?",
        ],
    );
    // A key inside the tagged transport table keeps its path.
    let errors = errors_of(&MINIMAL.replace(
        "address = \"10.0.0.2:502\"",
        "address = \"10.0.0.2:502\", adress = \"x\"",
    ));
    assert_exactly(
        &errors,
        &["plcs.io.transport.adress: unknown key `adress`; did you mean `address`?"],
    );
}

#[test]
fn a_wrong_type_on_a_key_with_a_default_does_not_hide_the_devices_other_mistakes() {
    let errors = errors_of(&MINIMAL.replace(
        "type = \"linx_rci\"",
        "type = \"linx_rci\"\ntimeout_ms = \"fast\"\nlow_watermark = 0",
    ));
    assert_exactly(
        &errors,
        &[
            "markers.m1.timeout_ms: invalid type: string \"fast\", expected u32",
            "markers.m1.low_watermark: 0 must be at least 1",
        ],
    );
}

#[test]
fn a_camera_without_a_gate_is_refused_as_simulate_did() {
    // simulate: "the line has no [gate]"; run: "line config: no [gate]".
    let text = MINIMAL.replace("[gate]\nposition_mm = 300\nplc = \"io\"\n", "");
    assert_exactly(&errors_of(&text), &["gate: missing: [gate]"]);
    // run: "the line needs a marker, a reader and a gate".
    let text = MINIMAL.replace("[readers.cam1]\nposition_mm = 200\n", "");
    assert_exactly(&errors_of(&text), &["readers: missing: at least one"]);
    // run: "the line needs an [mqtt] broker".
    let text = super::tests::minimal_without_mqtt();
    assert_exactly(&errors_of(&text), &["mqtt: missing: [mqtt] with `url`"]);
}

#[test]
fn a_gate_coil_on_a_stack_light_is_refused_at_its_key() {
    // The trial: the line logged "stack_light_red_coil: coil 2 is also gate_coil", then
    // "PLC not ready within 10 s".
    let errors = errors_of(&MINIMAL.replace("plc = \"io\"", "plc = \"io\"\ncoil = 2"));
    assert_exactly(
        &errors,
        &[
            "plcs.io.map.stack_light_red_coil: coil 2 is also gate_coil (gate_coil is gate.coil; \
           stack_light_red_coil has its default address: set plcs.io.map.stack_light_red_coil \
           to move it)",
        ],
    );
    // Moved out of the way, it runs, and the compiled map has it.
    let line = load_text(&MINIMAL.replace(
        "plc = \"io\"",
        "plc = \"io\"\ncoil = 2\n[plcs.io.map]\nstack_light_red_coil = 5",
    ))
    .expect("valid");
    let gate = line.gate.expect("a gate");
    assert_eq!(gate.coil, 2);
    assert_eq!(gate.plc.line_io.gate_coil, 2);
    assert_eq!(gate.plc.line_io.stack_light_red_coil, 5);
    assert_eq!(line.plcs[0].line_io, gate.plc.line_io);
}

#[test]
fn the_relocatable_line_io_map_is_accepted_and_checked_key_by_key() {
    let relocated = "[plcs.io.map]\ninput_registers = 100\ngate_coil = 10\n\
                     gate_confirm_input = 8\nline_running_input = 9\n\
                     reject_queue_registers = 200\n";
    let line = load_text(&format!("{MINIMAL}{relocated}")).expect("valid");
    let gate = line.gate.expect("a gate");
    assert_eq!((gate.coil, gate.confirm_input), (10, 8), "from the map");
    assert_eq!(gate.plc.line_io.input_registers, 100);
    assert_eq!(gate.plc.line_io.reject_queue_registers, 200);
    // The gate may name the same addresses; disagreeing is an error.
    let errors = errors_of(&format!(
        "{}{relocated}",
        MINIMAL.replace("plc = \"io\"", "plc = \"io\"\ncoil = 10\nconfirm_input = 7")
    ));
    assert_exactly(
        &errors,
        &["gate.confirm_input: 7 disagrees with plcs.io.map.gate_confirm_input (8)"],
    );
    // Unknown keys and the map's own problems, at their keys.
    let errors = errors_of(&format!(
        "{MINIMAL}[plcs.io.map]\ninput_register = 1\ninput_registers = 65500\n\
         watchdog_register = 20\n"
    ));
    assert_exactly(
        &errors,
        &[
            "plcs.io.map.input_register: unknown key `input_register`; did you mean \
             `input_registers`?",
            "plcs.io.map.input_registers: the block of 86 registers from 65500 runs past",
            "plcs.io.map.reject_queue_registers: holding registers 16–79 overlap \
             watchdog_register (holding register 20) (reject_queue_registers has its default",
        ],
    );
}

#[test]
fn a_gate_window_over_the_plc_register_is_refused() {
    // run: "gate half window 75000 counts is over the register's 65,535 counts".
    let errors = errors_of(&MINIMAL.replace(
        "speed_upm = 300",
        "speed_upm = 300\ncounts_per_mm = 500.0\nmin_pitch_mm = 300",
    ));
    assert_exactly(
        &errors,
        &[
            "conveyor.min_pitch_mm: line I/O configuration: gate half window 75000 counts is \
           over the register's 65,535 counts",
        ],
    );
}

#[test]
fn codenet_options_are_checked_by_the_drivers_parsers() {
    let codenet = |options: &str| {
        MINIMAL.replace(
            "type = \"linx_rci\"",
            &format!("type = \"codenet\"\n{options}"),
        )
    };
    // run: "`1000` is not a message number 1–999" at start.
    assert_exactly(
        &errors_of(&codenet("job = \"1000\"")),
        &["markers.m1.job: \"1000\" is not a stored message number 1–999"],
    );
    assert_exactly(
        &errors_of(&codenet("queue_full_naks = [\"040\", \"40\"]")),
        &["markers.m1.queue_full_naks.1: \"40\" is not a NAK code"],
    );
    let line = load_text(&codenet("job = \"002\"\nqueue_full_naks = [\"045\"]")).expect("valid");
    assert_eq!(
        line.markers[0].kind,
        MarkerKind::Codenet {
            job: Some("002".into()),
            queue_full_naks: vec!["045".into()]
        }
    );
    assert_exactly(
        &errors_of(&MINIMAL.replace(
            "type = \"linx_rci\"",
            "type = \"linx_rci\"\nqueue_full_naks = [\"040\"]",
        )),
        &["markers.m1.queue_full_naks: only a codenet marker"],
    );
}

#[test]
fn linx_zipher_and_zpl_jobs_are_checked_by_their_drivers() {
    let with = |kind: &str, options: &str| {
        MINIMAL.replace(
            "type = \"linx_rci\"",
            &format!("type = \"{kind}\"\n{options}"),
        )
    };
    assert_exactly(
        &errors_of(&with("linx_rci", "job = \"A-VERY-LONG-MESSAGE\"")),
        &["markers.m1.job: "],
    );
    assert_exactly(
        &errors_of(&with("zipher", "job = \"A|B\"")),
        &["markers.m1.job: "],
    );
    assert_exactly(
        &errors_of(&with("zpl", "job = \"R:TRACE.TXT\"")),
        &["markers.m1.job: template name `R:TRACE.TXT` is not d:NAME.ZPL"],
    );
    assert_exactly(
        &errors_of(&with("zpl", "label_fields = { 2 = \"\" }")),
        &["markers.m1.label_fields: field 2 data is empty"],
    );
    assert_exactly(
        &errors_of(&with("ascii", "job = \"x\"")),
        &[
            "markers.m1.job: only a linx_rci, zipher, codenet or zpl marker",
            "markers.m1.template: an ascii marker needs",
        ],
    );
}

#[test]
fn a_zpl_template_that_never_places_the_code_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("label.zpl"), "^FO50,50^A0N,30,30^FN2^FS\n").expect("write");
    let text = MINIMAL.replace(
        "type = \"linx_rci\"",
        "type = \"zpl\"\ntemplate = \"label.zpl\"\nlabel_fields = { 2 = \"x\" }",
    );
    let path = super::tests::write(dir.path(), &text);
    let errors: Vec<String> = match load_with_env(&path, BTreeMap::new()) {
        Ok(line) => panic!("expected errors, got {line:?}"),
        Err(e) => e.errors.iter().map(ToString::to_string).collect(),
    };
    assert_exactly(
        &errors,
        &["markers.m1.template: template body has no ^FN1: the code would not print"],
    );
}

#[test]
fn a_modbus_marker_on_a_serial_line_needs_a_serial_address() {
    let errors = errors_of(&MINIMAL.replace(
        "type = \"linx_rci\"",
        "type = \"modbus_marker\"\nunit_id = 0",
    ));
    assert_exactly(
        &errors,
        &["markers.m1.unit_id: 0 is not a Modbus serial address (1–247)"],
    );
}

#[test]
fn packing_is_optional_and_inferred_is_its_mode() {
    let line = load_text(MINIMAL).expect("minimal");
    assert_eq!(line.packing, None);
    let line = load_text(&format!(
        "{MINIMAL}\n[packing]\nmode = \"inferred\"\nunits_per_case = 10\ncases_per_pallet = 5\n"
    ))
    .expect("inferred");
    assert_eq!(
        line.packing,
        Some(Packing {
            mode: PackingMode::Inferred,
            units_per_case: Some(10),
            cases_per_pallet: 5,
            case_packer_count: false,
            case_camera: None,
            manual: None,
            label: None,
        })
    );
    let line = load_text(&format!("{MINIMAL}\n[packing]\nmode = \"inferred\"\n")).expect("bare");
    assert_eq!(
        line.packing.map(|p| (p.units_per_case, p.cases_per_pallet)),
        Some((None, 0))
    );
}

#[test]
fn unknown_packing_modes_and_keys_are_refused() {
    let errors = errors_of(&format!(
        "{MINIMAL}\n[packing]\nmode = \"infered\"\nunits_per_cse = 3\n"
    ));
    assert_exactly(
        &errors,
        &[
            "packing.units_per_cse: unknown key `units_per_cse`; did you mean `units_per_case`?",
            "packing.mode: unknown mode `infered`; did you mean `inferred`?",
        ],
    );
    let errors = errors_of(&format!(
        "{MINIMAL}\n[packing]\nmode = \"infered\"\nunits_per_case = 0\n"
    ));
    assert_exactly(
        &errors,
        &[
            "packing.mode: unknown mode `infered`; did you mean `inferred`?",
            "packing.units_per_case: must be at least 1",
        ],
    );
    let errors = errors_of(&format!("{MINIMAL}\n[pakcing]\nmode = \"inferred\"\n"));
    assert_exactly(
        &errors,
        &["pakcing: unknown section; did you mean `packing`?"],
    );
}

#[test]
fn case_camera_mode_names_its_camera_and_its_field_map() {
    let line = load_text(&format!(
        "{MINIMAL}\n[packing]\nmode = \"case_camera\"\nreader = \"casecam\"\n\
         units_per_case = 12\ncases_per_pallet = 10\n\
         [packing.field_map]\nreads = \"results\"\ndata = \"string\"\n"
    ))
    .expect("case_camera");
    let packing = line.packing.expect("packing");
    assert_eq!(packing.mode, PackingMode::CaseCamera);
    assert_eq!(
        (packing.units_per_case, packing.cases_per_pallet),
        (Some(12), 10)
    );
    let camera = packing.case_camera.expect("a case camera");
    assert_eq!(camera.reader, "casecam");
    assert_eq!(
        camera.field_map.get("reads").map(String::as_str),
        Some("results")
    );
}

#[test]
fn case_camera_refusals_name_the_key() {
    let errors = errors_of(&format!("{MINIMAL}\n[packing]\nmode = \"case_camera\"\n"));
    assert_exactly(
        &errors,
        &[
            "packing.reader: missing: `case_camera` needs the case camera's name (its results \
           arrive on tracemark/<line>/vision/<reader>/result)",
        ],
    );
    let errors = errors_of(&format!(
        "{MINIMAL}\n[packing]\nmode = \"case_camera\"\nreader = \"cam1\"\n"
    ));
    assert_exactly(
        &errors,
        &[
            "packing.reader: `cam1` is a [readers.cam1], which verifies prints before the gate; \
           the case camera is a reader of its own after it",
        ],
    );
    let errors = errors_of(&format!(
        "{MINIMAL}\n[packing]\nmode = \"case_camera\"\nreader = \"case/+\"\n"
    ));
    assert_exactly(
        &errors,
        &["packing.reader: `case/+` is not a name of 1–64 letters, digits, `-` or `_`"],
    );
    let errors = errors_of(&format!(
        "{MINIMAL}\n[packing]\nmode = \"case_camera\"\nreader = \"casecam\"\n\
         [packing.field_map]\ncodes = \"x\"\n"
    ));
    assert_exactly(
        &errors,
        &[
            "packing.field_map.codes: not a case-read field (reader, seq, ts, reads, data, grade, \
           short)",
        ],
    );
    let errors = errors_of(&format!(
        "{MINIMAL}\n[packing]\nmode = \"inferred\"\nreader = \"casecam\"\n\
         [packing.field_map]\nreads = \"x\"\n"
    ));
    assert_exactly(
        &errors,
        &[
            "packing.reader: only `case_camera` mode has a case camera (mode = \"case_camera\")",
            "packing.field_map: only `case_camera` mode has a case camera (mode = \"case_camera\")",
        ],
    );
}
