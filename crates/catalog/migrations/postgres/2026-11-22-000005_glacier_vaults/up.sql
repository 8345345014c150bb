-- Glacier vaults. A vault names archives itself: a stored bundle's object_key (and
-- manifest_key) is the archive id the vault gave it, and its SHA-256 tree hash is kept.
ALTER TABLE bundles ADD COLUMN tree_hash TEXT;            -- hex, verified with the vault at upload
-- While a vault bundle uploads: its planned entries (zstd JSON), so an interrupted
-- multipart upload can be packed again byte for byte and finished; cleared once stored.
ALTER TABLE bundles ADD COLUMN plan BYTEA;

-- Inventory-retrieval jobs: requested by `esker inventory request`, fetched by `esker poll`.
CREATE TABLE inventories (
    id BIGSERIAL PRIMARY KEY,
    store TEXT NOT NULL,
    vault TEXT NOT NULL,
    backend_job_id TEXT NOT NULL,
    state TEXT NOT NULL,                 -- requested, done, failed
    error TEXT,
    requested_at BIGINT NOT NULL,
    done_at BIGINT,
    inventory_date TEXT,                 -- as of when the vault's list is (it lags uploads)
    archives BIGINT,
    output BYTEA,                         -- the job output (JSON), zstd
    updated_at BIGINT NOT NULL
);
CREATE INDEX inventories_store ON inventories (store, state);
