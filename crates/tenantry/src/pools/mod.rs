//! The pool manager: one connection pool per tenant, created on first use, LRU-capped, idle-closed.
//!
//! - Pools live in a `moka` cache keyed by tenant id: `max_pools` caps them (least recently used
//!   goes first) and `pool_idle_timeout` closes pools nobody used for that long.
//! - Each pool is a `deadpool` pool of typed connections ([`crate::db::EngineConnection`]), so an
//!   embedding application gets its engine's own driver.
//! - The connection budget bounds **open** connections, platform-wide (`max_total_connections`)
//!   and per data server (the server row's `max_connections`). When it is full, idle connections
//!   of other tenants are closed before a request waits.
//! - An evicted pool is closed gracefully: connections already checked out keep working until
//!   returned, then close. A request that raced an eviction retries once on a fresh pool.
//! - Each pool remembers the fingerprint of the data source it was built from and its tenant's
//!   schema shape; a changed config (new host, new password, new limits) or a migrated schema
//!   builds a new pool on the next request, so no connection keeps statements prepared for the
//!   schema before.
//! - A circuit breaker per data server fails requests fast while the server is down.
//!
//! The hot path (a warm pool) reads no registry row and takes no lock across an `.await`.

mod breaker;
mod budget;
mod connection;
mod manager;
mod probe;
mod reload;
mod settings;
mod spares;
mod state;

pub use breaker::Breakers;
pub use connection::TenantConnection;
pub use manager::PooledConnection;
pub use settings::PoolManagerSettings;
pub use state::{PoolState, PoolStats};

use crate::registry::TenantConfig;
use budget::Budget;
use deadpool::managed::{Pool, PoolError as DeadpoolError};
use manager::TenantManager;
use moka::notification::RemovalCause;
use moka::sync::Cache;
use spares::{SpareKey, Spares};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
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
    #[error("the pool manager is shut down")]
    Closed,
    #[error("invalid data source: {0}")]
    Config(String),
}

impl PoolError {
    /// Whether a new connection was refused its login (the credentials, not the server).
    pub fn is_login_refused(&self) -> bool {
        matches!(self, PoolError::Connect { source, .. } if probe::login_refused(source))
    }
}

type TenantDeadpool = Pool<TenantManager>;

/// One tenant's pool and the fingerprint of the config it was built from.
struct TenantPool {
    pool: TenantDeadpool,
    fingerprint: u64,
    server_id: Uuid,
    /// Where its idle connections go when it is evicted (see `spares.rs`).
    spare_key: Option<SpareKey>,
}

/// A cheap `Clone` handle; the housekeeping task stops when the last handle is dropped.
#[derive(Clone)]
pub struct PoolManager {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pools: Cache<Uuid, Arc<TenantPool>>,
    breakers: Breakers,
    pub(crate) budget: Budget,
    settings: PoolManagerSettings,
    /// Pools closed by the LRU cap or the idle timeout.
    evictions: AtomicU64,
    /// Pools built (first use, or rebuilt after a config change).
    pools_opened: AtomicU64,
    /// Where a refused login re-reads the tenant's credentials (see `reload.rs`).
    reloads: reload::Reloads,
    /// Idle connections of evicted schema-tenant pools, for other tenants to take over.
    spares: Spares,
}

impl PoolManager {
    /// Creates the manager. Must be called inside a Tokio runtime (it spawns housekeeping).
    pub fn new(settings: PoolManagerSettings) -> Self {
        let inner = Arc::new_cyclic(|weak: &Weak<Inner>| {
            let owner = weak.clone();
            let pools = Cache::builder()
                .max_capacity(settings.max_pools)
                .time_to_idle(settings.pool_idle_timeout)
                .eviction_listener(
                    move |id: Arc<Uuid>, pool: Arc<TenantPool>, cause: RemovalCause| {
                        tracing::debug!(tenant_id = %id, ?cause, "closing tenant pool");
                        if let Some(inner) = owner.upgrade() {
                            if cause.was_evicted() {
                                inner.evictions.fetch_add(1, Ordering::Relaxed);
                            }
                            inner.park_idle(&pool);
                        }
                        // Idle connections close now; checked-out ones close when returned.
                        pool.pool.close();
                    },
                )
                .build();
            Inner {
                pools,
                breakers: Breakers::new(settings.breaker_threshold, settings.breaker_cooldown),
                budget: Budget::new(settings.max_total_connections),
                settings,
                evictions: AtomicU64::new(0),
                pools_opened: AtomicU64::new(0),
                reloads: reload::Reloads::default(),
                spares: Spares::default(),
            }
        });
        spawn_housekeeping(Arc::downgrade(&inner));
        Self { inner }
    }

    /// Checks out a connection from the tenant's pool, creating or rebuilding the pool as needed.
    /// A new connection refused its login (a password changed since `config` was read) has the
    /// tenant's credentials re-read from the registry and is tried once more (see `reload.rs`).
    #[tracing::instrument(skip_all, fields(tenant = %config.tenant.code))]
    pub async fn acquire(&self, config: &TenantConfig) -> Result<TenantConnection, PoolError> {
        let refused = match self.checkout(config).await {
            Err(e) if e.is_login_refused() => e,
            done => return done,
        };
        match self.reload(config).await {
            Some(fresh) => self.checkout(&fresh).await,
            None => Err(refused),
        }
    }

    /// `CircuitOpen` while the server's circuit is open; starts its background probe when due.
    fn refuse_if_open(&self, server: &crate::registry::DataSource) -> Result<(), PoolError> {
        let open = match self.inner.breakers.check(server.server_id) {
            Ok(()) => return Ok(()),
            Err(open) => open,
        };
        // Never a user request as the probe: it would wait on a hung server.
        if open.probe_due {
            self.probe(server, self.inner.settings.probe_timeout);
        }
        Err(PoolError::CircuitOpen {
            server: server.server_key(),
            retry_in: open.retry_in,
        })
    }

    async fn checkout(&self, config: &TenantConfig) -> Result<TenantConnection, PoolError> {
        let server = &config.source;
        let breakers = &self.inner.breakers;
        self.refuse_if_open(server)?;
        let timeout = Duration::from_millis(config.tenant.pool.acquire_timeout_ms);
        let mut retried = false;
        loop {
            let pool = self.pool_for(config);
            match tokio::time::timeout(timeout, pool.get()).await {
                Ok(Ok(obj)) => {
                    breakers.success(server.server_id);
                    let home = pool.manager().spare_key.is_some().then_some(pool);
                    return Ok(TenantConnection::new(obj, home));
                }
                Ok(Err(DeadpoolError::Closed)) if !retried => {
                    // The pool was evicted between lookup and checkout: use a fresh one.
                    self.inner.pools.invalidate(&config.tenant.id);
                    retried = true;
                }
                Ok(Err(DeadpoolError::Backend(e))) => {
                    // A refused login is this tenant's credentials, not its server being down:
                    // it must not make the server's other tenants fail fast.
                    if matches!(e, PoolError::Connect { .. }) && !e.is_login_refused() {
                        breakers.failure(server.server_id, &server.server_key());
                    }
                    return Err(e);
                }
                Ok(Err(_)) | Err(_) => {
                    // A pool with no open connection that times out could not reach its server; a
                    // pool whose connections are all busy is merely saturated, unless its server
                    // already failed (then its connections are likely stuck on a hung server).
                    if pool.status().size == 0 || breakers.is_suspect(server.server_id) {
                        breakers.failure(server.server_id, &server.server_key());
                    } else {
                        // Saturated or stuck on a hung server? A fresh connection tells.
                        self.probe(server, timeout);
                    }
                    return Err(PoolError::Timeout {
                        server: server.server_key(),
                        timeout,
                    });
                }
            }
        }
    }

    /// The tenant's current pool, built lazily (no I/O here) when missing or stale.
    fn pool_for(&self, config: &TenantConfig) -> TenantDeadpool {
        let id = config.tenant.id;
        let shape = schema_shape(config);
        if let Some(p) = self.inner.pools.get(&id) {
            if p.fingerprint == config.source.fingerprint
                && p.pool.manager().shape.as_deref() == shape
                && !p.pool.is_closed()
            {
                return p.pool.clone();
            }
        }
        let spare_key = if self.inner.settings.spare_connections > 0 {
            SpareKey::of(&config.source, &self.inner.spares.random)
        } else {
            None
        };
        let manager = TenantManager {
            tenant_id: id,
            source: config.source.clone(),
            statement_timeout_ms: config.tenant.pool.statement_timeout_ms,
            acquire_timeout: Duration::from_millis(config.tenant.pool.acquire_timeout_ms),
            ping_after_idle: self.inner.settings.ping_after_idle,
            owner: Arc::downgrade(&self.inner),
            spare_key: spare_key.clone(),
            shape: shape.map(Arc::from),
        };
        let pool = Pool::builder(manager)
            .max_size(config.tenant.pool.max_connections.max(1) as usize)
            .build()
            .expect("a pool without runtime-dependent timeouts always builds");
        let entry = Arc::new(TenantPool {
            pool: pool.clone(),
            fingerprint: config.source.fingerprint,
            server_id: config.source.server_id,
            spare_key,
        });
        // Replacing an entry hands the old pool to the eviction listener, which closes it.
        self.inner.pools.insert(id, entry);
        self.inner.pools_opened.fetch_add(1, Ordering::Relaxed);
        pool
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

    /// Reports that a request lost its connection to data server `server_id` (I/O error, or no
    /// answer within the request timeout): a failure for its circuit breaker.
    pub fn report_failure(&self, server_id: Uuid, label: &str) {
        self.inner.breakers.failure(server_id, label);
    }

    pub fn settings(&self) -> &PoolManagerSettings {
        &self.inner.settings
    }

    pub fn open_circuits(&self) -> Vec<String> {
        self.inner.breakers.open_servers()
    }

    /// Whether a data server's circuit is open now (requests for its tenants fail fast).
    pub fn circuit_open(&self, server_id: Uuid) -> bool {
        self.inner.breakers.is_open(server_id)
    }

    /// Closes every pool (on shutdown).
    pub async fn close_all(&self) {
        for (_, p) in self.inner.pools.iter() {
            p.pool.close();
        }
        self.inner.pools.invalidate_all();
        self.inner.pools.run_pending_tasks();
        self.inner.spares.clear();
    }
}

impl Inner {
    /// Closes one idle connection of another tenant (on `server` only, when given), the one idle
    /// longest. Returns whether one was closed. Called only when the budget is full.
    pub(crate) fn reclaim_idle(&self, server: Option<Uuid>, except: Uuid) -> bool {
        if self.spares.reclaim(server) {
            self.budget
                .counters
                .reclaimed
                .fetch_add(1, Ordering::Relaxed);
            return true;
        }
        let mut best: Option<(Duration, Arc<TenantPool>)> = None;
        for (id, p) in self.pools.iter() {
            if *id == except || server.is_some_and(|s| s != p.server_id) {
                continue;
            }
            if p.pool.status().available == 0 {
                continue;
            }
            let mut longest = Duration::ZERO;
            p.pool.retain(|_, m| {
                longest = longest.max(m.last_used());
                true
            });
            if best.as_ref().is_none_or(|(d, _)| longest > *d) {
                best = Some((longest, p));
            }
        }
        let Some((idle_for, pool)) = best else {
            return false;
        };
        let mut closed = false;
        let removed = pool.pool.retain(|_, m| {
            let take = !closed && m.last_used() >= idle_for;
            closed |= take;
            !take
        });
        let n = removed.removed.len() as u64;
        self.budget
            .counters
            .reclaimed
            .fetch_add(n, Ordering::Relaxed);
        n > 0
    }

    /// Parks the idle connections of an evicted pool for other tenants of its database and
    /// login (when its tenant has a schema); the pool is closed right after.
    fn park_idle(&self, pool: &TenantPool) {
        let Some(key) = &pool.spare_key else {
            return;
        };
        for conn in pool.pool.retain(|_, _| false).removed {
            self.park(key, pool.server_id, conn);
        }
    }

    /// Parks one connection of an evicted schema-tenant pool (closes it when the spares are full).
    pub(crate) fn park(&self, key: &SpareKey, server_id: Uuid, conn: PooledConnection) {
        let cap = self.settings.spare_connections;
        self.spares.park(key.clone(), server_id, conn, cap);
    }

    /// Closes connections idle longer than `connection_idle_timeout`, in every pool and among
    /// the spares.
    fn close_idle_connections(&self) {
        let max_idle = self.settings.connection_idle_timeout;
        self.spares.expire(max_idle);
        for (_, p) in self.pools.iter() {
            p.pool.retain(|_, m| m.last_used() < max_idle);
        }
    }
}

/// The tenant's schema shape (see [`TenantManager::shape`]): the fingerprint of the migrations
/// applied to its schema, when tenantry manages it.
fn schema_shape(config: &TenantConfig) -> Option<&str> {
    let tenant = &config.tenant;
    tenant
        .schema_managed
        .then_some(tenant.schema_checksum.as_deref())
        .flatten()
}

fn spawn_housekeeping(inner: Weak<Inner>) {
    let period = inner
        .upgrade()
        .map(|i| {
            let s = &i.settings;
            (s.pool_idle_timeout.min(s.connection_idle_timeout) / 4)
                .clamp(Duration::from_millis(50), Duration::from_secs(30))
        })
        .unwrap_or(Duration::from_secs(30));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        loop {
            tick.tick().await;
            match inner.upgrade() {
                Some(inner) => {
                    inner.pools.run_pending_tasks();
                    inner.close_idle_connections();
                }
                None => break,
            }
        }
    });
}
