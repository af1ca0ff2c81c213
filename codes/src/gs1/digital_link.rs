//! GS1 Digital Link URIs (GS1 Digital Link URI Syntax, release 1.4).
//!
//! `https://id.gs1.org/01/09506000134352/10/ABC/21/XYZ?17=271231`: the primary key and its key
//! qualifiers in the path, in the order the standard fixes for that key (§4.5: for a GTIN,
//! 22 → 10 → 21), and every other AI as a data attribute in the query string (§4.7).

use super::ai::{self, AiDef, LinkRole};
use super::code::{CodeBuilder, Gs1Code, validate_value};
use super::element::char_position;
use super::error::{Gs1Error, Problem};

/// The domain GS1 itself resolves (§4.2: "https://id.gs1.org").
pub const DEFAULT_DOMAIN: &str = "https://id.gs1.org";

impl Gs1Code {
    /// The Digital Link URI with `domain` (scheme, host and an optional path prefix, e.g.
    /// `https://id.example.com/products`). The first primary key in the code goes into the path
    /// with its qualifiers in the standard order; other AIs into the query string in their order.
    pub fn to_digital_link(&self, domain: &str) -> Result<String, Gs1Error> {
        let elements = self.elements();
        let Some((key_index, qualifiers)) = elements.iter().enumerate().find_map(|(i, e)| match e
            .def()
            .link
        {
            LinkRole::PrimaryKey(qualifiers) => Some((i, qualifiers)),
            _ => None,
        }) else {
            return Err(Gs1Error::new(
                None,
                None,
                Problem::Link("no primary key (such as AI (01) or (00)) for the URI path".into()),
            ));
        };
        let mut uri = String::with_capacity(domain.len() + 64);
        uri.push_str(domain.trim_end_matches('/'));
        let key = &elements[key_index];
        push_segment(&mut uri, key.ai(), key.value());
        for qualifier in qualifiers {
            if let Some(e) = elements.iter().find(|e| e.ai() == *qualifier) {
                push_segment(&mut uri, e.ai(), e.value());
            }
        }
        let mut separator = '?';
        for (i, e) in elements.iter().enumerate() {
            if i == key_index || qualifiers.contains(&e.ai()) {
                continue;
            }
            if !allowed_in_query(e.def()) {
                return Err(Gs1Error::new(
                    Some(e.ai()),
                    None,
                    Problem::Link(
                        "cannot be expressed in a Digital Link URI with this primary key".into(),
                    ),
                ));
            }
            uri.push(separator);
            separator = '&';
            uri.push_str(e.ai());
            uri.push('=');
            percent_encode(&mut uri, e.value());
        }
        Ok(uri)
    }
}

/// Data attributes may be any AI that is not a key qualifier (§4.7; the syntax dictionary's `?`
/// flag).
fn allowed_in_query(def: &AiDef) -> bool {
    matches!(def.link, LinkRole::PrimaryKey(_) | LinkRole::Attribute)
}

fn push_segment(uri: &mut String, ai: &str, value: &str) {
    uri.push('/');
    uri.push_str(ai);
    uri.push('/');
    percent_encode(uri, value);
}

/// Percent-encodes everything but RFC 3986 unreserved characters (Digital Link URI Syntax §4.8:
/// the CSET 82 characters outside the unreserved set are percent-encoded).
pub(crate) fn percent_encode(out: &mut String, value: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
}

/// Decodes `%XX` escapes; `None` on a malformed escape or a result that is not UTF-8.
fn percent_decode(raw: &str) -> Option<String> {
    if !raw.contains('%') {
        return Some(raw.to_owned());
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The length of a leading `https://` or `http://` (any case), if `text` starts with one.
pub(crate) fn http_scheme_len(text: &str) -> Option<usize> {
    ["https://", "http://"].into_iter().find_map(|scheme| {
        text.get(..scheme.len())
            .filter(|head| head.eq_ignore_ascii_case(scheme))
            .map(|_| scheme.len())
    })
}

/// Parses a Digital Link URI (any domain, any path prefix before the primary key).
pub fn parse_digital_link(uri: &str) -> Result<Gs1Code, Gs1Error> {
    let position = |byte: usize| char_position(uri, byte);
    let Some(after_scheme) = http_scheme_len(uri) else {
        return Err(Gs1Error::new(
            None,
            Some(1),
            Problem::Link("a Digital Link URI starts with http:// or https://".into()),
        ));
    };
    let end = uri.find('#').unwrap_or(uri.len());
    let path_start = uri[after_scheme..end]
        .find(['/', '?'])
        .map_or(end, |n| after_scheme + n);
    let query_start = uri[path_start..end].find('?').map(|n| path_start + n);
    let path_end = query_start.unwrap_or(end);

    // Path segments with their byte offsets.
    let mut segments = Vec::new();
    let mut offset = path_start;
    for segment in uri[path_start..path_end].split('/') {
        if !segment.is_empty() {
            segments.push((offset, segment));
        }
        offset += segment.len() + 1;
    }
    // The primary key is the first segment naming a key whose remaining segments pair up.
    let key_at = (0..segments.len()).find(|&k| {
        (segments.len() - k) % 2 == 0
            && matches!(
                ai::lookup(segments[k].1).map(|d| d.link),
                Some(LinkRole::PrimaryKey(_))
            )
    });
    let Some(key_at) = key_at else {
        return Err(Gs1Error::new(
            None,
            Some(position(path_start)),
            Problem::Link("no primary key such as /01/<GTIN> or /00/<SSCC> in the path".into()),
        ));
    };

    let qualifiers: &[&str] = match ai::lookup(segments[key_at].1).map(|d| d.link) {
        Some(LinkRole::PrimaryKey(qualifiers)) => qualifiers,
        _ => &[],
    };
    let mut builder = CodeBuilder::default();
    let mut next_qualifier = 0;
    for (pair_index, pair) in segments[key_at..].chunks_exact(2).enumerate() {
        let ((ai_offset, ai_digits), (value_offset, raw)) = (pair[0], pair[1]);
        let def = ai::lookup(ai_digits).ok_or_else(|| {
            Gs1Error::new(
                None,
                Some(position(ai_offset)),
                Problem::UnknownAi(ai_digits.to_owned()),
            )
        })?;
        if pair_index > 0 {
            match qualifiers[next_qualifier..]
                .iter()
                .position(|q| *q == def.code)
            {
                Some(n) => next_qualifier += n + 1,
                None => {
                    let problem = Problem::Link(format!(
                        "not a key qualifier here; the path after the primary key takes, in this order: {}",
                        qualifiers
                            .iter()
                            .map(|q| format!("({q})"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    ));
                    return Err(Gs1Error::new(
                        Some(def.code),
                        Some(position(ai_offset)),
                        problem,
                    ));
                }
            }
        }
        let value = decode_value(def, raw, value_offset, &position)?;
        builder.push(def, &value, Some(position(ai_offset)))?;
    }

    if let Some(query_start) = query_start {
        let mut offset = query_start + 1;
        for parameter in uri[query_start + 1..end].split('&') {
            let parameter_offset = offset;
            offset += parameter.len() + 1;
            let (key, raw) = parameter.split_once('=').unwrap_or((parameter, ""));
            // Non-numeric keys (linkType, context, …) are resolver instructions, not GS1 data.
            if key.is_empty() || !key.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let def = ai::lookup(key).ok_or_else(|| {
                Gs1Error::new(
                    None,
                    Some(position(parameter_offset)),
                    Problem::UnknownAi(key.to_owned()),
                )
            })?;
            if !allowed_in_query(def) {
                return Err(Gs1Error::new(
                    Some(def.code),
                    Some(position(parameter_offset)),
                    Problem::Link(
                        "a key qualifier belongs in the path, not the query string".into(),
                    ),
                ));
            }
            let value = decode_value(def, raw, parameter_offset + key.len() + 1, &position)?;
            builder.push(def, &value, Some(position(parameter_offset)))?;
        }
    }
    builder.finish()
}

/// Percent-decodes and validates one value. A GTIN-8, -12 or -13 in the path is padded to 14
/// digits (Digital Link URI Syntax §4.5: GTINs are expressed as 14 digits; shorter forms are
/// accepted and normalised).
fn decode_value(
    def: &'static AiDef,
    raw: &str,
    raw_offset: usize,
    position: &dyn Fn(usize) -> usize,
) -> Result<String, Gs1Error> {
    let mut value = percent_decode(raw).ok_or_else(|| {
        Gs1Error::new(
            Some(def.code),
            Some(position(raw_offset)),
            Problem::Link("malformed percent-encoding".into()),
        )
    })?;
    if def.code == "01"
        && matches!(value.len(), 8 | 12 | 13)
        && value.bytes().all(|b| b.is_ascii_digit())
    {
        value.insert_str(0, &"000000"[..14 - value.len()]);
    }
    validate_value(def, value.as_bytes()).map_err(|(at, problem)| {
        // Offsets inside an escaped value do not map one to one onto the URI; point at its start.
        let at = if raw.len() == value.len() { at } else { 0 };
        Gs1Error::new(Some(def.code), Some(position(raw_offset + at)), problem)
    })?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualifiers_in_standard_order_and_attributes_in_query() {
        let code = Gs1Code::from_pairs([
            ("01", "09506000134352"),
            ("17", "271231"),
            ("21", "A/1"),
            ("10", "L1"),
            ("22", "V"),
        ])
        .expect("valid");
        let uri = code.to_digital_link(DEFAULT_DOMAIN).expect("uri");
        assert_eq!(
            uri,
            "https://id.gs1.org/01/09506000134352/22/V/10/L1/21/A%2F1?17=271231"
        );
        let back = parse_digital_link(&uri).expect("parse");
        assert_eq!(
            back.to_hri(),
            "(01)09506000134352(22)V(10)L1(21)A/1(17)271231"
        );
    }

    #[test]
    fn path_prefix_short_gtin_and_resolver_parameters() {
        let code = parse_digital_link(
            "https://example.com/some/prefix/01/9506000134352/21/XYZ?linkType=gs1:pip#x",
        )
        .expect("valid");
        assert_eq!(code.gtin(), Some("09506000134352"));
        assert_eq!(code.serial(), Some("XYZ"));
    }

    #[test]
    fn errors() {
        let err = parse_digital_link("https://id.gs1.org/01/09506000134352/21/X/10/L")
            .expect_err("order");
        assert_eq!(
            err.to_string(),
            "AI (10) at character 43: not a key qualifier here; the path after the primary key takes, in this order: (22) (10) (21)"
        );
        let err = parse_digital_link("https://id.gs1.org/01/09506000134352?21=X")
            .expect_err("21 in query");
        assert_eq!(
            err.to_string(),
            "AI (21) at character 38: a key qualifier belongs in the path, not the query string"
        );
        let err = parse_digital_link("ftp://id.gs1.org/01/09506000134352").expect_err("scheme");
        assert_eq!(
            err.to_string(),
            "at character 1: a Digital Link URI starts with http:// or https://"
        );
        let err =
            parse_digital_link("https://id.gs1.org/01/09506000134352/21/A%2").expect_err("escape");
        assert_eq!(
            err.to_string(),
            "AI (21) at character 41: malformed percent-encoding"
        );
    }
}
