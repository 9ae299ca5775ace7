//! Tenant schema migrations: versioned SQL per engine, embedded in the binary.
//!
//! Each tenant database records what it applied (version, checksum, time) in `_sqlx_migrations`;
//! a changed checksum of an applied migration is refused by the migrator. The registry mirrors the
//! resulting version in `tenants.schema_version`.

use crate::tenant::Engine;
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::AnyConnection;

static POSTGRES: Migrator = sqlx::migrate!("../../migrations/tenant/postgres");
static MYSQL: Migrator = sqlx::migrate!("../../migrations/tenant/mysql");
static SQLITE: Migrator = sqlx::migrate!("../../migrations/tenant/sqlite");

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

/// Applies every pending migration on one tenant connection and returns the resulting version.
pub async fn migrate_tenant(conn: &mut AnyConnection, engine: Engine) -> Result<i64, MigrateError> {
    migrator(engine).run_direct(conn).await?;
    Ok(applied_version(conn).await?.unwrap_or(0))
}

/// The newest successfully applied version, or `None` for a database never migrated.
pub async fn applied_version(conn: &mut AnyConnection) -> Result<Option<i64>, sqlx::Error> {
    match sqlx::query_scalar::<_, Option<i64>>(
        "SELECT MAX(version) FROM _sqlx_migrations WHERE success",
    )
    .fetch_one(&mut *conn)
    .await
    {
        Ok(v) => Ok(v),
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
        assert!(latest_version(Engine::Postgres) >= 1);
    }
}
