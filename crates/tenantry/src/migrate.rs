//! Tenant schema migrations: versioned SQL per engine, embedded in the binary.
//!
//! Each tenant database records what it applied (version, checksum, time) in `_sqlx_migrations`;
//! a changed checksum of an applied migration is refused by the migrator. The registry mirrors the
//! resulting version in `tenants.schema_version` and the [`fingerprint`] of the applied checksums
//! in `tenants.schema_checksum`, so a fleet run can tell a current tenant without connecting to it.
//!
//! Migrations run on a connection of their own ([`crate::db::Purpose::Migration`]): no statement
//! timeout (long DDL on a big tenant must finish), a lock timeout instead.
//!
//! SQL Server has no sqlx migrator: its T-SQL files are applied by [`crate::mssql::migrate`]
//! (recorded in `_tenantry_migrations`, SHA-384 checksums); versions, fingerprints and errors
//! look the same from here.

use crate::db::EngineConnection;
use crate::mssql;
use crate::tenant::Engine;
use sha2::{Digest, Sha256};
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::AnyConnection;

static POSTGRES: Migrator = sqlx::migrate!("../../migrations/tenant/postgres");
static MYSQL: Migrator = sqlx::migrate!("../../migrations/tenant/mysql");
static SQLITE: Migrator = sqlx::migrate!("../../migrations/tenant/sqlite");

/// How long a migration statement waits for a lock before it gives up. Default: 10 s.
pub const LOCK_TIMEOUT_MS: u64 = 10_000;

/// The sqlx migrator of `engine`; `None` for SQL Server (see [`crate::mssql::migrate`]).
pub fn migrator(engine: Engine) -> Option<&'static Migrator> {
    match engine {
        Engine::Postgres => Some(&POSTGRES),
        Engine::Mysql => Some(&MYSQL),
        Engine::Sqlite => Some(&SQLITE),
        Engine::Mssql => None,
    }
}

/// `(version, checksum)` of every migration this binary embeds for `engine`, in version order.
fn embedded(engine: Engine) -> Vec<(i64, Vec<u8>)> {
    match migrator(engine) {
        Some(m) => m.iter().map(|m| (m.version, m.checksum.to_vec())).collect(),
        None => mssql::migrate::MIGRATIONS
            .iter()
            .map(|m| (m.version, m.checksum()))
            .collect(),
    }
}

/// The newest tenant schema version this binary knows for `engine`.
pub fn latest_version(engine: Engine) -> i64 {
    match migrator(engine) {
        Some(m) => m.iter().map(|m| m.version).max().unwrap_or(0),
        None => mssql::migrate::latest_version(),
    }
}

/// A fingerprint of this binary's migrations for `engine` up to `version` (versions and checksums):
/// equal fingerprints mean the same SQL was applied.
pub fn fingerprint(engine: Engine, version: i64) -> String {
    let mut h = Sha256::new();
    for (v, checksum) in embedded(engine).iter().filter(|(v, _)| *v <= version) {
        h.update(v.to_le_bytes());
        h.update(checksum);
    }
    let digest = h.finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Applies every pending migration on one tenant connection and returns the resulting version.
pub async fn migrate_tenant(conn: &mut EngineConnection) -> Result<i64, MigrateError> {
    let engine = conn.engine();
    match (&mut *conn, migrator(engine)) {
        (EngineConnection::Mssql(c), _) => {
            let report = mssql::migrate::migrate(c.client())
                .await
                .map_err(mssql_migrate_error)?;
            return Ok(report.version);
        }
        (EngineConnection::Postgres(c), Some(m)) => m.run_direct(c).await?,
        (EngineConnection::Mysql(c), Some(m)) => m.run_direct(c).await?,
        (EngineConnection::Sqlite(c), Some(m)) => m.run_direct(c).await?,
        (_, None) => {
            let why = format!("no migrations embedded for {engine}");
            return Err(MigrateError::Source(why.into()));
        }
    }
    Ok(applied_version(conn).await?.unwrap_or(0))
}

/// The SQL Server migrator's refusals, in the words of sqlx's (the fleet reports both alike).
fn mssql_migrate_error(e: mssql::MssqlError) -> MigrateError {
    match e {
        mssql::MssqlError::ChecksumMismatch { version } => MigrateError::VersionMismatch(version),
        mssql::MssqlError::UnknownVersion { version } => MigrateError::VersionMissing(version),
        mssql::MssqlError::Migration {
            version, source, ..
        } => MigrateError::ExecuteMigration(crate::db::mssql::from_tiberius(*source), version),
        other => MigrateError::Execute(other.into()),
    }
}

const APPLIED: &str = "SELECT MAX(version) FROM _sqlx_migrations WHERE success";

/// The newest successfully applied version, or `None` for a database never migrated.
pub async fn applied_version(conn: &mut EngineConnection) -> Result<Option<i64>, sqlx::Error> {
    let result = match conn {
        EngineConnection::Postgres(c) => sqlx::query_scalar(APPLIED).fetch_one(c).await,
        EngineConnection::Mysql(c) => sqlx::query_scalar(APPLIED).fetch_one(c).await,
        EngineConnection::Sqlite(c) => sqlx::query_scalar(APPLIED).fetch_one(c).await,
        EngineConnection::Mssql(c) => {
            return mssql::migrate::applied_version(c.client())
                .await
                .map_err(sqlx::Error::from)
        }
    };
    never_migrated_is_none(result)
}

/// [`applied_version`] over an `Any` connection (onboarding checks of a customer's database).
pub async fn applied_version_any(conn: &mut AnyConnection) -> Result<Option<i64>, sqlx::Error> {
    never_migrated_is_none(sqlx::query_scalar(APPLIED).fetch_one(conn).await)
}

fn never_migrated_is_none(
    result: Result<Option<i64>, sqlx::Error>,
) -> Result<Option<i64>, sqlx::Error> {
    match result {
        Ok(v) => Ok(v),
        // No `_sqlx_migrations` table: a database never migrated.
        Err(sqlx::Error::Database(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_engine_ships_the_same_versions() {
        let versions = |e| embedded(e).into_iter().map(|m| m.0).collect::<Vec<_>>();
        assert_eq!(versions(Engine::Postgres), versions(Engine::Mysql));
        assert_eq!(versions(Engine::Postgres), versions(Engine::Sqlite));
        assert_eq!(versions(Engine::Postgres), versions(Engine::Mssql));
        assert!(latest_version(Engine::Postgres) >= 2);
    }

    #[test]
    fn fingerprint_depends_on_version_and_engine() {
        let latest = latest_version(Engine::Postgres);
        let a = fingerprint(Engine::Postgres, latest);
        assert_eq!(a, fingerprint(Engine::Postgres, latest));
        assert_ne!(a, fingerprint(Engine::Postgres, latest - 1));
        assert_ne!(a, fingerprint(Engine::Mysql, latest));
        assert_ne!(a, fingerprint(Engine::Mssql, latest));
        assert_eq!(fingerprint(Engine::Mssql, latest).len(), 32);
        assert_eq!(a.len(), 32);
    }
}
