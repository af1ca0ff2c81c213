//! The EPCIS 2.0 XML syntax (EPCIS 2.0 §8; `EPCglobal-epcis-2_0.xsd`), written in pieces like
//! the JSON-LD one. EPCs are EPC URNs (`urn:epc:id:sgtin:…`, GS1 Tag Data Standard §6), CBV
//! values their URNs (`urn:epcglobal:cbv:bizstep:commissioning`, CBV 2.0 §6), ILMD attributes
//! elements of the `urn:epcglobal:cbv:mda:` namespace. Element order is the XSD's sequence:
//! eventTime, eventTimeZoneOffset, eventID, then epcList | parentID, childEPCs, action, bizStep,
//! disposition, readPoint, bizLocation, bizTransactionList, ilmd.

use super::ExportError;
use super::event_hash::CBVMDA_NAMESPACE;
use super::events::{Epc, EpcisEvent, Location};

/// The document's opening, up to the first event.
pub fn header(out: &mut Vec<u8>, creation_date: &str) {
    out.extend_from_slice(
        b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
          <epcis:EPCISDocument xmlns:epcis=\"urn:epcglobal:epcis:xsd:2\" xmlns:cbvmda=\"",
    );
    out.extend_from_slice(CBVMDA_NAMESPACE.as_bytes());
    out.extend_from_slice(b"\" schemaVersion=\"2.0\" creationDate=\"");
    push_text(out, creation_date);
    out.extend_from_slice(b"\"><EPCISBody><EventList>\n");
}

/// One event; fails when an identifier has no URN (its company prefix length is unknown).
pub fn event(out: &mut Vec<u8>, event: &EpcisEvent) -> Result<(), ExportError> {
    let name = event.event_type.as_str();
    push_open(out, name);
    element(out, "eventTime", &event.event_time);
    element(out, "eventTimeZoneOffset", event.time_zone_offset);
    element(out, "eventID", &event.event_id);
    if !event.epcs.is_empty() {
        push_epcs(out, "epcList", &event.epcs)?;
    }
    if let Some(parent) = &event.parent {
        element(out, "parentID", urn(parent)?);
    }
    if !event.children.is_empty() {
        push_epcs(out, "childEPCs", &event.children)?;
    }
    element(out, "action", event.action.as_str());
    if !event.biz_step.is_empty() {
        element(
            out,
            "bizStep",
            &format!("urn:epcglobal:cbv:bizstep:{}", event.biz_step),
        );
    }
    if let Some(disposition) = event.disposition {
        element(
            out,
            "disposition",
            &format!("urn:epcglobal:cbv:disp:{disposition}"),
        );
    }
    push_location(out, "readPoint", event.read_point.as_ref())?;
    push_location(out, "bizLocation", event.biz_location.as_ref())?;
    if !event.biz_transactions.is_empty() {
        push_open(out, "bizTransactionList");
        for transaction in &event.biz_transactions {
            // CBV 2.0 §7.3: the type's URN in XML, `urn:epcglobal:cbv:btt:po`.
            out.extend_from_slice(b"<bizTransaction type=\"urn:epcglobal:cbv:btt:");
            push_text(out, transaction.kind);
            out.extend_from_slice(b"\">");
            push_text(out, &transaction.id);
            push_close(out, "bizTransaction");
        }
        push_close(out, "bizTransactionList");
    }
    if let Some(ilmd) = &event.ilmd {
        push_open(out, "ilmd");
        for (attribute, value) in ilmd.attributes() {
            element(out, &format!("cbvmda:{attribute}"), value);
        }
        push_close(out, "ilmd");
    }
    push_close(out, name);
    out.push(b'\n');
    Ok(())
}

/// The document's end.
pub fn footer(out: &mut Vec<u8>) {
    out.extend_from_slice(b"</EventList></EPCISBody></epcis:EPCISDocument>\n");
}

fn urn(epc: &Epc) -> Result<&str, ExportError> {
    epc.urn.as_deref().ok_or_else(|| {
        ExportError::data(
            &epc.digital_link,
            "has no EPC URN: the GS1 company prefix length is unknown (tracemark product \
             prefix-length PRODUCT N, or tracemark producer gs1 --gs1-company-prefix)",
        )
    })
}

fn push_epcs(out: &mut Vec<u8>, name: &str, epcs: &[Epc]) -> Result<(), ExportError> {
    push_open(out, name);
    for epc in epcs {
        element(out, "epc", urn(epc)?);
    }
    push_close(out, name);
    Ok(())
}

fn push_location(
    out: &mut Vec<u8>,
    name: &str,
    location: Option<&Location>,
) -> Result<(), ExportError> {
    if let Some(location) = location {
        let id = location.urn.as_deref().ok_or_else(|| {
            ExportError::data(
                &location.digital_link,
                "has no SGLN URN: the GLN does not start with the producer's GS1 company prefix",
            )
        })?;
        push_open(out, name);
        element(out, "id", id);
        push_close(out, name);
    }
    Ok(())
}

fn push_open(out: &mut Vec<u8>, name: &str) {
    out.push(b'<');
    out.extend_from_slice(name.as_bytes());
    out.push(b'>');
}

fn push_close(out: &mut Vec<u8>, name: &str) {
    out.extend_from_slice(b"</");
    out.extend_from_slice(name.as_bytes());
    out.push(b'>');
}

fn element(out: &mut Vec<u8>, name: &str, text: &str) {
    push_open(out, name);
    push_text(out, text);
    push_close(out, name);
}

/// Character data with the five XML escapes (XML 1.0 §2.4; `"` too, for attribute values).
fn push_text(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    // Identifiers seldom need an escape: copy them whole.
    if !bytes
        .iter()
        .any(|b| matches!(b, b'&' | b'<' | b'>' | b'"' | b'\''))
    {
        out.extend_from_slice(bytes);
        return;
    }
    for &b in bytes {
        match b {
            b'&' => out.extend_from_slice(b"&amp;"),
            b'<' => out.extend_from_slice(b"&lt;"),
            b'>' => out.extend_from_slice(b"&gt;"),
            b'"' => out.extend_from_slice(b"&quot;"),
            b'\'' => out.extend_from_slice(b"&apos;"),
            other => out.push(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        let mut out = Vec::new();
        element(&mut out, "epc", "urn:epc:id:sgtin:1.2.a%26b<&>\"'");
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "<epc>urn:epc:id:sgtin:1.2.a%26b&lt;&amp;&gt;&quot;&apos;</epc>"
        );
    }
}
