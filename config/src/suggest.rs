//! Deserialising a section without stopping at its first mistake, and "did you mean".
//!
//! serde stops at the first error. To report every mistake of a device in one pass, a section
//! is deserialised again after each error that concerns one key: an unknown key (reported with
//! the nearest valid key), an unknown variant, or a value of the wrong type is recorded, the key
//! is removed from the JSON value, and the section is tried again. A removed key that has a
//! default takes it; a removed key that is required ends the attempts (the section is then
//! broken, and its recorded errors say why). At most [`MAX_ROUNDS`] attempts per section.

use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_path_to_error::Segment;

use super::ConfigError;

/// Most attempts for one section: more mistakes than this in one device table are reported
/// up to here; the rest come out once these are fixed.
const MAX_ROUNDS: usize = 32;

/// The candidate nearest to `given` by edit distance, if near enough to be a likely typo: at
/// most a third of the longer name's length (at least 1) edits away.
pub(crate) fn nearest<'a>(
    given: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::damerau_levenshtein(given, candidate), candidate))
        .filter(|(distance, candidate)| *distance <= (given.len().max(candidate.len()) / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// `; did you mean `x`?` when a candidate is near `given`, else the list of valid names.
pub(crate) fn hint(given: &str, candidates: &[&str]) -> String {
    match nearest(given, candidates.iter().copied()) {
        Some(near) => format!("; did you mean `{near}`?"),
        None if candidates.is_empty() => String::new(),
        None => format!(" (expected one of: {})", candidates.join(", ")),
    }
}

/// What a serde error is about.
enum Mistake {
    /// An unknown field or variant `name`; the valid ones.
    Unknown {
        what: &'static str,
        name: String,
        expected: Vec<String>,
    },
    /// A value serde refused (type, value, length): the key can be dropped and tried without.
    Value,
    /// Anything else (a missing field): no retry.
    Final,
}

fn classify(message: &str) -> Mistake {
    for (prefix, what) in [("unknown field `", "key"), ("unknown variant `", "variant")] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let Some((name, rest)) = rest.split_once('`') else {
                return Mistake::Final;
            };
            // "…, expected one of `a`, `b`" / "expected `a` or `b`": every quoted name.
            let expected = rest
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect();
            return Mistake::Unknown {
                what,
                name: name.to_owned(),
                expected,
            };
        }
    }
    if message.starts_with("invalid type")
        || message.starts_with("invalid value")
        || message.starts_with("invalid length")
    {
        Mistake::Value
    } else {
        Mistake::Final
    }
}

/// The JSON keys of a serde path (sequence indexes as their number).
fn keys(path: &serde_path_to_error::Path) -> Vec<String> {
    path.iter()
        .filter_map(|segment| match segment {
            Segment::Map { key } => Some(key.clone()),
            Segment::Seq { index } => Some(index.to_string()),
            Segment::Enum { .. } | Segment::Unknown => None,
        })
        .collect()
}

/// Removes the key at `path` (object keys or array indexes) from `value`; whether it was there.
fn remove(value: &mut Value, path: &[String]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut at = value;
    for key in parents {
        at = match at {
            Value::Object(map) => match map.get_mut(key) {
                Some(next) => next,
                None => return false,
            },
            Value::Array(items) => match key.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                Some(next) => next,
                None => return false,
            },
            _ => return false,
        };
    }
    match at {
        Value::Object(map) => map.remove(last).is_some(),
        _ => false,
    }
}

/// Whether the object at `path` in `value` has the key `name`.
fn has_key(value: &Value, path: &[String], name: &str) -> bool {
    let mut at = value;
    for key in path {
        at = match at.get(key) {
            Some(next) => next,
            None => return false,
        };
    }
    at.get(name).is_some()
}

/// `prefix.a.b`, or `prefix` for an empty path.
fn join(prefix: &str, path: &[String]) -> String {
    std::iter::once(prefix.to_owned())
        .chain(path.iter().cloned())
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(".")
}

/// Deserialises the section at `prefix` (`markers.m1`), recording every mistake in `errors`
/// with its key path; `None` when it cannot be deserialised even without the keys in error.
/// A section with recorded mistakes may still come back (with those keys at their defaults):
/// its other values are then checked too, and the recorded errors keep the config refused.
pub(crate) fn deserialize_all<T: DeserializeOwned>(
    prefix: &str,
    mut value: Value,
    errors: &mut Vec<ConfigError>,
) -> Option<T> {
    let mut recorded = false;
    for _ in 0..MAX_ROUNDS {
        let error = match serde_path_to_error::deserialize::<_, T>(value.clone()) {
            Ok(parsed) => return Some(parsed),
            Err(error) => error,
        };
        let mut path = keys(error.path());
        let message = error.into_inner().to_string();
        match classify(&message) {
            Mistake::Unknown {
                what,
                name,
                expected,
            } => {
                // Inside an internally tagged enum (`transport`) serde loses the path to the
                // key: it then ends at the table that holds it.
                let key_path = if what == "key" && path.last() != Some(&name) {
                    if has_key(&value, &path, &name) {
                        path.push(name.clone());
                    }
                    path.clone()
                } else {
                    path.clone()
                };
                let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
                let text = match what {
                    "key" => format!("unknown key `{name}`{}", hint(&name, &expected)),
                    _ => format!("unknown {what} `{name}`{}", hint(&name, &expected)),
                };
                errors.push(ConfigError::new(join(prefix, &key_path), text));
                recorded = true;
                if !remove(&mut value, &key_path) {
                    return None;
                }
            }
            Mistake::Value => {
                let message = message.replace(
                    "internally tagged enum TransportSection",
                    "a transport table ({ type = \"serial\", path = … } or { type = \"tcp\", \
                     address = \"host:port\" })",
                );
                errors.push(ConfigError::new(join(prefix, &path), message));
                recorded = true;
                if !remove(&mut value, &path) {
                    return None;
                }
            }
            Mistake::Final => {
                // A required key removed above comes back as missing: already reported.
                let removed_required = recorded && message.starts_with("missing field");
                if !removed_required {
                    errors.push(ConfigError::new(join(prefix, &path), message));
                }
                return None;
            }
        }
    }
    errors.push(ConfigError::new(
        prefix,
        format!("more than {MAX_ROUNDS} mistakes: fix these and validate again"),
    ));
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_name_is_suggested_only_when_near() {
        let keys = ["low_watermark", "high_watermark", "timeout_ms"];
        assert_eq!(nearest("hight_watermark", keys), Some("high_watermark"));
        assert_eq!(nearest("timeout", keys), Some("timeout_ms"));
        assert_eq!(nearest("timout_ms", keys), Some("timeout_ms"));
        assert_eq!(nearest("colour", keys), None);
        assert_eq!(
            hint("colour", &["id", "name"]),
            " (expected one of: id, name)"
        );
    }

    #[test]
    fn serde_messages_are_classified() {
        let Mistake::Unknown { name, expected, .. } =
            classify("unknown field `adress`, expected `address`")
        else {
            panic!("an unknown field");
        };
        assert_eq!(
            (name.as_str(), expected),
            ("adress", vec!["address".into()])
        );
        let Mistake::Unknown { expected, .. } =
            classify("unknown variant `usb`, expected `serial` or `tcp`")
        else {
            panic!("an unknown variant");
        };
        assert_eq!(expected, ["serial", "tcp"]);
        assert!(matches!(
            classify("invalid type: string \"far\", expected u32"),
            Mistake::Value
        ));
        assert!(matches!(
            classify("missing field `position_mm`"),
            Mistake::Final
        ));
    }
}
