-- Per-server connection cap (kept under the server's own max_connections), the registry's mirror of
-- each tenant's migration checksums (a no-op fleet run needs no tenant connection), and whether we
-- manage a tenant's schema (customer-hosted databases are migrated only when they opted in).
ALTER TABLE data_servers ADD COLUMN max_connections BIGINT;
ALTER TABLE tenants ADD COLUMN schema_checksum TEXT;
ALTER TABLE tenants ADD COLUMN schema_managed BIGINT NOT NULL DEFAULT 1;
UPDATE tenants SET schema_managed = 0 WHERE placement = 'external';
