//! The tenant migrator for SQL Server (sqlx's migrator has no SQL Server driver).
//!
//! Migrations are the T-SQL files of `migrations/tenant/mssql`, embedded in the binary. A tenant
//! database records what it applied in `_tenantry_migrations` (version, description, SHA-384 of the
//! text, time, success). [`migrate`] takes a session application lock (`sp_getapplock`) so two
//! migrators never interleave, refuses to run when an applied migration's checksum changed or the
//! database knows a version this binary does not, then applies each pending version in its own
//! transaction with `XACT_ABORT ON`: a failing migration leaves nothing behind.
//!
//! A file may hold several batches separated by lines reading `GO` (as in `sqlcmd`), for
//! statements that must open a batch (`CREATE VIEW`, `CREATE PROCEDURE`, …).
//!
//! Unqualified names resolve in the connection user's default schema (`dbo` for a database's
//! owner), so the same files serve a shared-placement tenant whose user defaults to its schema.

use super::admin::batch;
use super::{MssqlClient, MssqlError};
use sha2::{Digest, Sha384};
use std::borrow::Cow;

/// One versioned migration.
#[derive(Debug, Clone)]
pub struct Migration {
    pub version: i64,
    pub description: Cow<'static, str>,
    pub sql: Cow<'static, str>,
}

impl Migration {
    /// SHA-384 of the text, as stored in `_tenantry_migrations.checksum`.
    pub fn checksum(&self) -> Vec<u8> {
        Sha384::digest(self.sql.as_bytes()).to_vec()
    }

    /// The batches of the text, split on `GO` lines; empty batches are dropped.
    fn batches(&self) -> Vec<String> {
        let mut out = vec![String::new()];
        for line in self.sql.lines() {
            if line.trim().eq_ignore_ascii_case("go") {
                out.push(String::new());
            } else if let Some(last) = out.last_mut() {
                last.push_str(line);
                last.push('\n');
            }
        }
        out.retain(|b| {
            b.lines()
                .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"))
        });
        out
    }
}

macro_rules! embedded {
    ($version:literal, $description:literal, $file:literal) => {
        Migration {
            version: $version,
            description: Cow::Borrowed($description),
            sql: Cow::Borrowed(include_str!(concat!(
                "../../../../migrations/tenant/mssql/",
                $file
            ))),
        }
    };
}

/// Prefix of the application lock's name (the database and the session's default schema follow:
/// tenants sharing a database each migrate their own schema).
const LOCK: &str = "N'tenantry_migrations:'";

/// The migrations embedded in this binary, in version order.
pub static MIGRATIONS: &[Migration] = &[
    embedded!(1, "field service", "0001_field_service.sql"),
    embedded!(2, "users disabled", "0002_users_disabled.sql"),
];

/// The newest version this binary knows.
pub fn latest_version() -> i64 {
    MIGRATIONS.iter().map(|m| m.version).max().unwrap_or(0)
}

/// The outcome of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrateReport {
    /// Versions applied by this run, in order (empty: the database was current).
    pub applied: Vec<i64>,
    /// The database's version afterwards.
    pub version: i64,
}

/// Applies every pending embedded migration on `client`'s database.
pub async fn migrate(client: &mut MssqlClient) -> Result<MigrateReport, MssqlError> {
    run(client, MIGRATIONS).await
}

/// The newest successfully applied version; `None` for a database never migrated.
pub async fn applied_version(client: &mut MssqlClient) -> Result<Option<i64>, MssqlError> {
    if !table_exists(client).await? {
        return Ok(None);
    }
    let row = client
        .simple_query("SELECT MAX(version) FROM _tenantry_migrations WHERE success = 1")
        .await
        .map_err(MssqlError::query("read applied version"))?
        .into_row()
        .await
        .map_err(MssqlError::query("read applied version"))?;
    Ok(row.and_then(|r| r.get::<i64, _>(0)))
}

/// Applies the pending ones of `migrations` (sorted by version) on `client`'s database.
pub async fn run(
    client: &mut MssqlClient,
    migrations: &[Migration],
) -> Result<MigrateReport, MssqlError> {
    batch(client, "migrate: session settings", "SET XACT_ABORT ON").await?;
    lock(client).await?;
    let result = run_locked(client, migrations).await;
    let release = format!(
        "DECLARE @res NVARCHAR(255) = {LOCK} + DB_NAME() + N'.' + SCHEMA_NAME(); \
         EXEC sp_releaseapplock @Resource = @res, @LockOwner = N'Session'"
    );
    let _ = batch(client, "migrate: release lock", &release).await;
    result
}

async fn run_locked(
    client: &mut MssqlClient,
    migrations: &[Migration],
) -> Result<MigrateReport, MssqlError> {
    ensure_table(client).await?;
    let applied = applied(client).await?;
    for (version, checksum) in &applied {
        match migrations.iter().find(|m| m.version == *version) {
            None => return Err(MssqlError::UnknownVersion { version: *version }),
            Some(m) if &m.checksum() != checksum => {
                return Err(MssqlError::ChecksumMismatch { version: *version })
            }
            Some(_) => {}
        }
    }
    let mut pending: Vec<&Migration> = migrations
        .iter()
        .filter(|m| !applied.iter().any(|(v, _)| *v == m.version))
        .collect();
    pending.sort_by_key(|m| m.version);
    let mut report = MigrateReport {
        applied: Vec::new(),
        version: applied.iter().map(|(v, _)| *v).max().unwrap_or(0),
    };
    for m in pending {
        apply(client, m).await?;
        report.applied.push(m.version);
        report.version = report.version.max(m.version);
    }
    Ok(report)
}

/// One migration and its record, in one transaction.
async fn apply(client: &mut MssqlClient, m: &Migration) -> Result<(), MssqlError> {
    let failed = |source| MssqlError::Migration {
        version: m.version,
        description: m.description.to_string(),
        source: Box::new(source),
    };
    let result = async {
        client.simple_query("BEGIN TRANSACTION").await?.into_results().await?;
        for sql in m.batches() {
            client.simple_query(sql).await?.into_results().await?;
        }
        client
            .execute(
                "INSERT INTO _tenantry_migrations (version, description, checksum, installed_on, success) \
                 VALUES (@P1, @P2, @P3, SYSUTCDATETIME(), 1)",
                &[&m.version, &m.description.as_ref(), &m.checksum().as_slice()],
            )
            .await?;
        client.simple_query("COMMIT TRANSACTION").await?.into_results().await?;
        Ok::<(), tiberius::error::Error>(())
    }
    .await;
    if let Err(e) = result {
        // XACT_ABORT has usually rolled back already; make sure of it either way.
        let _ = batch(
            client,
            "migrate: rollback",
            "IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION",
        )
        .await;
        return Err(failed(e));
    }
    tracing::info!(version = m.version, description = %m.description, "applied tenant migration");
    Ok(())
}

/// Waits up to 60 s for the exclusive session lock `tenantry_migrations:<database>.<schema>`. SQL
/// Server scopes application locks to the database already; Babelfish keeps every T-SQL database
/// in one PostgreSQL database, so the name carries the database (and the schema, for tenants
/// sharing a database) to keep tenants from queueing on each other.
async fn lock(client: &mut MssqlClient) -> Result<(), MssqlError> {
    let sql = format!(
        "DECLARE @r INT, @res NVARCHAR(255) = {LOCK} + DB_NAME() + N'.' + SCHEMA_NAME(); \
         EXEC @r = sp_getapplock @Resource = @res, @LockMode = N'Exclusive', \
         @LockOwner = N'Session', @LockTimeout = 60000; SELECT @r"
    );
    let row = client
        .simple_query(sql)
        .await
        .map_err(MssqlError::query("migrate: lock"))?
        .into_row()
        .await
        .map_err(MssqlError::query("migrate: lock"))?;
    match row.and_then(|r| r.get::<i32, _>(0)) {
        Some(r) if r >= 0 => Ok(()),
        _ => Err(MssqlError::Query {
            stage: "migrate: lock",
            source: Box::new(tiberius::error::Error::Protocol(
                "another migrator held the tenantry_migrations lock for 60 s".into(),
            )),
        }),
    }
}

async fn table_exists(client: &mut MssqlClient) -> Result<bool, MssqlError> {
    let row = client
        .simple_query(
            "SELECT CASE WHEN OBJECT_ID(N'_tenantry_migrations', N'U') IS NULL THEN 0 ELSE 1 END",
        )
        .await
        .map_err(MssqlError::query("find _tenantry_migrations"))?
        .into_row()
        .await
        .map_err(MssqlError::query("find _tenantry_migrations"))?;
    Ok(row.and_then(|r| r.get::<i32, _>(0)) == Some(1))
}

async fn ensure_table(client: &mut MssqlClient) -> Result<(), MssqlError> {
    if table_exists(client).await? {
        return Ok(());
    }
    let sql = "CREATE TABLE _tenantry_migrations (\
               version BIGINT NOT NULL CONSTRAINT pk_tenantry_migrations PRIMARY KEY, \
               description NVARCHAR(200) NOT NULL, \
               checksum VARBINARY(64) NOT NULL, \
               installed_on DATETIME2 NOT NULL, \
               success BIT NOT NULL)";
    batch(client, "create _tenantry_migrations", sql).await
}

/// `(version, checksum)` of every recorded migration.
async fn applied(client: &mut MssqlClient) -> Result<Vec<(i64, Vec<u8>)>, MssqlError> {
    let rows = client
        .simple_query("SELECT version, checksum FROM _tenantry_migrations ORDER BY version")
        .await
        .map_err(MssqlError::query("read _tenantry_migrations"))?
        .into_first_result()
        .await
        .map_err(MssqlError::query("read _tenantry_migrations"))?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let version = r.get::<i64, _>(0)?;
            let checksum = r.get::<&[u8], _>(1)?.to_vec();
            Some((version, checksum))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_in_the_folder_is_embedded_in_version_order() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations/tenant/mssql");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        assert_eq!(files.len(), MIGRATIONS.len(), "{files:?}");
        for (file, m) in files.iter().zip(MIGRATIONS) {
            let version: i64 = file[..4].parse().unwrap();
            assert_eq!(version, m.version, "{file}");
        }
        assert_eq!(latest_version(), 2);
    }

    #[test]
    fn sql_server_ships_the_same_versions_as_postgres() {
        let pg = crate::migrate::latest_version(crate::tenant::Engine::Postgres);
        // The lead adds v2 to the other engines; SQL Server may be ahead until then, never behind.
        assert!(
            latest_version() >= pg,
            "mssql {} < postgres {pg}",
            latest_version()
        );
    }

    #[test]
    fn go_lines_split_batches_and_comment_only_batches_are_dropped() {
        let m = Migration {
            version: 9,
            description: "t".into(),
            sql: "-- header\nCREATE TABLE a (id INT);\nGO\n  go  \nCREATE VIEW v AS SELECT 1 AS x;\nGO\n-- end\n".into(),
        };
        let batches = m.batches();
        assert_eq!(batches.len(), 2, "{batches:?}");
        assert!(batches[0].contains("CREATE TABLE a"));
        assert!(batches[1].starts_with("CREATE VIEW v"));
    }

    #[test]
    fn the_checksum_changes_with_the_text() {
        let a = MIGRATIONS[0].clone();
        let mut b = a.clone();
        b.sql = format!("{} ", a.sql).into();
        assert_eq!(a.checksum().len(), 48);
        assert_ne!(a.checksum(), b.checksum());
    }
}
