-- Blocks can be reserved ahead of use (SPEC §7: a controller keeps issuing from the blocks it
-- holds). issued_end: counters below it are issued as codes. Blocks reserved before this
-- migration were issued whole.
ALTER TABLE serial_blocks ADD COLUMN issued_end INTEGER NOT NULL DEFAULT 0;
UPDATE serial_blocks SET issued_end = end_counter;
