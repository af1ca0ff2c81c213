//! The EPCIS 2.0 JSON-LD syntax (EPCIS 2.0 §9; `EPCIS-JSON-Schema.json`): a header, the events
//! one after the other, a footer — each appended to a buffer the caller flushes, so a document
//! of any size is written in pieces.
//!
//! EPCs are canonical GS1 Digital Link URIs (EPCIS 2.0 §9.3 prefers them in JSON-LD); CBV values
//! are bare (`commissioning`), as the standard context defines them; ILMD attributes use the
//! `cbvmda:` prefix the standard context declares.

use super::events::{Epc, EpcisEvent, Location};

/// The EPCIS 2.0 JSON-LD context (EPCIS 2.0 §9.2).
pub const CONTEXT: &str = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";

/// The document's opening, up to the first event. `creation_date` is RFC 3339.
pub fn header(out: &mut Vec<u8>, creation_date: &str) {
    out.extend_from_slice(b"{\"@context\":[");
    push_string(out, CONTEXT);
    out.extend_from_slice(
        b"],\"type\":\"EPCISDocument\",\"schemaVersion\":\"2.0\",\"creationDate\":",
    );
    push_string(out, creation_date);
    out.extend_from_slice(b",\"epcisBody\":{\"eventList\":[");
}

/// One event; `first` says whether a comma goes before it.
pub fn event(out: &mut Vec<u8>, event: &EpcisEvent, first: bool) {
    if !first {
        out.push(b',');
    }
    out.extend_from_slice(b"{\"type\":");
    push_string(out, event.event_type.as_str());
    out.extend_from_slice(b",\"eventID\":");
    push_string(out, &event.event_id);
    out.extend_from_slice(b",\"eventTime\":");
    push_string(out, &event.event_time);
    out.extend_from_slice(b",\"eventTimeZoneOffset\":");
    push_string(out, event.time_zone_offset);
    if !event.epcs.is_empty() {
        out.extend_from_slice(b",\"epcList\":");
        push_epcs(out, &event.epcs);
    }
    if let Some(parent) = &event.parent {
        out.extend_from_slice(b",\"parentID\":");
        push_string(out, &parent.digital_link);
    }
    if !event.children.is_empty() {
        out.extend_from_slice(b",\"childEPCs\":");
        push_epcs(out, &event.children);
    }
    out.extend_from_slice(b",\"action\":");
    push_string(out, event.action.as_str());
    if !event.biz_step.is_empty() {
        out.extend_from_slice(b",\"bizStep\":");
        push_string(out, event.biz_step);
    }
    if let Some(disposition) = event.disposition {
        out.extend_from_slice(b",\"disposition\":");
        push_string(out, disposition);
    }
    push_location(out, "readPoint", event.read_point.as_ref());
    push_location(out, "bizLocation", event.biz_location.as_ref());
    if !event.biz_transactions.is_empty() {
        out.extend_from_slice(b",\"bizTransactionList\":[");
        for (i, transaction) in event.biz_transactions.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"type\":");
            push_string(out, transaction.kind);
            out.extend_from_slice(b",\"bizTransaction\":");
            push_string(out, &transaction.id);
            out.push(b'}');
        }
        out.push(b']');
    }
    if let Some(ilmd) = &event.ilmd {
        out.extend_from_slice(b",\"ilmd\":{");
        for (i, (name, value)) in ilmd.attributes().into_iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_string(out, &format!("cbvmda:{name}"));
            out.push(b':');
            push_string(out, value);
        }
        out.push(b'}');
    }
    out.push(b'}');
}

/// The document's end.
pub fn footer(out: &mut Vec<u8>) {
    out.extend_from_slice(b"]}}\n");
}

fn push_epcs(out: &mut Vec<u8>, epcs: &[Epc]) {
    out.push(b'[');
    for (i, epc) in epcs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_string(out, &epc.digital_link);
    }
    out.push(b']');
}

fn push_location(out: &mut Vec<u8>, name: &str, location: Option<&Location>) {
    if let Some(location) = location {
        out.extend_from_slice(b",\"");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":{\"id\":");
        push_string(out, &location.digital_link);
        out.push(b'}');
    }
}

/// A JSON string, escaped by serde_json (RFC 8259 §7).
pub(crate) fn push_string(out: &mut Vec<u8>, text: &str) {
    // Writing into a Vec cannot fail, and a &str always serialises.
    let _ = serde_json::to_writer(&mut *out, text);
}
