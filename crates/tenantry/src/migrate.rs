//! Tenant schema migrations: versioned SQL per engine, embedded in the binary.
//!
//! Each tenant database records what it applied (version, checksum, time) in `_sqlx_migrations`;
//! a changed checksum of an applied migration is refused by the migrator. The registry mirrors the
//! resulting version in `tenants.schema_version` and the [`fingerprint`] of the applied checksums
//! in `tenants.schema_checksum`, so a fleet run can tell a current tenant without connecting to it.
//!
//! Migrations run on a connection of their own ([`crate::db::Purpose::Migration`]): no statement
//! timeout (long DDL on a big tenant must finish), a lock timeout instead.

use crate::db::EngineConnection;
use crate::tenant::Engine;
use sha2::{Digest, Sha256};
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::AnyConnection;

static POSTGRES: Migrator = sqlx::migrate!("../../migrations/tenant/postgres");
static MYSQL: Migrator = sqlx::migrate!("../../migrations/tenant/mysql");
static SQLITE: Migrator = sqlx::migrate!("../../migrations/tenant/sqlite");

/// How long a migration statement waits for a lock before it gives up. Default: 10 s.
pub const LOCK_TIMEOUT_MS: u64 = 10_000;

pub fn migrator(engine: Engine) -> &'static Migrator {
    match engine {
        Engine::Postgres => &POSTGRES,
        Engine::Mysql => &MYSQL,
        Engine::Sqlite => &SQLITE,
    }
}

/// The newest tenant schema version this binary knows for `engine`.
pub fn latest_version(engine: Engine) -> i64 {
    migrator(engine)
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0)
}

/// A fingerprint of this binary's migrations for `engine` up to `version` (versions and checksums):
/// equal fingerprints mean the same SQL was applied.
pub fn fingerprint(engine: Engine, version: i64) -> String {
    let mut h = Sha256::new();
    for m in migrator(engine).iter().filter(|m| m.version <= version) {
        h.update(m.version.to_le_bytes());
        h.update(&m.checksum);
    }
    let digest = h.finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Applies every pending migration on one tenant connection and returns the resulting version.
pub async fn migrate_tenant(conn: &mut EngineConnection) -> Result<i64, MigrateError> {
    let engine = conn.engine();
    let m = migrator(engine);
    match conn {
        EngineConnection::Postgres(c) => m.run_direct(c).await?,
        EngineConnection::Mysql(c) => m.run_direct(c).await?,
        EngineConnection::Sqlite(c) => m.run_direct(c).await?,
    }
    Ok(applied_version(conn).await?.unwrap_or(0))
}

const APPLIED: &str = "SELECT MAX(version) FROM _sqlx_migrations WHERE success";

/// The newest successfully applied version, or `None` for a database never migrated.
pub async fn applied_version(conn: &mut EngineConnection) -> Result<Option<i64>, sqlx::Error> {
    let result = match conn {
        EngineConnection::Postgres(c) => sqlx::query_scalar(APPLIED).fetch_one(c).await,
        EngineConnection::Mysql(c) => sqlx::query_scalar(APPLIED).fetch_one(c).await,
        EngineConnection::Sqlite(c) => sqlx::query_scalar(APPLIED).fetch_one(c).await,
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
        let versions = |e| migrator(e).iter().map(|m| m.version).collect::<Vec<_>>();
        assert_eq!(versions(Engine::Postgres), versions(Engine::Mysql));
        assert_eq!(versions(Engine::Postgres), versions(Engine::Sqlite));
        assert!(latest_version(Engine::Postgres) >= 2);
    }

    #[test]
    fn fingerprint_depends_on_version_and_engine() {
        let latest = latest_version(Engine::Postgres);
        let a = fingerprint(Engine::Postgres, latest);
        assert_eq!(a, fingerprint(Engine::Postgres, latest));
        assert_ne!(a, fingerprint(Engine::Postgres, latest - 1));
        assert_ne!(a, fingerprint(Engine::Mysql, latest));
        assert_eq!(a.len(), 32);
    }
}
