//! One tenant's numbers: rows per table, files, schema version, pool.

use super::{Platform, PlatformError, TenantRef};
use crate::tenant::{TenantCode, TenantStatus};
use serde::Serialize;
use std::collections::BTreeMap;

/// The tables of the sample schema whose rows are counted.
const COUNTED_TABLES: [&str; 4] = ["users", "customers", "sites", "tickets"];

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantStats {
    pub code: TenantCode,
    /// Rows per table (empty for a deleted tenant).
    pub rows: BTreeMap<&'static str, i64>,
    pub files: usize,
    pub storage_bytes: u64,
    /// Space the tenant's database (its schema, when shared) takes on its server; `None` when the
    /// server does not tell (deleted tenant; SQL Server login without VIEW DATABASE STATE).
    pub database_bytes: Option<i64>,
    pub schema_version: Option<i64>,
    pub latest_version: i64,
    pub pool: PoolStats,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PoolStats {
    pub open: bool,
    pub max_connections: u32,
    /// Open / idle / in-use connections of the tenant's pool, when it has one.
    pub connections: Option<crate::pools::PoolState>,
}

impl Platform {
    /// Counts the tenant's rows (on a connection from its pool) and files.
    pub async fn tenant_stats(&self, r: &TenantRef) -> Result<TenantStats, PlatformError> {
        let config = self.tenant_config(r).await?;
        let t = &config.tenant;
        let mut rows = BTreeMap::new();
        let mut database_bytes = None;
        if t.status != TenantStatus::Deleted {
            let mut conn = self.pools().acquire(&config).await?;
            for table in COUNTED_TABLES {
                let q = format!("SELECT COUNT(*) FROM {table}");
                let n = conn
                    .fetch_i64(&q, &[])
                    .await
                    .map_err(PlatformError::TenantQuery)?;
                rows.insert(table, n);
            }
            database_bytes = conn
                .database_bytes(t.schema.is_some())
                .await
                .map_err(PlatformError::TenantQuery)?;
        }
        let files = self.storage().list(t.id).await.unwrap_or_default();
        Ok(TenantStats {
            code: t.code.clone(),
            rows,
            files: files.len(),
            storage_bytes: files.iter().map(|f| f.size).sum(),
            database_bytes,
            schema_version: t.schema_version,
            latest_version: crate::migrate::latest_version(t.engine),
            pool: PoolStats {
                open: self.pools().has_pool(t.id),
                max_connections: t.pool.max_connections,
                connections: self.pools().pool_state(t.id),
            },
        })
    }
}
