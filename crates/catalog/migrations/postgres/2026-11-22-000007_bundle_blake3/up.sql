-- The BLAKE3 of a whole bundle object (hex), as `b3sum` prints it. It replaces the
-- SHA-256 that bundles recorded before (kept in `sha256` for those): BLAKE3 costs a third
-- of SHA-256's CPU time, and every file inside is hashed with BLAKE3 already.
ALTER TABLE bundles ADD COLUMN blake3 TEXT;
