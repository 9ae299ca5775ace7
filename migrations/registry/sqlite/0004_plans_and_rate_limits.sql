-- Plans and per-tenant request rates. A tenant's requests/s and burst come from its plan's row
-- here unless the tenant has its own override (both rate_limit_* columns set); the router refuses
-- requests past them with 429 rate_limited.
CREATE TABLE plans (
    name                TEXT PRIMARY KEY,
    requests_per_second INTEGER NOT NULL CHECK (requests_per_second BETWEEN 1 AND 1000000),
    burst               INTEGER NOT NULL CHECK (burst BETWEEN 1 AND 1000000),
    description         TEXT
);

INSERT INTO plans (name, requests_per_second, burst, description) VALUES
    ('free',        10,   50,   'trials and small tenants'),
    ('standard',    100,  300,  'the default plan'),
    ('premium',     500,  1000, 'busy tenants'),
    ('enterprise',  2000, 4000, 'the largest tenants');

-- Plans named by existing tenants but not seeded above get the standard limits, so no tenant
-- loses its plan (an operator can change them afterwards).
INSERT INTO plans (name, requests_per_second, burst, description)
    SELECT DISTINCT plan, 100, 300, 'added by registry migration 0004 (standard limits)'
    FROM tenants WHERE plan NOT IN (SELECT name FROM plans);

-- A tenant's own limits instead of its plan's: both set, or both NULL (the plan's apply).
ALTER TABLE tenants ADD COLUMN rate_limit_rps INTEGER;
ALTER TABLE tenants ADD COLUMN rate_limit_burst INTEGER;
