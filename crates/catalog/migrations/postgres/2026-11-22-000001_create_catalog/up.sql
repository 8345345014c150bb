-- esker catalog, PostgreSQL dialect (same shape as migrations/sqlite).
CREATE TABLE runs (
    id BIGSERIAL PRIMARY KEY,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    state TEXT NOT NULL,
    host TEXT NOT NULL,
    roots TEXT NOT NULL,
    roots_key TEXT NOT NULL,
    store TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '[]',
    options TEXT NOT NULL DEFAULT '{}',
    files_archived BIGINT NOT NULL DEFAULT 0,
    bytes_archived BIGINT NOT NULL DEFAULT 0,
    files_skipped BIGINT NOT NULL DEFAULT 0,
    bundles BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX runs_resume ON runs (roots_key, store, state);

CREATE TABLE bundles (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    run_id BIGINT NOT NULL REFERENCES runs (id),
    store TEXT NOT NULL,
    object_key TEXT NOT NULL,
    manifest_key TEXT,
    storage_class TEXT,
    state TEXT NOT NULL,
    file_count BIGINT NOT NULL,
    data_bytes BIGINT NOT NULL,
    bytes BIGINT,
    sha256 TEXT,
    upload_id TEXT,
    error TEXT,
    created_at BIGINT NOT NULL,
    stored_at BIGINT
);
CREATE INDEX bundles_run ON bundles (run_id);

CREATE TABLE dirs (
    id BIGSERIAL PRIMARY KEY,
    path BYTEA NOT NULL,                 -- no index: B-tree entries are capped near 2.7 KB
    path_text TEXT NOT NULL,
    path_hash BYTEA NOT NULL UNIQUE      -- BLAKE3 of path: the key
);

CREATE TABLE files (
    id BIGSERIAL PRIMARY KEY,
    run_id BIGINT NOT NULL REFERENCES runs (id),
    dir_id BIGINT NOT NULL REFERENCES dirs (id),
    name BYTEA NOT NULL,
    name_text TEXT NOT NULL,
    kind TEXT NOT NULL,
    size BIGINT NOT NULL,
    mode INTEGER NOT NULL,
    uid BIGINT NOT NULL,
    gid BIGINT NOT NULL,
    mtime_ns BIGINT NOT NULL,
    atime_ns BIGINT NOT NULL,
    ctime_ns BIGINT NOT NULL,
    inode BIGINT NOT NULL,
    device BIGINT NOT NULL,
    link_target BYTEA,
    blake3 TEXT,
    bundle_id BIGINT REFERENCES bundles (id),
    header_offset BIGINT,
    data_offset BIGINT,
    state TEXT NOT NULL,
    reason TEXT
);
CREATE INDEX files_run ON files (run_id);
CREATE INDEX files_bundle ON files (bundle_id);
CREATE INDEX files_dir_name ON files (dir_id, name);
