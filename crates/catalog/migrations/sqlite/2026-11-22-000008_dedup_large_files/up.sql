-- Dedup looks for stored copies of files of 64 KiB and more only (catalog::DEDUP_MIN_SIZE,
-- which must match the literal here). The full (size, blake3) index took one random B-tree
-- insert per file row, the costliest write of an archive's catalog commits; a small
-- duplicate is cheaper to upload again than to look up, and keeps a folder's restore in its
-- own bundles.
DROP INDEX files_size_blake3;
CREATE INDEX files_dedup ON files (size, blake3) WHERE size >= 65536;
