//! The deadpool manager of one tenant's pool: opens typed connections under the connection budget
//! and decides whether an idle connection may be handed out again.

use super::budget::Permits;
use super::spares::SpareKey;
use super::{Inner, PoolError};
use crate::db::{EngineConnection, Purpose};
use crate::registry::DataSource;
use deadpool::managed::{Metrics, RecycleError, RecycleResult};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// An open pooled connection and its share of the budget.
///
/// Dropping it closes the connection **gracefully** in the background and frees its budget permits
/// only once the server has been told and given a moment to end its session, so connections the
/// server still counts never exceed the budget (a dropped socket alone leaves the server's backend
/// alive for a while).
#[derive(Debug)]
pub struct PooledConnection {
    conn: Option<EngineConnection>,
    permits: Option<Permits>,
    /// Times this connection was handed over from an evicted pool to another tenant's.
    takeovers: u32,
    /// The schema shape of the tenant its prepared statements were made for (see
    /// [`TenantManager::shape`]).
    shape: Option<Arc<str>>,
}

/// Time a server gets to end a session after its client said goodbye, before the connection's
/// budget permits are handed to a new connection.
const CLOSE_GRACE: Duration = Duration::from_millis(20);
/// Longest a graceful close may take before the socket is simply dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

impl PooledConnection {
    pub(crate) fn conn(&self) -> &EngineConnection {
        self.conn.as_ref().expect("present until drop")
    }

    pub(crate) fn conn_mut(&mut self) -> &mut EngineConnection {
        self.conn.as_mut().expect("present until drop")
    }

    pub(crate) fn takeovers(&self) -> u32 {
        self.takeovers
    }

    /// A connection outside any budget, for the pool's own unit tests.
    #[cfg(test)]
    pub(crate) fn unbudgeted(conn: EngineConnection, takeovers: u32) -> Self {
        Self {
            conn: Some(conn),
            permits: None,
            takeovers,
            shape: None,
        }
    }
}

impl Drop for PooledConnection {
    fn drop(&mut self) {
        let (Some(conn), permits) = (self.conn.take(), self.permits.take()) else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return; // the runtime is gone (process exit): the sockets close with it
        };
        let grace = match conn.engine() {
            crate::tenant::Engine::Sqlite => Duration::ZERO,
            _ => CLOSE_GRACE,
        };
        runtime.spawn(async move {
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, conn.close()).await;
            tokio::time::sleep(grace).await;
            drop(permits);
        });
    }
}

pub(crate) struct TenantManager {
    pub tenant_id: Uuid,
    pub source: DataSource,
    pub statement_timeout_ms: u64,
    /// Longest a request waits for a connection, including waiting for room under the budget.
    pub acquire_timeout: Duration,
    /// An idle connection unused for this long is pinged before it is handed out.
    pub ping_after_idle: Duration,
    /// The manager that owns this pool: for reclaiming other tenants' idle connections.
    pub owner: Weak<Inner>,
    /// Set when other tenants' spare connections may be taken over (PostgreSQL schema tenants).
    pub spare_key: Option<SpareKey>,
    /// The tenant's schema shape: the fingerprint of the migrations applied to it, when tenantry
    /// manages its schema. A spare made for a tenant of the same shape keeps its prepared
    /// statements when taken over (the same SQL text means the same result columns there);
    /// otherwise, or when unknown, they are dropped.
    pub shape: Option<Arc<str>>,
}

impl TenantManager {
    /// Takes budget permits for one new connection, closing other tenants' idle connections to
    /// make room when the budget is full, and waiting (within the acquire timeout) otherwise.
    async fn reserve(&self) -> Result<Permits, PoolError> {
        let deadline = Instant::now() + self.acquire_timeout;
        let (server, cap) = (self.source.server_id, self.source.server_max_connections);
        let inner = self.owner.upgrade().ok_or(PoolError::Closed)?;
        let tenant = self.tenant_id;
        inner
            .budget
            .take(server, cap, deadline, |scope| {
                inner.reclaim_idle(scope, tenant)
            })
            .await
            .map_err(|_| PoolError::BudgetExhausted)
    }

    /// Parks a connection that came back after its pool was evicted, as the evicted pool's idle
    /// connections were (a PostgreSQL schema tenant's, while spares are on); closes it otherwise.
    pub(crate) fn park_returned(&self, conn: PooledConnection) {
        if let (Some(key), Some(inner)) = (&self.spare_key, self.owner.upgrade()) {
            inner.park(key, self.source.server_id, conn);
        }
    }

    /// A spare connection of this tenant's database and login (left by an evicted pool), reset
    /// and pointed at this tenant's schema; `None` when there is none. A spare that fails its
    /// reset is closed, and the caller opens a new connection instead.
    async fn take_over(&self) -> Option<PooledConnection> {
        let (key, schema) = (self.spare_key.as_ref()?, self.source.schema.as_deref()?);
        let inner = self.owner.upgrade()?;
        let mut spare = inner.spares.take(key)?;
        let keep_statements = spare.shape.is_some() && spare.shape == self.shape;
        let reset = spare
            .conn_mut()
            .rebind(schema, self.statement_timeout_ms, keep_statements);
        match tokio::time::timeout(self.acquire_timeout, reset).await {
            Ok(Ok(())) => {
                spare.takeovers += 1;
                spare.shape.clone_from(&self.shape);
                if keep_statements {
                    inner.spares.kept_statements.fetch_add(1, Ordering::Relaxed);
                }
                inner.spares.taken_over.fetch_add(1, Ordering::Relaxed);
                Some(spare)
            }
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "a spare connection failed its reset; closing it");
                None
            }
            Err(_) => None,
        }
    }
}

impl deadpool::managed::Manager for TenantManager {
    type Type = PooledConnection;
    type Error = PoolError;

    async fn create(&self) -> Result<PooledConnection, PoolError> {
        if let Some(conn) = self.take_over().await {
            return Ok(conn);
        }
        let started = Instant::now();
        let permits = self.reserve().await?;
        let remaining = self.acquire_timeout.saturating_sub(started.elapsed());
        let purpose = Purpose::Pool {
            statement_timeout_ms: self.statement_timeout_ms,
        };
        let conn = EngineConnection::connect(&self.source, purpose, remaining)
            .await
            .map_err(|source| PoolError::Connect {
                server: self.source.server_key(),
                source,
            })?;
        Ok(PooledConnection {
            conn: Some(conn),
            permits: Some(permits),
            takeovers: 0,
            shape: self.shape.clone(),
        })
    }

    async fn recycle(
        &self,
        obj: &mut PooledConnection,
        metrics: &Metrics,
    ) -> RecycleResult<PoolError> {
        // A SQL Server connection whose statement was cut off and not cancelled is closed.
        if obj.conn().is_broken() {
            return Err(RecycleError::message("a statement was cut off on it"));
        }
        // A connection in steady use is handed out as is (no round trip on the hot path); one that
        // sat idle may have been cut by the server or a firewall, and one whose server just failed
        // may be broken, so those are checked first.
        let suspect = || {
            self.owner
                .upgrade()
                .is_some_and(|inner| inner.breakers.is_suspect(self.source.server_id))
        };
        if metrics.last_used() >= self.ping_after_idle || suspect() {
            if let Err(e) = obj.conn_mut().ping().await {
                return Err(RecycleError::message(format!("stale connection: {e}")));
            }
        }
        Ok(())
    }
}
