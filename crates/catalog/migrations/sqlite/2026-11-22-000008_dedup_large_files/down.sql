DROP INDEX files_dedup;
CREATE INDEX files_size_blake3 ON files (size, blake3);
