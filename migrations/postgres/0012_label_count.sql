-- GS1 logistic labels (issue 14 item 3): the count (AI 37) of the package's verified label, set
-- when its label is read back as its SSCC. NULL: no verified label. A package whose children
-- count differs from it needs a new label before it closes (docs/aggregation.md "Labels").
ALTER TABLE packages ADD COLUMN label_count INTEGER;
