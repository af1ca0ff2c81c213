-- Shipping and flow records (SPEC §1 `flow.*`, §10; seed 000 annex 2 §一(三); issue 17 item 2).
-- Keep in step with ../postgres/0020_shipments.sql; docs/shipping.md describes both.

-- One row per shipment: the flow record of seed 000 annex 2 §一(三) (销售时间, 购方名称, 购方地址,
-- 购方联系方式) with the quantity (销售数量: units, the smallest sales units) and the order it
-- fills. sale_time: RFC 3339 (UTC), given or the time it was recorded. event_seq: the audit
-- event that recorded it (a document cut at an event knows which shipments it holds).
CREATE TABLE shipments (
    id INTEGER PRIMARY KEY,
    sale_time TEXT NOT NULL,
    buyer_name TEXT NOT NULL,
    buyer_address TEXT NOT NULL,
    buyer_contact TEXT NOT NULL,
    order_ref TEXT,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    event_seq INTEGER NOT NULL,
    recorded_at TEXT NOT NULL
);

-- A shipped package's shipment (one column: a package ships at most once by construction). A
-- pallet's cartons carry the pallet's shipment too; the units are found through their carton.
ALTER TABLE packages ADD COLUMN shipment_id INTEGER REFERENCES shipments (id);
CREATE INDEX packages_shipment ON packages (shipment_id) WHERE shipment_id IS NOT NULL;

-- The producer's choice, per product, of which flow fields are public (seed 003 table 3,
-- seed 000 annex 2: "生产单位选择是否公开"). No row: nothing public.
CREATE TABLE product_flow_disclosure (
    product_id TEXT PRIMARY KEY REFERENCES products (id),
    sale_time INTEGER NOT NULL DEFAULT 0 CHECK (sale_time IN (0, 1)),
    buyer_name INTEGER NOT NULL DEFAULT 0 CHECK (buyer_name IN (0, 1)),
    buyer_address INTEGER NOT NULL DEFAULT 0 CHECK (buyer_address IN (0, 1)),
    buyer_contact INTEGER NOT NULL DEFAULT 0 CHECK (buyer_contact IN (0, 1)),
    quantity INTEGER NOT NULL DEFAULT 0 CHECK (quantity IN (0, 1)),
    updated_at TEXT NOT NULL
);

-- A shipment is its own upload document (docs/shipping.md "What upload sends"): one delivery
-- per target, enqueued in the transaction that records the shipment, like a closed batch's.
-- shipment_id: NULL for a batch's delivery; a shipment's delivery keeps in batch_id the batch
-- of its first package (for the lists). Unique: one delivery per batch and target, and one per
-- shipment and target. SQLite cannot drop the table's UNIQUE (batch_id, target), so the table
-- is built again with the same rows (ids kept).
CREATE TABLE upload_delivery_new (
    id INTEGER PRIMARY KEY,
    batch_id INTEGER NOT NULL REFERENCES batches (id),
    target TEXT NOT NULL,
    uuid TEXT NOT NULL UNIQUE,
    format TEXT NOT NULL,
    gzip INTEGER NOT NULL CHECK (gzip IN (0, 1)),
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    last_status INTEGER,
    last_reply TEXT,
    body_sha256 TEXT,
    body_bytes INTEGER,
    enqueued_at TEXT NOT NULL,
    delivered_at TEXT,
    shipment_id INTEGER REFERENCES shipments (id)
);
INSERT INTO upload_delivery_new (id, batch_id, target, uuid, format, gzip, state, attempts,
    next_attempt_at, last_error, last_status, last_reply, body_sha256, body_bytes, enqueued_at,
    delivered_at)
    SELECT id, batch_id, target, uuid, format, gzip, state, attempts, next_attempt_at,
        last_error, last_status, last_reply, body_sha256, body_bytes, enqueued_at, delivered_at
    FROM upload_delivery;
DROP TABLE upload_delivery;
ALTER TABLE upload_delivery_new RENAME TO upload_delivery;
CREATE INDEX upload_delivery_due ON upload_delivery (state, next_attempt_at);
CREATE UNIQUE INDEX upload_delivery_batch ON upload_delivery (batch_id, target)
    WHERE shipment_id IS NULL;
CREATE UNIQUE INDEX upload_delivery_shipment ON upload_delivery (shipment_id, target)
    WHERE shipment_id IS NOT NULL;
