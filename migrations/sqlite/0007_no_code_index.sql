-- Codes are found by primary key (product_id, counter): a serial is the FF1 encryption of its
-- counter under the product's key, so the counter is recovered by decryption
-- (controller/src/store/locate.rs). The index on the code text only cost random B-tree writes
-- (FF1 serials are random) and goes. Uniqueness stays: counters are unique per product, FF1 is a
-- bijection, and GTINs are unique per product.
DROP INDEX codes_code;
