-- AI assistance: per-workspace provider settings, strategist conversations with their
-- messages, and the token usage of every provider call (the basis of monthly limits).
CREATE TABLE ai_settings (
    workspace_id TEXT PRIMARY KEY NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    -- JSON array of {"plugin": "...", "model": "..."|null}, in fallback order.
    providers TEXT NOT NULL,
    brand_voice TEXT,
    monthly_token_limit BIGINT,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE ai_conversations (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    created_by TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX ai_conversations_workspace ON ai_conversations(workspace_id, updated_at);

CREATE TABLE ai_messages (
    id TEXT PRIMARY KEY NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES ai_conversations(id) ON DELETE CASCADE,
    -- user, assistant
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    -- complete, cancelled (client went away mid-stream), failed (provider error)
    status TEXT NOT NULL,
    provider TEXT,
    model TEXT,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX ai_messages_conversation ON ai_messages(conversation_id, created_at, id);

CREATE TABLE ai_usage (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id TEXT,
    -- chat, improve, improve-prompt, adapt, hashtags, cta, image, speech, or a caller's own
    purpose TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    input_tokens BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    -- the provider reported no usage; the counts are estimated from the text lengths
    estimated BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX ai_usage_workspace ON ai_usage(workspace_id, created_at);
