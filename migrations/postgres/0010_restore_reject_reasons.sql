-- Before the fix of issue 19 (finding 4) a QA step in a transaction of its own wrote NULL over a
-- code's reject reason when it destroyed or released it. The audit chain kept the reason: each
-- `codes.transition` event lists runs `{ "to", "reason", "codes" }` (store/src/sql/codes.rs
-- `transition_detail`). Restore the reason of the last rejection of every such code.
UPDATE codes
SET reason = restored.reason
FROM (
    SELECT DISTINCT ON (codes_of_run.code)
           codes_of_run.code,
           run ->> 'reason' AS reason
    FROM events AS e,
         jsonb_array_elements(e.detail::jsonb -> 'changes') AS run,
         jsonb_array_elements_text(run -> 'codes') AS codes_of_run (code)
    WHERE e.kind = 'codes.transition'
      AND run ->> 'to' = 'rejected'
      AND run ->> 'reason' IS NOT NULL
      AND EXISTS (SELECT 1 FROM codes WHERE reason IS NULL AND state IN ('destroyed', 'released'))
    ORDER BY codes_of_run.code, e.seq DESC
) AS restored
WHERE codes.code = restored.code
  AND codes.reason IS NULL
  AND codes.state IN ('destroyed', 'released');
