-- One tenant per (server, database, schema), tombstones included until their database is gone, and
-- provisioning that outlives the process which started it.
--
-- database_claimed_at  this tenant's create step started: a retry may adopt the database only then
--                      (an empty one), and a delete drops only a database the tenant claimed;
-- database_created_at  this tenant's database (or schema) was created by its own provisioning;
-- database_released_at the tenant no longer holds its (server, database, schema): its database was
--                      dropped or detached when it was deleted;
-- provisioning_step    the last provisioning step done (shown while provisioning; tells a restart
--                      whether the admin user exists, i.e. whether it can resume without a password).
ALTER TABLE tenants ADD COLUMN database_claimed_at TEXT;
ALTER TABLE tenants ADD COLUMN database_created_at TEXT;
ALTER TABLE tenants ADD COLUMN database_released_at TEXT;
ALTER TABLE tenants ADD COLUMN provisioning_step TEXT;

-- Tombstones: their database was dropped (or detached) by the delete that made them.
UPDATE tenants SET database_released_at = COALESCE(deleted_at, updated_at) WHERE status = 'deleted';
-- Every other tenant of ours created its own database (the old provisioning adopted whatever it
-- found, so this is the best knowledge there is).
UPDATE tenants SET database_claimed_at = created_at, database_created_at = created_at
    WHERE status <> 'deleted' AND placement <> 'external';
-- Tenants that share a database with an older tenant (the lossy names of old: `AB-1` and `AB_1`)
-- were never isolated: they are marked failed, give up their claim (so a delete never drops the
-- older tenant's database) and wait for an operator.
UPDATE tenants
    SET status = 'failed',
        status_reason = 'shares database ' || database_name || ' with an older tenant (found by registry migration 0003): it was never isolated; move its data and delete it',
        database_released_at = updated_at,
        database_claimed_at = NULL,
        database_created_at = NULL
    WHERE database_released_at IS NULL
      AND EXISTS (
        SELECT 1 FROM tenants o
        WHERE o.database_released_at IS NULL
          AND o.server_id = tenants.server_id
          AND o.database_name = tenants.database_name
          AND COALESCE(o.schema_name, '') = COALESCE(tenants.schema_name, '')
          AND (o.created_at < tenants.created_at OR (o.created_at = tenants.created_at AND o.id < tenants.id))
      );

CREATE UNIQUE INDEX tenants_one_per_database
    ON tenants (server_id, database_name, COALESCE(schema_name, ''))
    WHERE database_released_at IS NULL;
