-- EPCIS export (issue 15): what EPC URNs and the event's location need. Keep in step with
-- ../sqlite/0013_company_prefix_length.sql; docs/upload.md describes both.

-- The length of the GS1 company prefix inside a product's GTIN (6–12 digits, GS1 EPC Tag Data
-- Standard §7.1). An SGTIN URN splits the GTIN there, and the GTIN alone does not tell where.
-- NULL: the producer's GS1 company prefix is used when the GTIN carries it.
ALTER TABLE products ADD COLUMN gs1_company_prefix_length BIGINT
    CHECK (gs1_company_prefix_length IS NULL OR gs1_company_prefix_length BETWEEN 6 AND 12);

-- The plant's Global Location Number (13 digits; NULL: none): the EPCIS bizLocation, and with
-- the line's name as its extension (AI 254) the readPoint.
ALTER TABLE producer ADD COLUMN gln TEXT;
