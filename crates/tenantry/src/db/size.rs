//! How much space a tenant's database (or, in a shared database, its schema) takes on its server.

use super::conn::EngineConnection;

/// One statement per engine, run on the tenant's own connection. A shared tenant's connection is
/// already in its schema (PostgreSQL `search_path`, SQL Server `DEFAULT_SCHEMA`).
fn statement(conn: &EngineConnection, shared: bool) -> &'static str {
    match (conn, shared) {
        (EngineConnection::Postgres(_), false) => {
            "SELECT pg_database_size(current_database())::bigint"
        }
        (EngineConnection::Postgres(_), true) => {
            "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm')"
        }
        (EngineConnection::Mysql(_), _) => {
            "SELECT CAST(COALESCE(SUM(data_length + index_length), 0) AS SIGNED) \
             FROM information_schema.tables WHERE table_schema = DATABASE()"
        }
        (EngineConnection::Sqlite(_), _) => {
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
        }
        // Pages reserved by the tables and indexes of the connection's default schema (`dbo` for
        // a dedicated tenant, which owns the database): needs VIEW DATABASE STATE.
        (EngineConnection::Mssql(_), _) => {
            "SELECT CAST(COALESCE(SUM(ps.reserved_page_count), 0) * 8192 AS BIGINT) \
             FROM sys.dm_db_partition_stats ps JOIN sys.objects o ON o.object_id = ps.object_id \
             WHERE o.schema_id = SCHEMA_ID()"
        }
    }
}

impl EngineConnection {
    /// Bytes the tenant's data takes (`shared`: only its schema). `None` when the server does not
    /// tell this login: a SQL Server login without VIEW DATABASE STATE (a shared tenant's), or
    /// Babelfish, which has no `sys.dm_db_partition_stats`.
    pub async fn database_bytes(&mut self, shared: bool) -> Result<Option<i64>, sqlx::Error> {
        let sql = statement(self, shared);
        match self.fetch_i64(sql, &[]).await {
            Ok(n) => Ok(Some(n)),
            Err(sqlx::Error::Database(e)) if self.engine() == crate::tenant::Engine::Mssql => {
                tracing::debug!(error = %e, "SQL Server did not report the database size");
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}
