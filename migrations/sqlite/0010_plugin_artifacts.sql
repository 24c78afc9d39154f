-- Plugin components, besides the copy in DATA_DIR/plugins: nodes of a cluster each have
-- their own data folder, and a node following another's install, upgrade or rollback
-- fetches the component from here.
CREATE TABLE plugin_artifacts (
    plugin_id TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    bytes BLOB NOT NULL,
    PRIMARY KEY (plugin_id, content_hash)
);
