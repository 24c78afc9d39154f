-- A refresh in flight holds a short lease on its account, so two workers (or nodes) never
-- refresh one account at once: with rotating refresh tokens the second would spend a
-- token the first already replaced.
ALTER TABLE accounts ADD COLUMN refresh_lease_until BIGINT;
