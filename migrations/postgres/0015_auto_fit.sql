-- A post may opt in to having media that does not fit a target fitted automatically
-- while publishing (a per-platform variant can override it inside `variants`).
ALTER TABLE posts ADD COLUMN auto_fit_media BOOLEAN NOT NULL DEFAULT FALSE;
