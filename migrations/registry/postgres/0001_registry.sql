-- Registry schema (PostgreSQL). Holds no business data.
CREATE TABLE registry_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE data_servers (
    id                 TEXT PRIMARY KEY,
    name               TEXT NOT NULL UNIQUE,
    engine             TEXT NOT NULL,
    host               TEXT NOT NULL,
    port               BIGINT  NOT NULL DEFAULT 0,
    hosting            TEXT NOT NULL,
    region             TEXT,
    tls_mode           TEXT NOT NULL DEFAULT 'prefer',
    admin_username     TEXT,
    admin_password_enc TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);

CREATE TABLE tenants (
    id                   TEXT PRIMARY KEY,
    code                 TEXT NOT NULL UNIQUE,
    name                 TEXT NOT NULL,
    subdomain            TEXT UNIQUE,
    status               TEXT NOT NULL,
    status_reason        TEXT,
    placement            TEXT NOT NULL,
    engine               TEXT NOT NULL,
    server_id            TEXT NOT NULL REFERENCES data_servers(id),
    database_name        TEXT NOT NULL,
    schema_name          TEXT,
    username             TEXT,
    password_enc         TEXT,
    hosting              TEXT NOT NULL,
    region               TEXT,
    max_connections      BIGINT  NOT NULL DEFAULT 5,
    acquire_timeout_ms   BIGINT  NOT NULL DEFAULT 3000,
    statement_timeout_ms BIGINT  NOT NULL DEFAULT 30000,
    schema_version       BIGINT,
    plan                 TEXT NOT NULL DEFAULT 'standard',
    notes                TEXT,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL,
    deleted_at           TEXT
);
CREATE INDEX tenants_server ON tenants(server_id);

CREATE TABLE tenant_domains (
    domain     TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL
);
CREATE INDEX tenant_domains_tenant ON tenant_domains(tenant_id);

CREATE TABLE owner_users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL
);

CREATE TABLE audit_log (
    id         BIGSERIAL PRIMARY KEY,
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    tenant_id  TEXT,
    detail     TEXT,
    result     TEXT NOT NULL
);
CREATE INDEX audit_log_tenant ON audit_log(tenant_id);
