-- Before the fix of issue 19 (finding 4) a QA step in a transaction of its own wrote NULL over a
-- code's reject reason when it destroyed or released it. The audit chain kept the reason: each
-- `codes.transition` event lists runs `{ "to", "reason", "codes" }` (store/src/sql/codes.rs
-- `transition_detail`). Restore the reason of the last rejection of every such code. The events
-- are read once, into a temporary table, and only when some code needs its reason back.
CREATE TEMP TABLE restored_reasons AS
SELECT codes_of_run.value AS code,
       json_extract(run.value, '$.reason') AS reason,
       e.seq AS seq
FROM events AS e,
     json_each(e.detail, '$.changes') AS run,
     json_each(run.value, '$.codes') AS codes_of_run
WHERE e.kind = 'codes.transition'
  AND json_extract(run.value, '$.to') = 'rejected'
  AND json_extract(run.value, '$.reason') IS NOT NULL
  AND EXISTS (SELECT 1 FROM codes WHERE reason IS NULL AND state IN ('destroyed', 'released'));

CREATE INDEX temp.restored_reasons_code ON restored_reasons (code, seq);

UPDATE codes
SET reason = (
    SELECT r.reason FROM restored_reasons AS r
    WHERE r.code = codes.code
    ORDER BY r.seq DESC
    LIMIT 1
)
WHERE reason IS NULL
  AND state IN ('destroyed', 'released')
  AND EXISTS (SELECT 1 FROM restored_reasons AS r WHERE r.code = codes.code);

DROP TABLE restored_reasons;
