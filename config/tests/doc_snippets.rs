//! Every TOML the documentation shows, and every shipped line config and device description,
//! goes through the config's own checks: a doc that names a key the config refuses fails here.
//!
//! Classification of a ```toml block in `docs/**/*.md`:
//! - it has a `[line]` table: a whole line config, which must load (`load_with_env`, no
//!   overrides; `template` paths resolve against `line-configs/`);
//! - its top-level keys are line config sections (`[markers.x]`, `[plcs.x.map]`, …): a
//!   fragment, whose keys and types must all be known ([`check_fragment`]);
//! - otherwise a table of its own: a line I/O map, a Modbus marker register map, or an ASCII
//!   device description, and it must be valid as one of them.
//!
//! A block meant to be wrong (showing an error) has `<!-- invalid -->` on the line before its
//! fence, and must then fail; text that is not TOML is fenced as ```text.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tracemark_config::{check_fragment, load_with_env};
use tracemark_drivers::ascii::AsciiConfig;
use tracemark_drivers::lineio::LineIoMap;
use tracemark_drivers::modbus_marker::ModbusMarkerMap;

const SECTIONS: [&str; 8] = [
    "line", "conveyor", "mqtt", "markers", "readers", "plcs", "gate", "packing",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn markdown_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read docs/") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            markdown_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "md") {
            found.push(path);
        }
    }
}

/// A ```toml block: where it starts, whether it is marked invalid, its text.
struct Snippet {
    line: usize,
    invalid: bool,
    text: String,
}

fn snippets(markdown: &str) -> Vec<Snippet> {
    let mut found = Vec::new();
    let mut previous = "";
    let mut open: Option<Snippet> = None;
    for (number, line) in markdown.lines().enumerate() {
        match &mut open {
            Some(snippet) if line.trim_start().starts_with("```") => {
                found.push(std::mem::replace(
                    snippet,
                    Snippet {
                        line: 0,
                        invalid: false,
                        text: String::new(),
                    },
                ));
                open = None;
            }
            Some(snippet) => {
                snippet.text.push_str(line);
                snippet.text.push('\n');
            }
            None if line.trim() == "```toml" => {
                open = Some(Snippet {
                    line: number + 1,
                    invalid: previous.trim() == "<!-- invalid -->",
                    text: String::new(),
                });
            }
            None => {}
        }
        previous = line;
    }
    found
}

/// A whole line config, loaded from a directory where `devices/` and `labels/` are those of
/// `line-configs/`.
fn load_whole(text: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().expect("tempdir");
    for sub in ["devices", "labels"] {
        std::os::unix::fs::symlink(root().join("line-configs").join(sub), dir.path().join(sub))
            .expect("symlink");
    }
    let file = dir.path().join("snippet.toml");
    std::fs::write(&file, text).expect("write");
    load_with_env(&file, BTreeMap::new())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The snippet checked by its kind; `Err` with every reason it is not valid.
fn check(text: &str) -> Result<(), String> {
    let table: toml::Table = toml::from_str(text).map_err(|e| format!("not TOML: {e}"))?;
    if table.contains_key("line") {
        return load_whole(text);
    }
    if table.keys().all(|key| SECTIONS.contains(&key.as_str())) {
        let errors = check_fragment(text);
        return match errors.is_empty() {
            true => Ok(()),
            false => Err(errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")),
        };
    }
    let as_line_io = toml::from_str::<LineIoMap>(text).map(|_| ());
    let as_registers = toml::from_str::<ModbusMarkerMap>(text).map(|_| ());
    let as_ascii = AsciiConfig::from_toml(text).map(|_| ());
    match (as_line_io, as_registers, as_ascii) {
        (Ok(()), _, _) | (_, Ok(()), _) | (_, _, Ok(())) => Ok(()),
        (Err(a), Err(b), Err(c)) => Err(format!(
            "neither a line config fragment, nor a line I/O map ({a}), nor a Modbus marker \
             register map ({b}), nor an ASCII device description ({c})"
        )),
    }
}

#[test]
fn every_toml_block_in_the_docs_is_accepted_by_the_config() {
    let mut files = Vec::new();
    markdown_files(&root().join("docs"), &mut files);
    files.push(root().join("README.md"));
    let mut failures = Vec::new();
    let mut checked = 0;
    for file in files {
        let markdown = std::fs::read_to_string(&file).expect("read");
        for snippet in snippets(&markdown) {
            checked += 1;
            let at = format!("{}:{}", file.display(), snippet.line);
            match (check(&snippet.text), snippet.invalid) {
                (Ok(()), false) | (Err(_), true) => {}
                (Err(why), false) => failures.push(format!("{at}:\n{why}")),
                (Ok(()), true) => failures.push(format!(
                    "{at}: marked <!-- invalid --> but the config accepts it"
                )),
            }
        }
    }
    assert!(checked >= 5, "only {checked} toml blocks found");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_shipped_line_config_and_device_description_is_valid() {
    let dir = root().join("line-configs");
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
    for entry in std::fs::read_dir(dir.join("devices")).expect("line-configs/devices/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path).expect("read");
            if let Err(e) = AsciiConfig::from_toml(&text) {
                panic!("{}: {e}", path.display());
            }
            checked += 1;
        }
    }
    assert!(checked >= 6, "only {checked} files checked");
}

#[test]
fn the_classification_catches_a_refused_key() {
    assert!(check("[markers.m1]\ntype = \"codenet\"\nmessage = \"2\"\n").is_err());
    assert!(check("[plcs.io.map]\ngate_coil = 3\n").is_ok());
    assert!(check("[plcs.io]\ninput_registers = 3\n").is_err());
    assert!(check("gate_coil = 3\nstack_light_red_coil = 5\n").is_ok());
    assert!(check("gate_coil = 3\nreply_timeout_ms = 5\n").is_err());
    assert!(
        check("[line]\nid = \"x\"\n").is_err(),
        "a whole config must load"
    );
}
