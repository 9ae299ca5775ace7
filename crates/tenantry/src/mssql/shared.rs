//! Shared placement: one schema per tenant in a shared database.
//!
//! SQL Server has no session `search_path`, so each such tenant connects with a login of its own
//! whose database user has the tenant's schema as `DEFAULT_SCHEMA`: unqualified names (the tenant
//! migrations, the data API, an application's own T-SQL) resolve in that schema. The user owns
//! its schema (`CREATE SCHEMA … AUTHORIZATION`) and nothing else, so it cannot read another
//! tenant's schema or the shared database's `dbo`. The admin login cannot stand in for it: a
//! `sysadmin` is `dbo` in every database, whose default schema is always `dbo`.
//!
//! SQL Server also wants `CREATE TABLE` (and view, procedure, function) granted in the database
//! before a schema owner can create objects; Babelfish refuses database-level `GRANT`s ("not
//! currently supported") and lets a schema's owner create in it without them, so that refusal is
//! passed over.

use super::admin::{batch, close, count, kill_sessions};
use super::ident::{generated_password_literal, nstring, quoted};
use super::{MssqlAdmin, MssqlClient, MssqlError};
use crate::tenant::DatabaseName;
use secrecy::SecretString;

/// What a tenant's user may create in the shared database (in its own schema only).
const GRANTS: &str = "GRANT CREATE TABLE, CREATE VIEW, CREATE PROCEDURE, CREATE FUNCTION TO";

impl MssqlAdmin {
    /// Creates (or, on a retry, re-passwords) login `login`, its user in `database` with default
    /// schema `schema`, and `schema` owned by that user. Idempotent. `password` must be
    /// alphanumeric (see [`super::generate_login_password`]).
    #[tracing::instrument(skip(self, password), fields(server = %self.options.host))]
    pub async fn create_schema_tenant(
        &self,
        database: &DatabaseName,
        schema: &DatabaseName,
        login: &DatabaseName,
        password: &SecretString,
    ) -> Result<(), MssqlError> {
        let literal = generated_password_literal(password)?;
        let exists = self.login_exists(login).await?;
        let mut client = self.connect().await?;
        let verb = if exists { "ALTER" } else { "CREATE" };
        let sql = format!("{verb} LOGIN {} WITH PASSWORD = {literal}", quoted(login));
        let created = batch(&mut client, "create login", &sql).await;
        close(client).await;
        created?;
        let mut client = self.connect_to(database.as_str()).await?;
        let result = schema_user(&mut client, schema, login).await;
        close(client).await;
        result
    }

    /// Drops `schema` of `database` with everything in it, then the tenant's user there and its
    /// login. Idempotent.
    #[tracing::instrument(skip(self), fields(server = %self.options.host))]
    pub async fn drop_schema_tenant(
        &self,
        database: &DatabaseName,
        schema: &DatabaseName,
        login: &DatabaseName,
    ) -> Result<(), MssqlError> {
        self.drop_schema(database, schema).await?;
        let mut client = self.connect_to(database.as_str()).await?;
        let result = async {
            kill_sessions(&mut client, "login_name = @P1", login.as_str()).await?;
            let sql = format!(
                "IF USER_ID({}) IS NOT NULL DROP USER {}",
                nstring(login.as_str()),
                quoted(login)
            );
            batch(&mut client, "drop user", &sql).await
        }
        .await;
        close(client).await;
        result?;
        self.drop_login(login).await
    }
}

/// In the shared database: the user (default schema set), the schema it owns, its grants.
async fn schema_user(
    client: &mut MssqlClient,
    schema: &DatabaseName,
    login: &DatabaseName,
) -> Result<(), MssqlError> {
    let (s, u) = (quoted(schema), quoted(login));
    let users = count(
        client,
        "find user",
        "SELECT COUNT(*) FROM sys.database_principals WHERE name = @P1",
        login.as_str(),
    )
    .await?;
    let sql = if users == 0 {
        format!("CREATE USER {u} FOR LOGIN {u} WITH DEFAULT_SCHEMA = {s}")
    } else {
        format!("ALTER USER {u} WITH DEFAULT_SCHEMA = {s}")
    };
    batch(client, "create user", &sql).await?;
    match schema_owner(client, schema).await? {
        None => {
            // `CREATE SCHEMA` must open its batch.
            let sql = format!("CREATE SCHEMA {s} AUTHORIZATION {u}");
            batch(client, "create schema", &sql).await?;
        }
        Some(owner) if owner != login.as_str() => {
            let sql = format!("ALTER AUTHORIZATION ON SCHEMA::{s} TO {u}");
            batch(client, "give the schema to its tenant", &sql).await?;
        }
        Some(_) => {}
    }
    match batch(client, "grant create", &format!("{GRANTS} {u}")).await {
        Err(e) if is_unsupported(&e) => Ok(()),
        other => other,
    }
}

/// The name of the principal owning `schema`; `None` when there is no such schema.
async fn schema_owner(
    client: &mut MssqlClient,
    schema: &DatabaseName,
) -> Result<Option<String>, MssqlError> {
    let row = client
        .query(
            "SELECT COALESCE(p.name, N'') FROM sys.schemas s \
             LEFT JOIN sys.database_principals p ON p.principal_id = s.principal_id \
             WHERE s.name = @P1",
            &[&schema.as_str()],
        )
        .await
        .map_err(MssqlError::query("read schema owner"))?
        .into_row()
        .await
        .map_err(MssqlError::query("read schema owner"))?;
    Ok(row.and_then(|r| r.get::<&str, _>(0).map(str::to_owned)))
}

/// Babelfish's answer to a statement it does not implement.
fn is_unsupported(e: &MssqlError) -> bool {
    e.server_message()
        .is_some_and(|m| m.contains("not currently supported in Babelfish"))
}
