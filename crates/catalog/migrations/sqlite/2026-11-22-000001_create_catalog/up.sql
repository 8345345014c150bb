-- esker catalog, SQLite dialect. Times are nanoseconds (files) or seconds (runs, bundles)
-- since the Unix epoch. Ids only grow (AUTOINCREMENT): the full-text index relies on it.

CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    state TEXT NOT NULL,                 -- running, complete, incomplete
    host TEXT NOT NULL,
    roots TEXT NOT NULL,                 -- JSON array of absolute paths (display form)
    roots_key TEXT NOT NULL,             -- hex of the raw root paths, to find a run to resume
    store TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '[]',     -- JSON array
    options TEXT NOT NULL DEFAULT '{}',  -- JSON object
    files_archived BIGINT NOT NULL DEFAULT 0,
    bytes_archived BIGINT NOT NULL DEFAULT 0,
    files_skipped BIGINT NOT NULL DEFAULT 0,
    bundles BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX runs_resume ON runs (roots_key, store, state);

CREATE TABLE bundles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    run_id BIGINT NOT NULL REFERENCES runs (id),
    store TEXT NOT NULL,
    object_key TEXT NOT NULL,
    manifest_key TEXT,
    storage_class TEXT,
    state TEXT NOT NULL,                 -- uploading, stored, failed
    file_count BIGINT NOT NULL,
    data_bytes BIGINT NOT NULL,          -- sum of the sizes of the files inside
    bytes BIGINT,                        -- size of the tar object
    sha256 TEXT,
    upload_id TEXT,
    error TEXT,
    created_at BIGINT NOT NULL,
    stored_at BIGINT
);
CREATE INDEX bundles_run ON bundles (run_id);

CREATE TABLE dirs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path BLOB NOT NULL,                  -- raw bytes
    path_text TEXT NOT NULL,             -- lossy UTF-8 for display and search
    path_hash BLOB NOT NULL UNIQUE       -- BLAKE3 of path: the key (paths can be long)
);
CREATE INDEX dirs_path ON dirs (path);

CREATE TABLE files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id BIGINT NOT NULL REFERENCES runs (id),
    dir_id BIGINT NOT NULL REFERENCES dirs (id),
    name BLOB NOT NULL,
    name_text TEXT NOT NULL,
    kind TEXT NOT NULL,                  -- file, dir, symlink, fifo, socket, block-device, char-device
    size BIGINT NOT NULL,
    mode INTEGER NOT NULL,
    uid BIGINT NOT NULL,
    gid BIGINT NOT NULL,
    mtime_ns BIGINT NOT NULL,
    atime_ns BIGINT NOT NULL,
    ctime_ns BIGINT NOT NULL,
    inode BIGINT NOT NULL,
    device BIGINT NOT NULL,
    link_target BLOB,
    blake3 TEXT,
    bundle_id BIGINT REFERENCES bundles (id),
    header_offset BIGINT,
    data_offset BIGINT,
    state TEXT NOT NULL,                 -- archived, changed, skipped
    reason TEXT
);
CREATE INDEX files_run ON files (run_id);
CREATE INDEX files_bundle ON files (bundle_id);
CREATE INDEX files_dir_name ON files (dir_id, name);
