-- QA's lists (the API's rejects page, `tracemark qa rejects`) read a batch's rejected, destroyed
-- and released codes, about 1 % of its codes; through `codes_batch` they read every code of the
-- batch (a 100,000-code batch: tens of milliseconds). A partial index holds those codes only.
-- It keeps the hot path of 0003: a state change touches it only when the code enters or leaves
-- one of these states (SQLite updates a partial index only for rows its condition holds for).
-- Queries must hold the condition's text or one of its terms (store/src/sql/codes.rs
-- REJECT_STATES): SQLite proves a partial index usable by comparing terms.
CREATE INDEX codes_batch_rejects ON codes (batch_id, state, counter)
    WHERE state = 'rejected' OR state = 'destroyed' OR state = 'released';
