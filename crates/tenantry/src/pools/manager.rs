//! The deadpool manager of one tenant's pool: opens typed connections under the connection budget
//! and decides whether an idle connection may be handed out again.

use super::budget::Permits;
use super::{Inner, PoolError};
use crate::db::{EngineConnection, Purpose};
use crate::registry::DataSource;
use deadpool::managed::{Metrics, RecycleError, RecycleResult};
use std::sync::Weak;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// An open pooled connection and its share of the budget (freed when the connection is dropped).
#[derive(Debug)]
pub struct PooledConnection {
    pub(crate) conn: EngineConnection,
    pub(crate) _permits: Permits,
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
}

impl deadpool::managed::Manager for TenantManager {
    type Type = PooledConnection;
    type Error = PoolError;

    async fn create(&self) -> Result<PooledConnection, PoolError> {
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
            conn,
            _permits: permits,
        })
    }

    async fn recycle(
        &self,
        obj: &mut PooledConnection,
        metrics: &Metrics,
    ) -> RecycleResult<PoolError> {
        // A connection in steady use is handed out as is (no round trip on the hot path); one that
        // sat idle may have been cut by the server or a firewall, so it is checked first.
        if metrics.last_used() >= self.ping_after_idle {
            if let Err(e) = obj.conn.ping().await {
                return Err(RecycleError::message(format!("stale connection: {e}")));
            }
        }
        Ok(())
    }
}
