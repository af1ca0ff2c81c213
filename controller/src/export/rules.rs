//! The rules of EPCIS 2.0 that `EPCIS-JSON-Schema.json` and the XSD leave out (EPCIS 2.0 §7.4):
//!
//! - an AggregationEvent with action ADD or DELETE names its parent (`parentID`, §7.4.3: "the
//!   parentID SHALL be present" for those actions);
//! - ILMD (instance/lot master data, §7.3.6) belongs only to the event that commissions the
//!   objects: an ObjectEvent ADD (or a TransformationEvent) with bizStep `commissioning`.
//!
//! [`check_event`] runs on every event this export writes, [`check_document`] on a whole JSON-LD
//! document (the tests run it on what the export produced).

use serde_json::Value;

use super::events::{Action, EpcisEvent, EventType};

/// The rules for one event built by this export.
pub fn check_event(event: &EpcisEvent) -> Result<(), String> {
    if event.event_type == EventType::Aggregation
        && matches!(event.action, Action::Add | Action::Delete)
        && event.parent.is_none()
    {
        return Err("an AggregationEvent ADD or DELETE needs a parentID".to_owned());
    }
    if event.ilmd.is_some()
        && !(event.event_type == EventType::Object
            && event.action == Action::Add
            && event.biz_step == "commissioning")
    {
        return Err("ILMD outside a commissioning ObjectEvent ADD".to_owned());
    }
    Ok(())
}

/// The rules for every event of an EPCIS 2.0 JSON-LD document: each broken rule as
/// `event N (eventID): why`.
pub fn check_document(document: &Value) -> Vec<String> {
    let Some(events) = document
        .pointer("/epcisBody/eventList")
        .and_then(Value::as_array)
    else {
        return vec!["no epcisBody.eventList".to_owned()];
    };
    let mut problems = Vec::new();
    for (index, event) in events.iter().enumerate() {
        let field = |name: &str| event.get(name).and_then(Value::as_str);
        let name = || {
            format!(
                "event {index} ({})",
                field("eventID").unwrap_or("without eventID")
            )
        };
        let action = field("action");
        if field("type") == Some("AggregationEvent")
            && matches!(action, Some("ADD" | "DELETE"))
            && field("parentID").is_none()
        {
            problems.push(format!(
                "{}: an AggregationEvent ADD or DELETE needs a parentID",
                name()
            ));
        }
        if event.get("ilmd").is_some() {
            let commissioning = matches!(
                field("bizStep"),
                Some(
                    "commissioning"
                        | "https://ref.gs1.org/cbv/BizStep-commissioning"
                        | "urn:epcglobal:cbv:bizstep:commissioning"
                )
            );
            let creates = match field("type") {
                Some("ObjectEvent") => action == Some("ADD"),
                Some("TransformationEvent") => true,
                _ => false,
            };
            if !(commissioning && creates) {
                problems.push(format!(
                    "{}: ILMD outside a commissioning ObjectEvent ADD or TransformationEvent",
                    name()
                ));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_both_rules_broken() {
        let document = json!({ "epcisBody": { "eventList": [
            { "type": "AggregationEvent", "eventID": "a", "action": "ADD", "childEPCs": [] },
            { "type": "AggregationEvent", "eventID": "b", "action": "OBSERVE" },
            { "type": "ObjectEvent", "eventID": "c", "action": "OBSERVE", "bizStep": "shipping",
              "ilmd": {} },
            { "type": "ObjectEvent", "eventID": "d", "action": "ADD",
              "bizStep": "commissioning", "ilmd": {} },
        ]}});
        let problems = check_document(&document);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("event 0 (a)"), "{problems:?}");
        assert!(problems[1].starts_with("event 2 (c)"), "{problems:?}");
    }

    #[test]
    fn a_document_without_events_is_named() {
        assert_eq!(check_document(&json!({})), ["no epcisBody.eventList"]);
    }
}
