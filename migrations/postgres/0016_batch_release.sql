-- Batch release by QA with four eyes (SPEC §8: never by the user who started the batch). Keep
-- in step with ../sqlite/0016_batch_release.sql; docs/operator.md "Releasing a batch".

-- started_by: the user who first set the batch running (created → running), the one who may
-- not release it. released_by, released_at (RFC 3339): the QA user who released the closed,
-- balanced batch, and when; NULL until then. A batch started before this migration has no
-- started_by: the release then reads the starter from the audit chain.
ALTER TABLE batches ADD COLUMN started_by TEXT;
ALTER TABLE batches ADD COLUMN released_by TEXT;
ALTER TABLE batches ADD COLUMN released_at TEXT;
