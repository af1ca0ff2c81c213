-- The upload outbox (SPEC §6 "Delivery", issue 15 item 3). Keep in step with
-- ../postgres/0014_outbox.sql; docs/upload.md "Delivery" describes both.

-- Where closed batches go. The secret and the Ed25519 key stay in their files (paths here), so
-- a backup of the store carries no key material. gzip: 1 to send Content-Encoding: gzip.
CREATE TABLE upload_target (
    name TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    format TEXT NOT NULL CHECK (format IN ('epcis-json', 'epcis-xml', 'platform')),
    secret_file TEXT,
    ed25519_key_file TEXT,
    ca_file TEXT,
    gzip INTEGER NOT NULL DEFAULT 0 CHECK (gzip IN (0, 1)),
    created_at TEXT NOT NULL
);

-- One delivery of one closed batch to one target, enqueued in the transaction that closes the
-- batch. uuid: the Idempotency-Key and webhook-id, fixed here and never changed. format and
-- gzip are copied from the target at enqueue, so the body never changes with the target.
-- next_attempt_at: unix milliseconds. body_sha256: of the bytes sent (after gzip), recorded
-- once the body is rendered and before the first POST. last_status and last_reply: the
-- receiver's last answer (the reply truncated). The target is a name, not a foreign key: a
-- removed target's deliveries stay as history.
CREATE TABLE upload_delivery (
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
    UNIQUE (batch_id, target)
);
CREATE INDEX upload_delivery_due ON upload_delivery (state, next_attempt_at);
