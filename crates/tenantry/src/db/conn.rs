//! Typed connections to a tenant database, in the engine's own driver.
//!
//! A tenant pool holds [`EngineConnection`]s, so an application that embeds tenantry keeps its
//! engine's types (`timestamptz`, `jsonb`, `uuid`, arrays), `query!` checks, `COPY` and `LISTEN`.
//! Connections are opened from a [`DataSource`] with typed options: no URL ever carries a password.
//! SQL Server tenants get a tiberius client ([`MssqlConnection`], see [`super::mssql`]).

use super::mssql::MssqlConnection;
use crate::mssql::MssqlClient;
use crate::registry::DataSource;
use crate::tenant::{Engine, TlsMode};
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlSslMode};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgSslMode};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, Executor};
use std::path::Path;
use std::time::Duration;

/// A connection to one tenant database, of the engine's own driver.
#[derive(Debug)]
#[non_exhaustive]
pub enum EngineConnection {
    Postgres(PgConnection),
    Mysql(MySqlConnection),
    Sqlite(SqliteConnection),
    /// SQL Server / Azure SQL (tiberius), with the library's statement timeout. Boxed: a
    /// tiberius client is about 1.5 KB, the sqlx connections a few dozen bytes.
    Mssql(Box<MssqlConnection>),
}

/// What a connection is opened for; decides its session settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A pooled request connection: the tenant's statement timeout applies.
    Pool { statement_timeout_ms: u64 },
    /// Schema migrations: no statement timeout (long DDL on a big tenant must finish), but a lock
    /// timeout, so a migration waiting on a busy table gives up instead of blocking the tenant.
    Migration { lock_timeout_ms: u64 },
    /// A short-lived health probe: a tight statement timeout.
    Probe,
}

impl Purpose {
    pub(crate) fn statement_timeout_ms(self) -> Option<u64> {
        match self {
            Purpose::Pool {
                statement_timeout_ms,
            } => Some(statement_timeout_ms),
            Purpose::Migration { .. } => None,
            Purpose::Probe => Some(2_000),
        }
    }
}

/// Prepared statements each pooled connection keeps: the sample API uses about 20, an embedding
/// app a few dozen; sqlx's default of 100 costs memory on every one of thousands of connections.
const STATEMENT_CACHE: usize = 64;

/// Largest a tenant's SQLite WAL file stays after a checkpoint (`PRAGMA journal_size_limit`).
const WAL_SIZE_LIMIT: u64 = 4 * 1024 * 1024;

impl EngineConnection {
    pub fn engine(&self) -> Engine {
        match self {
            EngineConnection::Postgres(_) => Engine::Postgres,
            EngineConnection::Mysql(_) => Engine::Mysql,
            EngineConnection::Sqlite(_) => Engine::Sqlite,
            EngineConnection::Mssql(_) => Engine::Mssql,
        }
    }

    /// Whether the connection must not be handed out again (a SQL Server statement was cut off
    /// and not cancelled). sqlx's connections recover by themselves: always false for them.
    pub fn is_broken(&self) -> bool {
        match self {
            EngineConnection::Mssql(c) => c.is_broken(),
            _ => false,
        }
    }

    /// Opens a connection to `source` within `timeout`. Errors never carry the password.
    pub async fn connect(
        source: &DataSource,
        purpose: Purpose,
        timeout: Duration,
    ) -> Result<Self, sqlx::Error> {
        if source.engine == Engine::Mssql {
            // Bounded inside: TCP, TLS and login share the budget; the result names its stage.
            let conn = MssqlConnection::connect(source, purpose, timeout).await?;
            return Ok(EngineConnection::Mssql(Box::new(conn)));
        }
        match tokio::time::timeout(timeout, connect(source, purpose)).await {
            Ok(result) => result,
            Err(_) => Err(sqlx::Error::PoolTimedOut),
        }
    }

    /// One round trip; `Err` when the connection is broken.
    pub async fn ping(&mut self) -> Result<(), sqlx::Error> {
        match self {
            EngineConnection::Postgres(c) => c.ping().await,
            EngineConnection::Mysql(c) => c.ping().await,
            EngineConnection::Sqlite(c) => c.ping().await,
            EngineConnection::Mssql(c) => c.ping().await,
        }
    }

    /// Closes the connection gracefully (tells the server).
    pub async fn close(self) -> Result<(), sqlx::Error> {
        match self {
            EngineConnection::Postgres(c) => c.close().await,
            EngineConnection::Mysql(c) => c.close().await,
            EngineConnection::Sqlite(c) => close_sqlite(c).await,
            EngineConnection::Mssql(c) => (*c).close().await,
        }
    }

    /// Runs raw SQL text (one or more statements, no parameters).
    pub async fn execute_raw(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        match self {
            EngineConnection::Postgres(c) => c.execute(sql).await.map(drop),
            EngineConnection::Mysql(c) => c.execute(sql).await.map(drop),
            EngineConnection::Sqlite(c) => c.execute(sql).await.map(drop),
            EngineConnection::Mssql(c) => c.batch(sql.to_owned()).await,
        }
    }

    /// Hands an idle pooled PostgreSQL connection over to another schema tenant of the same
    /// database and login (see `pools::spares`), in one round trip: resets the whole session
    /// (what `DISCARD ALL` does: cursors, role, settings, `LISTEN`, advisory locks, cached plans,
    /// temporary tables, sequences) and points it at `schema` with the new tenant's statement
    /// timeout.
    ///
    /// With `keep_statements` (the tenant before had the same schema: same migrations, see
    /// `pools::spares`), the driver's prepared statements stay: PostgreSQL re-parses a prepared
    /// statement against the new `search_path` on its next use (documented since 9.3), so the
    /// same SQL text finds the new tenant's tables and the statement is not prepared again.
    /// Otherwise every prepared statement is dropped, here and on the server.
    ///
    /// Fails (and the caller closes the connection) if any step does, and on purpose when the
    /// session is inside a transaction block (an earlier `BEGIN` never ended) or holds a
    /// statement prepared with SQL `PREPARE`, which a kept-statements reset would not drop.
    pub(crate) async fn rebind(
        &mut self,
        schema: &str,
        statement_timeout_ms: u64,
        keep_statements: bool,
    ) -> Result<(), sqlx::Error> {
        let EngineConnection::Postgres(conn) = self else {
            return Err(sqlx::Error::Configuration(
                "only PostgreSQL connections change tenants".into(),
            ));
        };
        let schema = checked_schema(schema)?;
        if !keep_statements {
            conn.clear_cached_statements().await?;
        }
        conn.execute(reset_sql(&schema, statement_timeout_ms, keep_statements).as_str())
            .await?;
        Ok(())
    }

    pub fn as_postgres(&mut self) -> Option<&mut PgConnection> {
        match self {
            EngineConnection::Postgres(c) => Some(c),
            _ => None,
        }
    }

    pub fn as_mysql(&mut self) -> Option<&mut MySqlConnection> {
        match self {
            EngineConnection::Mysql(c) => Some(c),
            _ => None,
        }
    }

    pub fn as_sqlite(&mut self) -> Option<&mut SqliteConnection> {
        match self {
            EngineConnection::Sqlite(c) => Some(c),
            _ => None,
        }
    }

    /// The SQL Server client (tiberius) of a SQL Server tenant. Parameters are `@P1, @P2, …`.
    pub fn as_mssql(&mut self) -> Option<&mut MssqlClient> {
        match self {
            EngineConnection::Mssql(c) => Some(c.client()),
            _ => None,
        }
    }
}

/// The `search_path` a pooled schema tenant's connection starts with: no tenant's schema (only
/// the system catalog, where nothing can be created), so resetting the session never lands in a
/// schema the connection served before.
const NO_TENANT_PATH: &str = "pg_catalog";

/// A schema name from the registry, checked before it is spliced into a session setting.
fn checked_schema(schema: &str) -> Result<crate::tenant::DatabaseName, sqlx::Error> {
    crate::tenant::DatabaseName::parse(schema)
        .map_err(|e| sqlx::Error::Configuration(e.to_string().into()))
}

/// The one-message session reset of [`EngineConnection::rebind`]. A multi-statement message runs
/// in one implicit transaction, which `DISCARD ALL` refuses, so it is spelled out (the statements
/// `DISCARD ALL` is documented to equal, `DEALLOCATE ALL` only when statements are not kept).
///
/// The first statement is the guard. In the implicit transaction of this message `now()` (the
/// transaction's start) equals `statement_timestamp()` (this message's arrival); inside a
/// transaction block opened by an earlier message it is older, and a failed block refuses every
/// statement. The cast of a non-constant `CASE` runs per row, so the guard fails only when its
/// condition does, naming the reason.
fn reset_sql(
    schema: &crate::tenant::DatabaseName,
    statement_timeout_ms: u64,
    keep_statements: bool,
) -> String {
    let (prepared_check, deallocate) = if keep_statements {
        (
            " AND NOT EXISTS (SELECT 1 FROM pg_prepared_statements WHERE from_sql)",
            "",
        )
    } else {
        ("", "DEALLOCATE ALL; ")
    };
    format!(
        "SELECT CAST(CASE WHEN now() = statement_timestamp(){prepared_check} THEN '1' \
         ELSE 'session not reusable: inside a transaction block, or SQL PREPARE' END AS int); \
         CLOSE ALL; SET SESSION AUTHORIZATION DEFAULT; RESET ALL; {deallocate}UNLISTEN *; \
         SELECT pg_advisory_unlock_all(); DISCARD PLANS; DISCARD TEMP; DISCARD SEQUENCES; \
         {}; SET statement_timeout = {statement_timeout_ms}",
        set_search_path(schema)
    )
}

/// The statement that points a pooled connection at its tenant's schema.
fn set_search_path(schema: &crate::tenant::DatabaseName) -> String {
    format!("SET search_path TO \"{schema}\"")
}

async fn connect(source: &DataSource, purpose: Purpose) -> Result<EngineConnection, sqlx::Error> {
    match source.engine {
        Engine::Mssql => Err(sqlx::Error::Configuration(
            "SQL Server connections are opened by MssqlConnection".into(),
        )),
        Engine::Postgres => {
            let mut options = PgConnectOptions::new_without_pgpass()
                .host(&source.host)
                .port(source.port)
                .database(&source.database)
                .ssl_mode(match source.tls {
                    TlsMode::Disable => PgSslMode::Disable,
                    TlsMode::Prefer => PgSslMode::Prefer,
                    TlsMode::Require => PgSslMode::Require,
                    TlsMode::Verify => PgSslMode::VerifyFull,
                })
                .application_name("tenantry")
                .statement_cache_capacity(STATEMENT_CACHE);
            if let Some(user) = &source.username {
                options = options.username(user);
            }
            if let Some(pw) = &source.password {
                options = options.password(crate::secrets::expose(pw));
            }
            // Session settings travel in the startup packet: no extra round trip per connection.
            let mut settings: Vec<(&str, String)> = Vec::new();
            let schema = source.schema.as_deref().map(checked_schema).transpose()?;
            // A pooled connection may later be handed to another tenant of the same database
            // (see `pools::spares`): its startup value, which `RESET` and `DISCARD ALL` return to,
            // names no tenant, and its tenant's schema is set as a session setting below.
            let pooled = matches!(purpose, Purpose::Pool { .. });
            if let Some(schema) = &schema {
                let path = if pooled {
                    NO_TENANT_PATH.to_owned()
                } else {
                    format!("\"{schema}\"")
                };
                settings.push(("search_path", path));
            }
            match purpose {
                Purpose::Migration { lock_timeout_ms } => {
                    settings.push(("statement_timeout", "0".into()));
                    settings.push(("lock_timeout", lock_timeout_ms.to_string()));
                }
                other => {
                    let ms = other.statement_timeout_ms().unwrap_or(0);
                    settings.push(("statement_timeout", ms.to_string()));
                }
            }
            let options = options.options(settings);
            let mut conn = options.connect().await?;
            if let (Some(schema), true) = (&schema, pooled) {
                conn.execute(set_search_path(schema).as_str()).await?;
            }
            Ok(EngineConnection::Postgres(conn))
        }
        Engine::Mysql => {
            let mut options = MySqlConnectOptions::new()
                .host(&source.host)
                .port(source.port)
                .database(&source.database)
                .charset("utf8mb4")
                .ssl_mode(match source.tls {
                    TlsMode::Disable => MySqlSslMode::Disabled,
                    TlsMode::Prefer => MySqlSslMode::Preferred,
                    TlsMode::Require => MySqlSslMode::Required,
                    TlsMode::Verify => MySqlSslMode::VerifyIdentity,
                })
                .statement_cache_capacity(STATEMENT_CACHE);
            if let Some(user) = &source.username {
                options = options.username(user);
            }
            if let Some(pw) = &source.password {
                options = options.password(crate::secrets::expose(pw));
            }
            let mut conn = options.connect().await?;
            let setup = match purpose {
                Purpose::Migration { lock_timeout_ms } => {
                    let secs = lock_timeout_ms.div_ceil(1000).max(1);
                    format!("SET SESSION lock_wait_timeout = {secs}, SESSION innodb_lock_wait_timeout = {secs}")
                }
                other => {
                    let secs = other.statement_timeout_ms().unwrap_or(0) as f64 / 1000.0;
                    // MariaDB's name; MySQL answers with an error, which is not fatal.
                    format!("SET SESSION max_statement_time = {secs}")
                }
            };
            if let Err(e) = conn.execute(setup.as_str()).await {
                tracing::debug!(error = %e, "session setting not supported by this server");
            }
            Ok(EngineConnection::Mysql(conn))
        }
        Engine::Sqlite => {
            let path = Path::new(&source.host).join(format!("{}.db", source.database));
            let options = SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(false)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5))
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                // With the persistent WAL below, the WAL is truncated to zero bytes at close and
                // kept at most this size after a checkpoint in between.
                .pragma("journal_size_limit", WAL_SIZE_LIMIT.to_string())
                .statement_cache_capacity(STATEMENT_CACHE);
            let mut conn = options.connect().await?;
            // Tenant files are opened and closed as pools come and go: keeping the `-wal` and
            // `-shm` files saves creating and deleting two files per open (see the crate's docs).
            tenantry_sqlite_wal::persist_wal(&mut conn).await?;
            Ok(EngineConnection::Sqlite(conn))
        }
    }
}

/// Closes a SQLite connection off the async runtime.
///
/// sqlx's `close` asks the connection's worker thread to stop and then drops its own handle to the
/// database; whichever of the two lets go last runs `sqlite3_close`: a checkpoint, the WAL
/// truncated, the shared-memory file unmapped, the schema and page cache freed. Under load the
/// worker sometimes wins the race (woken on the caller's core, it runs first: in a profile of a
/// SQLite-only `bench scale` pass, 20 of 259 samples in `sqlite3_close` were on runtime threads),
/// and a close on a runtime thread holds every task queued behind it. On the blocking pool,
/// neither side of the race is a runtime thread.
async fn close_sqlite(conn: SqliteConnection) -> Result<(), sqlx::Error> {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return conn.close().await;
    };
    let on_pool = runtime.clone();
    match runtime
        .spawn_blocking(move || on_pool.block_on(conn.close()))
        .await
    {
        Ok(closed) => closed,
        Err(_) => Err(sqlx::Error::WorkerCrashed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POOL: Purpose = Purpose::Pool {
        statement_timeout_ms: 5_000,
    };

    #[tokio::test]
    async fn a_closed_sqlite_tenant_connection_keeps_its_wal_files_with_an_empty_wal() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::File::create(dir.path().join("acme.db")).unwrap();
        let source = DataSource::sqlite_for_test(dir.path(), "acme");
        let mut conn = EngineConnection::connect(&source, POOL, Duration::from_secs(5))
            .await
            .unwrap();
        conn.execute_raw("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2), (3)")
            .await
            .unwrap();
        conn.close().await.unwrap();
        let wal = std::fs::metadata(dir.path().join("acme.db-wal")).expect("the WAL is kept");
        assert_eq!(wal.len(), 0, "checkpointed and truncated at close");
        assert!(dir.path().join("acme.db-shm").exists(), "the index is kept");
        // The next open reuses them and sees every row (they were checkpointed into the file).
        let mut again = EngineConnection::connect(&source, POOL, Duration::from_secs(5))
            .await
            .unwrap();
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM t")
            .fetch_one(again.as_sqlite().unwrap())
            .await
            .unwrap();
        assert_eq!(n, 3);
        again.close().await.unwrap();
    }
}
