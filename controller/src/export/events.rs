//! EPCIS 2.0 events built from the store's rows (SPEC §6; the mapping is in docs/upload.md).
//!
//! | store                                   | EPCIS event                                            |
//! |-----------------------------------------|--------------------------------------------------------|
//! | codes printed in one audit event        | ObjectEvent ADD, commissioning, active, ILMD           |
//! | a package's SSCC (not voided)           | ObjectEvent ADD, commissioning, active                 |
//! | a closed carton / pallet                | AggregationEvent ADD, packing, parentID + childEPCs    |
//! | codes destroyed in one audit event      | ObjectEvent DELETE, destroying, destroyed              |
//! | a shipment of the batch's packages      | ObjectEvent OBSERVE, shipping, in_transit, SSCCs, po   |
//!
//! Every event carries both forms of its identifiers (Digital Link for JSON-LD, EPC URN for
//! XML; EPCIS 2.0 §7.3.3) and its CBV 2.0 §8.9.2 hash as `eventID`.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use tracemark_codes::gs1::{Gtin, Sscc, epc};
use tracemark_store::Scheme;
use tracemark_store::export::{ExportContext, ExportPackage};

use super::ExportError;
use super::event_hash;

/// EPCs per event at most: a group commit can print up to 50,000 codes in one audit event,
/// more than a receiver should have to take as one event. Consecutive chunks keep the time.
pub const MAX_EPCS_PER_EVENT: usize = 1_000;

/// Where the event times' offset comes from: the store keeps UTC (RFC 3339 `Z`), so the events
/// say `+00:00` (EPCIS 2.0 §7.3.1: the offset in effect where the event happened; the plant's
/// local offset is not recorded).
pub const TIME_ZONE_OFFSET: &str = "+00:00";

/// An identifier in both its forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Epc {
    /// The canonical GS1 Digital Link URI (or the code's own URI for non-GS1 schemes).
    pub digital_link: String,
    /// The EPC URN, when the company prefix length is known (`None`: an XML export refuses).
    pub urn: Option<String>,
}

/// A readPoint or bizLocation in both forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// For JSON-LD and the hash.
    pub digital_link: String,
    /// For XML.
    pub urn: Option<String>,
}

/// EPCIS event types this export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// ObjectEvent.
    Object,
    /// AggregationEvent.
    Aggregation,
}

impl EventType {
    /// The name in both syntaxes.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventType::Object => "ObjectEvent",
            EventType::Aggregation => "AggregationEvent",
        }
    }
}

/// EPCIS 2.0 §7.3.2 actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// ADD.
    Add,
    /// OBSERVE.
    Observe,
    /// DELETE.
    Delete,
}

impl Action {
    /// The name in both syntaxes.
    pub const fn as_str(self) -> &'static str {
        match self {
            Action::Add => "ADD",
            Action::Observe => "OBSERVE",
            Action::Delete => "DELETE",
        }
    }
}

/// Instance/lot master data of a commissioning (CBV 2.0 master data attributes, namespace
/// `urn:epcglobal:cbv:mda:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ilmd {
    /// `cbvmda:lotNumber`.
    pub lot: String,
    /// `cbvmda:productionDate` (`YYYY-MM-DD`).
    pub production_date: String,
    /// `cbvmda:itemExpirationDate`, where the batch has one.
    pub expiry_date: Option<String>,
}

impl Ilmd {
    /// The attributes as (local name, value), in name order (CBV 2.0 §8.9.2 sorts them).
    pub fn attributes(&self) -> Vec<(&'static str, &str)> {
        let mut list = Vec::with_capacity(3);
        if let Some(expiry) = &self.expiry_date {
            list.push(("itemExpirationDate", expiry.as_str()));
        }
        list.push(("lotNumber", self.lot.as_str()));
        list.push(("productionDate", self.production_date.as_str()));
        list
    }
}

/// A business transaction (EPCIS 2.0 §7.3.5.3): its CBV 2.0 §7.3 type, bare (`po`), and its
/// identifier, a URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BizTransaction {
    /// The type, bare (`po`: purchase order).
    pub kind: &'static str,
    /// The identifier.
    pub id: String,
}

/// One EPCIS event, ready to be written in either syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpcisEvent {
    /// ObjectEvent or AggregationEvent.
    pub event_type: EventType,
    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    pub event_time: String,
    /// `±HH:MM`.
    pub time_zone_offset: &'static str,
    /// An ObjectEvent's EPCs.
    pub epcs: Vec<Epc>,
    /// An AggregationEvent's parent.
    pub parent: Option<Epc>,
    /// An AggregationEvent's children.
    pub children: Vec<Epc>,
    /// The action.
    pub action: Action,
    /// The CBV business step, bare (`commissioning`).
    pub biz_step: &'static str,
    /// The CBV disposition, bare (`active`).
    pub disposition: Option<&'static str>,
    /// Where it was seen: the line.
    pub read_point: Option<Location>,
    /// Where the objects are: the plant.
    pub biz_location: Option<Location>,
    /// The business transactions it belongs to (a shipment's order).
    pub biz_transactions: Vec<BizTransaction>,
    /// Only on commissioning.
    pub ilmd: Option<Ilmd>,
    /// The CBV 2.0 §8.9.2 hash.
    pub event_id: String,
}

impl EpcisEvent {
    fn finish(mut self) -> EpcisEvent {
        self.event_id = event_hash::event_id(&self);
        self
    }
}

/// Builds the events of one batch: knows its product, the prefix lengths and the locations.
#[derive(Debug)]
pub struct EventBuilder {
    gtin_prefix_len: Option<usize>,
    sscc_prefix_len: Option<usize>,
    read_point: Location,
    biz_location: Location,
    ilmd: Ilmd,
    uscc: String,
    gln: Option<String>,
}

impl EventBuilder {
    /// The builder for the batch of `context`.
    pub fn new(context: &ExportContext) -> Result<EventBuilder, ExportError> {
        let producer_prefix = context
            .sscc_coding
            .as_ref()
            .map(|c| c.company_prefix.as_str());
        // A product's own length wins; else the producer's prefix, when the GTIN carries it
        // (GTIN-14: indicator digit, then the company prefix).
        let gtin_prefix_len = context.prefix_length.map(usize::from).or_else(|| {
            producer_prefix
                .filter(|p| {
                    context
                        .product
                        .key
                        .get(1..)
                        .is_some_and(|g| g.starts_with(p))
                })
                .map(str::len)
        });
        let sscc_prefix_len = producer_prefix.map(str::len);
        let (biz_location, read_point) = locations(context, producer_prefix)?;
        Ok(EventBuilder {
            gtin_prefix_len: gtin_prefix_len.filter(|l| epc::COMPANY_PREFIX_LENGTHS.contains(l)),
            sscc_prefix_len: sscc_prefix_len.filter(|l| epc::COMPANY_PREFIX_LENGTHS.contains(l)),
            read_point,
            biz_location,
            ilmd: Ilmd {
                lot: context.batch.lot.clone(),
                production_date: context.batch.production_date.clone(),
                expiry_date: context.batch.expiry_date.clone(),
            },
            uscc: context
                .producer
                .as_ref()
                .map(|p| p.uscc.clone())
                .unwrap_or_else(|| "unknown".to_owned()),
            gln: context.gln.clone(),
        })
    }

    /// A unit code in both forms.
    pub fn unit_epc(&self, code: &str) -> Result<Epc, ExportError> {
        let Some(parts) = Scheme::parts_of(code) else {
            // Codes of schemes other than GS1 are URIs themselves (Ecode and digital-identity
            // URLs); anything else cannot be an EPC.
            if code.starts_with("https://") || code.starts_with("http://") {
                return Ok(Epc {
                    digital_link: code.to_owned(),
                    urn: Some(code.to_owned()),
                });
            }
            return Err(ExportError::data(code, "is neither a GS1 code nor a URI"));
        };
        let gtin = Gtin::parse(&parts.key).map_err(|e| ExportError::data(code, e))?;
        let urn = match self.gtin_prefix_len {
            Some(len) => Some(
                epc::sgtin_urn(&gtin, &parts.serial, len)
                    .map_err(|e| ExportError::data(code, e))?,
            ),
            None => None,
        };
        Ok(Epc {
            digital_link: epc::sgtin_digital_link(&gtin, &parts.serial),
            urn,
        })
    }

    /// An SSCC in both forms.
    pub fn sscc_epc(&self, sscc: &str) -> Result<Epc, ExportError> {
        let parsed = Sscc::parse(sscc).map_err(|e| ExportError::data(sscc, e))?;
        let urn = match self.sscc_prefix_len {
            Some(len) => Some(epc::sscc_urn(&parsed, len).map_err(|e| ExportError::data(sscc, e))?),
            None => None,
        };
        Ok(Epc {
            digital_link: epc::sscc_digital_link(&parsed),
            urn,
        })
    }

    fn event(
        &self,
        event_type: EventType,
        at: &str,
        action: Action,
    ) -> Result<EpcisEvent, ExportError> {
        Ok(EpcisEvent {
            event_type,
            event_time: event_time(at)?,
            time_zone_offset: TIME_ZONE_OFFSET,
            epcs: Vec::new(),
            parent: None,
            children: Vec::new(),
            action,
            biz_step: "",
            disposition: None,
            read_point: Some(self.read_point.clone()),
            biz_location: Some(self.biz_location.clone()),
            biz_transactions: Vec::new(),
            ilmd: None,
            event_id: String::new(),
        })
    }

    /// Commissioning of units printed at `at` (one event per [`MAX_EPCS_PER_EVENT`]).
    pub fn unit_commissioning(
        &self,
        at: &str,
        codes: &[String],
    ) -> Result<Vec<EpcisEvent>, ExportError> {
        codes
            .chunks(MAX_EPCS_PER_EVENT)
            .map(|chunk| {
                let mut event = self.event(EventType::Object, at, Action::Add)?;
                event.epcs = chunk
                    .iter()
                    .map(|c| self.unit_epc(c))
                    .collect::<Result<_, _>>()?;
                event.biz_step = "commissioning";
                event.disposition = Some("active");
                event.ilmd = Some(self.ilmd.clone());
                Ok(event.finish())
            })
            .collect()
    }

    /// Commissioning of a package's SSCC, when it was allocated.
    pub fn sscc_commissioning(&self, package: &ExportPackage) -> Result<EpcisEvent, ExportError> {
        let mut event = self.event(EventType::Object, &package.created_at, Action::Add)?;
        event.epcs = vec![self.sscc_epc(&package.sscc)?];
        event.biz_step = "commissioning";
        event.disposition = Some("active");
        Ok(event.finish())
    }

    /// The packing of a closed package: `None` for one whose content is not final yet or
    /// that holds nothing.
    pub fn aggregation(
        &self,
        package: &ExportPackage,
        children_are_units: bool,
    ) -> Result<Option<EpcisEvent>, ExportError> {
        let Some(closed_at) = package.closed_at.as_deref() else {
            return Ok(None);
        };
        if !package.content_final || package.children.is_empty() {
            return Ok(None);
        }
        let mut event = self.event(EventType::Aggregation, closed_at, Action::Add)?;
        event.parent = Some(self.sscc_epc(&package.sscc)?);
        event.children = package
            .children
            .iter()
            .map(|c| {
                if children_are_units {
                    self.unit_epc(c)
                } else {
                    self.sscc_epc(c)
                }
            })
            .collect::<Result<_, _>>()?;
        event.biz_step = "packing";
        Ok(Some(event.finish()))
    }

    /// The shipping of `shipment` (docs/shipping.md): an ObjectEvent OBSERVE, bizStep
    /// `shipping`, disposition `in_transit` (CBV 2.0 §7.1, §7.2), the SSCCs named as its
    /// epcList, the buyer's order as a `po` bizTransaction, at the sale time. The readPoint is
    /// the plant, as for the line's events, without the line: dispatch is at no line. No
    /// bizLocation: once in transit the objects are at no location of the plant (EPCIS 2.0
    /// §7.3.4, bizLocation is where they are until a later event says otherwise).
    pub fn shipping(
        &self,
        shipment: &tracemark_store::Shipment,
    ) -> Result<EpcisEvent, ExportError> {
        let mut event = self.event(EventType::Object, &shipment.sale_time, Action::Observe)?;
        event.epcs = shipment
            .ssccs
            .iter()
            .map(|sscc| self.sscc_epc(sscc))
            .collect::<Result<_, _>>()?;
        event.biz_step = "shipping";
        event.disposition = Some("in_transit");
        event.read_point = Some(self.biz_location.clone());
        event.biz_location = None;
        if let Some(order) = &shipment.order_ref {
            event.biz_transactions = vec![BizTransaction {
                kind: "po",
                id: self.order_uri(order),
            }];
        }
        Ok(event.finish())
    }

    /// The order reference as a URI: itself when it is one (`urn:…`, `https://…`); else, with
    /// the plant's GLN, the CBV business transaction URN `urn:epcglobal:cbv:bt:<GLN>:<ref>`
    /// (CBV 2.0 §8.5, the form for an identifier the GLN's owner assigned); else a URN of
    /// tracemark's own under the producer's USCC, as the locations are.
    fn order_uri(&self, order: &str) -> String {
        let is_uri = order.split_once(':').is_some_and(|(scheme, rest)| {
            !scheme.is_empty()
                && !rest.is_empty()
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
                && scheme.as_bytes()[0].is_ascii_alphabetic()
                && !order.contains(char::is_whitespace)
        });
        if is_uri {
            return order.to_owned();
        }
        match self.gln.as_deref() {
            Some(gln) => format!("urn:epcglobal:cbv:bt:{gln}:{}", urn_escape(order)),
            None => format!(
                "urn:tracemark:plant:{}:po:{}",
                urn_escape(&self.uscc),
                urn_escape(order)
            ),
        }
    }

    /// The destruction of codes at `at`.
    pub fn destruction(&self, at: &str, codes: &[String]) -> Result<Vec<EpcisEvent>, ExportError> {
        codes
            .chunks(MAX_EPCS_PER_EVENT)
            .map(|chunk| {
                let mut event = self.event(EventType::Object, at, Action::Delete)?;
                event.epcs = chunk
                    .iter()
                    .map(|c| self.unit_epc(c))
                    .collect::<Result<_, _>>()?;
                event.biz_step = "destroying";
                event.disposition = Some("destroyed");
                Ok(event.finish())
            })
            .collect()
    }
}

/// The plant (bizLocation) and the line (readPoint). With a GLN: the GLN, and the GLN with the
/// line's name as its extension (AI 254, GS1 General Specifications §3.2; the usual way to name
/// a place inside a site). Without: URNs of this product's own (`urn:tracemark:…`) under the
/// producer's unified social credit code, which EPCIS accepts as any URI (EPCIS 2.0 §7.3.4).
fn locations(
    context: &ExportContext,
    producer_prefix: Option<&str>,
) -> Result<(Location, Location), ExportError> {
    let line = context.batch.line.as_deref();
    if let Some(gln) = context.gln.as_deref() {
        let prefix_len = producer_prefix.filter(|p| gln.starts_with(p)).map(str::len);
        let location = |extension: Option<&str>| -> Result<Location, ExportError> {
            let digital_link =
                epc::gln_digital_link(gln, extension).map_err(|e| ExportError::data(gln, e))?;
            let urn = match prefix_len {
                Some(len) => Some(
                    epc::sgln_urn(gln, extension, len).map_err(|e| ExportError::data(gln, e))?,
                ),
                None => None,
            };
            Ok(Location { digital_link, urn })
        };
        let plant = location(None)?;
        // A line name that is no valid extension (longer than 20, outside CSET 82) falls back
        // to the plant's GLN alone.
        let read_point = match line {
            Some(line) => location(Some(line)).or_else(|_| location(None))?,
            None => location(None)?,
        };
        return Ok((plant, read_point));
    }
    let uscc = context
        .producer
        .as_ref()
        .map(|p| p.uscc.as_str())
        .unwrap_or("unknown");
    let plant = format!("urn:tracemark:plant:{}", urn_escape(uscc));
    let read_point = match line {
        Some(line) => format!("{plant}:line:{}", urn_escape(line)),
        None => plant.clone(),
    };
    Ok((
        Location {
            urn: Some(plant.clone()),
            digital_link: plant,
        },
        Location {
            urn: Some(read_point.clone()),
            digital_link: read_point,
        },
    ))
}

/// Percent-encodes all but RFC 3986 unreserved characters, for a name inside a URN.
fn urn_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A stored time (RFC 3339) as an event time: UTC with milliseconds, truncated (CBV 2.0
/// §8.9.2 rule 9 hashes times at millisecond precision; written so, the document and its hash
/// agree).
pub fn event_time(stored: &str) -> Result<String, ExportError> {
    let parsed = OffsetDateTime::parse(stored, &Rfc3339)
        .map_err(|e| ExportError::data(stored, format!("is not an RFC 3339 time: {e}")))?
        .to_offset(time::UtcOffset::UTC);
    parsed
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        ))
        .map_err(|e| ExportError::data(stored, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_time_is_utc_with_milliseconds_truncated() {
        assert_eq!(
            event_time("2026-12-05T16:55:03.123987654Z").expect("time"),
            "2026-12-05T16:55:03.123Z"
        );
        assert_eq!(
            event_time("2026-12-05T16:55:03Z").expect("time"),
            "2026-12-05T16:55:03.000Z"
        );
        assert_eq!(
            event_time("2026-12-06T00:55:03.5+08:00").expect("time"),
            "2026-12-05T16:55:03.500Z"
        );
        assert!(event_time("yesterday").is_err());
    }

    #[test]
    fn urn_escape_keeps_unreserved() {
        assert_eq!(urn_escape("line-1_a.b"), "line-1_a.b");
        assert_eq!(urn_escape("line 1/é"), "line%201%2F%C3%A9");
    }
}
