//! The lookup as a GS1-Conformant Resolver (GS1-Conformant Resolver standard 1.2 §4–§6): the
//! links of a unit as an RFC 9264 linkset (`application/linkset+json`), and the resolver's
//! description at `/.well-known/gs1resolver`.
//!
//! The links are built from a [`LookupAnswer`], so a linkset can carry nothing the answer does
//! not: the inspection report is a link only when the producer made it public (and it is a URL).

use serde_json::{Map, Value, json};
use tracemark_codes::gs1::Gs1Code;

use super::{CodeQuery, LookupAnswer};

/// The GS1 Web Vocabulary, the namespace of GS1 link types (`gs1:` in CURIEs).
pub const GS1_VOC: &str = "https://gs1.org/voc/";

/// Link types this lookup serves itself (without the namespace): its page for people, and the
/// answer as JSON.
pub const OWN_LINK_TYPES: [&str; 3] = ["defaultLink", "pip", "traceability"];

/// The languages of the page (`hreflang`).
const LANGUAGES: [&str; 2] = ["zh-CN", "en"];

/// The canonical URL of the unit under `base` (`https://id.example.cn`): the GS1 Digital Link
/// URI of GTIN and serial (Digital Link URI Syntax §4.5), or the Ecode / digital-identity path.
pub fn anchor(base: &str, query: &CodeQuery, digital_identity_prefix: &str) -> String {
    let base = base.trim_end_matches('/');
    match query {
        CodeQuery::Gs1 { gtin, serial, .. } => {
            let mut pairs = vec![("01", gtin.clone())];
            if let Some(serial) = serial {
                pairs.push(("21", serial.clone()));
            }
            Gs1Code::from_pairs(pairs)
                .and_then(|code| code.to_digital_link(base))
                .unwrap_or_else(|_| format!("{base}/01/{gtin}"))
        }
        CodeQuery::Ecode(code) => format!("{base}/E={code}"),
        CodeQuery::DigitalIdentity(serial) => format!(
            "{base}/{}/{serial}",
            digital_identity_prefix.trim_matches('/')
        ),
    }
}

fn target(href: &str, title: &str, kind: Option<&str>) -> Value {
    let mut link = Map::new();
    link.insert("href".into(), href.into());
    link.insert("title".into(), title.into());
    if let Some(kind) = kind {
        link.insert("type".into(), kind.into());
    }
    Value::Object(link)
}

/// Whether `text` is an http(s) URL (a document given as text is not a link).
pub fn is_url(text: &str) -> bool {
    let lower = text.get(..8).unwrap_or(text).to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// The unit's linkset (RFC 9264 §4.2: an object with a `linkset` array of context objects,
/// each an `anchor` and its relations, each relation an array of target objects).
pub fn linkset(answer: &LookupAnswer, anchor: &str) -> Value {
    let title = &answer.product.name;
    let mut page = target(anchor, title, Some("text/html"));
    if let Value::Object(link) = &mut page {
        link.insert("hreflang".into(), json!(LANGUAGES));
    }
    let mut context = Map::new();
    context.insert("anchor".into(), anchor.into());
    context.insert(format!("{GS1_VOC}defaultLink"), json!([page.clone()]));
    context.insert(format!("{GS1_VOC}pip"), json!([page]));
    let json_answer = format!(
        "{anchor}{}linkType=gs1:traceability",
        if anchor.contains('?') { '&' } else { '?' }
    );
    context.insert(
        format!("{GS1_VOC}traceability"),
        json!([target(&json_answer, title, Some("application/json"))]),
    );
    if let Some(manual) = answer.product.manual.as_deref().filter(|m| is_url(m)) {
        context.insert(
            format!("{GS1_VOC}instructions"),
            json!([target(manual, title, None)]),
        );
    }
    if let Some(report) = answer
        .product
        .inspection_report
        .as_deref()
        .filter(|r| is_url(r))
    {
        context.insert(
            format!("{GS1_VOC}certificationInfo"),
            json!([target(report, title, None)]),
        );
    }
    json!({ "linkset": [Value::Object(context)] })
}

/// Where a `linkType` asks to go: `None` when this server answers it itself (its page, the
/// JSON answer, or a type it does not have, which falls back to the default link, §6.5).
pub fn redirect_for(answer: &LookupAnswer, link_type: &str) -> Option<String> {
    let name = link_type
        .strip_prefix("gs1:")
        .or_else(|| link_type.strip_prefix(GS1_VOC))
        .unwrap_or(link_type);
    match name {
        "instructions" => answer.product.manual.clone().filter(|m| is_url(m)),
        "certificationInfo" => answer
            .product
            .inspection_report
            .clone()
            .filter(|r| is_url(r)),
        _ => None,
    }
}

/// The resolver description (`/.well-known/gs1resolver`, GS1-Conformant Resolver standard
/// §5.1 and its description file schema).
pub fn description(root: &str) -> Value {
    json!({
        "name": "tracemark public trace-code lookup",
        "resolverRoot": root.trim_end_matches('/'),
        "supportedPrimaryKeys": ["01"],
        "supportedLinkType": [{ "namespace": GS1_VOC, "prefix": "gs1:" }],
        "linkTypeDefaultCanBeLinkset": true,
    })
}
