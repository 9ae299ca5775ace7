-- Change stamps: every write to a table a tenant config or the host index is built from bumps a
-- counter here, in the writer's own transaction, whichever process made it (a server, the CLI,
-- another router instance). Routers poll this one row instead of re-reading configs on a timer.
--
-- stamp   any change at all (the cheap "anything new?" check);
-- names   a change to tenant codes, subdomains or custom domains (the host index is stale);
-- shared  a change to data servers or plans, which many tenants' configs are built from.
-- tenant_stamps says which tenants changed since a given stamp, so a change to one tenant costs
-- one re-read of that tenant, not of every cached one. It holds one row per tenant ever changed
-- (bounded by the tenants, never by the writes).
--
-- Why a counter row and not a sequence: the row lock orders the writers, so stamps become visible
-- in the order they were taken. A sequence value is taken before commit and may become visible
-- after a larger one, and a poller that already moved past it would miss that change for good.
CREATE TABLE registry_stamp (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    stamp  BIGINT NOT NULL,
    names  BIGINT NOT NULL,
    shared BIGINT NOT NULL
);
INSERT INTO registry_stamp (id, stamp, names, shared) VALUES (1, 0, 0, 0);

CREATE TABLE tenant_stamps (
    tenant_id TEXT PRIMARY KEY,
    stamp     BIGINT NOT NULL
);
CREATE INDEX tenant_stamps_stamp ON tenant_stamps(stamp);

-- Bumps the stamp (and `names` when asked) and marks `tenant` changed at the new stamp.
CREATE FUNCTION registry_stamp_tenant(tenant TEXT, renamed BOOLEAN) RETURNS VOID AS $$
DECLARE
    now_stamp BIGINT;
BEGIN
    UPDATE registry_stamp
        SET stamp = stamp + 1, names = names + CASE WHEN renamed THEN 1 ELSE 0 END
        WHERE id = 1
        RETURNING stamp INTO now_stamp;
    INSERT INTO tenant_stamps (tenant_id, stamp) VALUES (tenant, now_stamp)
        ON CONFLICT (tenant_id) DO UPDATE SET stamp = excluded.stamp;
END;
$$ LANGUAGE plpgsql;

-- Tenants: the row itself; codes and subdomains also feed the host index.
CREATE FUNCTION tenants_stamp() RETURNS TRIGGER AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM registry_stamp_tenant(OLD.id, TRUE);
    ELSIF TG_OP = 'INSERT' THEN
        PERFORM registry_stamp_tenant(NEW.id, TRUE);
    ELSE
        PERFORM registry_stamp_tenant(NEW.id,
            NEW.code IS DISTINCT FROM OLD.code OR NEW.subdomain IS DISTINCT FROM OLD.subdomain);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER tenants_stamp AFTER INSERT OR UPDATE OR DELETE ON tenants
    FOR EACH ROW EXECUTE FUNCTION tenants_stamp();

-- Custom domains: part of their tenant's config and of the host index.
CREATE FUNCTION tenant_domains_stamp() RETURNS TRIGGER AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM registry_stamp_tenant(OLD.tenant_id, TRUE);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        PERFORM registry_stamp_tenant(NEW.tenant_id, TRUE);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER tenant_domains_stamp AFTER INSERT OR UPDATE OR DELETE ON tenant_domains
    FOR EACH ROW EXECUTE FUNCTION tenant_domains_stamp();

-- Data servers and plans: shared by many tenants' configs (one bump per statement is enough).
CREATE FUNCTION shared_stamp() RETURNS TRIGGER AS $$
BEGIN
    UPDATE registry_stamp SET stamp = stamp + 1, shared = shared + 1 WHERE id = 1;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER data_servers_stamp AFTER INSERT OR UPDATE OR DELETE ON data_servers
    FOR EACH STATEMENT EXECUTE FUNCTION shared_stamp();
CREATE TRIGGER plans_stamp AFTER INSERT OR UPDATE OR DELETE ON plans
    FOR EACH STATEMENT EXECUTE FUNCTION shared_stamp();
