-- Batches made by `tracemark simulate` or `tracemark demo` are marked, so reports, the HMI and the
-- public lookup can tell them from production (issue 19). 0 production, 1 simulated (an integer,
-- as everywhere in this schema: the store reads both databases through one driver).
ALTER TABLE batches ADD COLUMN simulated BIGINT NOT NULL DEFAULT 0 CHECK (simulated IN (0, 1));

-- A release's re-scan is kept beside the read the unit was rejected on, instead of replacing it:
-- QA and an auditor see both why the unit was rejected and what the re-scan showed.
ALTER TABLE code_reads ADD COLUMN release_grade TEXT;
ALTER TABLE code_reads ADD COLUMN release_data TEXT;
