-- Shipping and flow records (SPEC §1 `flow.*`, §10; seed 000 annex 2 §一(三); issue 17 item 2).
-- Keep in step with ../sqlite/0020_shipments.sql; docs/shipping.md describes both.

-- One row per shipment: the flow record of seed 000 annex 2 §一(三) (销售时间, 购方名称, 购方地址,
-- 购方联系方式) with the quantity (销售数量: units, the smallest sales units) and the order it
-- fills. sale_time: RFC 3339 (UTC), given or the time it was recorded. event_seq: the audit
-- event that recorded it (a document cut at an event knows which shipments it holds).
CREATE TABLE shipments (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sale_time TEXT NOT NULL,
    buyer_name TEXT NOT NULL,
    buyer_address TEXT NOT NULL,
    buyer_contact TEXT NOT NULL,
    order_ref TEXT,
    quantity BIGINT NOT NULL CHECK (quantity > 0),
    event_seq BIGINT NOT NULL,
    recorded_at TEXT NOT NULL
);

-- A shipped package's shipment (one column: a package ships at most once by construction). A
-- pallet's cartons carry the pallet's shipment too; the units are found through their carton.
ALTER TABLE packages ADD COLUMN shipment_id BIGINT REFERENCES shipments (id);
CREATE INDEX packages_shipment ON packages (shipment_id) WHERE shipment_id IS NOT NULL;

-- The producer's choice, per product, of which flow fields are public (seed 003 table 3,
-- seed 000 annex 2: "生产单位选择是否公开"). No row: nothing public.
CREATE TABLE product_flow_disclosure (
    product_id TEXT PRIMARY KEY REFERENCES products (id),
    sale_time BIGINT NOT NULL DEFAULT 0 CHECK (sale_time IN (0, 1)),
    buyer_name BIGINT NOT NULL DEFAULT 0 CHECK (buyer_name IN (0, 1)),
    buyer_address BIGINT NOT NULL DEFAULT 0 CHECK (buyer_address IN (0, 1)),
    buyer_contact BIGINT NOT NULL DEFAULT 0 CHECK (buyer_contact IN (0, 1)),
    quantity BIGINT NOT NULL DEFAULT 0 CHECK (quantity IN (0, 1)),
    updated_at TEXT NOT NULL
);

-- A shipment is its own upload document (docs/shipping.md "What upload sends"): one delivery
-- per target, enqueued in the transaction that records the shipment, like a closed batch's.
-- shipment_id: NULL for a batch's delivery; a shipment's delivery keeps in batch_id the batch
-- of its first package (for the lists). Unique: one delivery per batch and target, and one per
-- shipment and target.
ALTER TABLE upload_delivery ADD COLUMN shipment_id BIGINT REFERENCES shipments (id);
ALTER TABLE upload_delivery DROP CONSTRAINT upload_delivery_batch_id_target_key;
CREATE UNIQUE INDEX upload_delivery_batch ON upload_delivery (batch_id, target)
    WHERE shipment_id IS NULL;
CREATE UNIQUE INDEX upload_delivery_shipment ON upload_delivery (shipment_id, target)
    WHERE shipment_id IS NOT NULL;
