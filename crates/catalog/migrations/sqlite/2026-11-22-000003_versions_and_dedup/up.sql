-- Incremental runs and dedup: a file row may reference the row whose bytes it shares
-- (an unchanged file from an earlier run, or identical content stored elsewhere).
ALTER TABLE files ADD COLUMN origin_id BIGINT REFERENCES files (id);
CREATE INDEX files_size_blake3 ON files (size, blake3);
