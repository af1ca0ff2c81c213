-- The camera's image of each rejected unit (SPEC §1 8.2: reject images stored as files; issue
-- 16 item 4). The PNG itself is a file under the reject-images directory; this row maps the
-- code to it. Keep in step with ../sqlite/0017_reject_images.sql; docs/verification.md
-- "Reject images".
--
-- code: the rejected code (HRI, as codes.code). reader, seq: the camera read the unit was
-- rejected on, which the image came with. path: the file, absolute. size: its bytes. sha256:
-- of its content, lowercase hex, to prove the file unchanged. received_at: RFC 3339 (UTC).
-- One image per code: a later reject of the same code (not expected) replaces the row.
CREATE TABLE reject_images (
    code TEXT PRIMARY KEY,
    reader TEXT NOT NULL,
    seq BIGINT NOT NULL,
    path TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    received_at TEXT NOT NULL
);
