//! Pool-manager settings; every field documents its default.

use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct PoolManagerSettings {
    /// Most tenant pools open at once; the least recently used is closed first. Default: 1,000.
    pub max_pools: u64,
    /// A pool nobody used for this long is closed. Default: 5 min.
    #[serde(with = "humantime_serde")]
    pub pool_idle_timeout: Duration,
    /// A connection idle in its pool for this long is closed. Default: 60 s.
    #[serde(with = "humantime_serde")]
    pub connection_idle_timeout: Duration,
    /// Consecutive connection failures that open a data server's circuit. Default: 3.
    pub breaker_threshold: u32,
    /// How often an open circuit has its server probed in the background (requests keep failing
    /// fast meanwhile; a successful probe closes the circuit). Default: 2 s (a recovered server
    /// serves again within about this long).
    #[serde(with = "humantime_serde")]
    pub breaker_cooldown: Duration,
    /// Longest a background probe of an open circuit's server may take to connect and answer one
    /// round trip; past it the server counts as still down. Default: 1 s.
    #[serde(with = "humantime_serde")]
    pub probe_timeout: Duration,
    /// Most connections **open** at once across all tenants (idle ones included). When the budget
    /// is full, idle connections of other tenants are closed before a request waits. Default: none
    /// (each tenant's own `max_connections` and each server's `max_connections` still apply).
    pub max_total_connections: Option<usize>,
    /// An idle connection unused for this long is pinged before it is handed out again; busier
    /// ones are handed out without a round trip. Default: 1 s.
    #[serde(with = "humantime_serde")]
    pub ping_after_idle: Duration,
    /// Longest a tenant request may run. A hung database server answers nothing (its own statement
    /// timeout cannot fire), so past this the request is answered 503 and the server's circuit
    /// breaker counts a failure. Default: 60 s.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Most idle connections of evicted PostgreSQL schema-tenant pools kept for another tenant of
    /// the same database and login to take over (its session reset as `DISCARD ALL` would, then
    /// pointed at its schema) instead of opening a new backend; 0 turns this off. Spares count
    /// against the connection budget and are closed first when it is full. Default: 64.
    pub spare_connections: usize,
}

impl Default for PoolManagerSettings {
    fn default() -> Self {
        Self {
            max_pools: 1_000,
            pool_idle_timeout: Duration::from_secs(300),
            connection_idle_timeout: Duration::from_secs(60),
            breaker_threshold: 3,
            breaker_cooldown: Duration::from_secs(2),
            probe_timeout: Duration::from_secs(1),
            max_total_connections: None,
            ping_after_idle: Duration::from_secs(1),
            request_timeout: Duration::from_secs(60),
            spare_connections: 64,
        }
    }
}
