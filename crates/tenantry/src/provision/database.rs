//! The database steps of provisioning: the tenant's own database (dedicated) or schema (shared),
//! created under a claim recorded in the registry, and its own login when configured.
//!
//! Adoption rules (one tenant per database): a first run refuses a database (or schema) that is
//! already there; a retry adopts one only when this tenant created it, or when this tenant had
//! started creating it (the claim) and it is still empty: what a crash between `CREATE DATABASE`
//! and the registry write leaves behind.

use super::{step, Progress, ProvisionError, Provisioner, ServerAdmin};
use crate::registry::{DataServer, Tenant};
use crate::tenant::{DatabaseName, Engine, Placement};

impl Provisioner {
    /// Creates (or, on a retry, adopts) the tenant's database, its login and its schema.
    pub(super) async fn database_steps(
        &self,
        tenant: &Tenant,
        done: Progress<'_>,
    ) -> Result<(), ProvisionError> {
        let server = self.registry.server(tenant.server_id).await?;
        let admin = ServerAdmin {
            server: &server,
            password: self.registry.server_admin_password(server.id).await?,
        };
        let own_schema = tenant.schema.as_ref();
        if own_schema.is_none() {
            self.claim(&admin, tenant).await?;
        }
        admin
            .create_database(&tenant.database)
            .await
            .map_err(step("create database"))?;
        self.step_done(&tenant.code, "create database", done)
            .await?;
        if self.own_user(tenant, &server) {
            self.database_user(&admin, tenant).await?;
            self.step_done(&tenant.code, "database user", done).await?;
        }
        if let Some(schema) = own_schema {
            self.claim(&admin, tenant).await?;
            self.schema(&admin, tenant, schema).await?;
            self.step_done(&tenant.code, "create schema", done).await?;
        }
        let claim = self.registry.database_claim(&tenant.code).await?;
        if !claim.created {
            self.registry.set_database_created(&tenant.code).await?;
        }
        Ok(())
    }

    /// Checks that the tenant may use its database (or schema) as found on the server, and records
    /// the claim before anything is created.
    async fn claim(&self, admin: &ServerAdmin<'_>, tenant: &Tenant) -> Result<(), ProvisionError> {
        let claim = self.registry.database_claim(&tenant.code).await?;
        if claim.created {
            return Ok(());
        }
        let schema = tenant.schema.as_ref();
        let stage = step("create database");
        let found = match schema {
            Some(s) => admin.schema_exists(&tenant.database, s).await,
            None => admin.database_exists(&tenant.database).await,
        };
        if found.map_err(stage)? {
            let empty = admin.is_empty(&tenant.database, schema).await;
            let adoptable = claim.claimed && empty.map_err(step("create database"))?;
            if !adoptable {
                return Err(found_on_server(admin.server, tenant));
            }
        }
        if !claim.claimed {
            self.registry
                .set_database_claimed(&tenant.code, true)
                .await?;
        }
        Ok(())
    }

    /// Whether the tenant gets a login of its own (`separate_db_users`, dedicated, not SQLite).
    fn own_user(&self, tenant: &Tenant, server: &DataServer) -> bool {
        self.separate_db_users
            && tenant.placement == Placement::Dedicated
            && server.engine != Engine::Sqlite
    }

    /// Creates a shared tenant's schema. SQL Server has no search_path: there the tenant also gets
    /// a login whose user defaults to (and owns) its schema (see `mssql::shared`).
    async fn schema(
        &self,
        admin: &ServerAdmin<'_>,
        tenant: &Tenant,
        schema: &DatabaseName,
    ) -> Result<(), ProvisionError> {
        let database = &tenant.database;
        if admin.server.engine != Engine::Mssql {
            return admin
                .create_schema(database, schema)
                .await
                .map_err(step("create schema"));
        }
        let user = super::tenant_login(database, Some(schema))?;
        let password = super::login_password(Engine::Mssql);
        admin
            .mssql()
            .create_schema_tenant(database, schema, &user, &password)
            .await
            .map_err(step("create schema"))?;
        self.registry
            .set_tenant_credentials(&tenant.code, user.as_str(), &password)
            .await?;
        Ok(())
    }

    /// Creates (or re-passwords) the tenant's own login, owner of its database only.
    async fn database_user(
        &self,
        admin: &ServerAdmin<'_>,
        tenant: &Tenant,
    ) -> Result<(), ProvisionError> {
        let user = DatabaseName::user_for(&tenant.database, tenant.id);
        let password = super::login_password(admin.server.engine);
        admin
            .create_tenant_user(&tenant.database, &user, &password)
            .await
            .map_err(step("database user"))?;
        self.registry
            .set_tenant_credentials(&tenant.code, user.as_str(), &password)
            .await?;
        Ok(())
    }
}

/// The refusal of a database (or schema) that exists on the server but was not created for
/// `tenant`.
fn found_on_server(server: &DataServer, tenant: &Tenant) -> ProvisionError {
    let (field, message) = exists_refusal(server, &tenant.database, tenant.schema.as_ref());
    ProvisionError::DatabaseInUse { field, message }
}

/// The field and message of refusing a database (or schema) found on `server`.
pub(crate) fn exists_refusal(
    server: &DataServer,
    database: &DatabaseName,
    schema: Option<&DatabaseName>,
) -> (&'static str, String) {
    let (field, what) = match schema {
        Some(s) => ("schema", format!("schema {s} of database {database}")),
        None => ("database", format!("database {database}")),
    };
    (
        field,
        format!(
            "{what} already exists on server {}; tenantry never adopts a database it did not \
             create",
            server.name
        ),
    )
}
