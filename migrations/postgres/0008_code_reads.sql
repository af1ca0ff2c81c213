-- What the camera saw on a code's unit when it was decided, or QA's re-scan when it was
-- released (SPEC §3: records carry the grade and the decoded data). One row per code, the
-- latest deciding read; `event` is the seq of the event that recorded the decision.
CREATE TABLE code_reads (
    product_id TEXT NOT NULL,
    counter BIGINT NOT NULL,
    grade TEXT,
    data TEXT,
    event BIGINT NOT NULL,
    PRIMARY KEY (product_id, counter),
    FOREIGN KEY (product_id, counter) REFERENCES codes (product_id, counter)
);
