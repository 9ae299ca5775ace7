-- A tenant's users epoch: bumped whenever one of its users is disabled, enabled, re-keyed or given
-- another role (and when its database is restored). The update bumps the change stamp like any
-- write to tenants, so every router drops the tenant's config at its next poll and, with it, the
-- user statuses it cached under the old epoch: a disabled user's token stops working everywhere
-- within `[cache] poll`, however long statuses are otherwise trusted.
ALTER TABLE tenants ADD COLUMN users_epoch BIGINT NOT NULL DEFAULT 0;
