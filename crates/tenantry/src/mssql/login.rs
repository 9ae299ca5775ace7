//! Tenant logins: a SQL Server login that owns the tenant's database and nothing else.
//!
//! Least privilege: the login gets no server role and no user in any other database; it becomes
//! the owner of its own database (`ALTER AUTHORIZATION ON DATABASE`), which maps it to `dbo` there
//! and only there, the SQL Server counterpart of PostgreSQL's `ALTER DATABASE … OWNER TO`. This
//! form was chosen over `CREATE USER … FOR LOGIN` + `ALTER ROLE db_owner ADD MEMBER` because it
//! grants the same rights in one statement and also works on Babelfish, which refuses members of
//! `db_owner` and database-level `GRANT`s. Azure SQL accepts it for SQL logins as well.
//!
//! Passwords are spliced into DDL (it takes no parameters): only alphanumeric generated passwords
//! for `CREATE LOGIN`, only the characters `credentials::check_password` allows for `ALTER LOGIN`.
//! Neither ever appears in an error: errors carry the stage, and the server's messages for these
//! statements do not echo them.

use super::admin::{batch, close, count, kill_sessions};
use super::ident::{generated_password_literal, nstring, password_literal, quoted};
use super::{MssqlAdmin, MssqlError};
use crate::tenant::DatabaseName;
use secrecy::SecretString;

impl MssqlAdmin {
    /// Whether server login `login` exists.
    pub async fn login_exists(&self, login: &DatabaseName) -> Result<bool, MssqlError> {
        let mut client = self.connect().await?;
        let n = count(
            &mut client,
            "login_exists",
            "SELECT COUNT(*) FROM sys.server_principals WHERE name = @P1",
            login.as_str(),
        )
        .await;
        close(client).await;
        Ok(n? > 0)
    }

    /// Creates login `login` with `password` (or, on a retry, sets that password again) and makes
    /// it the owner of `database`. Idempotent. `password` must be alphanumeric (a generated one,
    /// see [`super::generate_login_password`]); anything else is refused before any statement runs.
    ///
    /// On SQL Server the login must not already be a user of `database` (error 15110); a freshly
    /// created tenant database has no such user.
    #[tracing::instrument(skip(self, password), fields(server = %self.options.host))]
    pub async fn create_tenant_login(
        &self,
        database: &DatabaseName,
        login: &DatabaseName,
        password: &SecretString,
    ) -> Result<(), MssqlError> {
        let literal = generated_password_literal(password)?;
        let exists = self.login_exists(login).await?;
        let mut client = self.connect().await?;
        let result = async {
            let verb = if exists { "ALTER" } else { "CREATE" };
            let sql = format!("{verb} LOGIN {} WITH PASSWORD = {literal}", quoted(login));
            batch(&mut client, "create login", &sql).await?;
            let owner = database_owner(&mut client, database).await?;
            if owner.as_deref() != Some(login.as_str()) {
                let sql = format!(
                    "ALTER AUTHORIZATION ON DATABASE::{} TO {}",
                    quoted(database),
                    quoted(login)
                );
                batch(&mut client, "make the login the database owner", &sql).await?;
            }
            Ok(())
        }
        .await;
        close(client).await;
        result
    }

    /// Sets the password of login `login` (`ALTER LOGIN … WITH PASSWORD`). Sessions already open
    /// keep working; new logins need the new password.
    #[tracing::instrument(skip(self, password), fields(server = %self.options.host))]
    pub async fn set_login_password(
        &self,
        login: &DatabaseName,
        password: &SecretString,
    ) -> Result<(), MssqlError> {
        let literal = password_literal(password)?;
        let mut client = self.connect().await?;
        let sql = format!("ALTER LOGIN {} WITH PASSWORD = {literal}", quoted(login));
        let result = batch(&mut client, "alter login", &sql).await;
        close(client).await;
        result
    }

    /// Drops login `login` if it exists, ending its sessions first (SQL Server refuses to drop a
    /// logged-in login, error 15434). Drop the tenant's database first: SQL Server also refuses
    /// to drop a login that owns a database (15174); Babelfish drops it and leaves the database
    /// without owner.
    #[tracing::instrument(skip(self), fields(server = %self.options.host))]
    pub async fn drop_login(&self, login: &DatabaseName) -> Result<(), MssqlError> {
        if !self.login_exists(login).await? {
            return Ok(());
        }
        let sql = format!(
            "IF SUSER_ID({}) IS NOT NULL DROP LOGIN {}",
            nstring(login.as_str()),
            quoted(login)
        );
        let mut attempt = 0;
        loop {
            let mut client = self.connect().await?;
            let result = async {
                kill_sessions(&mut client, "login_name = @P1", login.as_str()).await?;
                batch(&mut client, "drop login", &sql).await
            }
            .await;
            close(client).await;
            match result {
                // Logins dropped at the same time can collide on the server's catalog (Babelfish:
                // "tuple concurrently deleted"); the statement is idempotent, so it runs again.
                Err(e) => {
                    if !super::admin::wait_to_retry(&e, &mut attempt).await {
                        return Err(e);
                    }
                }
                done => return done,
            }
        }
    }
}

/// The login owning `database` (`None`: no such database, or an owner that no longer exists).
async fn database_owner(
    client: &mut super::MssqlClient,
    database: &DatabaseName,
) -> Result<Option<String>, MssqlError> {
    let row = client
        .query(
            "SELECT SUSER_SNAME(owner_sid) FROM sys.databases WHERE name = @P1",
            &[&database.as_str()],
        )
        .await
        .map_err(MssqlError::query("read database owner"))?
        .into_row()
        .await
        .map_err(MssqlError::query("read database owner"))?;
    Ok(row.and_then(|r| r.get::<&str, _>(0).map(str::to_owned)))
}
