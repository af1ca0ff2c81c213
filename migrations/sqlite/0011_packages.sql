-- Aggregation (SPEC §3a, issue 14): cartons and pallets with their SSCCs, and the link of each
-- unit to its carton and of each carton to its pallet. Keep in step with
-- ../postgres/0011_packages.sql; docs/aggregation.md describes both.

-- The producer's GS1 company prefix (4–12 digits; NULL: none yet) and the SSCC extension digit
-- (0–9) its SSCCs are built with (GS1 General Specifications §2.2.1).
ALTER TABLE producer ADD COLUMN gs1_company_prefix TEXT;
ALTER TABLE producer ADD COLUMN sscc_extension_digit INTEGER NOT NULL DEFAULT 0
    CHECK (sscc_extension_digit BETWEEN 0 AND 9);

-- The next SSCC serial reference per company prefix and extension digit. Only ever advanced, in
-- the transaction that records the package built from it: an SSCC is never issued twice, even
-- across kill -9.
CREATE TABLE sscc_counter (
    company_prefix TEXT NOT NULL,
    extension_digit INTEGER NOT NULL CHECK (extension_digit BETWEEN 0 AND 9),
    next_reference INTEGER NOT NULL CHECK (next_reference >= 0),
    PRIMARY KEY (company_prefix, extension_digit)
);

-- One row per SSCC issued. `capacity`: units per carton or cartons per pallet. `parent_sscc`:
-- a carton's pallet (one column: a carton is on at most one pallet by construction). `short`:
-- closed with fewer children than its capacity.
CREATE TABLE packages (
    sscc TEXT PRIMARY KEY,
    level TEXT NOT NULL CHECK (level IN ('carton', 'pallet')),
    batch_id INTEGER NOT NULL REFERENCES batches (id),
    capacity INTEGER NOT NULL CHECK (capacity > 0),
    state TEXT NOT NULL,
    parent_sscc TEXT REFERENCES packages (sscc),
    short INTEGER NOT NULL DEFAULT 0 CHECK (short IN (0, 1)),
    created_at TEXT NOT NULL,
    closed_at TEXT,
    last_event INTEGER NOT NULL
);
CREATE INDEX packages_batch ON packages (batch_id, level);
CREATE INDEX packages_parent ON packages (parent_sscc) WHERE parent_sscc IS NOT NULL;

-- A unit's carton (one column: a unit is in at most one package by construction). The index
-- holds only packed units, so issuing and verifying codes (the hot path) never writes it.
ALTER TABLE codes ADD COLUMN package_sscc TEXT;
CREATE INDEX codes_package ON codes (package_sscc) WHERE package_sscc IS NOT NULL;
