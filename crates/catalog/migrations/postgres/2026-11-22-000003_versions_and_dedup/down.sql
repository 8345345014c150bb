DROP INDEX files_size_blake3;
ALTER TABLE files DROP COLUMN origin_id;
