-- Scheduling and the publishing state machine of post targets.
-- Schedules are kept as the user gave them (zone + local time) and as the UTC instant they
-- resolve to (Unix ms), so a change of zone rules can be re-resolved.
ALTER TABLE post_targets ADD COLUMN scheduled_at BIGINT;
ALTER TABLE post_targets ADD COLUMN schedule_zone TEXT;
ALTER TABLE post_targets ADD COLUMN schedule_local TEXT;
ALTER TABLE post_targets ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
-- Opaque plugin handle of a target the platform is still processing.
ALTER TABLE post_targets ADD COLUMN pending_handle TEXT;
-- JSON list of problems (field, code, message) when the platform refused the content.
ALTER TABLE post_targets ADD COLUMN problems TEXT;
ALTER TABLE post_targets ADD COLUMN published_at BIGINT;
-- Why a target waits (rate limit, quota, reconnect): shown to the user, not an error.
ALTER TABLE post_targets ADD COLUMN deferred_reason TEXT;
CREATE INDEX post_targets_status ON post_targets(status);
