//! The pool manager: one connection pool per tenant, created on first use, LRU-capped, idle-closed.
//!
//! - Pools live in a `moka` cache keyed by tenant id: `max_pools` caps them (least recently used
//!   goes first) and `pool_idle_timeout` closes pools nobody used for that long.
//! - An evicted pool is closed gracefully in the background: connections already checked out keep
//!   working until returned. A request that raced an eviction retries once on a fresh pool.
//! - Each pool remembers the fingerprint of the data source it was built from; a changed config
//!   (new host, new password, new limits) builds a new pool on the next request.
//! - A circuit breaker per data server fails requests fast while the server is down; a global
//!   semaphore (optional) bounds connections checked out across all tenants.
//!
//! The hot path (a warm pool) takes no lock across an `.await`.

mod breaker;
mod connection;
mod settings;

pub use breaker::Breakers;
pub use connection::TenantConnection;
pub use settings::PoolManagerSettings;

use crate::registry::TenantConfig;
use crate::tenant::Engine;
use moka::notification::RemovalCause;
use moka::sync::Cache;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::AnyPool;
use std::str::FromStr;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::Semaphore;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PoolError {
    #[error("database server {server} is unavailable; retrying in {retry_in:?}")]
    CircuitOpen { server: String, retry_in: Duration },
    #[error("no connection to {server} within {timeout:?}")]
    Timeout { server: String, timeout: Duration },
    #[error("cannot connect to {server}: {source}")]
    Connect {
        server: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("all connections of the platform are in use")]
    BudgetExhausted,
    #[error("invalid data source: {0}")]
    Config(String),
}

/// One tenant's pool and the fingerprint of the config it was built from.
struct TenantPool {
    pool: AnyPool,
    fingerprint: u64,
}

/// A cheap `Clone` handle; the housekeeping task stops when the last handle is dropped.
#[derive(Clone)]
pub struct PoolManager {
    inner: Arc<Inner>,
}

struct Inner {
    pools: Cache<Uuid, Arc<TenantPool>>,
    breakers: Breakers,
    /// Bounds connections checked out at once across all tenants, so one tenant's burst (or
    /// 10,000 tenants) cannot take more than the platform allows. `None`: unbounded.
    budget: Option<Arc<Semaphore>>,
    settings: PoolManagerSettings,
}

impl PoolManager {
    /// Creates the manager. Must be called inside a Tokio runtime (it spawns housekeeping).
    pub fn new(settings: PoolManagerSettings) -> Self {
        crate::db::install_drivers();
        let runtime = tokio::runtime::Handle::current();
        let pools = Cache::builder()
            .max_capacity(settings.max_pools)
            .time_to_idle(settings.pool_idle_timeout)
            .eviction_listener(
                move |id: Arc<Uuid>, pool: Arc<TenantPool>, cause: RemovalCause| {
                    tracing::debug!(tenant_id = %id, ?cause, "closing tenant pool");
                    let pool = pool.pool.clone();
                    runtime.spawn(async move { pool.close().await });
                },
            )
            .build();
        let inner = Arc::new(Inner {
            pools,
            breakers: Breakers::new(settings.breaker_threshold, settings.breaker_cooldown),
            budget: settings
                .max_total_connections
                .map(|n| Arc::new(Semaphore::new(n))),
            settings,
        });
        spawn_housekeeping(Arc::downgrade(&inner));
        Self { inner }
    }

    /// Checks out a connection from the tenant's pool, creating or rebuilding the pool as needed.
    #[tracing::instrument(skip_all, fields(tenant = %config.tenant.code))]
    pub async fn acquire(&self, config: &TenantConfig) -> Result<TenantConnection, PoolError> {
        let server = config.source.server_key();
        if let Err(retry_in) = self.inner.breakers.check(&server) {
            return Err(PoolError::CircuitOpen { server, retry_in });
        }
        let timeout = Duration::from_millis(config.tenant.pool.acquire_timeout_ms);
        let permit = match &self.inner.budget {
            Some(sem) => Some(
                tokio::time::timeout(timeout, sem.clone().acquire_owned())
                    .await
                    .map_err(|_| PoolError::BudgetExhausted)?
                    .expect("budget semaphore is never closed"),
            ),
            None => None,
        };
        let mut retried = false;
        loop {
            let pool = self.pool_for(config)?;
            match tokio::time::timeout(timeout, pool.acquire()).await {
                Ok(Ok(conn)) => {
                    self.inner.breakers.success(&server);
                    return Ok(TenantConnection::new(conn, config.source.engine, permit));
                }
                Ok(Err(sqlx::Error::PoolClosed)) if !retried => {
                    // The pool was evicted between lookup and acquire: use a fresh one.
                    self.inner.pools.invalidate(&config.tenant.id);
                    retried = true;
                }
                Ok(Err(sqlx::Error::PoolTimedOut)) | Err(_) => {
                    // A pool with no open connection that times out could not reach its server; a
                    // pool whose connections are all busy is merely saturated.
                    if pool.size() == 0 {
                        self.inner.breakers.failure(&server);
                    }
                    return Err(PoolError::Timeout { server, timeout });
                }
                Ok(Err(source)) => {
                    self.inner.breakers.failure(&server);
                    return Err(PoolError::Connect { server, source });
                }
            }
        }
    }

    /// The tenant's current pool, built lazily (no I/O here) when missing or stale.
    fn pool_for(&self, config: &TenantConfig) -> Result<AnyPool, PoolError> {
        let id = config.tenant.id;
        if let Some(p) = self.inner.pools.get(&id) {
            if p.fingerprint == config.source.fingerprint && !p.pool.is_closed() {
                return Ok(p.pool.clone());
            }
        }
        let pool = Arc::new(TenantPool {
            pool: build_pool(config, &self.inner.settings)?,
            fingerprint: config.source.fingerprint,
        });
        // Replacing an entry hands the old pool to the eviction listener, which closes it.
        self.inner.pools.insert(id, pool.clone());
        Ok(pool.pool.clone())
    }

    /// Closes and forgets a tenant's pool (e.g. on suspension).
    pub fn evict(&self, tenant_id: Uuid) {
        self.inner.pools.invalidate(&tenant_id);
        self.inner.pools.run_pending_tasks();
    }

    /// Number of open tenant pools.
    pub fn active_pools(&self) -> u64 {
        self.inner.pools.run_pending_tasks();
        self.inner.pools.entry_count()
    }

    /// Whether a tenant currently has a pool.
    pub fn has_pool(&self, tenant_id: Uuid) -> bool {
        self.inner.pools.contains_key(&tenant_id)
    }

    pub fn open_circuits(&self) -> Vec<String> {
        self.inner.breakers.open_servers()
    }

    /// Closes every pool (on shutdown).
    pub async fn close_all(&self) {
        let pools: Vec<_> = self
            .inner
            .pools
            .iter()
            .map(|(_, p)| p.pool.clone())
            .collect();
        self.inner.pools.invalidate_all();
        for p in pools {
            p.close().await;
        }
    }
}

fn spawn_housekeeping(inner: Weak<Inner>) {
    let period = inner
        .upgrade()
        .map(|i| {
            (i.settings.pool_idle_timeout / 4)
                .clamp(Duration::from_millis(50), Duration::from_secs(30))
        })
        .unwrap_or(Duration::from_secs(30));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        loop {
            tick.tick().await;
            match inner.upgrade() {
                Some(inner) => inner.pools.run_pending_tasks(),
                None => break,
            }
        }
    });
}

/// Builds (lazily: nothing connects yet) the pool for one tenant's data source.
fn build_pool(config: &TenantConfig, settings: &PoolManagerSettings) -> Result<AnyPool, PoolError> {
    let source = &config.source;
    let url = crate::db::connect_url(&source.target())
        .map_err(|e| PoolError::Config(format!("bad address for {}: {e}", source.server_key())))?;
    let options = AnyConnectOptions::from_str(&url).map_err(|_| {
        PoolError::Config(format!(
            "bad connection settings for {}",
            source.server_key()
        ))
    })?;
    let setup = session_setup(config)?;
    Ok(AnyPoolOptions::new()
        .max_connections(config.tenant.pool.max_connections)
        .min_connections(0)
        .acquire_timeout(Duration::from_millis(config.tenant.pool.acquire_timeout_ms))
        .idle_timeout(Some(settings.connection_idle_timeout))
        .test_before_acquire(false)
        .after_connect(move |conn, _meta| {
            let setup = setup.clone();
            Box::pin(async move {
                for (statement, must_succeed) in setup.iter() {
                    let done = sqlx::Executor::execute(&mut *conn, statement.as_str()).await;
                    if let Err(e) = done {
                        if *must_succeed {
                            return Err(e);
                        }
                    }
                }
                Ok(())
            })
        })
        .connect_lazy_with(options))
}

/// Statements run once per new connection (never per checkout), with whether each must succeed.
fn session_setup(config: &TenantConfig) -> Result<Arc<Vec<(String, bool)>>, PoolError> {
    let timeout_ms = config.tenant.pool.statement_timeout_ms;
    let mut setup = Vec::new();
    match config.source.engine {
        Engine::Postgres => {
            if let Some(schema) = &config.source.schema {
                let schema = crate::tenant::DatabaseName::parse(schema)
                    .map_err(|e| PoolError::Config(e.to_string()))?;
                setup.push((format!("SET search_path TO \"{schema}\""), true));
            }
            setup.push((format!("SET statement_timeout = {timeout_ms}"), true));
        }
        Engine::Mysql => {
            // MariaDB's name for it; MySQL answers with an error, which is not fatal.
            let secs = timeout_ms as f64 / 1000.0;
            setup.push((format!("SET SESSION max_statement_time = {secs}"), false));
        }
        Engine::Sqlite => {
            setup.push(("PRAGMA foreign_keys = ON".to_owned(), true));
            setup.push(("PRAGMA busy_timeout = 5000".to_owned(), true));
        }
    }
    Ok(Arc::new(setup))
}
