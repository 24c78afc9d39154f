-- The media library: one row per stored object, with what probing found, and the
-- resumable (tus) upload sessions that produce them. Times are TIMESTAMPTZ here, RFC 3339
-- UTC text on SQLite; numbers are BIGINT so both dialects decode to i64.

CREATE TABLE media (
    -- UUIDv7: also the handle plugins get.
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    object_key TEXT NOT NULL UNIQUE,
    filename TEXT NOT NULL,
    mime_type TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('image', 'video', 'audio')),
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    width BIGINT,
    height BIGINT,
    duration_ms BIGINT,
    frame_rate DOUBLE PRECISION,
    video_codec TEXT,
    audio_codec TEXT,
    has_audio BOOLEAN NOT NULL,
    folder TEXT,
    -- JSON array of strings.
    tags TEXT NOT NULL,
    alt_text TEXT,
    -- JSON summary of the probe (container, streams, image format).
    probe TEXT NOT NULL,
    created_by TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX media_workspace_created ON media(workspace_id, created_at, id);
CREATE INDEX media_workspace_folder ON media(workspace_id, folder);

-- tus 1.0.0 sessions. `media_id` is chosen at creation so that finishing twice (a retry
-- after a crash, two racing requests) lands on the same object and row.
CREATE TABLE uploads (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    media_id TEXT NOT NULL UNIQUE,
    filename TEXT NOT NULL,
    filetype TEXT,
    alt_text TEXT,
    folder TEXT,
    tags TEXT NOT NULL,
    upload_length BIGINT NOT NULL,
    upload_offset BIGINT NOT NULL,
    created_by TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    completed_at TIMESTAMPTZ
);
CREATE INDEX uploads_workspace ON uploads(workspace_id);
CREATE INDEX uploads_expiry ON uploads(expires_at);

-- Each PATCH body is stored as its own object; the parts are concatenated at the end.
CREATE TABLE upload_parts (
    upload_id TEXT NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
    start_offset BIGINT NOT NULL,
    size BIGINT NOT NULL,
    object_key TEXT NOT NULL,
    PRIMARY KEY (upload_id, start_offset)
);
