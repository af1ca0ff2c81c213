//! The EPCIS event hash ID (CBV 2.0 §8.9.2): `ni:///sha-256;<hex>?ver=CBV2.0` (RFC 6920) of a
//! canonical "pre-hash string" of the event, so a receiver that computes it again recognises
//! an event it already has, whichever syntax it came in.
//!
//! The pre-hash string takes the event's fields in the canonical order (eventType, eventTime,
//! eventTimeZoneOffset, epcList, parentID, childEPCs, action, bizStep, disposition, readPoint,
//! bizLocation, ilmd — the fields this export writes, in the order the standard fixes for all
//! of them), each `key=value` and with no separator; lists appear once by name, their entries
//! sorted by byte order; times in UTC with milliseconds; CBV values as their Web URIs
//! (`https://ref.gs1.org/cbv/BizStep-…`); EPCs as canonical Digital Link URIs on
//! `https://id.gs1.org`; ILMD entries as `{namespace}localName=value`, sorted.

use sha2::{Digest, Sha256};

use super::events::{Epc, EpcisEvent, Location};

/// The CBV master data namespace of the ILMD attributes (`cbvmda:` in the EPCIS 2.0 JSON-LD
/// context).
pub const CBVMDA_NAMESPACE: &str = "urn:epcglobal:cbv:mda:";

/// The event's hash ID.
pub fn event_id(event: &EpcisEvent) -> String {
    hash_id(&pre_hash(event))
}

/// `ni:///sha-256;…?ver=CBV2.0` of a pre-hash string.
pub fn hash_id(pre_hash: &str) -> String {
    format!(
        "ni:///sha-256;{}?ver=CBV2.0",
        hex::encode(Sha256::digest(pre_hash.as_bytes()))
    )
}

/// The canonical pre-hash string of `event`.
pub fn pre_hash(event: &EpcisEvent) -> String {
    let mut out = String::with_capacity(256 + 64 * (event.epcs.len() + event.children.len()));
    out.push_str("eventType=");
    out.push_str(event.event_type.as_str());
    out.push_str("eventTime=");
    out.push_str(&event.event_time);
    out.push_str("eventTimeZoneOffset=");
    out.push_str(event.time_zone_offset);
    push_list(&mut out, "epcList", &event.epcs);
    if let Some(parent) = &event.parent {
        out.push_str("parentID=");
        out.push_str(&parent.digital_link);
    }
    push_list(&mut out, "childEPCs", &event.children);
    out.push_str("action=");
    out.push_str(event.action.as_str());
    if !event.biz_step.is_empty() {
        out.push_str("bizStep=https://ref.gs1.org/cbv/BizStep-");
        out.push_str(event.biz_step);
    }
    if let Some(disposition) = event.disposition {
        out.push_str("disposition=https://ref.gs1.org/cbv/Disp-");
        out.push_str(disposition);
    }
    push_location(&mut out, "readPoint", event.read_point.as_ref());
    push_location(&mut out, "bizLocation", event.biz_location.as_ref());
    if !event.biz_transactions.is_empty() {
        // Each entry as `type=…bizTransaction=…` (the type is the element's attribute, which
        // comes first), entries sorted (CBV 2.0 §8.9.2).
        let mut entries: Vec<String> = event
            .biz_transactions
            .iter()
            .map(|t| {
                format!(
                    "type=https://ref.gs1.org/cbv/BTT-{}bizTransaction={}",
                    t.kind, t.id
                )
            })
            .collect();
        entries.sort_unstable();
        out.push_str("bizTransactionList");
        entries.iter().for_each(|e| out.push_str(e));
    }
    if let Some(ilmd) = &event.ilmd {
        let mut entries: Vec<String> = ilmd
            .attributes()
            .into_iter()
            .map(|(name, value)| format!("{{{CBVMDA_NAMESPACE}}}{name}={}", value.trim()))
            .collect();
        entries.sort_unstable();
        out.push_str("ilmd");
        entries.iter().for_each(|e| out.push_str(e));
    }
    out
}

fn push_list(out: &mut String, name: &str, epcs: &[Epc]) {
    if epcs.is_empty() {
        return;
    }
    let mut sorted: Vec<&str> = epcs.iter().map(|e| e.digital_link.as_str()).collect();
    sorted.sort_unstable();
    out.push_str(name);
    for epc in sorted {
        out.push_str("epc=");
        out.push_str(epc);
    }
}

fn push_location(out: &mut String, name: &str, location: Option<&Location>) {
    if let Some(location) = location {
        out.push_str(name);
        out.push_str("id=");
        out.push_str(&location.digital_link);
    }
}

#[cfg(test)]
mod tests {
    use super::super::events::{Action, EventType, Ilmd};
    use super::*;

    fn epc(uri: &str) -> Epc {
        Epc {
            digital_link: uri.to_owned(),
            urn: None,
        }
    }

    fn at(uri: &str) -> Option<Location> {
        Some(Location {
            digital_link: uri.to_owned(),
            urn: None,
        })
    }

    fn blank(
        event_type: EventType,
        time: &str,
        offset: &'static str,
        action: Action,
    ) -> EpcisEvent {
        EpcisEvent {
            event_type,
            event_time: time.to_owned(),
            time_zone_offset: offset,
            epcs: Vec::new(),
            parent: None,
            children: Vec::new(),
            action,
            biz_step: "",
            disposition: None,
            read_point: None,
            biz_location: None,
            biz_transactions: Vec::new(),
            ilmd: None,
            event_id: String::new(),
        }
    }

    // The published examples are the test files of GS1's reference implementation of the
    // algorithm (github.com/RalphTro/epcis-event-hash-generator, tests/examples/
    // epcisDocWithVariousEventTypes.{jsonld,prehashes,hashes}): the events there that use
    // only the fields this export writes, rebuilt from the document, must give the published
    // pre-hash string and hash.

    /// An ObjectEvent OBSERVE with a disposition (the document's third event).
    #[test]
    fn published_object_event_with_disposition() {
        let mut event = blank(
            EventType::Object,
            "2019-10-21T14:45:00.000Z",
            "+01:00",
            Action::Observe,
        );
        // urn:epc:id:sscc:4012345.1111111111 in the document.
        event.epcs = vec![epc("https://id.gs1.org/00/040123451111111110")];
        event.biz_step = "inspecting";
        event.disposition = Some("in_progress");
        // urn:epc:id:sgln:4012345.00024.0: extension 0 is no extension.
        event.read_point = at("https://id.gs1.org/414/4012345000245");
        assert_eq!(
            pre_hash(&event),
            "eventType=ObjectEventeventTime=2019-10-21T14:45:00.000ZeventTimeZoneOffset=+01:00\
             epcListepc=https://id.gs1.org/00/040123451111111110action=OBSERVE\
             bizStep=https://ref.gs1.org/cbv/BizStep-inspecting\
             disposition=https://ref.gs1.org/cbv/Disp-in_progress\
             readPointid=https://id.gs1.org/414/4012345000245"
        );
        assert_eq!(
            event_id(&event),
            "ni:///sha-256;c50842eb714406394a77fb7b517fea621c78a61f65549874de7c9e019afe7b6f?ver=CBV2.0"
        );
    }

    /// An AggregationEvent ADD packing: children given out of order are sorted (the
    /// document's fifth event).
    #[test]
    fn published_aggregation_event() {
        let mut event = blank(
            EventType::Aggregation,
            "2019-10-21T09:58:56.591Z",
            "+02:00",
            Action::Add,
        );
        event.parent = Some(epc("https://id.gs1.org/00/040470231111111229"));
        event.children = ["98", "97", "107", "109"]
            .iter()
            .map(|s| epc(&format!("https://id.gs1.org/01/04047023775511/21/{s}")))
            .collect();
        event.biz_step = "packing";
        event.read_point = at("https://id.gs1.org/414/4047023000125");
        assert_eq!(
            event_id(&event),
            "ni:///sha-256;c941e6486c561c2be83c28dc228c150eaef9a6befb1015e6cc563982fb7414b6?ver=CBV2.0"
        );
    }

    /// The ILMD part of a published commissioning (the document's fourth event, whose
    /// quantityList this export never writes): `ilmd{urn:epcglobal:cbv:mda:}…`, entries
    /// sorted, after every other field.
    #[test]
    fn ilmd_entries_sorted_with_their_namespace() {
        let mut event = blank(
            EventType::Object,
            "2019-10-21T10:58:56.000Z",
            "+02:00",
            Action::Add,
        );
        event.epcs = vec![epc("https://id.gs1.org/01/04047023775511/21/1")];
        event.biz_step = "commissioning";
        event.disposition = Some("active");
        event.ilmd = Some(Ilmd {
            lot: "L1 ".to_owned(),
            production_date: "2019-10-01".to_owned(),
            expiry_date: Some("2020-10-01".to_owned()),
        });
        assert!(
            pre_hash(&event).ends_with(
                "action=ADDbizStep=https://ref.gs1.org/cbv/BizStep-commissioning\
                 disposition=https://ref.gs1.org/cbv/Disp-active\
                 ilmd{urn:epcglobal:cbv:mda:}itemExpirationDate=2020-10-01\
                 {urn:epcglobal:cbv:mda:}lotNumber=L1\
                 {urn:epcglobal:cbv:mda:}productionDate=2019-10-01"
            ),
            "{}",
            pre_hash(&event)
        );
    }

    /// The published single-event example (epcisDocWithSingleEvent), a shipping ObjectEvent
    /// with a `po` bizTransaction, rebuilt from its fields: the pre-hash string and hash below.
    #[test]
    fn published_shipping_event_with_biz_transaction() {
        let mut event = blank(
            EventType::Object,
            "2022-02-17T02:33:31.116Z",
            "-06:00",
            Action::Observe,
        );
        event.epcs = vec![
            epc("https://id.gs1.org/01/10614141073464/21/2018"),
            epc("https://id.gs1.org/01/10614141073464/21/2017"),
        ];
        event.biz_step = "shipping";
        event.disposition = Some("in_transit");
        event.read_point = at("https://id.gs1.org/414/0614141073467/254/1234");
        event.biz_transactions = vec![super::super::events::BizTransaction {
            kind: "po",
            id: "http://transaction.acme.com/po/12345678".to_owned(),
        }];
        assert_eq!(
            event_id(&event),
            "ni:///sha-256;ffa491b16867e34a7791a8d5389d826afc24e63a121026b6a4004ace38631b4b?ver=CBV2.0"
        );
    }

    /// The published single-event example's hash is of its pre-hash string: the hashing and
    /// the `ni` form (RFC 6920) alone.
    #[test]
    fn published_hash_of_a_pre_hash_string() {
        let pre = "eventType=ObjectEventeventTime=2022-02-17T02:33:31.116ZeventTimeZoneOffset=-06:00\
                   epcListepc=https://id.gs1.org/01/10614141073464/21/2017\
                   epc=https://id.gs1.org/01/10614141073464/21/2018action=OBSERVE\
                   bizStep=https://ref.gs1.org/cbv/BizStep-shipping\
                   disposition=https://ref.gs1.org/cbv/Disp-in_transit\
                   readPointid=https://id.gs1.org/414/0614141073467/254/1234\
                   bizTransactionListtype=https://ref.gs1.org/cbv/BTT-po\
                   bizTransaction=http://transaction.acme.com/po/12345678";
        assert_eq!(
            hash_id(pre),
            "ni:///sha-256;ffa491b16867e34a7791a8d5389d826afc24e63a121026b6a4004ace38631b4b?ver=CBV2.0"
        );
    }
}
