-- SQLite's 0018 adds a partial index on the codes in QA's states (rejected, destroyed, released)
-- for QA's lists. PostgreSQL gets none: a column in an index's condition blocks HOT updates
-- (PostgreSQL's heap_update treats predicate columns as indexed), so every state change, the hot
-- path of 0003, would write an entry in each of the codes' indexes again. PostgreSQL reads a
-- batch's codes by `codes_batch` with a bitmap heap scan instead (docs/performance.md, issue 16).
-- The version stays, so both dialects keep the same numbers.
SELECT 1;
