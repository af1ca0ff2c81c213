-- Each product's AES-256 serial key (hex), made when the product is added. Serials are FF1 of a
-- counter under this key (SPEC §4); the key stays the same for a product's whole life.
CREATE TABLE product_keys (
    product_id TEXT PRIMARY KEY REFERENCES products (id),
    key_hex TEXT NOT NULL,
    key_id TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE FUNCTION product_keys_never_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'serial keys never change (% refused)', TG_OP;
END;
$$;
CREATE TRIGGER product_keys_no_update_delete BEFORE UPDATE OR DELETE ON product_keys
    FOR EACH ROW EXECUTE FUNCTION product_keys_never_change();
CREATE TRIGGER product_keys_no_truncate BEFORE TRUNCATE ON product_keys
    FOR EACH STATEMENT EXECUTE FUNCTION product_keys_never_change();

-- Retention purge (seed 003 §8.5): events up to through_seq were removed; hash is the hash of
-- event through_seq, from which the remaining chain continues. Append-only.
CREATE TABLE audit_checkpoints (
    through_seq BIGINT PRIMARY KEY,
    hash TEXT NOT NULL,
    purged_before TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE FUNCTION audit_checkpoints_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit checkpoints are append-only (% refused)', TG_OP;
END;
$$;
CREATE TRIGGER audit_checkpoints_no_update_delete BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_checkpoints_append_only();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_checkpoints_append_only();

-- Events may now be deleted, but only those a checkpoint already covers: a purge records its
-- checkpoint first, and nothing else can remove an event. UPDATE and TRUNCATE stay refused.
CREATE OR REPLACE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE'
        AND OLD.seq <= (SELECT COALESCE(MAX(through_seq), 0) FROM audit_checkpoints) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'events are append-only (% refused)', TG_OP;
END;
$$;
