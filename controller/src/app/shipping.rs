//! Shipping and flow records (SPEC §1 `flow.*`, §10; seed 000 annex 2 §一(三); issue 17 item 2;
//! docs/shipping.md): closed pallets and cartons, and the units in them, become `shipped` with
//! one flow record per shipment; the producer chooses per product which flow fields the public
//! lookup shows.
//!
//! The rules are the store's (`tracemark_store::shipment`): a shipment is all or nothing, and a
//! refusal names every SSCC with its reason (`AppError::Conflict`, field `sscc`, HTTP 409, exit
//! status 2). `tracemark ship`, `POST /api/v1/shipments` (and a dispatch scanner, later) call
//! [`ship`].

use serde::Serialize;
use tracemark_store::{Actor, FlowField, NewShipment, Shipment, Store, StoreError};

use super::AppError;
use super::page::{Page, PageRequest};

/// Ships the closed pallets and cartons of `shipment` and records its flow record, in one
/// transaction: all or nothing.
pub async fn ship(
    store: &Store,
    actor: &Actor,
    shipment: &NewShipment,
) -> Result<Shipment, AppError> {
    Ok(store.with_actor(actor.clone()).ship(shipment).await?)
}

/// A page of the shipments, newest first.
pub async fn list_page(store: &Store, request: PageRequest) -> Result<Page<Shipment>, AppError> {
    let (offset, limit) = request.offset_limit()?;
    let (items, total) = store.shipments_page(offset, limit).await?;
    request.of(items, total)
}

/// One shipment.
pub async fn get(store: &Store, id: i64) -> Result<Shipment, AppError> {
    Ok(store.shipment(id).await?)
}

/// A product's flow disclosure: which `flow.*` fields are public.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FlowDisclosure {
    /// The product.
    pub product: String,
    /// The public flow fields (none unless the producer chose).
    pub public: Vec<FlowField>,
}

/// Sets which flow fields of `product` are public; the others are not (seed 000 annex 2 §一(三):
/// "生产单位选择是否公开").
pub async fn set_flow_public(
    store: &Store,
    actor: &Actor,
    product: &str,
    public: &[FlowField],
) -> Result<FlowDisclosure, AppError> {
    let public = store
        .with_actor(actor.clone())
        .set_flow_disclosure(product, public)
        .await?;
    Ok(FlowDisclosure {
        product: product.to_owned(),
        public,
    })
}

/// `product`'s flow disclosure.
pub async fn flow_public(store: &Store, product: &str) -> Result<FlowDisclosure, AppError> {
    Ok(FlowDisclosure {
        product: product.to_owned(),
        public: store.flow_disclosure(product).await?,
    })
}

/// The flow fields of a unit's shipment that its producer made public; the others are absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PublicFlow {
    /// `flow.sale_time` (RFC 3339, UTC), when public.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sale_time: Option<String>,
    /// `flow.buyer_name`, when public.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buyer_name: Option<String>,
    /// `flow.buyer_address`, when public.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buyer_address: Option<String>,
    /// `flow.buyer_contact`, when public.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buyer_contact: Option<String>,
    /// `flow.quantity` (units in the shipment), when public.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<i64>,
}

impl PublicFlow {
    /// Only the fields in `public` of `shipment`.
    pub fn of(shipment: &Shipment, public: &[FlowField]) -> PublicFlow {
        let shown = |field: FlowField| public.contains(&field);
        let text = |field: FlowField| shown(field).then(|| field.value(shipment));
        PublicFlow {
            sale_time: text(FlowField::SaleTime),
            buyer_name: text(FlowField::BuyerName),
            buyer_address: text(FlowField::BuyerAddress),
            buyer_contact: text(FlowField::BuyerContact),
            quantity: shown(FlowField::Quantity).then_some(shipment.quantity),
        }
    }

    /// Whether no field is public.
    pub fn is_empty(&self) -> bool {
        *self == PublicFlow::default()
    }
}

/// For the public lookup (SPEC §9): the flow fields of the shipment that holds unit `code`
/// that its product's producer made public. `None` when the unit has not shipped, or when no
/// flow field of its product is public; a code this store does not know is `NotFound`. Fields
/// kept private are never read into the answer.
pub async fn public_flow(store: &Store, code: &str) -> Result<Option<PublicFlow>, AppError> {
    let record = store.code(code).await?;
    let public = match store.flow_disclosure(&record.product_id).await {
        Ok(public) => public,
        Err(StoreError::NotFound { .. }) => return Ok(None),
        Err(other) => return Err(other.into()),
    };
    if public.is_empty() {
        return Ok(None);
    }
    // The unit's record is read once: its carton leads to the shipment.
    let Some(carton) = record.package.as_deref() else {
        return Ok(None);
    };
    let Some(shipment) = store.shipment_of_package(carton).await? else {
        return Ok(None);
    };
    let flow = PublicFlow::of(&shipment, &public);
    Ok((!flow.is_empty()).then_some(flow))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_flow_holds_only_the_public_fields() {
        let shipment = Shipment {
            id: 1,
            sale_time: "2026-12-06T00:00:00Z".into(),
            buyer_name: "某某五金店".into(),
            buyer_address: "福州市".into(),
            buyer_contact: "0591-1".into(),
            quantity: 400,
            order_ref: Some("PO-1".into()),
            ssccs: vec![],
            packages: 1,
            event_seq: 9,
            recorded_at: "2026-12-06T00:00:01Z".into(),
        };
        let flow = PublicFlow::of(&shipment, &[FlowField::SaleTime, FlowField::Quantity]);
        let json = serde_json::to_string(&flow).expect("json");
        assert_eq!(
            json,
            r#"{"sale_time":"2026-12-06T00:00:00Z","quantity":400}"#
        );
        assert!(PublicFlow::of(&shipment, &[]).is_empty());
    }
}
