-- The batch report (issue 17, SPEC §10) draws a batch's stops and state changes on a timeline
-- from the audit chain: the events whose subject is the batch (`batch:7`) or its line
-- (`line:demo`). Without an index that is a scan of the whole chain, which holds every code's
-- transitions (hundreds of megabytes for a million codes). The chain gains one row per
-- transaction, so the index costs one entry per commit, not per code.
CREATE INDEX events_subject ON events (subject, seq);
