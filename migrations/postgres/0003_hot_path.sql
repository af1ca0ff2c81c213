-- State changes are the hot path: index batches by batch only, so changing a code's state
-- touches no indexed column (HOT updates, with free space left in each page).
DROP INDEX codes_batch_state;
CREATE INDEX codes_batch ON codes (batch_id);
ALTER TABLE codes SET (fillfactor = 80);
-- Foreign-key triggers tripled the cost of inserting codes (a million per run). Codes are only
-- written by the store, in the transaction that checks the product and batch and records the
-- serial block they come from; `audit verify` and the reconciliation read them back.
ALTER TABLE codes DROP CONSTRAINT codes_product_id_fkey;
ALTER TABLE codes DROP CONSTRAINT codes_batch_id_fkey;
ALTER TABLE codes DROP CONSTRAINT codes_block_id_fkey;
