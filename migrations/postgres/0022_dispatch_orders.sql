-- Dispatch orders (issue 17 item 2, docs/shipping.md "The dispatch station"): what a buyer
-- ordered, pushed by the ERP (`POST /api/v1/dispatch-orders`) or entered by hand
-- (`tracemark dispatch order`), before anything is picked. The dispatch station's operator scans
-- the order's reference from the pick list, then the pallets and cartons, then SHIP: the
-- shipment takes the order's buyer (the flow record of seed 000 annex 2 §一(三)).
-- Keep in step with ../sqlite/0022_dispatch_orders.sql.
--
-- shipment_id: the shipment that filled the order (NULL while it is open). event_seq: the
-- audit event that recorded the order.
CREATE TABLE dispatch_orders (
    order_ref TEXT PRIMARY KEY,
    buyer_name TEXT NOT NULL,
    buyer_address TEXT NOT NULL,
    buyer_contact TEXT NOT NULL,
    created_at TEXT NOT NULL,
    event_seq BIGINT NOT NULL,
    shipment_id BIGINT REFERENCES shipments (id)
);
CREATE INDEX dispatch_orders_open ON dispatch_orders (created_at) WHERE shipment_id IS NULL;
