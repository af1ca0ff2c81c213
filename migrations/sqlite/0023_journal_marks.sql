-- Edge journals forwarded (issue 18 item 2, docs/plant.md "The edge journal"): a controller that
-- cannot reach the central store keeps its records in a local journal and forwards each entry,
-- in order, once the store answers. Each entry is applied in one transaction that also moves
-- its journal's mark here, so an entry whose commit answer was lost (a crash, a connection cut
-- during COMMIT) is found applied when it is forwarded again, and is not applied twice.
-- Keep in step with ../postgres/0023_journal_marks.sql.
--
-- journal_id: the journal's own random id (a journal file deleted and made again gets a new
-- one). Issued codes and code state changes are forwarded in transactions of their own (the
-- issues of a forwarded run of entries before its changes: a code's issue always precedes its
-- changes), each with its mark: issues_through and changes_through, the last entry applied of
-- each kind. at: when either moved last.
CREATE TABLE journal_marks (
    journal_id TEXT PRIMARY KEY,
    issues_through INTEGER NOT NULL,
    changes_through INTEGER NOT NULL,
    at TEXT NOT NULL
);
