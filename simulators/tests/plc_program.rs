//! The reference PLC program in `docs/plc/` (IEC 61131-3 Structured Text, TwinCAT 3 flavour):
//!
//! - every `.st` file parses with blark, an independent IEC 61131-3 parser from PyPI
//!   (`scripts/install-blark.sh`), and declares what its file is named after; a copy with an
//!   `END_IF` taken out does not parse, so the check can fail;
//! - the constants of `GVL_LineIo` are the client's default map (`LineIoMap::default()` and the
//!   protocol's sizes) exactly, none missing and none extra, and the program uses every one of
//!   them; the statuses of `E_RejectStatus` are the client's `RejectStatus` codes. Change the map
//!   in `drivers/src/lineio/map.rs` and this test says which lines of the ST to change.
//!
//! blark is looked for in `$TRACEMARK_BLARK`, then where `scripts/install-blark.sh` installs it,
//! then on `PATH`. Without it the blark tests print `skipped: ...` and pass, unless `CI` is set:
//! then they fail.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use tracemark_drivers::lineio::{
    INPUT_BLOCK_LEN, LineIoMap, REJECT_QUEUE_LEN, REJECT_SLOT_REGISTERS, REJECT_SLOTS, RING_LEN,
    RejectStatus,
};

/// The program's files, next to the protocol's description.
fn program_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/plc")
}

/// Every `.st` file under `dir`, sorted.
fn st_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|error| panic!("reading {}: {error}", dir.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|ext| ext == "st") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()))
}

/// Where `scripts/install-blark.sh` installs blark.
fn installed_blark() -> Option<PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")))?;
    Some(cache.join("tracemark/blark/bin/blark"))
}

/// blark: `$TRACEMARK_BLARK`, the install location, or `PATH`. `None`: not installed.
fn find_blark() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("TRACEMARK_BLARK").filter(|path| !path.is_empty()) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "TRACEMARK_BLARK={} is not a file",
            path.display()
        );
        return Some(path);
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join("blark"));
    installed_blark()
        .into_iter()
        .chain(on_path)
        .find(|path| path.is_file())
}

/// blark, or `None` (printed as skipped) when it is missing outside CI; missing under CI fails.
fn blark_or_skip() -> Option<PathBuf> {
    let blark = find_blark();
    if blark.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "blark is not installed and CI is set: run scripts/install-blark.sh"
        );
        println!("skipped: blark is not installed (scripts/install-blark.sh)");
    }
    blark
}

/// Starts `blark parse --summary FILE`: exit status 0 and a summary naming each declaration when
/// the file parses; exit status 1 and "Failed to parse" when it does not.
fn start_parse(blark: &Path, file: &Path) -> Child {
    Command::new(blark)
        .args(["parse", "--summary"])
        .arg(file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("starting {}: {error}", blark.display()))
}

fn finish(child: Child) -> Output {
    child.wait_with_output().expect("blark's output")
}

/// The file's name without `.st`: the name of what it declares (blark names a GVL after its file,
/// as TwinCAT does).
fn stem(file: &Path) -> &str {
    file.file_stem()
        .and_then(|stem| stem.to_str())
        .expect("a UTF-8 file name")
}

#[test]
fn every_st_file_parses_with_blark_and_declares_its_name() {
    let files = st_files(&program_dir());
    let names: Vec<&str> = files.iter().map(|file| stem(file)).collect();
    for block in [
        "GVL_LineIo",
        "E_RejectStatus",
        "FB_DetectionRing",
        "FB_RejectQueue",
        "FB_CommWatchdog",
        "FB_RejectGate",
        "FB_LineIo",
        "MAIN",
    ] {
        assert!(names.contains(&block), "docs/plc/{block}.st is missing");
    }
    let Some(blark) = blark_or_skip() else {
        return;
    };
    // blark takes a second or two per file (it builds its grammar each time): all at once.
    let children: Vec<(&PathBuf, Child)> = files
        .iter()
        .map(|file| (file, start_parse(&blark, file)))
        .collect();
    for (file, child) in children {
        let output = finish(child);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success() && !stdout.contains("Failed to parse"),
            "blark cannot parse {}: {}\n{stdout}\n{stderr}",
            file.display(),
            output.status
        );
        assert!(
            stdout.lines().any(|line| line.trim() == stem(file)),
            "blark found no declaration named {} in {}:\n{stdout}",
            stem(file),
            file.display()
        );
    }
}

#[test]
fn a_copy_missing_an_end_if_does_not_parse() {
    let Some(blark) = blark_or_skip() else {
        return;
    };
    let source = read(&program_dir().join("FB_RejectQueue.st"));
    let at = source
        .rfind("END_IF")
        .expect("FB_RejectQueue has an END_IF");
    let broken = format!("{}{}", &source[..at], &source[at + "END_IF".len()..]);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("plc_program");
    std::fs::create_dir_all(&dir).expect("the test's temporary directory");
    let file = dir.join("FB_RejectQueue.st");
    std::fs::write(&file, broken).expect("the broken copy is written");

    let output = finish(start_parse(&blark, &file));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        !output.status.success(),
        "blark parsed a copy without its last END_IF:\n{stdout}"
    );
    assert!(
        stdout.contains("Failed to parse"),
        "blark failed without saying so:\n{stdout}"
    );
}

/// The text with every `(* ... *)` and `// ...` comment taken out.
fn without_comments(source: &str) -> String {
    let mut text = String::with_capacity(source.len());
    let mut rest = source;
    loop {
        let block = rest.find("(*");
        let line = rest.find("//");
        match (block, line) {
            (Some(b), l) if l.is_none_or(|l| b < l) => {
                text.push_str(&rest[..b]);
                let end = rest[b..].find("*)").expect("every (* comment is closed");
                rest = &rest[b + end + 2..];
            }
            (_, Some(l)) => {
                text.push_str(&rest[..l]);
                rest = rest[l..].find('\n').map_or("", |end| &rest[l + end..]);
            }
            _ => {
                text.push_str(rest);
                return text;
            }
        }
    }
}

/// `NAME : UINT := VALUE;` declarations of the `VAR_GLOBAL CONSTANT` section.
fn gvl_constants(source: &str) -> BTreeMap<String, u32> {
    let text = without_comments(source);
    let start = text
        .find("VAR_GLOBAL CONSTANT")
        .expect("GVL_LineIo has a VAR_GLOBAL CONSTANT section");
    let section = &text[start + "VAR_GLOBAL CONSTANT".len()..];
    let section = &section[..section.find("END_VAR").expect("the section ends")];
    let mut constants = BTreeMap::new();
    for declaration in section.split(';').map(str::trim).filter(|d| !d.is_empty()) {
        let (name, rest) = declaration
            .split_once(':')
            .unwrap_or_else(|| panic!("not a declaration: {declaration}"));
        let (ty, value) = rest
            .split_once(":=")
            .unwrap_or_else(|| panic!("a constant without a value: {declaration}"));
        assert_eq!(ty.trim(), "UINT", "{declaration}");
        let value = value
            .trim()
            .parse()
            .unwrap_or_else(|error| panic!("{declaration}: {error}"));
        let previous = constants.insert(name.trim().to_owned(), value);
        assert!(previous.is_none(), "{} is declared twice", name.trim());
    }
    constants
}

#[test]
fn the_gvl_names_every_address_of_the_default_map() {
    let map = LineIoMap::default();
    let ir = u32::from(map.input_registers);
    let ring = u32::from(RING_LEN);
    let slots = u32::from(REJECT_SLOTS);
    let outcomes_at = 4 + 2 * ring;
    let holding_end = u32::from(map.reject_queue_registers) + u32::from(REJECT_QUEUE_LEN);
    let expected: BTreeMap<String, u32> = [
        ("IR_ENCODER", ir),
        ("IR_DETECTIONS", ir + 2),
        ("IR_RING", ir + 4),
        ("IR_REJECT_OUTCOMES", ir + outcomes_at),
        ("IR_CASES_PACKED", ir + u32::from(INPUT_BLOCK_LEN) - 2),
        ("INPUT_BLOCK_LEN", u32::from(INPUT_BLOCK_LEN)),
        ("DI_GATE_CONFIRM", u32::from(map.gate_confirm_input)),
        ("DI_LINE_RUNNING", u32::from(map.line_running_input)),
        (
            "DISCRETE_INPUTS",
            u32::from(map.gate_confirm_input.max(map.line_running_input)) + 1,
        ),
        ("COIL_GATE", u32::from(map.gate_coil)),
        ("COIL_LINE_STOP", u32::from(map.line_stop_coil)),
        ("COIL_STACK_LIGHT_RED", u32::from(map.stack_light_red_coil)),
        (
            "COIL_STACK_LIGHT_AMBER",
            u32::from(map.stack_light_amber_coil),
        ),
        (
            "COIL_STACK_LIGHT_GREEN",
            u32::from(map.stack_light_green_coil),
        ),
        (
            "COILS",
            [
                map.gate_coil,
                map.line_stop_coil,
                map.stack_light_red_coil,
                map.stack_light_amber_coil,
                map.stack_light_green_coil,
            ]
            .into_iter()
            .map(u32::from)
            .max()
            .expect("five coils")
                + 1,
        ),
        ("HR_WATCHDOG", u32::from(map.watchdog_register)),
        (
            "HR_GATE_HALF_WINDOW",
            u32::from(map.gate_half_window_register),
        ),
        (
            "HR_GATE_CONFIRM_TIMEOUT",
            u32::from(map.gate_confirm_timeout_register),
        ),
        ("HR_REJECT_QUEUE", u32::from(map.reject_queue_registers)),
        ("HOLDING_REGISTERS", holding_end),
        ("RING_LEN", ring),
        ("REJECT_SLOTS", slots),
        ("REJECT_SLOT_REGISTERS", u32::from(REJECT_SLOT_REGISTERS)),
        ("REJECT_QUEUE_LEN", u32::from(REJECT_QUEUE_LEN)),
        (
            "REJECT_OUTCOME_REGISTERS",
            (u32::from(INPUT_BLOCK_LEN) - 2 - outcomes_at) / slots,
        ),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();

    let dir = program_dir();
    let constants = gvl_constants(&read(&dir.join("GVL_LineIo.st")));
    assert_eq!(
        constants, expected,
        "GVL_LineIo's constants are not the default line I/O map"
    );

    // Every one is used by the program, qualified as 'qualified_only' asks.
    let program: String = st_files(&dir)
        .iter()
        .filter(|file| stem(file) != "GVL_LineIo")
        .map(|file| without_comments(&read(file)))
        .collect();
    for name in constants.keys() {
        let qualified = format!("GVL_LineIo.{name}");
        let used = program.match_indices(&qualified).any(|(at, _)| {
            // Whole names only: COILS is not used by a COIL_GATE.
            !program[at + qualified.len()..]
                .starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        });
        assert!(used, "{qualified} is declared and never used");
    }
}

#[test]
fn the_reject_statuses_are_the_clients_codes() {
    let text = without_comments(&read(&program_dir().join("E_RejectStatus.st")));
    let open = text.find('(').expect("the enumeration's values");
    let close = text[open..].find(')').expect("the values end") + open;
    let statuses: BTreeMap<String, u16> = text[open + 1..close]
        .split(',')
        .map(|value| {
            let (name, code) = value
                .split_once(":=")
                .unwrap_or_else(|| panic!("a status without a code: {value}"));
            let code = code
                .trim()
                .parse()
                .unwrap_or_else(|error| panic!("{value}: {error}"));
            (name.trim().to_owned(), code)
        })
        .collect();
    let expected: BTreeMap<String, u16> = [
        ("PENDING", RejectStatus::Pending),
        ("DIVERTED", RejectStatus::Diverted),
        ("GATE_FAULT", RejectStatus::Fault),
        ("LATE", RejectStatus::Late),
    ]
    .into_iter()
    .map(|(name, status)| (name.to_owned(), status.code()))
    .collect();
    assert_eq!(statuses, expected);
}
