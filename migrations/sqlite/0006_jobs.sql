-- The durable job queue. Times are Unix milliseconds (integers compare the same way in
-- both dialects). A job is claimed by setting a lease; a worker that dies stops renewing
-- it, and the job is claimed again once `lease_until` passes.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    workspace_id TEXT,
    -- What the job is about (a post target, an account, a media item) for lookups.
    subject_id TEXT,
    payload TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'dead', 'cancelled')),
    run_at BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    last_error TEXT,
    -- At most one live job per key (e.g. one refresh per account).
    dedupe_key TEXT,
    progress REAL,
    result TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs(status, run_at);
CREATE INDEX jobs_subject ON jobs(subject_id);
CREATE UNIQUE INDEX jobs_dedupe ON jobs(dedupe_key) WHERE dedupe_key IS NOT NULL AND status IN ('queued', 'running');
