-- Platform apps (developer-app credentials), OAuth connection states, connected accounts.
-- Every secret column holds `v1:<key id>:<base64>` ciphertext (see crypto/credentials.rs),
-- never plaintext. Times are TIMESTAMPTZ here, RFC 3339 UTC text on SQLite.

-- A workspace's app (workspace_id set) or a server-wide one from the operator (NULL).
CREATE TABLE platform_apps (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT REFERENCES workspaces(id) ON DELETE CASCADE,
    plugin_id TEXT NOT NULL,
    name TEXT NOT NULL,
    -- Encrypted JSON object of setting name → value.
    settings TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX platform_apps_owner ON platform_apps(workspace_id, plugin_id);

-- One authorization in progress: single use, short-lived, bound to user and workspace.
CREATE TABLE oauth_states (
    state_hash TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    plugin_id TEXT NOT NULL,
    app_id TEXT REFERENCES platform_apps(id) ON DELETE CASCADE,
    -- Encrypted PKCE verifier and encrypted JSON list of the plugin's stash pairs.
    code_verifier TEXT NOT NULL,
    stash TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    return_to TEXT,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX oauth_states_expiry ON oauth_states(expires_at);

CREATE TABLE accounts (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    plugin_id TEXT NOT NULL,
    app_id TEXT REFERENCES platform_apps(id),
    remote_id TEXT NOT NULL,
    -- Sub-accounts (pages, organisations, channels) name the user account they came with.
    parent_account_id TEXT REFERENCES accounts(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    display_name TEXT NOT NULL,
    username TEXT,
    avatar_url TEXT,
    -- Non-secret JSON object the plugin needs later (e.g. instance_url).
    properties TEXT NOT NULL,
    -- Encrypted JSON object of credential name → value; NULL once disconnected, or for a
    -- sub-account that acts with its parent's credentials.
    credentials TEXT,
    expires_at TIMESTAMPTZ,
    last_refresh_at TIMESTAMPTZ,
    last_error TEXT,
    needs_reconnect BOOLEAN NOT NULL DEFAULT FALSE,
    status TEXT NOT NULL CHECK (status IN ('active', 'pending_selection', 'disconnected')),
    connected_by TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    UNIQUE (workspace_id, plugin_id, remote_id)
);
CREATE INDEX accounts_workspace ON accounts(workspace_id, status);
CREATE INDEX accounts_parent ON accounts(parent_account_id);
CREATE INDEX accounts_app ON accounts(app_id);
