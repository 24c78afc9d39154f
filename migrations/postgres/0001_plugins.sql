-- Plugin registry: which version of each plugin is active, the one before it (rollback),
-- and the operator's grants.
CREATE TABLE plugins (
    id TEXT PRIMARY KEY NOT NULL,
    active_version TEXT NOT NULL,
    previous_version TEXT,
    grants TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE plugin_versions (
    plugin_id TEXT NOT NULL,
    version TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    manifest TEXT NOT NULL,
    installed_at TEXT NOT NULL,
    PRIMARY KEY (plugin_id, version)
);

-- Plugin key-value storage, one namespace per plugin id.
CREATE TABLE plugin_kv (
    plugin_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value BYTEA NOT NULL,
    PRIMARY KEY (plugin_id, key)
);
