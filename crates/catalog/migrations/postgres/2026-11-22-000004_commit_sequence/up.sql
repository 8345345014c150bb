-- Commit order for the full-text index: every catalog write transaction first takes the
-- next number from this single row (its lock is held until commit), so numbers become
-- visible in order even with several writers, and the index can follow them safely.
CREATE TABLE commit_sequence (
    id INTEGER PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO commit_sequence (id, value) VALUES (1, 0);
ALTER TABLE files ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
UPDATE files SET seq = id;
UPDATE commit_sequence SET value = (SELECT COALESCE(MAX(id), 0) FROM files);
CREATE INDEX files_seq ON files (seq);
