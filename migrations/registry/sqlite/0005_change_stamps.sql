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
CREATE TABLE registry_stamp (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    stamp  INTEGER NOT NULL,
    names  INTEGER NOT NULL,
    shared INTEGER NOT NULL
);
INSERT INTO registry_stamp (id, stamp, names, shared) VALUES (1, 0, 0, 0);

CREATE TABLE tenant_stamps (
    tenant_id TEXT PRIMARY KEY,
    stamp     INTEGER NOT NULL
);
CREATE INDEX tenant_stamps_stamp ON tenant_stamps(stamp);

-- Tenants: the row itself; codes and subdomains also feed the host index.
CREATE TRIGGER tenants_stamp_insert AFTER INSERT ON tenants BEGIN
    UPDATE registry_stamp SET stamp = stamp + 1, names = names + 1 WHERE id = 1;
    INSERT INTO tenant_stamps (tenant_id, stamp)
        VALUES (NEW.id, (SELECT stamp FROM registry_stamp WHERE id = 1))
        ON CONFLICT (tenant_id) DO UPDATE SET stamp = excluded.stamp;
END;
CREATE TRIGGER tenants_stamp_update AFTER UPDATE ON tenants BEGIN
    UPDATE registry_stamp SET stamp = stamp + 1 WHERE id = 1;
    INSERT INTO tenant_stamps (tenant_id, stamp)
        VALUES (NEW.id, (SELECT stamp FROM registry_stamp WHERE id = 1))
        ON CONFLICT (tenant_id) DO UPDATE SET stamp = excluded.stamp;
END;
CREATE TRIGGER tenants_stamp_rename AFTER UPDATE OF code, subdomain ON tenants BEGIN
    UPDATE registry_stamp SET names = names + 1 WHERE id = 1;
END;
CREATE TRIGGER tenants_stamp_delete AFTER DELETE ON tenants BEGIN
    UPDATE registry_stamp SET stamp = stamp + 1, names = names + 1 WHERE id = 1;
    INSERT INTO tenant_stamps (tenant_id, stamp)
        VALUES (OLD.id, (SELECT stamp FROM registry_stamp WHERE id = 1))
        ON CONFLICT (tenant_id) DO UPDATE SET stamp = excluded.stamp;
END;

-- Custom domains: part of their tenant's config and of the host index.
CREATE TRIGGER tenant_domains_stamp_insert AFTER INSERT ON tenant_domains BEGIN
    UPDATE registry_stamp SET stamp = stamp + 1, names = names + 1 WHERE id = 1;
    INSERT INTO tenant_stamps (tenant_id, stamp)
        VALUES (NEW.tenant_id, (SELECT stamp FROM registry_stamp WHERE id = 1))
        ON CONFLICT (tenant_id) DO UPDATE SET stamp = excluded.stamp;
END;
CREATE TRIGGER tenant_domains_stamp_update AFTER UPDATE ON tenant_domains BEGIN
    UPDATE registry_stamp SET stamp = stamp + 1, names = names + 1 WHERE id = 1;
    INSERT INTO tenant_stamps (tenant_id, stamp)
        VALUES (OLD.tenant_id, (SELECT stamp FROM registry_stamp WHERE id = 1))
        ON CONFLICT (tenant_id) DO UPDATE SET stamp = excluded.stamp;
    INSERT INTO tenant_stamps (tenant_id, stamp)
        VALUES (NEW.tenant_id, (SELECT stamp FROM registry_stamp WHERE id = 1))
        ON CONFLICT (tenant_id) DO UPDATE SET stamp = excluded.stamp;
END;
CREATE TRIGGER tenant_domains_stamp_delete AFTER DELETE ON tenant_domains BEGIN
    UPDATE registry_stamp SET stamp = stamp + 1, names = names + 1 WHERE id = 1;
    INSERT INTO tenant_stamps (tenant_id, stamp)
        VALUES (OLD.tenant_id, (SELECT stamp FROM registry_stamp WHERE id = 1))
        ON CONFLICT (tenant_id) DO UPDATE SET stamp = excluded.stamp;
END;

-- Data servers and plans: shared by many tenants' configs.
CREATE TRIGGER data_servers_stamp_insert AFTER INSERT ON data_servers BEGIN
    UPDATE registry_stamp SET stamp = stamp + 1, shared = shared + 1 WHERE id = 1;
END;
CREATE TRIGGER data_servers_stamp_update AFTER UPDATE ON data_servers BEGIN
    UPDATE registry_stamp SET stamp = stamp + 1, shared = shared + 1 WHERE id = 1;
END;
CREATE TRIGGER data_servers_stamp_delete AFTER DELETE ON data_servers BEGIN
    UPDATE registry_stamp SET stamp = stamp + 1, shared = shared + 1 WHERE id = 1;
END;
CREATE TRIGGER plans_stamp_insert AFTER INSERT ON plans BEGIN
    UPDATE registry_stamp SET stamp = stamp + 1, shared = shared + 1 WHERE id = 1;
END;
CREATE TRIGGER plans_stamp_update AFTER UPDATE ON plans BEGIN
    UPDATE registry_stamp SET stamp = stamp + 1, shared = shared + 1 WHERE id = 1;
END;
CREATE TRIGGER plans_stamp_delete AFTER DELETE ON plans BEGIN
    UPDATE registry_stamp SET stamp = stamp + 1, shared = shared + 1 WHERE id = 1;
END;
