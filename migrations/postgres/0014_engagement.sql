-- Engagement: inbound webhook events, the comments inbox with its log and auto-reply rules,
-- comment polling cursors, and metrics as time series.

-- Every inbound webhook event already taken in, by (plugin, the plugin's event key): a
-- replayed or duplicated delivery finds its key here and is ignored.
CREATE TABLE inbound_events (
    plugin_id TEXT NOT NULL,
    event_key TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (plugin_id, event_key)
);

-- Comments and mentions of a connected account, from webhooks or polling.
CREATE TABLE inbox_items (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    plugin_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('comment', 'mention')),
    remote_id TEXT NOT NULL,
    post_remote_id TEXT,
    parent_remote_id TEXT,
    -- The post target the comment is on, when it is one of ours.
    target_id TEXT,
    author_name TEXT NOT NULL,
    author_id TEXT,
    text TEXT NOT NULL,
    remote_created_at TIMESTAMPTZ NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('webhook', 'poll')),
    state TEXT NOT NULL CHECK (state IN ('pending', 'handled', 'ignored')),
    draft TEXT,
    -- Who wrote the draft: `ai`, `person` or `rule`.
    draft_source TEXT,
    -- The reply: NULL (none), `queued`, `sent` or `failed`.
    reply_status TEXT,
    reply_text TEXT,
    reply_remote_id TEXT,
    reply_error TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    UNIQUE (account_id, remote_id)
);
CREATE INDEX inbox_items_list ON inbox_items(workspace_id, state, id);

-- What happened to each inbox item, oldest first.
CREATE TABLE inbox_log (
    id TEXT PRIMARY KEY NOT NULL,
    item_id TEXT NOT NULL REFERENCES inbox_items(id) ON DELETE CASCADE,
    actor_id TEXT,
    action TEXT NOT NULL,
    details TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX inbox_log_item ON inbox_log(item_id, id);

-- Auto-reply rules of an account: a comment containing `keyword` gets the template as
-- its reply, or an AI draft, sent without review. Disabled unless turned on.
CREATE TABLE auto_reply_rules (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    keyword TEXT NOT NULL,
    mode TEXT NOT NULL CHECK (mode IN ('template', 'ai')),
    template TEXT,
    enabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX auto_reply_rules_account ON auto_reply_rules(account_id, created_at);

-- Where comment polling of one post (or the account, post '') left off.
CREATE TABLE comment_cursors (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    post_remote_id TEXT NOT NULL,
    cursor TEXT,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (account_id, post_remote_id)
);

-- When periodic engagement work (`poll-comments`, `refresh-metrics`) last ran per account.
CREATE TABLE engagement_runs (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    ran_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (account_id, kind)
);

-- Metric samples: of the account (target_id NULL) or of one published post target.
CREATE TABLE metric_samples (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    target_id TEXT REFERENCES post_targets(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    captured_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX metric_samples_account ON metric_samples(account_id, target_id, captured_at);
CREATE INDEX metric_samples_target ON metric_samples(target_id, captured_at);
