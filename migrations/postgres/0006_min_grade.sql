-- The lowest ISO/IEC 15415 symbol grade a product's print may have and pass verification
-- (issue 5): `A`–`D`; `C` is the usual minimum for GS1 DataMatrix at the point of sale.
ALTER TABLE products ADD COLUMN min_grade TEXT NOT NULL DEFAULT 'C';
