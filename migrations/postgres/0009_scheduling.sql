-- Scheduling modes besides one-off: queue slots per account and recurring posts.

-- An account's posting times: a JSON list of {weekday, time} read in `timezone` (IANA),
-- so a 09:00 slot stays at 09:00 local time across daylight-saving changes.
CREATE TABLE account_slots (
    account_id TEXT PRIMARY KEY NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    timezone TEXT NOT NULL,
    slots TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- A recurring post: each occurrence of the rule (RRULE subset; DTSTART is `start_local`
-- in `timezone`) becomes a new post copied from the template post.
CREATE TABLE recurrences (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    template_post_id TEXT NOT NULL UNIQUE REFERENCES posts(id) ON DELETE CASCADE,
    rrule TEXT NOT NULL,
    start_local TEXT NOT NULL,
    timezone TEXT NOT NULL,
    created_by TEXT,
    created_at TIMESTAMPTZ NOT NULL
);

-- The post made for each occurrence, keyed by its instant (Unix ms): making an occurrence
-- twice (a job run again after a crash) finds the first one.
CREATE TABLE recurrence_occurrences (
    recurrence_id TEXT NOT NULL REFERENCES recurrences(id) ON DELETE CASCADE,
    at_ms BIGINT NOT NULL,
    post_id TEXT NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    local TEXT NOT NULL,
    PRIMARY KEY (recurrence_id, at_ms)
);
CREATE INDEX recurrence_occurrences_post ON recurrence_occurrences(post_id);

-- Which targets of an account hold an instant: taken queue slots, duplicate imports.
CREATE INDEX post_targets_account_time ON post_targets(account_id, scheduled_at);
