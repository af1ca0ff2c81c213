-- Units per package level, innermost first, written "10,40" (10 units per carton, 40 cartons
-- per pallet); empty when the product is not packed.
ALTER TABLE products ADD COLUMN pack_sizes TEXT NOT NULL DEFAULT '';
