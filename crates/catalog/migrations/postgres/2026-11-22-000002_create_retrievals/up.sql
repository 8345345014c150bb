-- Retrievals: what a user asked to get back, where to, and the jobs that do it.

CREATE TABLE retrievals (
    id BIGSERIAL PRIMARY KEY,
    created_at BIGINT NOT NULL,
    selection TEXT NOT NULL,             -- the query / bundle / file ids, for people
    destination BYTEA NOT NULL,           -- raw path bytes
    destination_text TEXT NOT NULL,
    tier TEXT NOT NULL,                  -- bulk, standard, expedited
    days INTEGER NOT NULL,               -- how long restored copies stay readable
    overwrite BOOLEAN NOT NULL DEFAULT FALSE,
    state TEXT NOT NULL,                 -- open, done, failed
    files BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    estimate TEXT NOT NULL DEFAULT '{}', -- JSON of the estimate shown when it started
    finished_at BIGINT
);

-- One job per bundle of a retrieval; the poller moves it through
-- requested -> restoring -> ready -> downloading -> done (or failed, expired).
CREATE TABLE jobs (
    id BIGSERIAL PRIMARY KEY,
    retrieval_id BIGINT NOT NULL REFERENCES retrievals (id),
    bundle_id BIGINT NOT NULL REFERENCES bundles (id),
    store TEXT NOT NULL,
    object_key TEXT NOT NULL,
    tier TEXT NOT NULL,
    range_start BIGINT,                  -- byte range to restore, when the store restores ranges
    range_end BIGINT,
    backend_job_id TEXT,
    state TEXT NOT NULL,
    error TEXT,
    requested_at BIGINT NOT NULL,
    ready_at BIGINT,
    done_at BIGINT,
    expires TEXT,                        -- when the restored copy goes away, as the store says
    updated_at BIGINT NOT NULL,
    claimed_by TEXT,                     -- host:pid of the poller working on it
    claimed_until BIGINT,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX jobs_state ON jobs (state);
CREATE INDEX jobs_retrieval ON jobs (retrieval_id);

-- The files each retrieval brings back, and how each went.
CREATE TABLE retrieval_files (
    retrieval_id BIGINT NOT NULL REFERENCES retrievals (id),
    file_id BIGINT NOT NULL REFERENCES files (id),
    job_id BIGINT NOT NULL REFERENCES jobs (id),
    state TEXT NOT NULL,                 -- pending, done, failed
    error TEXT,
    PRIMARY KEY (retrieval_id, file_id)
);
CREATE INDEX retrieval_files_job ON retrieval_files (job_id, state);
