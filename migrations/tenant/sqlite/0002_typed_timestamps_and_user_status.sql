-- Tenant schema v2 (SQLite): SQLite has no timestamp type; timestamps stay RFC 3339 text in UTC,
-- which the driver reads as a timestamp. Tenant users can be disabled.
ALTER TABLE users ADD COLUMN updated_at TEXT;
UPDATE users SET updated_at = created_at;
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
CREATE INDEX tickets_assigned ON tickets(assigned_to);
