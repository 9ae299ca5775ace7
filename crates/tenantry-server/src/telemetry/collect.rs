//! What `/metrics` reads from the platform at scrape time: pools and connections, the budget,
//! the breaker of every data server, the registry caches, and operation and migration outcomes.
//! Counters the library keeps as totals are written with `absolute`; gauges with `set`.

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, Unit};
use tenantry::platform::{CounterSnapshot, Platform, PlatformError};
use tenantry::pools::PoolStats;
use tenantry::registry::CacheStats;

/// Help texts, written once per recorder.
pub(super) fn describe() {
    describe_counter!(
        "tenantry_http_requests_total",
        "HTTP requests by method, route template, status class and tenant"
    );
    describe_histogram!(
        "tenantry_http_request_duration_seconds",
        Unit::Seconds,
        "HTTP request latency until the response head"
    );
    describe_gauge!("tenantry_pools_open", "Tenant pools open now");
    describe_gauge!(
        "tenantry_pool_connections",
        "Pooled connections by state (open, idle, in_use) and requests waiting"
    );
    describe_gauge!(
        "tenantry_connection_budget_used",
        "Open connections counted against the budget"
    );
    describe_gauge!(
        "tenantry_connection_budget_limit",
        "The budget on open connections (max_total_connections)"
    );
    describe_gauge!(
        "tenantry_connections_peak",
        "Most connections open at once since start"
    );
    describe_counter!(
        "tenantry_pools_opened_total",
        "Tenant pools built (first use or a changed config)"
    );
    describe_counter!(
        "tenantry_pool_evictions_total",
        "Tenant pools closed by the LRU cap or the idle timeout"
    );
    describe_counter!(
        "tenantry_connections_opened_total",
        "Tenant connections opened"
    );
    describe_counter!(
        "tenantry_connections_closed_total",
        "Tenant connections closed"
    );
    describe_counter!(
        "tenantry_connections_reclaimed_total",
        "Idle connections closed to make room under the budget"
    );
    describe_counter!(
        "tenantry_connections_taken_over_total",
        "Idle connections of evicted schema-tenant pools reset and taken over by another tenant of the same database and login"
    );
    describe_counter!(
        "tenantry_takeovers_keeping_statements_total",
        "Connections taken over that kept their prepared statements (the tenant before had the same schema shape)"
    );
    describe_gauge!(
        "tenantry_spare_connections",
        "Idle connections of evicted schema-tenant pools waiting to be taken over"
    );
    describe_gauge!(
        "tenantry_breaker_open",
        "1 while a data server's circuit breaker is open"
    );
    describe_counter!(
        "tenantry_registry_cache_hits_total",
        "Registry lookups answered from memory, by cache (config, domain)"
    );
    describe_counter!(
        "tenantry_registry_cache_misses_total",
        "Registry lookups that read the registry, by cache"
    );
    describe_gauge!(
        "tenantry_registry_cached_configs",
        "Tenant configs held in memory"
    );
    describe_counter!(
        "tenantry_registry_unknown_code_checks_total",
        "Change-stamp reads made because a request named a tenant code unknown to the cache \
         (bounded: at most one per [cache] unknown_check_interval)"
    );
    describe_counter!(
        "tenantry_operations_total",
        "Platform operations (provisioning, suspension, users, …) by action and outcome"
    );
    describe_counter!(
        "tenantry_tenant_migrations_total",
        "Tenants visited by fleet migrations, by outcome"
    );
}

/// Everything read from the platform for one scrape (the async part), recorded afterwards
/// inside the app's recorder (the sync part).
pub(super) struct Sample {
    pools: PoolStats,
    /// (open, idle, in use, waiting) summed over every open pool.
    connections: [usize; 4],
    breakers: Vec<(String, bool)>,
    cache: CacheStats,
    cached_configs: u64,
    counters: CounterSnapshot,
}

impl Sample {
    pub async fn take(platform: &Platform) -> Result<Self, PlatformError> {
        let pools = platform.pools();
        let mut connections = [0usize; 4];
        for s in pools.pool_states().values() {
            connections[0] += s.open;
            connections[1] += s.idle;
            connections[2] += s.in_use;
            connections[3] += s.waiting;
        }
        let servers = platform.registry().list_servers().await?;
        let breakers = servers
            .iter()
            .map(|s| (s.name.to_string(), pools.circuit_open(s.id)))
            .collect();
        Ok(Self {
            pools: pools.stats(),
            connections,
            breakers,
            cache: platform.registry().cache_stats(),
            cached_configs: platform.registry().cached_configs(),
            counters: platform.counters(),
        })
    }

    pub fn record(&self) {
        self.record_pools();
        for (server, open) in &self.breakers {
            gauge!("tenantry_breaker_open", "server" => server.clone()).set(u8::from(*open));
        }
        let c = &self.cache;
        for (cache, hits, misses) in [
            ("config", c.config_hits, c.config_misses),
            ("domain", c.domain_hits, c.domain_misses),
        ] {
            counter!("tenantry_registry_cache_hits_total", "cache" => cache).absolute(hits);
            counter!("tenantry_registry_cache_misses_total", "cache" => cache).absolute(misses);
        }
        gauge!("tenantry_registry_cached_configs").set(self.cached_configs as f64);
        counter!("tenantry_registry_unknown_code_checks_total").absolute(c.unknown_checks);
        for (action, outcome, n) in &self.counters.operations {
            let labels = [("action", *action), ("outcome", *outcome)];
            counter!("tenantry_operations_total", &labels).absolute(*n);
        }
        for (outcome, n) in &self.counters.migrations {
            counter!("tenantry_tenant_migrations_total", "outcome" => *outcome).absolute(*n);
        }
    }

    fn record_pools(&self) {
        let p = &self.pools;
        gauge!("tenantry_pools_open").set(p.pools as f64);
        for (state, n) in ["open", "idle", "in_use", "waiting"]
            .into_iter()
            .zip(self.connections)
        {
            gauge!("tenantry_pool_connections", "state" => state).set(n as f64);
        }
        gauge!("tenantry_connection_budget_used").set(p.connections_open as f64);
        if let Some(limit) = p.max_total_connections {
            gauge!("tenantry_connection_budget_limit").set(limit as f64);
        }
        gauge!("tenantry_connections_peak").set(p.connections_peak as f64);
        counter!("tenantry_pools_opened_total").absolute(p.pools_opened);
        counter!("tenantry_pool_evictions_total").absolute(p.evictions);
        counter!("tenantry_connections_opened_total").absolute(p.connections_opened);
        counter!("tenantry_connections_closed_total").absolute(p.connections_closed);
        counter!("tenantry_connections_reclaimed_total").absolute(p.connections_reclaimed);
        counter!("tenantry_connections_taken_over_total").absolute(p.connections_taken_over);
        counter!("tenantry_takeovers_keeping_statements_total")
            .absolute(p.takeovers_keeping_statements);
        gauge!("tenantry_spare_connections").set(p.spare_connections as f64);
    }
}
