//! What the pool manager reports about its pools, for health, metrics and the dashboard (no I/O,
//! and the LRU's recency untouched).

use super::{PoolManager, TenantDeadpool};
use serde::Serialize;
use std::sync::atomic::Ordering;
use uuid::Uuid;

/// One tenant's pool as the manager sees it (no I/O).
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PoolState {
    /// Connections open (idle + in use).
    pub open: usize,
    pub idle: usize,
    pub in_use: usize,
    /// Requests waiting for a connection.
    pub waiting: usize,
    pub max: usize,
}

/// The manager's totals, for health and metrics.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolStats {
    pub pools: u64,
    pub pools_opened: u64,
    pub evictions: u64,
    pub connections_open: usize,
    pub connections_peak: usize,
    pub connections_opened: u64,
    pub connections_closed: u64,
    pub connections_reclaimed: u64,
    /// Idle connections of evicted pools taken over by another tenant of the same database and
    /// login, instead of a new connection; and how many such spares are parked now.
    pub connections_taken_over: u64,
    /// Of the connections taken over, those that kept their prepared statements (the tenant
    /// before had the same schema shape).
    pub takeovers_keeping_statements: u64,
    pub spare_connections: u64,
    pub max_total_connections: Option<usize>,
    pub open_circuits: Vec<String>,
}

impl PoolManager {
    /// A tenant's pool state, without touching its recency (health must not disturb the LRU).
    pub fn pool_state(&self, tenant_id: Uuid) -> Option<PoolState> {
        // `iter` does not count as an access for the LRU, unlike `get`.
        self.inner
            .pools
            .iter()
            .find(|(id, _)| **id == tenant_id)
            .map(|(_, p)| state_of(&p.pool))
    }

    /// Every open pool's state, keyed by tenant id (no I/O, LRU untouched).
    pub fn pool_states(&self) -> std::collections::HashMap<Uuid, PoolState> {
        self.inner
            .pools
            .iter()
            .map(|(id, p)| (*id, state_of(&p.pool)))
            .collect()
    }

    pub fn stats(&self) -> PoolStats {
        let c = &self.inner.budget.counters;
        PoolStats {
            pools: self.active_pools(),
            pools_opened: self.inner.pools_opened.load(Ordering::Relaxed),
            evictions: self.inner.evictions.load(Ordering::Relaxed),
            connections_open: c.open.load(Ordering::Relaxed),
            connections_peak: c.peak.load(Ordering::Relaxed),
            connections_opened: c.opened.load(Ordering::Relaxed),
            connections_closed: c.closed.load(Ordering::Relaxed),
            connections_reclaimed: c.reclaimed.load(Ordering::Relaxed),
            connections_taken_over: self.inner.spares.taken_over.load(Ordering::Relaxed),
            takeovers_keeping_statements: self.inner.spares.kept_statements.load(Ordering::Relaxed),
            spare_connections: self.inner.spares.parked(),
            max_total_connections: self.inner.settings.max_total_connections,
            open_circuits: self.open_circuits(),
        }
    }
}

fn state_of(pool: &TenantDeadpool) -> PoolState {
    let s = pool.status();
    PoolState {
        open: s.size,
        idle: s.available,
        in_use: s.size - s.available,
        waiting: s.waiting,
        max: s.max_size,
    }
}
