//! Shipping and flow records (SPEC §1 `flow.*`, §3, §10; seed 000 annex 2 §一(三); issue 17
//! item 2; docs/shipping.md).
//!
//! - **A shipment** names closed pallets and cartons by SSCC. In one transaction every named
//!   package, every carton on a named pallet and every unit in those cartons becomes `shipped`
//!   (SPEC §3: `packed → shipped`, `closed | palletised → shipped`), each package row records
//!   the shipment (`packages.shipment_id`: a package ships at most once by construction), and
//!   one flow record is stored: sale time, buyer name, address and contact, quantity (units),
//!   the order it fills. One `shipment.ship` event holds all of it.
//! - **Refusals** are collected for every SSCC named ([`ShipProblem`]), then nothing is written
//!   and the audit chain does not move: an unknown SSCC, one listed twice, a package not closed
//!   (open, reopened, voided), one already shipped (a carton whose pallet shipped is shipped),
//!   a carton named with its pallet, a carton on a pallet not named (take it off the pallet
//!   first: a pallet ships whole), an empty package, a unit inside that is not `packed`
//!   (never verified, rejected, destroyed, or marked shipped by hand).
//! - **Disclosure**: the producer chooses per product which flow fields are public (seed 000
//!   annex 2: "生产单位选择是否公开"); by default none ([`FlowField`], `product_flow_disclosure`).

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::vocab::PackageState;
use crate::{Store, StoreError, sql};

/// Longest buyer name, address or contact, and order reference (characters).
pub const MAX_TEXT: usize = 200;

/// A shipment to record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewShipment {
    /// The pallets and cartons shipped (SSCCs, 18 digits).
    pub ssccs: Vec<String>,
    /// 销售时间, RFC 3339; `None`: now.
    pub sale_time: Option<String>,
    /// 购方名称.
    pub buyer_name: String,
    /// 购方地址.
    pub buyer_address: String,
    /// 购方联系方式.
    pub buyer_contact: String,
    /// The buyer's order (purchase order) this shipment fills.
    pub order_ref: Option<String>,
}

/// A recorded shipment: its flow record and what it shipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Shipment {
    /// Its number.
    pub id: i64,
    /// `flow.sale_time` (RFC 3339, UTC).
    pub sale_time: String,
    /// `flow.buyer_name`.
    pub buyer_name: String,
    /// `flow.buyer_address`.
    pub buyer_address: String,
    /// `flow.buyer_contact`.
    pub buyer_contact: String,
    /// `flow.quantity`: units (smallest sales units) shipped.
    pub quantity: i64,
    /// The buyer's order.
    pub order_ref: Option<String>,
    /// The SSCCs named (pallets, and cartons on no pallet), in SSCC order.
    pub ssccs: Vec<String>,
    /// Packages shipped: those named and the cartons on the named pallets.
    pub packages: i64,
    /// The audit event that recorded it.
    pub event_seq: i64,
    /// When it was recorded (RFC 3339, UTC).
    pub recorded_at: String,
}

/// Why an SSCC may not ship.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShipProblem {
    /// No package of this store.
    Unknown,
    /// Named twice.
    ListedTwice,
    /// Not closed (its state): close it first.
    NotClosed(PackageState),
    /// Shipped already, in this shipment (or with its pallet).
    Shipped(Option<i64>),
    /// A carton on a pallet that is named too: the pallet ships it.
    InNamedPallet(String),
    /// A carton on a pallet that is not named: a pallet ships whole.
    OnPallet(String),
    /// Holds nothing.
    Empty,
    /// Units inside that are not `packed`, with their states.
    Units(Vec<(String, crate::CodeState)>),
}

impl fmt::Display for ShipProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShipProblem::Unknown => f.write_str("unknown SSCC"),
            ShipProblem::ListedTwice => f.write_str("listed twice"),
            ShipProblem::NotClosed(state) => write!(f, "not closed ({state}): close it first"),
            ShipProblem::Shipped(Some(id)) => write!(f, "already shipped (shipment {id})"),
            ShipProblem::Shipped(None) => f.write_str("already shipped"),
            ShipProblem::InNamedPallet(pallet) => {
                write!(
                    f,
                    "on pallet {pallet}, which is named too: the pallet ships it"
                )
            }
            ShipProblem::OnPallet(pallet) => write!(
                f,
                "on pallet {pallet}: ship the pallet, or take the carton off it first"
            ),
            ShipProblem::Empty => f.write_str("empty"),
            ShipProblem::Units(units) => {
                let listed: Vec<String> = units
                    .iter()
                    .take(10)
                    .map(|(code, state)| format!("{code} {state}"))
                    .collect();
                let more = units.len().saturating_sub(listed.len());
                write!(
                    f,
                    "holds units that are not packed: {}{}",
                    listed.join(", "),
                    if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    }
                )
            }
        }
    }
}

/// One refused SSCC and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipRefusal {
    /// The SSCC as given.
    pub sscc: String,
    /// Why.
    pub problem: ShipProblem,
}

/// `SSCC: reason; SSCC: reason`, in the order given.
pub fn list_ship_refusals(refusals: &[ShipRefusal]) -> String {
    refusals
        .iter()
        .map(|r| format!("{}: {}", r.sscc, r.problem))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A flow field of seed 000 annex 2 §一(三) (and the quantity of seed 003 table 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FlowField {
    /// 销售时间.
    SaleTime,
    /// 购方名称.
    BuyerName,
    /// 购方地址.
    BuyerAddress,
    /// 购方联系方式.
    BuyerContact,
    /// 销售数量.
    Quantity,
}

impl FlowField {
    /// Every flow field, in SPEC §1 order.
    pub const ALL: [FlowField; 5] = [
        FlowField::SaleTime,
        FlowField::BuyerName,
        FlowField::BuyerAddress,
        FlowField::BuyerContact,
        FlowField::Quantity,
    ];

    /// The stored name (and the column of `product_flow_disclosure`).
    pub const fn as_str(self) -> &'static str {
        match self {
            FlowField::SaleTime => "sale_time",
            FlowField::BuyerName => "buyer_name",
            FlowField::BuyerAddress => "buyer_address",
            FlowField::BuyerContact => "buyer_contact",
            FlowField::Quantity => "quantity",
        }
    }

    /// The SPEC §1 key (`flow.sale_time`).
    pub const fn key(self) -> &'static str {
        match self {
            FlowField::SaleTime => "flow.sale_time",
            FlowField::BuyerName => "flow.buyer_name",
            FlowField::BuyerAddress => "flow.buyer_address",
            FlowField::BuyerContact => "flow.buyer_contact",
            FlowField::Quantity => "flow.quantity",
        }
    }

    /// This field's value in `shipment`.
    pub fn value(self, shipment: &Shipment) -> String {
        match self {
            FlowField::SaleTime => shipment.sale_time.clone(),
            FlowField::BuyerName => shipment.buyer_name.clone(),
            FlowField::BuyerAddress => shipment.buyer_address.clone(),
            FlowField::BuyerContact => shipment.buyer_contact.clone(),
            FlowField::Quantity => shipment.quantity.to_string(),
        }
    }

    /// A comma-separated list (`sale_time,quantity`; `none` or nothing: no field).
    pub fn parse_list(text: &str) -> Result<Vec<FlowField>, StoreError> {
        let mut fields = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if part == "none" {
                continue;
            }
            let field: FlowField = part.parse()?;
            if !fields.contains(&field) {
                fields.push(field);
            }
        }
        fields.sort_unstable();
        Ok(fields)
    }
}

impl FromStr for FlowField {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        let bare = s.strip_prefix("flow.").unwrap_or(s);
        FlowField::ALL
            .into_iter()
            .find(|f| f.as_str() == bare)
            .ok_or_else(|| {
                let names: Vec<&str> = FlowField::ALL.iter().map(|f| f.as_str()).collect();
                StoreError::invalid(
                    "fields",
                    format!("{s:?} is not a flow field ({})", names.join(", ")),
                )
            })
    }
}

impl fmt::Display for FlowField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A required text of a flow record: trimmed, not empty, at most [`MAX_TEXT`] characters.
pub(crate) fn required(field: &'static str, text: &str) -> Result<String, StoreError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(StoreError::invalid(
            field,
            "required (seed 000 annex 2 §一(三))",
        ));
    }
    if text.chars().count() > MAX_TEXT {
        return Err(StoreError::invalid(
            field,
            format!("longer than {MAX_TEXT} characters"),
        ));
    }
    Ok(text.to_owned())
}

/// An RFC 3339 time, as the store keeps times (UTC).
fn sale_time(text: &str) -> Result<String, StoreError> {
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;
    OffsetDateTime::parse(text.trim(), &Rfc3339)
        .map_err(|e| {
            StoreError::invalid(
                "at",
                format!("{text:?} is not an RFC 3339 time (2026-12-06T08:00:00+08:00): {e}"),
            )
        })?
        .to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .map_err(|e| StoreError::invalid("at", e))
}

impl NewShipment {
    /// The record checked and normalised: texts trimmed, the sale time in UTC (now if none),
    /// the order reference empty as none.
    pub fn validated(&self) -> Result<NewShipment, StoreError> {
        if self.ssccs.is_empty() {
            return Err(StoreError::invalid("sscc", "none given"));
        }
        let order_ref = match self.order_ref.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(order) => Some(required("order", order)?),
        };
        Ok(NewShipment {
            ssccs: self.ssccs.iter().map(|s| s.trim().to_owned()).collect(),
            sale_time: Some(match &self.sale_time {
                Some(at) => sale_time(at)?,
                None => crate::now(),
            }),
            buyer_name: required("buyer_name", &self.buyer_name)?,
            buyer_address: required("buyer_address", &self.buyer_address)?,
            buyer_contact: required("buyer_contact", &self.buyer_contact)?,
            order_ref,
        })
    }
}

impl Store {
    /// Ships the closed pallets and cartons named (see the module docs): all or nothing.
    pub async fn ship(&self, shipment: &NewShipment) -> Result<Shipment, StoreError> {
        let shipment = shipment.validated()?;
        match sql::shipments::ship(&self.db, &self.actor, &shipment, false).await? {
            Some(id) => self.shipment(id).await,
            None => Err(StoreError::corrupt("a shipment was checked, not recorded")),
        }
    }

    /// What [`Store::ship`] would answer for these SSCCs, changing nothing: `Ok(())`, or
    /// `ShipRefused` with every SSCC refused and why (the dispatch station checks each scan so).
    pub async fn check_ship(&self, ssccs: &[String]) -> Result<(), StoreError> {
        let probe = NewShipment {
            ssccs: ssccs.to_vec(),
            sale_time: None,
            buyer_name: "-".into(),
            buyer_address: "-".into(),
            buyer_contact: "-".into(),
            order_ref: None,
        }
        .validated()?;
        sql::shipments::ship(&self.db, &self.actor, &probe, true)
            .await
            .map(|_| ())
    }

    /// One shipment.
    pub async fn shipment(&self, id: i64) -> Result<Shipment, StoreError> {
        sql::shipments::shipment(&self.db, id)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: "shipment",
                id: id.to_string(),
            })
    }

    /// At most `limit` shipments, newest first, after skipping `offset`, and how many there
    /// are.
    pub async fn shipments_page(
        &self,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<Shipment>, i64), StoreError> {
        sql::shipments::page(&self.db, offset, limit).await
    }

    /// The batches whose packages shipment `id` holds, in order.
    pub async fn shipment_batches(&self, id: i64) -> Result<Vec<i64>, StoreError> {
        sql::shipments::batches(&self.db, id).await
    }

    /// The shipment that holds unit `code` (through its carton), if it shipped.
    pub async fn shipment_of_code(&self, code: &str) -> Result<Option<Shipment>, StoreError> {
        match self.code(code).await?.package {
            Some(carton) => self.shipment_of_package(&carton).await,
            None => Ok(None),
        }
    }

    /// The shipment that holds package `sscc` (a carton, or its pallet's), if it shipped: for
    /// a caller that has read the unit's record already (its `package`).
    pub async fn shipment_of_package(&self, sscc: &str) -> Result<Option<Shipment>, StoreError> {
        match self.package(sscc).await?.shipment_id {
            Some(id) => self.shipment(id).await.map(Some),
            None => Ok(None),
        }
    }

    /// Sets which flow fields of product `product` are public (the others are not); one
    /// `product.flow_public` event.
    pub async fn set_flow_disclosure(
        &self,
        product: &str,
        public: &[FlowField],
    ) -> Result<Vec<FlowField>, StoreError> {
        self.product(product).await?;
        let mut fields = public.to_vec();
        fields.sort_unstable();
        fields.dedup();
        sql::shipments::set_disclosure(&self.db, &self.actor, product, &fields).await?;
        Ok(fields)
    }

    /// The flow fields of product `product` that are public (none unless the producer chose).
    pub async fn flow_disclosure(&self, product: &str) -> Result<Vec<FlowField>, StoreError> {
        self.product(product).await?;
        sql::shipments::disclosure(&self.db, product).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_fields_parse_from_their_names_and_keys() {
        assert_eq!(
            FlowField::parse_list("quantity, flow.sale_time,quantity").expect("fields"),
            [FlowField::SaleTime, FlowField::Quantity]
        );
        assert!(FlowField::parse_list("none").expect("none").is_empty());
        assert!(FlowField::parse_list("").expect("none").is_empty());
        let err = FlowField::parse_list("price").expect_err("no such field");
        assert!(err.to_string().starts_with("fields: "), "{err}");
        for field in FlowField::ALL {
            assert_eq!(field.as_str().parse::<FlowField>().ok(), Some(field));
            assert_eq!(field.key().parse::<FlowField>().ok(), Some(field));
        }
    }

    #[test]
    fn a_flow_record_is_checked_and_normalised() {
        let record = NewShipment {
            ssccs: vec![" 095060000000000017 ".into()],
            sale_time: Some("2026-12-06T08:00:00+08:00".into()),
            buyer_name: " 某某五金店 ".into(),
            buyer_address: "福州市".into(),
            buyer_contact: "0591-1".into(),
            order_ref: Some(" ".into()),
        };
        let valid = record.validated().expect("valid");
        assert_eq!(valid.sale_time.as_deref(), Some("2026-12-06T00:00:00Z"));
        assert_eq!(valid.buyer_name, "某某五金店");
        assert_eq!(valid.ssccs, ["095060000000000017"]);
        assert_eq!(valid.order_ref, None);
        let field_of = |r: NewShipment| match r.validated() {
            Err(StoreError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field_of(NewShipment {
                buyer_name: "".into(),
                ..record.clone()
            }),
            "buyer_name"
        );
        assert_eq!(
            field_of(NewShipment {
                sale_time: Some("yesterday".into()),
                ..record.clone()
            }),
            "at"
        );
        assert_eq!(
            field_of(NewShipment {
                ssccs: vec![],
                ..record.clone()
            }),
            "sscc"
        );
        assert_eq!(
            field_of(NewShipment {
                buyer_contact: "x".repeat(MAX_TEXT + 1),
                ..record
            }),
            "buyer_contact"
        );
    }
}
