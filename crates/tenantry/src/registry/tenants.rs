//! Tenants and their custom domains.

use super::servers::parse_uuid;
use super::{Registry, RegistryError, Result};
use crate::db;
use crate::limits::RateLimit;
use crate::tenant::{
    DatabaseName, Engine, HostName, Hosting, Placement, ServerName, Subdomain, TenantCode,
    TenantStatus, TlsMode,
};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row;
use std::hash::{Hash, Hasher};
use uuid::Uuid;

/// Per-tenant pool limits, stored on the tenant row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct PoolSettings {
    /// Most connections this tenant's pool opens. Default: 5.
    pub max_connections: u32,
    /// How long a request waits for a connection before 503. Default: 3,000 ms.
    pub acquire_timeout_ms: u64,
    /// Longest a statement may run (PostgreSQL `statement_timeout`, MariaDB
    /// `max_statement_time`). Default: 30,000 ms.
    pub statement_timeout_ms: u64,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 5,
            acquire_timeout_ms: 3_000,
            statement_timeout_ms: 30_000,
        }
    }
}

/// A tenant as the registry holds it (no secrets).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    pub id: Uuid,
    pub code: TenantCode,
    pub name: String,
    pub subdomain: Option<Subdomain>,
    pub domains: Vec<String>,
    pub status: TenantStatus,
    pub status_reason: Option<String>,
    pub placement: Placement,
    pub engine: Engine,
    pub server_id: Uuid,
    pub server_name: ServerName,
    pub database: DatabaseName,
    /// The tenant's schema in a shared database (`shared` placement on PostgreSQL).
    pub schema: Option<DatabaseName>,
    pub username: Option<String>,
    pub hosting: Hosting,
    pub region: Option<String>,
    pub pool: PoolSettings,
    pub schema_version: Option<i64>,
    /// Fingerprint of the migrations applied up to `schema_version` (see `migrate::fingerprint`):
    /// a fleet run skips a tenant whose mirror matches the binary without opening a connection.
    #[serde(skip)]
    pub schema_checksum: Option<String>,
    /// Whether tenantry migrates this tenant's schema. Customer-hosted databases are managed by
    /// their owner unless they opted in at onboarding.
    pub schema_managed: bool,
    /// Moves whenever one of the tenant's users changes status, password or role (see
    /// [`crate::users::UserStatusCache`]): statuses cached under another epoch are read again.
    #[serde(skip)]
    pub users_epoch: i64,
    /// The last provisioning step done, while the tenant is `provisioning` (or where a `failed`
    /// one stopped).
    pub provisioning_step: Option<String>,
    pub plan: String,
    /// The requests/s and burst in force: the override if set, else the plan's.
    pub rate_limit: RateLimit,
    /// The tenant's own limits instead of its plan's (`None`: the plan's apply).
    pub rate_limit_override: Option<RateLimit>,
    pub notes: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// All a pool needs to reach one tenant's database. `Debug` omits the password.
#[derive(Clone)]
pub struct DataSource {
    pub engine: Engine,
    pub host: String,
    pub port: u16,
    pub database: String,
    pub schema: Option<String>,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    pub tls: TlsMode,
    /// The data server's id: the key of its circuit breaker and connection cap.
    pub server_id: Uuid,
    /// The data server's cap on connections we keep open to it (`None`: no cap).
    pub server_max_connections: Option<u32>,
    /// Changes whenever anything above (or the pool settings) changes; the pool manager rebuilds a
    /// tenant's pool when it sees a new fingerprint.
    pub fingerprint: u64,
}

impl std::fmt::Debug for DataSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataSource")
            .field("engine", &self.engine)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .field("schema", &self.schema)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl DataSource {
    pub fn target(&self) -> db::Target<'_> {
        db::Target {
            engine: self.engine,
            host: &self.host,
            port: self.port,
            database: &self.database,
            username: self.username.as_deref(),
            password: self.password.as_ref(),
            tls: self.tls,
            create: false,
        }
    }

    /// A SQLite tenant file `<dir>/<database>.db` with no login, for unit tests.
    #[cfg(test)]
    pub(crate) fn sqlite_for_test(dir: &std::path::Path, database: &str) -> Self {
        Self {
            engine: Engine::Sqlite,
            host: dir.display().to_string(),
            port: 0,
            database: database.into(),
            schema: None,
            username: None,
            password: None,
            tls: TlsMode::Disable,
            server_id: Uuid::nil(),
            server_max_connections: None,
            fingerprint: 0,
        }
    }

    /// `host:port` (or the SQLite directory): how operators name the server in messages.
    pub fn server_key(&self) -> String {
        match self.engine {
            Engine::Sqlite => self.host.clone(),
            _ => format!("{}:{}", self.host, self.port),
        }
    }
}

/// What the router needs about one tenant: the registry row plus its decrypted data source.
#[derive(Debug, Clone)]
pub struct TenantConfig {
    pub tenant: Tenant,
    pub source: DataSource,
}

/// Input for [`Registry::create_tenant`].
#[derive(Debug, Clone)]
pub struct NewTenant {
    pub code: TenantCode,
    pub name: String,
    pub subdomain: Option<Subdomain>,
    pub domains: Vec<HostName>,
    pub placement: Placement,
    pub server_id: Uuid,
    /// Defaults to `tenant_{code}`.
    pub database: Option<DatabaseName>,
    pub schema: Option<DatabaseName>,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    pub status: TenantStatus,
    pub region: Option<String>,
    pub pool: PoolSettings,
    pub plan: String,
    pub notes: Option<String>,
}

/// Changes for [`Registry::update_tenant`]: `None` keeps a field as it is.
#[derive(Debug, Clone, Default)]
pub struct TenantUpdate {
    pub name: Option<String>,
    /// `Some(None)` removes the subdomain.
    pub subdomain: Option<Option<Subdomain>>,
    /// Replaces the whole set.
    pub domains: Option<Vec<HostName>>,
    pub plan: Option<String>,
    pub region: Option<Option<String>>,
    pub notes: Option<Option<String>>,
    pub pool: Option<PoolSettings>,
    /// `Some(None)` removes the override (the plan's limits apply again).
    pub rate_limit: Option<Option<RateLimit>>,
}

/// Filter and page for [`Registry::list_tenants`].
#[derive(Debug, Clone, Default)]
pub struct TenantFilter {
    pub search: Option<String>,
    pub status: Option<TenantStatus>,
    /// 1-based.
    pub page: u32,
    pub limit: u32,
}

const TENANT_SELECT: &str = "SELECT t.id, t.code, t.name, t.subdomain, t.status, t.status_reason, \
    t.placement, t.engine, t.server_id, s.name AS server_name, t.database_name, t.schema_name, \
    t.username, t.password_enc, t.hosting, t.region, t.max_connections, t.acquire_timeout_ms, \
    t.statement_timeout_ms, t.schema_version, t.plan, t.notes, t.created_at, t.updated_at, \
    s.host, s.port, s.tls_mode, s.max_connections AS server_max_connections, \
    t.schema_checksum, t.schema_managed, t.users_epoch, t.provisioning_step, \
    t.rate_limit_rps, t.rate_limit_burst, p.requests_per_second AS plan_rps, p.burst AS plan_burst \
    FROM tenants t JOIN data_servers s ON s.id = t.server_id LEFT JOIN plans p ON p.name = t.plan";

/// Two nullable columns as a limit: both set or none.
fn limit_from(row: &AnyRow, rps: &str, burst: &str) -> Result<Option<RateLimit>> {
    let rps: Option<i64> = row.try_get(rps)?;
    let burst: Option<i64> = row.try_get(burst)?;
    let clamp = |n: i64| n.clamp(1, 1_000_000) as u32;
    Ok(rps.zip(burst).map(|(r, b)| RateLimit {
        requests_per_second: clamp(r),
        burst: clamp(b),
    }))
}

fn tenant_from_row(row: &AnyRow) -> Result<Tenant> {
    let text = |c: &str| row.try_get::<String, _>(c);
    let subdomain: Option<String> = row.try_get("subdomain")?;
    let schema: Option<String> = row.try_get("schema_name")?;
    Ok(Tenant {
        id: parse_uuid(text("id")?)?,
        code: TenantCode::parse(&text("code")?)?,
        name: text("name")?,
        subdomain: subdomain.as_deref().map(Subdomain::parse).transpose()?,
        domains: Vec::new(),
        status: text("status")?.parse()?,
        status_reason: row.try_get("status_reason")?,
        placement: text("placement")?.parse()?,
        engine: text("engine")?.parse()?,
        server_id: parse_uuid(text("server_id")?)?,
        server_name: ServerName::parse(&text("server_name")?)?,
        database: DatabaseName::parse(&text("database_name")?)?,
        schema: schema.as_deref().map(DatabaseName::parse).transpose()?,
        username: row.try_get("username")?,
        hosting: text("hosting")?.parse()?,
        region: row.try_get("region")?,
        pool: PoolSettings {
            max_connections: row.try_get::<i64, _>("max_connections")?.clamp(1, 10_000) as u32,
            acquire_timeout_ms: row.try_get::<i64, _>("acquire_timeout_ms")?.max(1) as u64,
            statement_timeout_ms: row.try_get::<i64, _>("statement_timeout_ms")?.max(0) as u64,
        },
        schema_version: row.try_get("schema_version")?,
        schema_checksum: row.try_get("schema_checksum")?,
        schema_managed: row.try_get::<i64, _>("schema_managed")? != 0,
        users_epoch: row.try_get("users_epoch")?,
        provisioning_step: row.try_get("provisioning_step")?,
        plan: text("plan")?,
        rate_limit: limit_from(row, "rate_limit_rps", "rate_limit_burst")?
            .or(limit_from(row, "plan_rps", "plan_burst")?)
            .unwrap_or(RateLimit::FALLBACK),
        rate_limit_override: limit_from(row, "rate_limit_rps", "rate_limit_burst")?,
        notes: row.try_get("notes")?,
        created_at: text("created_at")?,
        updated_at: text("updated_at")?,
    })
}

pub(crate) fn password_context(id: Uuid) -> String {
    format!("tenant:{id}:password")
}

impl Registry {
    fn config_from_row(&self, row: &AnyRow, tenant: Tenant) -> Result<TenantConfig> {
        let password_enc: Option<String> = row.try_get("password_enc")?;
        let password = password_enc
            .as_deref()
            .map(|ct| self.decrypt(ct, &password_context(tenant.id)))
            .transpose()?;
        let mut source = DataSource {
            engine: tenant.engine,
            host: row.try_get("host")?,
            port: row.try_get::<i64, _>("port")? as u16,
            database: tenant.database.to_string(),
            schema: tenant.schema.as_ref().map(DatabaseName::to_string),
            username: tenant.username.clone(),
            password,
            tls: row.try_get::<String, _>("tls_mode")?.parse()?,
            server_id: tenant.server_id,
            server_max_connections: row
                .try_get::<Option<i64>, _>("server_max_connections")?
                .map(|n| n.clamp(1, u32::MAX as i64) as u32),
            fingerprint: 0,
        };
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (
            source.engine,
            &source.host,
            source.port,
            &source.database,
            &source.schema,
        )
            .hash(&mut h);
        (&source.username, &password_enc, source.tls, tenant.pool).hash(&mut h);
        source.server_max_connections.hash(&mut h);
        source.fingerprint = h.finish();
        Ok(TenantConfig { tenant, source })
    }

    async fn load_domains(&self, tenant: &mut Tenant) -> Result<()> {
        tenant.domains = sqlx::query_scalar(
            &self.sql("SELECT domain FROM tenant_domains WHERE tenant_id = ? ORDER BY domain"),
        )
        .bind(tenant.id.to_string())
        .fetch_all(self.pool())
        .await?;
        Ok(())
    }

    pub(super) async fn fetch_config(
        &self,
        column: &str,
        value: String,
    ) -> Result<Option<TenantConfig>> {
        let q = format!("{TENANT_SELECT} WHERE t.{column} = ?");
        let Some(row) = sqlx::query(&self.sql(&q))
            .bind(value)
            .fetch_optional(self.pool())
            .await?
        else {
            return Ok(None);
        };
        let mut tenant = tenant_from_row(&row)?;
        self.load_domains(&mut tenant).await?;
        self.config_from_row(&row, tenant).map(Some)
    }

    pub async fn tenant(&self, code: &TenantCode) -> Result<Tenant> {
        Ok(self
            .fetch_config("code", code.to_string())
            .await?
            .ok_or_else(|| RegistryError::NotFound(format!("tenant {code}")))?
            .tenant)
    }

    pub async fn tenant_by_id(&self, id: Uuid) -> Result<Tenant> {
        Ok(self
            .fetch_config("id", id.to_string())
            .await?
            .ok_or_else(|| RegistryError::NotFound(format!("tenant {id}")))?
            .tenant)
    }

    /// Lists tenants (tombstones excluded unless `status = deleted` is asked for) with the total.
    pub async fn list_tenants(&self, filter: &TenantFilter) -> Result<(Vec<Tenant>, i64)> {
        let limit = filter.limit.clamp(1, 500);
        let offset = (filter.page.max(1) - 1) as i64 * limit as i64;
        let search = filter
            .search
            .as_deref()
            .map(|s| format!("%{}%", s.trim().to_ascii_lowercase()));
        let mut cond = String::from(" WHERE 1 = 1");
        match filter.status {
            Some(_) => cond.push_str(" AND t.status = ?"),
            None => cond.push_str(" AND t.status <> 'deleted'"),
        }
        if search.is_some() {
            cond.push_str(" AND (LOWER(t.code) LIKE ? OR LOWER(t.name) LIKE ?)");
        }
        let count_q = format!("SELECT COUNT(*) FROM tenants t{cond}");
        let list_q = format!("{TENANT_SELECT}{cond} ORDER BY t.code LIMIT ? OFFSET ?");
        let (count_q, list_q) = (self.sql(&count_q), self.sql(&list_q));
        let mut count = sqlx::query_scalar::<_, i64>(&count_q);
        let mut list = sqlx::query(&list_q);
        if let Some(status) = filter.status {
            count = count.bind(status.as_str());
            list = list.bind(status.as_str());
        }
        if let Some(s) = &search {
            count = count.bind(s.clone()).bind(s.clone());
            list = list.bind(s.clone()).bind(s.clone());
        }
        let total = count.fetch_one(self.pool()).await?;
        let rows = list
            .bind(limit as i64)
            .bind(offset)
            .fetch_all(self.pool())
            .await?;
        let mut tenants = rows
            .iter()
            .map(tenant_from_row)
            .collect::<Result<Vec<_>>>()?;
        for t in &mut tenants {
            self.load_domains(t).await?;
        }
        Ok((tenants, total))
    }

    /// Configs of every tenant that is not deleted (for health probes and fleet work).
    pub async fn all_configs(&self) -> Result<Vec<TenantConfig>> {
        let q = format!("{TENANT_SELECT} WHERE t.status <> 'deleted' ORDER BY t.code");
        let rows = sqlx::query(&q).fetch_all(self.pool()).await?;
        rows.iter()
            .map(|row| tenant_from_row(row).and_then(|t| self.config_from_row(row, t)))
            .collect()
    }
}
