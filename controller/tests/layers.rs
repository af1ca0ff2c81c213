//! The controller's layers (docs/architecture.md): edges → app → runtimes → config and the
//! MQTT plumbing, never up or sideways, and no cycle between modules. Read from the sources, so
//! a `use` that breaks the map fails here, naming the file and the module it reaches.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layer of each top-level module; a module may use modules of a lower layer, and modules
/// of its own layer only where [`SIDEWAYS`] allows it.
const LAYERS: [(&str, u8); 17] = [
    // Edges: the binary's command line and the HTTP server.
    ("main", 4),
    ("cli", 4),
    ("demo", 4),
    ("http", 4),
    // The application layer: the only API the edges call.
    ("app", 3),
    // Runtimes.
    ("line", 2),
    ("aggregation", 2),
    ("dispatch", 2),
    ("verify", 2),
    ("commissioning", 2),
    ("probe", 2),
    ("export", 2),
    ("upload", 2),
    // What the runtimes are configured and connected with.
    ("config", 1), // `pub use tracemark_config as config` (config/)
    ("mqtt_endpoint", 1),
    ("broker", 1),
    // Threads and runtimes the line and the twin run on (`tracemark::runtime`).
    ("runtime", 1),
];

/// Uses within one layer that the map allows: a command starts the HTTP server (`demo --http`,
/// later `serve`); the line runs the verifier, commissioning runs the line, the probe builds its
/// device as the line does; the line feeds packing its verified units and commissioning compares
/// packing with the twin; the packing stations' cameras (case camera, label scanner) arrive
/// through the verifier's MQTT plumbing and payload parser; the endpoint settings come from the
/// compiled config, and the embedded broker shares their packet limit.
const SIDEWAYS: [(&str, &str); 14] = [
    ("cli", "http"),
    // The dispatch station serves its scanner with the packing stations' scanner loop; it runs
    // beside the line, and the demo's dock (commissioning) drives it.
    ("dispatch", "aggregation"),
    ("line", "dispatch"),
    ("commissioning", "dispatch"),
    ("probe", "line"),
    ("line", "verify"),
    ("line", "aggregation"),
    ("aggregation", "verify"),
    // A delivery's body is the batch's export.
    ("upload", "export"),
    ("commissioning", "aggregation"),
    ("commissioning", "line"),
    ("commissioning", "verify"),
    ("mqtt_endpoint", "config"),
    ("broker", "mqtt_endpoint"),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read the source directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a source file belongs to (`src/line/core.rs` → `line`).
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).expect("a file under src");
    let first = relative
        .components()
        .next()
        .expect("a path component")
        .as_os_str()
        .to_string_lossy()
        .into_owned();
    first.trim_end_matches(".rs").to_owned()
}

/// The top-level modules `text` refers to: `crate::x` in the library, `tracemark::x` from the
/// binary's modules.
fn references(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for prefix in ["crate::", "tracemark::"] {
        for (at, _) in text.match_indices(prefix) {
            // `tracemark_store::` and the like are other crates.
            let before = text[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let name: String = text[at + prefix.len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

#[test]
fn modules_use_only_lower_layers_and_form_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let layer: BTreeMap<&str, u8> = LAYERS.into_iter().collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut violations = Vec::new();
    for file in &files {
        let from = module_of(&src, file);
        if from == "lib" {
            continue;
        }
        let Some(&from_layer) = layer.get(from.as_str()) else {
            violations.push(format!(
                "{}: module {from} has no layer in tests/layers.rs",
                file.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).expect("read a source file");
        for to in references(&text) {
            let Some(&to_layer) = layer.get(to.as_str()) else {
                continue;
            };
            if to == from {
                continue;
            }
            graph.entry(from.clone()).or_default().insert(to.clone());
            let allowed = to_layer < from_layer || SIDEWAYS.contains(&(from.as_str(), to.as_str()));
            if !allowed {
                violations.push(format!("{}: {from} uses {to}", file.display()));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "modules reaching up or sideways:\n{}",
        violations.join("\n")
    );
    // No cycle: a depth-first search finds no module on its own path.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            return Some(path[at..].to_vec());
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        let cycle = visit(node, &graph, &mut Vec::new(), &mut done);
        assert_eq!(cycle, None, "modules in a cycle");
    }
}

#[test]
fn the_reference_scanner_sees_crate_paths_and_not_other_crates() {
    let text = "use crate::verify::Grade;\nuse tracemark::app::qa;\nuse tracemark_store::Store;";
    let found: Vec<String> = references(text).into_iter().collect();
    assert_eq!(found, ["app", "verify"]);
}
