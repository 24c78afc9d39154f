-- Posts: base content, per-platform variants (JSON keyed by plugin id) and targets
-- (connected accounts). `version` backs optimistic concurrency (ETag / If-Match).
CREATE TABLE posts (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    created_by TEXT,
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    media TEXT NOT NULL,
    options TEXT NOT NULL,
    thread TEXT NOT NULL,
    variants TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX posts_workspace ON posts(workspace_id, id);

CREATE TABLE post_targets (
    id TEXT PRIMARY KEY NOT NULL,
    post_id TEXT NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL,
    plugin_id TEXT NOT NULL,
    status TEXT NOT NULL,
    remote_id TEXT,
    remote_url TEXT,
    last_error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (post_id, account_id)
);
CREATE INDEX post_targets_post ON post_targets(post_id);
CREATE INDEX post_targets_account ON post_targets(workspace_id, account_id);
