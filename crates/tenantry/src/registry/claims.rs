//! One tenant per database: the claims tenants hold on their (server, database, schema).
//!
//! A tenant row claims its (server, database, schema) from its creation until its database is
//! gone (dropped or detached by a delete): a unique index (`tenants_one_per_database`) holds every
//! unreleased claim, and [`Registry::check_database_free`] answers the overlaps an index cannot
//! see (a whole database against a schema in it) with [`RegistryError::DatabaseInUse`], naming the
//! field. Provisioning records when it started (claimed) and finished (created) a tenant's
//! database, so a retry adopts only what this tenant created, and a delete drops only that.

use super::{Registry, RegistryError, Result};
use crate::db;
use crate::tenant::{DatabaseName, TenantCode};
use sqlx::AnyConnection;
use uuid::Uuid;

/// What a tenant's provisioning did to its database (or schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DatabaseClaim {
    /// Its create step started: the database, if present, was made for this tenant.
    pub claimed: bool,
    /// Its create step finished.
    pub created: bool,
    /// The tenant gave its database up (deleted: dropped or detached).
    pub released: bool,
}

impl Registry {
    /// `Ok` when no tenant holds `database` (or, with `schema`, that schema or the whole database)
    /// on server `server_id`; `DatabaseInUse` naming the field and the holder otherwise.
    pub async fn check_database_free(
        &self,
        server_id: Uuid,
        server_name: &str,
        database: &DatabaseName,
        schema: Option<&DatabaseName>,
    ) -> Result<()> {
        let mut conn = self.pool().acquire().await?;
        let found = self
            .claim_holder(&mut conn, server_id, database, schema)
            .await?;
        match found {
            Some((holder, holder_schema)) => Err(in_use(
                server_name,
                database,
                schema,
                &holder,
                holder_schema.as_deref(),
            )),
            None => Ok(()),
        }
    }

    /// The code (and schema) of a tenant whose claim overlaps (`database`, `schema`).
    pub(super) async fn claim_holder(
        &self,
        conn: &mut AnyConnection,
        server_id: Uuid,
        database: &DatabaseName,
        schema: Option<&DatabaseName>,
    ) -> Result<Option<(String, Option<String>)>> {
        let base =
            "SELECT code, schema_name FROM tenants WHERE server_id = ? AND database_name = ? \
                    AND database_released_at IS NULL";
        let q = match schema {
            None => format!("{base} LIMIT 1"),
            Some(_) => format!("{base} AND (schema_name IS NULL OR schema_name = ?) LIMIT 1"),
        };
        let q = self.sql(&q);
        let mut query = sqlx::query_as::<_, (String, Option<String>)>(&q)
            .bind(server_id.to_string())
            .bind(database.as_str());
        if let Some(s) = schema {
            query = query.bind(s.as_str());
        }
        Ok(query.fetch_optional(&mut *conn).await?)
    }

    /// What tenant `code`'s provisioning did to its database.
    pub async fn database_claim(&self, code: &TenantCode) -> Result<DatabaseClaim> {
        let q = "SELECT database_claimed_at, database_created_at, database_released_at \
                 FROM tenants WHERE code = ?";
        let row: Option<(Option<String>, Option<String>, Option<String>)> =
            sqlx::query_as(&self.sql(q))
                .bind(code.as_str())
                .fetch_optional(self.pool())
                .await?;
        let (claimed, created, released) =
            row.ok_or_else(|| RegistryError::NotFound(format!("tenant {code}")))?;
        Ok(DatabaseClaim {
            claimed: claimed.is_some(),
            created: created.is_some(),
            released: released.is_some(),
        })
    }

    /// Records that tenant `code`'s create step starts (before anything is created), or, with
    /// `false`, that it never created anything (it refused a database it found).
    pub async fn set_database_claimed(&self, code: &TenantCode, claimed: bool) -> Result<()> {
        let value = claimed.then(db::now);
        self.update_columns(code, "database_claimed_at = ?", vec![value])
            .await
    }

    /// Records that tenant `code`'s database (or schema) was created by its own provisioning.
    pub async fn set_database_created(&self, code: &TenantCode) -> Result<()> {
        self.update_columns(code, "database_created_at = ?", vec![Some(db::now())])
            .await
    }

    /// The last provisioning step done (`None` once the tenant is active).
    pub async fn set_provisioning_step(&self, code: &TenantCode, step: Option<&str>) -> Result<()> {
        let step = step.map(str::to_owned);
        self.update_columns(code, "provisioning_step = ?", vec![step])
            .await
    }
}

/// The refusal of a claim that overlaps `holder`'s, naming the field that collides.
pub(super) fn in_use(
    server: &str,
    database: &DatabaseName,
    schema: Option<&DatabaseName>,
    holder: &str,
    holder_schema: Option<&str>,
) -> RegistryError {
    let (field, message) = match (schema, holder_schema) {
        (Some(s), Some(h)) if s.as_str() == h => (
            "schema",
            format!("schema {s} of database {database} on server {server} belongs to tenant {holder}"),
        ),
        (_, Some(h)) => (
            "database",
            format!("database {database} on server {server} holds schema {h} of tenant {holder}; a tenant of its own database cannot share it"),
        ),
        (_, None) => (
            "database",
            format!("database {database} on server {server} belongs to tenant {holder}"),
        ),
    };
    RegistryError::DatabaseInUse { field, message }
}
