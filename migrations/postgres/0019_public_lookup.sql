-- The public code lookup (issue 17; SPEC §9; docs/lookup.md). Keep in step with
-- ../sqlite/0019_public_lookup.sql.
--
-- A product's documents (SPEC §1 data fields, seed 003 table 3): the inspection report
-- (出厂检验报告或型式检验报告: text or a URL), which the producer decides to disclose or not
-- (inspection_report_public: 0 private, the default; 1 public; an integer, as everywhere in this
-- schema: the store reads both databases through one driver), and the manual or warning notes
-- (使用说明书或警示说明, a URL), always public when set.
ALTER TABLE products ADD COLUMN inspection_report TEXT;
ALTER TABLE products ADD COLUMN inspection_report_public BIGINT NOT NULL DEFAULT 0
    CHECK (inspection_report_public IN (0, 1));
ALTER TABLE products ADD COLUMN manual TEXT;

-- How often the public scanned each issued code: a counterfeit is a copy of a real code, so a
-- code scanned unusually often is flagged (SPEC §9). Counts are gathered in memory and written
-- in batches (count added, first_at kept, last_at moved); first_at, last_at: RFC 3339 (UTC).
-- Not in the audit chain: a scan reads, it changes nothing the producer recorded.
CREATE TABLE code_scans (
    product_id TEXT NOT NULL,
    counter BIGINT NOT NULL,
    scans BIGINT NOT NULL CHECK (scans > 0),
    first_at TEXT NOT NULL,
    last_at TEXT NOT NULL,
    PRIMARY KEY (product_id, counter)
);
