//! Dispatch orders (issue 17 item 2, docs/shipping.md "The dispatch station"): what a buyer
//! ordered, known before anything is picked. The ERP pushes them (`POST
//! /api/v1/dispatch-orders`) or a clerk enters them (`tracemark dispatch order`); the dispatch
//! station's operator scans an order's reference, the pallets and cartons, then `SHIP`, and the
//! shipment takes its flow record (seed 000 annex 2 §一(三): buyer name, address, contact)
//! from the order. The shipment that names an open order's reference fills it
//! (`sql::shipments::ship`), once.

use serde::Serialize;

use crate::shipment::required;
use crate::{Store, StoreError, sql};

/// A dispatch order to record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewDispatchOrder {
    /// The buyer's order reference, as printed on the pick list (unique).
    pub order_ref: String,
    /// 购方名称.
    pub buyer_name: String,
    /// 购方地址.
    pub buyer_address: String,
    /// 购方联系方式.
    pub buyer_contact: String,
}

/// A recorded dispatch order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DispatchOrder {
    /// The buyer's order reference.
    pub order_ref: String,
    /// 购方名称.
    pub buyer_name: String,
    /// 购方地址.
    pub buyer_address: String,
    /// 购方联系方式.
    pub buyer_contact: String,
    /// When it was recorded (RFC 3339, UTC).
    pub created_at: String,
    /// The shipment that filled it; none while it is open.
    pub shipment_id: Option<i64>,
}

impl NewDispatchOrder {
    /// The order checked and normalised: texts trimmed, each required and at most
    /// [`crate::shipment::MAX_TEXT`] characters; the reference printable, without spaces at its ends (it is
    /// scanned from a Code 128 or a GS1 AI (400) on the pick list).
    pub fn validated(&self) -> Result<NewDispatchOrder, StoreError> {
        let order_ref = required("order", &self.order_ref)?;
        if let Some(bad) = order_ref.chars().find(|c| c.is_control()) {
            return Err(StoreError::invalid(
                "order",
                format!("{bad:?} cannot be scanned: a reference is printable text"),
            ));
        }
        Ok(NewDispatchOrder {
            order_ref,
            buyer_name: required("buyer_name", &self.buyer_name)?,
            buyer_address: required("buyer_address", &self.buyer_address)?,
            buyer_contact: required("buyer_contact", &self.buyer_contact)?,
        })
    }
}

impl Store {
    /// Records dispatch order `order` (one `dispatch.order` event). A reference already
    /// recorded is refused (`Conflict`): an order is entered once.
    pub async fn add_dispatch_order(
        &self,
        order: &NewDispatchOrder,
    ) -> Result<DispatchOrder, StoreError> {
        let order = order.validated()?;
        sql::dispatch::add(&self.db, &self.actor, &order).await?;
        self.dispatch_order(&order.order_ref).await
    }

    /// Dispatch order `order_ref`.
    pub async fn dispatch_order(&self, order_ref: &str) -> Result<DispatchOrder, StoreError> {
        sql::dispatch::get_order(&self.db, order_ref)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: "dispatch order",
                id: order_ref.to_owned(),
            })
    }

    /// At most `limit` dispatch orders, newest first, after skipping `offset` (only the open
    /// ones with `open_only`), and how many there are.
    pub async fn dispatch_orders_page(
        &self,
        open_only: bool,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<DispatchOrder>, i64), StoreError> {
        sql::dispatch::page(&self.db, open_only, offset, limit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_needs_every_field_and_a_printable_reference() {
        let order = NewDispatchOrder {
            order_ref: " SO-1 ".into(),
            buyer_name: "某某五金店".into(),
            buyer_address: "福州市".into(),
            buyer_contact: "0591-1".into(),
        };
        assert_eq!(order.validated().expect("valid").order_ref, "SO-1");
        let err = NewDispatchOrder {
            buyer_contact: " ".into(),
            ..order.clone()
        }
        .validated()
        .expect_err("no contact");
        assert!(err.to_string().contains("buyer_contact"), "{err}");
        let err = NewDispatchOrder {
            order_ref: "SO\u{1d}1".into(),
            ..order
        }
        .validated()
        .expect_err("control character");
        assert!(err.to_string().contains("cannot be scanned"), "{err}");
    }
}
