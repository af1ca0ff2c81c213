-- tracemark store, PostgreSQL dialect. Keep in step with ../sqlite/0001_store.sql (same tables,
-- same columns, same meaning); docs/store.md describes both.

CREATE TABLE producer (
    id BIGINT PRIMARY KEY CHECK (id = 1),
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
    warranty_months BIGINT,
    retention_years BIGINT NOT NULL CHECK (retention_years > 0),
    serial_alphabet TEXT NOT NULL,
    serial_length BIGINT NOT NULL CHECK (serial_length BETWEEN 1 AND 20),
    created_at TEXT NOT NULL,
    UNIQUE (scheme, key)
);

-- Advanced only by one UPDATE … RETURNING per block: the row lock makes reservations from
-- several controllers sharing this database disjoint.
CREATE TABLE serial_counters (
    product_id TEXT PRIMARY KEY REFERENCES products (id),
    next_counter BIGINT NOT NULL CHECK (next_counter >= 0)
);

CREATE TABLE serial_blocks (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id TEXT NOT NULL REFERENCES products (id),
    first_counter BIGINT NOT NULL,
    end_counter BIGINT NOT NULL,
    owner TEXT NOT NULL,
    reserved_at TEXT NOT NULL,
    event_seq BIGINT NOT NULL,
    CHECK (end_counter > first_counter)
);
CREATE INDEX serial_blocks_product ON serial_blocks (product_id, first_counter);

CREATE TABLE batches (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id TEXT NOT NULL REFERENCES products (id),
    lot TEXT NOT NULL,
    quantity BIGINT NOT NULL CHECK (quantity > 0),
    production_date TEXT NOT NULL,
    expiry_date TEXT,
    line TEXT,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL,
    closed_at TEXT,
    UNIQUE (product_id, lot)
);

CREATE TABLE codes (
    product_id TEXT NOT NULL REFERENCES products (id),
    counter BIGINT NOT NULL,
    code TEXT NOT NULL,
    batch_id BIGINT REFERENCES batches (id),
    block_id BIGINT NOT NULL REFERENCES serial_blocks (id),
    state TEXT NOT NULL,
    reason TEXT,
    last_event BIGINT NOT NULL,
    PRIMARY KEY (product_id, counter)
);
CREATE UNIQUE INDEX codes_code ON codes (code);
CREATE INDEX codes_batch_state ON codes (batch_id, state);

CREATE TABLE events (
    seq BIGINT PRIMARY KEY,
    at TEXT NOT NULL,
    actor_user TEXT NOT NULL,
    actor_device TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);

-- Every writing transaction updates the head first; its row lock serialises appends from all
-- controllers, so the chain stays linear.
CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- SAMR seed 003 §8.3: the log must not be alterable. The database itself refuses.
CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only (% refused)', TG_OP;
END;
$$;
CREATE TRIGGER events_no_update_delete BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_append_only();
