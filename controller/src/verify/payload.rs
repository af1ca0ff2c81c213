//! Reader results as they arrive over MQTT (SPEC §5):
//!
//! ```json
//! {"reader":"cam1","seq":1234,"ts":"2026-11-22T08:00:00.123Z","symbology":"datamatrix",
//!  "data":"]d2010950600013435221A1B2C3","grade":"B","encoder":56789}
//! ```
//!
//! `data: null` is a no-read. Readers that publish another shape (a DataMan-style result, say)
//! are adapted by a field map: tracemark field → the reader's dotted path, e.g.
//! `data = "results.0.string"`. Every malformed payload is an error value naming the field —
//! never a panic, never a half-read result.

use std::collections::BTreeMap;

use serde_json::Value;
use thiserror::Error;

/// Payloads above this size are refused unread (a reader's result is a few hundred bytes).
pub const MAX_PAYLOAD: usize = 64 * 1024;

/// An ISO/IEC 15415 overall symbol grade: the store's word for it (`tracemark_store::vocab`).
pub use tracemark_store::Grade;

/// One read, as the tracker needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadResult {
    /// The reader's name.
    pub reader: String,
    /// The reader's sequence number: with `reader`, identifies a result across redeliveries.
    pub seq: u64,
    /// When the reader saw the unit (as the reader wrote it).
    pub ts: Option<String>,
    /// The decoded data (scanner message, with symbology identifier), `None` for a no-read.
    pub data: Option<String>,
    /// The symbol grade, when the reader grades.
    pub grade: Option<Grade>,
    /// The encoder count when the unit was read, when the reader knows it.
    pub encoder: Option<u64>,
}

/// Why a payload was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PayloadError {
    /// Larger than [`MAX_PAYLOAD`].
    #[error("payload of {0} bytes is larger than {MAX_PAYLOAD}")]
    TooLarge(usize),
    /// Not JSON at all.
    #[error("not JSON: {0}")]
    NotJson(String),
    /// The reader is not one of the line's.
    #[error("reader {0:?} is not configured on this line")]
    UnknownReader(String),
    /// The topic is not a reader-result topic.
    #[error("topic {0:?} is not tracemark/<line>/vision/<reader>/result")]
    BadTopic(String),
    /// A required field is absent.
    #[error("field {field} (path {path:?}) is missing")]
    Missing {
        /// The tracemark field.
        field: &'static str,
        /// Where it was looked for.
        path: String,
    },
    /// A field has the wrong type or an impossible value.
    #[error("field {field} (path {path:?}): {problem}")]
    Invalid {
        /// The tracemark field.
        field: &'static str,
        /// Where it was found.
        path: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// tracemark field → the reader's dotted path (SPEC §5 field map). Fields not in the map are
/// read under their own name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldMap(BTreeMap<String, String>);

impl FieldMap {
    /// A map from `(tracemark field, reader path)` pairs (the config's `field_map`).
    pub fn new(map: BTreeMap<String, String>) -> Self {
        FieldMap(map)
    }

    pub(crate) fn path_of(&self, field: &'static str) -> String {
        self.0
            .get(field)
            .cloned()
            .unwrap_or_else(|| field.to_owned())
    }
}

/// The value at a dotted path; numeric segments index arrays.
pub(crate) fn lookup<'v>(root: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.')
        .try_fold(root, |value, segment| match value {
            Value::Object(map) => map.get(segment),
            Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })
}

/// What a reader's result and a case camera's read both start with: the payload as a JSON
/// object (size-checked), and its `reader`, `seq` and `ts` read through `map`.
pub(crate) struct Header {
    /// The payload.
    pub(crate) root: Value,
    /// The reader's name (`default_reader` when the payload does not name it).
    pub(crate) reader: String,
    /// The reader's sequence number.
    pub(crate) seq: u64,
    /// When the reader saw it, as written.
    pub(crate) ts: Option<String>,
}

/// Parses the common part of a payload (see [`Header`]).
pub(crate) fn parse_header(
    payload: &[u8],
    map: &FieldMap,
    default_reader: &str,
) -> Result<Header, PayloadError> {
    if payload.len() > MAX_PAYLOAD {
        return Err(PayloadError::TooLarge(payload.len()));
    }
    let root: Value =
        serde_json::from_slice(payload).map_err(|e| PayloadError::NotJson(e.to_string()))?;
    if !root.is_object() {
        return Err(PayloadError::NotJson("expected a JSON object".into()));
    }
    let field = |name: &'static str| {
        let path = map.path_of(name);
        (lookup(&root, &path), path)
    };
    let reader = match field("reader") {
        (None | Some(Value::Null), _) => default_reader.to_owned(),
        (Some(Value::String(s)), _) if !s.is_empty() && s.len() <= 64 => s.clone(),
        (Some(_), path) => {
            return Err(invalid(
                "reader",
                path,
                "expected a name of 1–64 characters",
            ));
        }
    };
    let seq = match field("seq") {
        (Some(Value::Number(n)), path) => n
            .as_u64()
            .ok_or_else(|| invalid("seq", path, "expected a non-negative integer"))?,
        (None, path) => return Err(PayloadError::Missing { field: "seq", path }),
        (Some(_), path) => return Err(invalid("seq", path, "expected a number")),
    };
    let ts = match field("ts") {
        (None | Some(Value::Null), _) => None,
        (Some(Value::String(s)), _) => Some(s.clone()),
        (Some(_), path) => return Err(invalid("ts", path, "expected a string")),
    };
    Ok(Header {
        root,
        reader,
        seq,
        ts,
    })
}

/// A field of the wrong type or with an impossible value.
pub(crate) fn invalid(field: &'static str, path: String, problem: &str) -> PayloadError {
    PayloadError::Invalid {
        field,
        path,
        problem: problem.to_owned(),
    }
}

/// The scanner data of a read: a string (with its symbology identifier), or `null` or empty
/// for a symbol that could not be decoded. A missing field is malformed: a no-read must be
/// said, not implied.
pub(crate) fn data_at(
    (value, path): (Option<&Value>, String),
) -> Result<Option<String>, PayloadError> {
    match value {
        Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) if s.len() > 4096 => {
            Err(invalid("data", path, "longer than 4096 characters"))
        }
        Some(Value::String(s)) => Ok(Some(s.clone())),
        None => Err(PayloadError::Missing {
            field: "data",
            path,
        }),
        Some(_) => Err(invalid("data", path, "expected a string or null")),
    }
}

/// An ISO/IEC 15415 grade as a letter (`A`–`D`, `F`) or a number (0–4); absent or `null`: the
/// reader does not grade.
pub(crate) fn grade_at(
    (value, path): (Option<&Value>, String),
) -> Result<Option<Grade>, PayloadError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Grade::parse(s)
            .map(Some)
            .ok_or_else(|| invalid("grade", path, "expected A–D, F or 0–4")),
        Some(Value::Number(n)) => n
            .as_f64()
            .and_then(Grade::from_number)
            .map(Some)
            .ok_or_else(|| invalid("grade", path, "expected a number from 0 to 4")),
        Some(_) => Err(invalid("grade", path, "expected a letter or a number")),
    }
}

/// Parses one MQTT payload. `default_reader` names the reader when the payload does not (the
/// topic's `<reader>` level).
pub fn parse_result(
    payload: &[u8],
    map: &FieldMap,
    default_reader: &str,
) -> Result<ReadResult, PayloadError> {
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
    let data = data_at(field("data"))?;
    let grade = grade_at(field("grade"))?;
    let encoder = match field("encoder") {
        (None | Some(Value::Null), _) => None,
        (Some(Value::Number(n)), path) => Some(
            n.as_u64()
                .ok_or_else(|| invalid("encoder", path, "expected a non-negative integer"))?,
        ),
        (Some(_), path) => return Err(invalid("encoder", path, "expected a number")),
    };
    Ok(ReadResult {
        reader,
        seq,
        ts,
        data,
        grade,
        encoder,
    })
}
