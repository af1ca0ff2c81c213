//! A case camera's read of one case, as it arrives over MQTT
//! (`tracemark/<line>/vision/<reader>/result`; docs/aggregation.md "Case camera mode"):
//!
//! ```json
//! {"reader":"casecam","seq":7,"ts":"2026-12-05T08:00:00.123Z",
//!  "reads":[{"data":"]d2010950600013435221A1B2C3","grade":"B"},{"data":null}]}
//! ```
//!
//! One message per case, listing every symbol the camera found: `data: null` is a symbol found
//! but not decoded. `short: true` (optional) says the case was closed short on purpose (the
//! last case of a batch). Vendor payloads are adapted by a field map as a unit reader's are
//! (`verify::payload`): `reader`, `seq`, `ts`, `reads`, `short` are dotted paths from the root,
//! `data` and `grade` from each read. Every malformed payload is an error value naming the field
//! (and the read) — never a panic, never a half-read case.

use serde_json::Value;

use crate::verify::payload::{
    FieldMap, Grade, Header, PayloadError, data_at, grade_at, invalid, lookup, parse_header,
};

/// More symbols than this in one case is not a case (the largest shipper holds a few hundred).
pub const MAX_READS: usize = 1024;

/// One symbol the camera found in the case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolRead {
    /// The decoded data (scanner message, with symbology identifier); `None`: found, unreadable.
    pub data: Option<String>,
    /// Its grade, when the camera grades.
    pub grade: Option<Grade>,
}

/// One case, as the camera saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseRead {
    /// The camera's name.
    pub reader: String,
    /// The camera's sequence number: with `reader`, identifies a case across redeliveries.
    pub seq: u64,
    /// When the camera imaged it (as the camera wrote it).
    pub ts: Option<String>,
    /// Every symbol found, in the camera's order.
    pub reads: Vec<SymbolRead>,
    /// The case was closed short on purpose (the end of a batch): fewer units are not missing.
    pub short: bool,
}

/// Parses one case-read payload. `default_reader` names the camera when the payload does not
/// (the topic's `<reader>` level).
pub fn parse_case_read(
    payload: &[u8],
    map: &FieldMap,
    default_reader: &str,
) -> Result<CaseRead, PayloadError> {
    let Header {
        root,
        reader,
        seq,
        ts,
    } = parse_header(payload, map, default_reader)?;
    let field = |name: &'static str| {
        let path = map.path_of(name);
        (lookup(&root, &path), path)
    };
    let short = match field("short") {
        (None | Some(Value::Null), _) => false,
        (Some(Value::Bool(b)), _) => *b,
        (Some(_), path) => return Err(invalid("short", path, "expected true or false")),
    };
    let items = match field("reads") {
        (Some(Value::Array(items)), path) if items.len() > MAX_READS => {
            return Err(invalid(
                "reads",
                path,
                &format!("{} reads: a case has at most {MAX_READS}", items.len()),
            ));
        }
        (Some(Value::Array(items)), _) => items,
        // An empty case is said with `[]`: a missing list is a malformed read.
        (None, path) => {
            return Err(PayloadError::Missing {
                field: "reads",
                path,
            });
        }
        (Some(_), path) => return Err(invalid("reads", path, "expected a list of reads")),
    };
    let reads_path = map.path_of("reads");
    let reads = items
        .iter()
        .enumerate()
        .map(|(n, item)| symbol_read(item, n, &reads_path, map))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CaseRead {
        reader,
        seq,
        ts,
        reads,
        short,
    })
}

/// Read `n` of the list at `reads_path`.
fn symbol_read(
    item: &Value,
    n: usize,
    reads_path: &str,
    map: &FieldMap,
) -> Result<SymbolRead, PayloadError> {
    let at = |name: &'static str| {
        let path = map.path_of(name);
        (lookup(item, &path), format!("{reads_path}.{n}.{path}"))
    };
    if !item.is_object() {
        return Err(invalid(
            "reads",
            format!("{reads_path}.{n}"),
            "expected an object",
        ));
    }
    let data = data_at(at("data"))?;
    let grade = grade_at(at("grade"))?;
    Ok(SymbolRead { data, grade })
}

#[cfg(test)]
#[path = "case_read_tests.rs"]
mod tests;
