-- State changes are the hot path: index batches by batch only, so changing a code's state does
-- not rewrite an index entry. (SQLite keeps the foreign keys of codes: checking them is an
-- index lookup; see ../postgres/0003_hot_path.sql for PostgreSQL.)
DROP INDEX codes_batch_state;
CREATE INDEX codes_batch ON codes (batch_id);
