//! What the receiver checks in a body before it accepts it, by content type (SPEC §6):
//!
//! - `application/ld+json`: EPCIS 2.0 JSON-LD, read as a stream (one event in memory at a
//!   time). Valid against the official JSON Schema (GS1
//!   `EPCIS-JSON-Schema.json`, draft-07, vendored unchanged in `schemas/epcis/`, formats
//!   checked), an `EPCISDocument`, and the rules the schema leaves out (below).
//! - `application/xml`: EPCIS 2.0 XML. Well-formed (no DTD: a receiver does not expand
//!   entities), the root `EPCISDocument` in the EPCIS 2.0 namespace, and the same rules. Not
//!   checked against the XSD: there is no sound XSD validator in Rust; the export's tests run
//!   the XSD.
//! - `application/json`: the platform payload, whose format is an adapter's: well-formed JSON.
//!
//! The rules the schema leaves out, on every event:
//! - an `AggregationEvent` with action `ADD` or `DELETE` names its `parentID` (EPCIS 2.0
//!   AggregationEvent: "a parent identifier is required when action is ADD or DELETE");
//! - ILMD only where objects are created: an `ObjectEvent` with action `ADD` and business step
//!   `commissioning` or `creating_class_instance`, or a `TransformationEvent` (EPCIS 2.0,
//!   instance/lot master data: it describes objects as they come into being; the SPEC §6 rule
//!   "ILMD only on commissioning").

use std::sync::Arc;

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// The official EPCIS 2.0 JSON Schema, vendored unchanged (LICENSE-GS1.txt beside it).
const EPCIS_JSON_SCHEMA: &str = include_str!("../../../schemas/epcis/EPCIS-JSON-Schema.json");

/// The namespace of EPCIS 2.0 XML documents (EPCglobal-epcis-2_0.xsd `targetNamespace`).
pub const EPCIS_XML_NAMESPACE: &str = "urn:epcglobal:epcis:xsd:2";

/// At most this many reasons are reported for one document.
const MAX_REASONS: usize = 20;

/// What a body is, by its `Content-Type` (SPEC §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// `application/ld+json`: EPCIS 2.0 JSON-LD.
    EpcisJsonLd,
    /// `application/xml`: EPCIS 2.0 XML.
    EpcisXml,
    /// `application/json`: the traceability platform payload.
    PlatformJson,
}

impl BodyKind {
    /// The kind of a `Content-Type` value; parameters (`; charset=utf-8`) are ignored, the type
    /// is compared without case (RFC 9110 §8.3.1). `None` for any other type.
    pub fn from_content_type(value: &str) -> Option<BodyKind> {
        let essence = value.split(';').next().unwrap_or("").trim();
        [
            ("application/ld+json", BodyKind::EpcisJsonLd),
            ("application/xml", BodyKind::EpcisXml),
            ("application/json", BodyKind::PlatformJson),
        ]
        .into_iter()
        .find(|(name, _)| essence.eq_ignore_ascii_case(name))
        .map(|(_, kind)| kind)
    }

    /// The content type's name.
    pub fn content_type(self) -> &'static str {
        match self {
            BodyKind::EpcisJsonLd => "application/ld+json",
            BodyKind::EpcisXml => "application/xml",
            BodyKind::PlatformJson => "application/json",
        }
    }
}

/// Why a body is refused (answered 400 with `reason` and `details`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Invalid {
    /// One line: what is wrong.
    pub reason: String,
    /// Each finding, with where it is (a JSON pointer or an XML element path).
    pub details: Vec<String>,
}

impl Invalid {
    fn new(reason: impl Into<String>) -> Self {
        Invalid {
            reason: reason.into(),
            details: Vec::new(),
        }
    }
}

/// What the receiver learns from an accepted body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocumentFacts {
    /// The batch, where the body shows it: a top-level `batch_id`/`batchId`/`batch` string, else
    /// the first ILMD lot number.
    pub batch_id: Option<String>,
    /// How many events an EPCIS document holds.
    pub events: Option<usize>,
}

/// The schema validator could not be built (a broken vendored schema).
#[derive(Debug, thiserror::Error)]
#[error("the vendored EPCIS JSON Schema does not compile: {0}")]
pub struct SchemaError(String);

/// Validates bodies; compiled once, shared by every request.
#[derive(Clone)]
pub struct DocumentValidator {
    schema: Arc<jsonschema::Validator>,
    /// The schema's `EPCIS-Document-Event` definition alone, for one event at a time.
    event_schema: Arc<jsonschema::Validator>,
}

impl std::fmt::Debug for DocumentValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DocumentValidator(EPCIS-JSON-Schema.json)")
    }
}

impl DocumentValidator {
    /// Compiles the vendored schema (draft-07, with `format` checked).
    pub fn new() -> Result<Self, SchemaError> {
        let schema: Value =
            serde_json::from_str(EPCIS_JSON_SCHEMA).map_err(|e| SchemaError(e.to_string()))?;
        let compile = |schema: &Value| {
            jsonschema::draft7::options()
                .should_validate_formats(true)
                .build(schema)
                .map(Arc::new)
                .map_err(|e| SchemaError(e.to_string()))
        };
        // The same document with its root replaced by a reference to the event definition
        // (draft-07: keywords beside `$ref` are ignored, `definitions` stay reachable).
        let mut event_schema = schema.clone();
        if let Some(root) = event_schema.as_object_mut() {
            root.retain(|key, _| matches!(key.as_str(), "$id" | "$schema" | "definitions"));
            root.insert(
                "$ref".to_owned(),
                Value::from("#/definitions/EPCIS-Document-Event"),
            );
        }
        Ok(DocumentValidator {
            schema: compile(&schema)?,
            event_schema: compile(&event_schema)?,
        })
    }

    /// Checks `body` as `kind` says it is.
    pub fn check(&self, kind: BodyKind, body: &[u8]) -> Result<DocumentFacts, Invalid> {
        match kind {
            BodyKind::EpcisJsonLd => self.check_json_ld(body),
            BodyKind::EpcisXml => check_xml(body),
            BodyKind::PlatformJson => {
                let value = parse_json(body)?;
                Ok(DocumentFacts {
                    batch_id: top_level_batch(&value),
                    events: None,
                })
            }
        }
    }

    /// Streams the document: each event is parsed, checked against the schema's event
    /// definition and the rules, and dropped before the next, so memory does not grow with the
    /// batch; the rest of the document is checked against the whole schema with an empty event
    /// list. That is the whole schema's verdict: `eventList` is `{"type": "array", "items":
    /// {"$ref": "#/definitions/EPCIS-Document-Event"}}` with no other constraint.
    fn check_json_ld(&self, body: &[u8]) -> Result<DocumentFacts, Invalid> {
        let mut schema_findings = Vec::new();
        let mut rule_findings = Vec::new();
        let mut events = 0;
        let mut lot = None;
        let mut on_event = |index: usize, event: Value| {
            events += 1;
            if schema_findings.len() + rule_findings.len() >= MAX_REASONS {
                return;
            }
            let at = format!("/epcisBody/eventList/{index}");
            // `is_valid` stops at the first failure and builds no errors: the fast path.
            if !self.event_schema.is_valid(&event) {
                for error in self.event_schema.iter_errors(&event).take(MAX_REASONS) {
                    schema_findings.push(format!("{at}{}: {error}", error.instance_path()));
                }
            }
            let text = |name: &str| event.get(name).and_then(Value::as_str);
            let ilmd = event.get("ilmd");
            if lot.is_none() {
                lot = ilmd.and_then(lot_number_json);
            }
            let rule = EventShape {
                kind: text("type").unwrap_or(""),
                action: text("action"),
                biz_step: text("bizStep"),
                has_parent: text("parentID").is_some_and(|p| !p.is_empty()),
                has_ilmd: ilmd.is_some(),
            };
            for finding in rule.findings() {
                rule_findings.push(format!("{at}: {finding}"));
            }
        };
        let mut deserializer = serde_json::Deserializer::from_slice(body);
        let header = serde::Deserializer::deserialize_map(
            &mut deserializer,
            DocumentVisitor {
                on_event: &mut on_event,
            },
        )
        .and_then(|header| deserializer.end().map(|()| header))
        .map_err(json_error)?;
        // First: the schema reads any other type as an extension event and would report that.
        if header.get("type").and_then(Value::as_str) != Some("EPCISDocument") {
            return Err(Invalid::new(
                "/type: the receiver takes an EPCISDocument to capture",
            ));
        }
        let mut header_findings: Vec<String> = self
            .schema
            .iter_errors(&header)
            .take(MAX_REASONS)
            .map(|error| format!("{}: {error}", pointer(&error.instance_path().to_string())))
            .collect();
        header_findings.append(&mut schema_findings);
        if !header_findings.is_empty() {
            header_findings.truncate(MAX_REASONS);
            return Err(Invalid {
                reason: "not valid against the EPCIS 2.0 JSON Schema".to_owned(),
                details: header_findings,
            });
        }
        if !rule_findings.is_empty() {
            rule_findings.truncate(MAX_REASONS);
            return Err(Invalid {
                reason: "breaks EPCIS rules the JSON Schema leaves out".to_owned(),
                details: rule_findings,
            });
        }
        Ok(DocumentFacts {
            batch_id: top_level_batch(&header).or(lot),
            events: Some(events),
        })
    }
}

/// A body that serde_json could not read: not JSON at all, or JSON of the wrong shape (an
/// `epcisBody` that is no object, an `eventList` that is no array).
fn json_error(error: serde_json::Error) -> Invalid {
    match error.classify() {
        serde_json::error::Category::Data => {
            Invalid::new(format!("not an EPCIS document: {error}"))
        }
        _ => Invalid::new(format!(
            "not well-formed JSON at line {}, column {}: {error}",
            error.line(),
            error.column()
        )),
    }
}

/// The document object, `epcisBody` read by [`BodyVisitor`]; the result has an empty
/// `eventList`.
struct DocumentVisitor<'f> {
    on_event: &'f mut dyn FnMut(usize, Value),
}

impl<'de> Visitor<'de> for DocumentVisitor<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an EPCIS document (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = if key == "epcisBody" {
                map.next_value_seed(BodyVisitor {
                    on_event: &mut *self.on_event,
                })?
            } else {
                map.next_value::<Value>()?
            };
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// `epcisBody`: its `eventList` handed to `on_event` one event at a time.
struct BodyVisitor<'f> {
    on_event: &'f mut dyn FnMut(usize, Value),
}

impl<'de> DeserializeSeed<'de> for BodyVisitor<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for BodyVisitor<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an epcisBody object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = if key == "eventList" {
                map.next_value_seed(EventsVisitor {
                    on_event: &mut *self.on_event,
                })?
            } else {
                map.next_value::<Value>()?
            };
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// `eventList`: each event to `on_event`; leaves an empty array.
struct EventsVisitor<'f> {
    on_event: &'f mut dyn FnMut(usize, Value),
}

impl<'de> DeserializeSeed<'de> for EventsVisitor<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for EventsVisitor<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an eventList array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut index = 0;
        while let Some(event) = seq.next_element::<Value>()? {
            (self.on_event)(index, event);
            index += 1;
        }
        Ok(Value::Array(Vec::new()))
    }
}

/// An empty instance path is the document itself.
fn pointer(path: &str) -> &str {
    if path.is_empty() { "/" } else { path }
}

fn parse_json(body: &[u8]) -> Result<Value, Invalid> {
    serde_json::from_slice(body).map_err(|error| {
        Invalid::new(format!(
            "not well-formed JSON at line {}, column {}: {error}",
            error.line(),
            error.column()
        ))
    })
}

fn top_level_batch(value: &Value) -> Option<String> {
    ["batch_id", "batchId", "batch"]
        .iter()
        .find_map(|name| value.get(*name).and_then(Value::as_str))
        .map(str::to_owned)
}

/// The lot number of an ILMD object (`cbvmda:lotNumber`, or any key ending in `lotNumber`).
fn lot_number_json(ilmd: &Value) -> Option<String> {
    ilmd.as_object()?
        .iter()
        .find(|(key, _)| key.ends_with("lotNumber"))
        .and_then(|(_, value)| value.as_str())
        .map(str::to_owned)
}

/// What the rules look at in one event, JSON or XML.
#[derive(Debug, Clone, Copy)]
struct EventShape<'a> {
    kind: &'a str,
    action: Option<&'a str>,
    biz_step: Option<&'a str>,
    has_parent: bool,
    has_ilmd: bool,
}

impl EventShape<'_> {
    fn findings(&self) -> Vec<String> {
        let mut findings = Vec::new();
        let adds_or_deletes = matches!(self.action, Some("ADD" | "DELETE"));
        if self.kind == "AggregationEvent" && adds_or_deletes && !self.has_parent {
            findings.push(format!(
                "an AggregationEvent with action {} needs parentID (EPCIS 2.0 AggregationEvent)",
                self.action.unwrap_or_default()
            ));
        }
        if self.has_ilmd {
            let step = self.biz_step.map(biz_step_name);
            let creates = matches!(step, Some("commissioning" | "creating_class_instance"));
            let allowed = self.kind == "TransformationEvent"
                || (self.kind == "ObjectEvent" && self.action == Some("ADD") && creates);
            if !allowed {
                findings.push(format!(
                    "ILMD on a {} with action {} and bizStep {}: ILMD belongs only where objects are commissioned (EPCIS 2.0 ILMD, SPEC §6)",
                    self.kind,
                    self.action.unwrap_or("(none)"),
                    self.biz_step.unwrap_or("(none)")
                ));
            }
        }
        findings
    }
}

/// A CBV business step's bare name from any of its three spellings: `commissioning`,
/// `urn:epcglobal:cbv:bizstep:commissioning`, `https://ref.gs1.org/cbv/BizStep-commissioning`
/// (CBV 2.0: bare word in JSON-LD, URN in EPCIS 1.x XML, GS1 Web URI in 2.0).
fn biz_step_name(value: &str) -> &str {
    value
        .strip_prefix("urn:epcglobal:cbv:bizstep:")
        .or_else(|| value.strip_prefix("https://ref.gs1.org/cbv/BizStep-"))
        .unwrap_or(value)
}

/// The trimmed text of `event`'s child element `name`.
fn child_text<'a>(event: roxmltree::Node<'a, '_>, name: &str) -> Option<&'a str> {
    event
        .children()
        .find(|child| child.is_element() && child.tag_name().name() == name)
        .and_then(|child| child.text())
        .map(str::trim)
}

const XML_EVENTS: [&str; 5] = [
    "ObjectEvent",
    "AggregationEvent",
    "TransactionEvent",
    "TransformationEvent",
    "AssociationEvent",
];

fn check_xml(body: &[u8]) -> Result<DocumentFacts, Invalid> {
    let text = std::str::from_utf8(body).map_err(|error| {
        Invalid::new(format!(
            "the XML is not UTF-8 (byte {}): {error}",
            error.valid_up_to()
        ))
    })?;
    // Default options refuse a DTD (roxmltree `ParsingOptions::allow_dtd` is false).
    let document = roxmltree::Document::parse(text)
        .map_err(|error| Invalid::new(format!("not well-formed XML: {error}")))?;
    let root = document.root_element();
    if root.tag_name().name() != "EPCISDocument"
        || root.tag_name().namespace() != Some(EPCIS_XML_NAMESPACE)
    {
        return Err(Invalid::new(format!(
            "the root element is {{{}}}{}, not {{{EPCIS_XML_NAMESPACE}}}EPCISDocument",
            root.tag_name().namespace().unwrap_or(""),
            root.tag_name().name()
        )));
    }
    let mut details = Vec::new();
    let mut events = 0;
    let mut lot = None;
    for event in root
        .descendants()
        .filter(|node| node.is_element() && XML_EVENTS.contains(&node.tag_name().name()))
    {
        events += 1;
        let ilmd = event
            .descendants()
            .find(|node| node.is_element() && node.tag_name().name() == "ilmd");
        if lot.is_none() {
            lot = ilmd
                .and_then(|ilmd| {
                    ilmd.descendants()
                        .find(|node| node.is_element() && node.tag_name().name() == "lotNumber")
                })
                .and_then(|node| node.text())
                .map(|text| text.trim().to_owned());
        }
        let rule = EventShape {
            kind: event.tag_name().name(),
            action: child_text(event, "action"),
            biz_step: child_text(event, "bizStep"),
            has_parent: child_text(event, "parentID").is_some_and(|p| !p.is_empty()),
            has_ilmd: ilmd.is_some(),
        };
        for finding in rule.findings() {
            let position = document.text_pos_at(event.range().start);
            details.push(format!(
                "{} event at line {}, column {}: {finding}",
                events, position.row, position.col
            ));
        }
    }
    if !details.is_empty() {
        details.truncate(MAX_REASONS);
        return Err(Invalid {
            reason: "breaks EPCIS rules the XML Schema leaves out".to_owned(),
            details,
        });
    }
    Ok(DocumentFacts {
        batch_id: lot,
        events: Some(events),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validator() -> DocumentValidator {
        DocumentValidator::new().expect("the vendored schema compiles")
    }

    #[test]
    fn content_types_map_to_kinds() {
        assert_eq!(
            BodyKind::from_content_type("application/ld+json"),
            Some(BodyKind::EpcisJsonLd)
        );
        assert_eq!(
            BodyKind::from_content_type("Application/XML; charset=utf-8"),
            Some(BodyKind::EpcisXml)
        );
        assert_eq!(
            BodyKind::from_content_type("application/json"),
            Some(BodyKind::PlatformJson)
        );
        assert_eq!(BodyKind::from_content_type("text/plain"), None);
    }

    #[test]
    fn aggregation_without_parent_and_stray_ilmd_are_found() {
        let missing_parent = EventShape {
            kind: "AggregationEvent",
            action: Some("DELETE"),
            biz_step: None,
            has_parent: false,
            has_ilmd: false,
        };
        assert_eq!(missing_parent.findings().len(), 1);
        let observe = EventShape {
            action: Some("OBSERVE"),
            ..missing_parent
        };
        assert!(observe.findings().is_empty());
        let commissioning = EventShape {
            kind: "ObjectEvent",
            action: Some("ADD"),
            biz_step: Some("https://ref.gs1.org/cbv/BizStep-commissioning"),
            has_parent: false,
            has_ilmd: true,
        };
        assert!(commissioning.findings().is_empty());
        let shipping = EventShape {
            biz_step: Some("shipping"),
            ..commissioning
        };
        assert_eq!(shipping.findings().len(), 1);
    }

    #[test]
    fn xml_must_be_well_formed_epcis_without_dtd() {
        let ok = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<epcis:EPCISDocument xmlns:epcis="{EPCIS_XML_NAMESPACE}" schemaVersion="2.0" creationDate="2026-12-05T10:00:00Z">
 <EPCISBody><EventList>
  <AggregationEvent><eventTime>2026-12-05T10:00:00Z</eventTime><eventTimeZoneOffset>+08:00</eventTimeZoneOffset>
   <parentID>urn:epc:id:sscc:9506000.0000000001</parentID><childEPCs/><action>ADD</action></AggregationEvent>
 </EventList></EPCISBody>
</epcis:EPCISDocument>"#
        );
        let facts = check_xml(ok.as_bytes()).expect("valid");
        assert_eq!(facts.events, Some(1));
        let no_parent = ok.replace(
            "<parentID>urn:epc:id:sscc:9506000.0000000001</parentID>",
            "",
        );
        let invalid = check_xml(no_parent.as_bytes()).expect_err("no parentID");
        assert!(invalid.details[0].contains("parentID"), "{invalid:?}");
        assert!(check_xml(b"<a><b></a>").is_err());
        let dtd = "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e \"boom\">]><x>&e;</x>";
        assert!(check_xml(dtd.as_bytes()).is_err());
        let other_root = check_xml(b"<EPCISDocument/>").expect_err("no namespace");
        assert!(other_root.reason.contains("root element"), "{other_root:?}");
    }

    #[test]
    fn platform_json_needs_only_to_be_well_formed() {
        let facts = validator()
            .check(
                BodyKind::PlatformJson,
                br#"{"batch_id": "B-1", "codes": []}"#,
            )
            .expect("JSON");
        assert_eq!(facts.batch_id.as_deref(), Some("B-1"));
        let invalid = validator()
            .check(BodyKind::PlatformJson, b"{\"a\": ")
            .expect_err("truncated");
        assert!(invalid.reason.contains("line 1"), "{invalid:?}");
    }

    fn document(events: Vec<Value>) -> Value {
        serde_json::json!({
            "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": "2026-12-05T10:00:00Z",
            "epcisBody": { "eventList": events }
        })
    }

    fn commissioning(serial: u32) -> Value {
        serde_json::json!({
            "type": "ObjectEvent",
            "eventTime": "2026-12-05T09:00:00Z",
            "eventTimeZoneOffset": "+08:00",
            "epcList": [format!("https://id.gs1.org/01/09506000134352/21/{serial}")],
            "action": "ADD",
            "bizStep": "commissioning",
            "ilmd": { "cbvmda:lotNumber": "LOT-9" }
        })
    }

    #[test]
    fn streamed_events_get_the_whole_schemas_verdict() {
        let validator = validator();
        let mut no_offset = commissioning(2);
        no_offset
            .as_object_mut()
            .expect("object")
            .remove("eventTimeZoneOffset");
        let mut bad_epc = commissioning(3);
        bad_epc["epcList"] = serde_json::json!(["not a uri"]);
        let mut no_date = document(vec![commissioning(1)]);
        no_date
            .as_object_mut()
            .expect("object")
            .remove("creationDate");
        let cases = [
            document(vec![commissioning(1), commissioning(2)]),
            document(vec![]),
            document(vec![commissioning(1), no_offset]),
            document(vec![bad_epc]),
            no_date,
        ];
        for case in cases {
            let whole = validator.schema.is_valid(&case);
            let streamed = validator.check(
                BodyKind::EpcisJsonLd,
                &serde_json::to_vec(&case).expect("JSON"),
            );
            assert_eq!(streamed.is_ok(), whole, "{case}: {streamed:?}");
        }
        let mut second_bad = commissioning(2);
        second_bad["action"] = serde_json::json!("SOMETIMES");
        let invalid = validator
            .check(
                BodyKind::EpcisJsonLd,
                &serde_json::to_vec(&document(vec![commissioning(1), second_bad])).expect("JSON"),
            )
            .expect_err("a bad action");
        assert!(
            invalid
                .details
                .iter()
                .any(|d| d.starts_with("/epcisBody/eventList/1/action")),
            "{invalid:?}"
        );
    }

    #[test]
    fn a_large_document_is_counted_and_its_lot_read() {
        let events: Vec<Value> = (0..20_000).map(commissioning).collect();
        let body = serde_json::to_vec(&document(events)).expect("JSON");
        let facts = validator()
            .check(BodyKind::EpcisJsonLd, &body)
            .expect("valid");
        assert_eq!(facts.events, Some(20_000));
        assert_eq!(facts.batch_id.as_deref(), Some("LOT-9"));
    }

    #[test]
    fn json_of_the_wrong_shape_or_with_trailing_bytes_is_refused() {
        let validator = validator();
        let not_a_list = br#"{"type": "EPCISDocument", "epcisBody": {"eventList": "none"}}"#;
        let invalid = validator
            .check(BodyKind::EpcisJsonLd, not_a_list)
            .expect_err("eventList is no array");
        assert!(invalid.reason.contains("eventList array"), "{invalid:?}");
        let mut trailing = serde_json::to_vec(&document(vec![commissioning(1)])).expect("JSON");
        trailing.extend_from_slice(b" {}");
        let invalid = validator
            .check(BodyKind::EpcisJsonLd, &trailing)
            .expect_err("trailing bytes");
        assert!(invalid.reason.contains("well-formed"), "{invalid:?}");
        let invalid = validator
            .check(BodyKind::EpcisJsonLd, b"[1, 2]")
            .expect_err("no object");
        assert!(invalid.reason.contains("EPCIS document"), "{invalid:?}");
    }

    #[test]
    fn a_json_ld_body_of_another_type_is_refused() {
        let not_a_document = br#"{"type": "Nonsense"}"#;
        let invalid = validator()
            .check(BodyKind::EpcisJsonLd, not_a_document)
            .expect_err("no document");
        assert!(invalid.reason.contains("EPCISDocument"), "{invalid:?}");
        let invalid = validator()
            .check(BodyKind::EpcisJsonLd, br#"{"type": "EPCISDocument"}"#)
            .expect_err("nothing of a document");
        assert!(invalid.reason.contains("JSON Schema"), "{invalid:?}");
        assert!(!invalid.details.is_empty());
    }
}
