-- Tenant schema v2 (MySQL/MariaDB): real timestamps, DATETIME(6) in UTC (connections use time zone
-- +00:00), converted from the v1 RFC 3339 text ('2026-11-23T17:20:12.123Z' → '2026-11-23 17:20:12.123'),
-- and tenant users that can be disabled.
UPDATE users SET created_at = REPLACE(REPLACE(created_at, 'T', ' '), 'Z', '');
ALTER TABLE users
    MODIFY created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    ADD COLUMN updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE users SET updated_at = created_at;

UPDATE customers SET created_at = REPLACE(REPLACE(created_at, 'T', ' '), 'Z', ''),
                     updated_at = REPLACE(REPLACE(updated_at, 'T', ' '), 'Z', '');
ALTER TABLE customers
    MODIFY created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    MODIFY updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6);

UPDATE sites SET created_at = REPLACE(REPLACE(created_at, 'T', ' '), 'Z', ''),
                 updated_at = REPLACE(REPLACE(updated_at, 'T', ' '), 'Z', '');
ALTER TABLE sites
    MODIFY created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    MODIFY updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6);

UPDATE tickets SET created_at = REPLACE(REPLACE(created_at, 'T', ' '), 'Z', ''),
                   updated_at = REPLACE(REPLACE(updated_at, 'T', ' '), 'Z', '');
ALTER TABLE tickets
    MODIFY created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    MODIFY updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6);
CREATE INDEX tickets_assigned ON tickets(assigned_to);
