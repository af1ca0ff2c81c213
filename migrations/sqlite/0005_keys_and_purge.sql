-- Each product's AES-256 serial key (hex), made when the product is added. Serials are FF1 of a
-- counter under this key (SPEC §4); losing it would not lose codes (they are stored), but the
-- key must stay the same for a product's whole life, so it is never updated.
CREATE TABLE product_keys (
    product_id TEXT PRIMARY KEY REFERENCES products (id),
    key_hex TEXT NOT NULL,
    key_id TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TRIGGER product_keys_never_change BEFORE UPDATE ON product_keys
BEGIN
    SELECT RAISE(ABORT, 'serial keys never change');
END;
CREATE TRIGGER product_keys_never_deleted BEFORE DELETE ON product_keys
BEGIN
    SELECT RAISE(ABORT, 'serial keys are never deleted');
END;

-- Retention purge (seed 003 §8.5): events up to through_seq were removed; hash is the hash of
-- event through_seq, from which the remaining chain continues. Append-only.
CREATE TABLE audit_checkpoints (
    through_seq INTEGER PRIMARY KEY,
    hash TEXT NOT NULL,
    purged_before TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TRIGGER audit_checkpoints_append_only_update BEFORE UPDATE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit checkpoints are append-only');
END;
CREATE TRIGGER audit_checkpoints_append_only_delete BEFORE DELETE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit checkpoints are append-only');
END;

-- Events may now be deleted, but only those a checkpoint already covers: a purge records its
-- checkpoint first, and nothing else can remove an event.
DROP TRIGGER events_append_only_delete;
CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
WHEN OLD.seq > (SELECT COALESCE(MAX(through_seq), 0) FROM audit_checkpoints)
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;
