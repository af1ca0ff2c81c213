-- tracemark store, SQLite dialect. Keep in step with ../postgres/0001_store.sql (same tables,
-- same columns, same meaning); docs/store.md describes both.

-- The producer (SPEC §1 data fields); one row, id fixed to 1.
CREATE TABLE producer (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    name TEXT NOT NULL,
    uscc TEXT NOT NULL,
    address TEXT NOT NULL,
    contact TEXT NOT NULL,
    business_licence TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE products (
    id TEXT PRIMARY KEY,
    scheme TEXT NOT NULL,
    key TEXT NOT NULL,
    name TEXT NOT NULL,
    category TEXT NOT NULL,
    model TEXT NOT NULL,
    mandatory_standard TEXT NOT NULL,
    licence_no TEXT,
    ccc_cert_no TEXT,
    warranty_months INTEGER,
    retention_years INTEGER NOT NULL CHECK (retention_years > 0),
    serial_alphabet TEXT NOT NULL,
    serial_length INTEGER NOT NULL CHECK (serial_length BETWEEN 1 AND 20),
    created_at TEXT NOT NULL,
    UNIQUE (scheme, key)
);

-- The next serial counter of each product. Only ever advanced, by one UPDATE … RETURNING that
-- reserves a whole block; the block is recorded in the same transaction.
CREATE TABLE serial_counters (
    product_id TEXT PRIMARY KEY REFERENCES products (id),
    next_counter INTEGER NOT NULL CHECK (next_counter >= 0)
);

CREATE TABLE serial_blocks (
    id INTEGER PRIMARY KEY,
    product_id TEXT NOT NULL REFERENCES products (id),
    first_counter INTEGER NOT NULL,
    end_counter INTEGER NOT NULL,
    owner TEXT NOT NULL,
    reserved_at TEXT NOT NULL,
    event_seq INTEGER NOT NULL,
    CHECK (end_counter > first_counter)
);
CREATE INDEX serial_blocks_product ON serial_blocks (product_id, first_counter);

CREATE TABLE batches (
    id INTEGER PRIMARY KEY,
    product_id TEXT NOT NULL REFERENCES products (id),
    lot TEXT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    production_date TEXT NOT NULL,
    expiry_date TEXT,
    line TEXT,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL,
    closed_at TEXT,
    UNIQUE (product_id, lot)
);

-- One row per issued code. Uniqueness holds twice: per (product, counter) and per code text.
CREATE TABLE codes (
    product_id TEXT NOT NULL REFERENCES products (id),
    counter INTEGER NOT NULL,
    code TEXT NOT NULL,
    batch_id INTEGER REFERENCES batches (id),
    block_id INTEGER NOT NULL REFERENCES serial_blocks (id),
    state TEXT NOT NULL,
    reason TEXT,
    last_event INTEGER NOT NULL,
    PRIMARY KEY (product_id, counter)
) WITHOUT ROWID;
CREATE UNIQUE INDEX codes_code ON codes (code);
CREATE INDEX codes_batch_state ON codes (batch_id, state);

-- Append-only, hash-chained event log. seq starts at 1 and has no gaps; hash is the SHA-256 of
-- the event's fields and prev_hash (see controller/src/store/audit.rs).
CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor_user TEXT NOT NULL,
    actor_device TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);

-- The chain head. Every writing transaction updates it first: that takes the write lock up front
-- (no SQLITE_BUSY on lock upgrade) and lets audit verify notice a deleted tail.
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;
CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;
