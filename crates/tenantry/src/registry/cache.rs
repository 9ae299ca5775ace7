//! In-memory cache of tenant configs and custom domains, so a warm request reads no registry row.
//!
//! Entries live for `ttl` (a safety net for changes made by another process) and are invalidated
//! explicitly by every registry mutation made through this handle.
//!
//! Hosts are answered from one index of every custom domain and subdomain, read in one query: a
//! name missing from it is unknown without a registry read, so a flood of random `Host` headers
//! costs no query per name and no memory per name (the index grows with tenants, not requests).

use super::TenantConfig;
use crate::tenant::TenantCode;
use moka::sync::Cache;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Tenant-cache settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct CacheSettings {
    /// How long a tenant config is trusted before it is read again. Default: 30 s.
    #[serde(with = "humantime_serde")]
    pub ttl: Duration,
    /// Most tenant configs kept in memory. Default: 100,000.
    pub max_entries: u64,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(30),
            max_entries: 100_000,
        }
    }
}

/// Every custom domain (`d:{host}`) and subdomain (`s:{label}`) → the code of its tenant.
pub(super) type HostIndex = HashMap<String, TenantCode>;

pub(super) struct TenantCache {
    /// Code → config. `None` entries are not stored: unknown codes always reach the registry, so a
    /// tenant created by another process is found at once.
    configs: Cache<TenantCode, Arc<TenantConfig>>,
    /// The host index (one entry, key `()`): `d:{custom domain}` / `s:{subdomain}` → code.
    hosts: Cache<(), Arc<HostIndex>>,
    /// One index load at a time: a cold flood waits for the first load instead of repeating it.
    /// A tokio lock, held across the load's query and nowhere else (never on a warm request).
    host_load: tokio::sync::Mutex<()>,
    /// Bumped by every invalidation, so a load that raced with a change is not stored.
    generation: AtomicU64,
    /// Lookups answered from memory / from the registry, for metrics (relaxed atomics: counters
    /// only, no ordering with anything else).
    counts: [AtomicU64; 4],
}

const CONFIG_HIT: usize = 0;
const CONFIG_MISS: usize = 1;
const DOMAIN_HIT: usize = 2;
const DOMAIN_MISS: usize = 3;

/// How often the cache answered, since start; for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CacheStats {
    /// Tenant-config lookups answered from memory.
    pub config_hits: u64,
    /// Tenant-config lookups that read the registry.
    pub config_misses: u64,
    /// Custom-domain and subdomain lookups answered from the host index in memory (unknown hosts
    /// included).
    pub domain_hits: u64,
    /// Lookups that found the host index cold; the index is then read from the registry once.
    pub domain_misses: u64,
}

impl TenantCache {
    pub fn new(settings: CacheSettings) -> Self {
        Self {
            configs: Cache::builder()
                .max_capacity(settings.max_entries)
                .time_to_live(settings.ttl)
                .build(),
            hosts: Cache::builder()
                .max_capacity(1)
                .time_to_live(settings.ttl)
                .build(),
            host_load: tokio::sync::Mutex::new(()),
            generation: AtomicU64::new(0),
            counts: Default::default(),
        }
    }

    fn count<T>(&self, found: &Option<T>, hit: usize, miss: usize) {
        let i = if found.is_some() { hit } else { miss };
        self.counts[i].fetch_add(1, Ordering::Relaxed);
    }

    pub fn config(&self, code: &TenantCode) -> Option<Arc<TenantConfig>> {
        let found = self.configs.get(code);
        self.count(&found, CONFIG_HIT, CONFIG_MISS);
        found
    }

    pub fn put_config(&self, config: Arc<TenantConfig>) {
        self.configs.insert(config.tenant.code.clone(), config);
    }

    /// The host index when warm (a hit), `None` when it must be read (a miss).
    pub fn hosts(&self) -> Option<Arc<HostIndex>> {
        let found = self.hosts.get(&());
        self.count(&found, DOMAIN_HIT, DOMAIN_MISS);
        found
    }

    /// Serialises index loads; see [`TenantCache::host_load`].
    pub async fn lock_host_load(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.host_load.lock().await
    }

    /// The index a concurrent load stored while this one waited for the lock (not counted).
    pub fn hosts_loaded(&self) -> Option<Arc<HostIndex>> {
        self.hosts.get(&())
    }

    /// The current generation, read before a load's query.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Stores a loaded index unless a change was made since `generation` was read.
    pub fn put_hosts(&self, index: Arc<HostIndex>, generation: u64) {
        if self.generation() == generation {
            self.hosts.insert((), index);
        }
    }

    /// Forgets one tenant (and the host index, which may name it).
    pub fn invalidate(&self, code: &TenantCode) {
        self.configs.invalidate(code);
        self.forget_hosts();
    }

    pub fn clear(&self) {
        self.configs.invalidate_all();
        self.forget_hosts();
    }

    fn forget_hosts(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.hosts.invalidate_all();
    }

    pub fn stats(&self) -> CacheStats {
        let n = |i: usize| self.counts[i].load(Ordering::Relaxed);
        CacheStats {
            config_hits: n(CONFIG_HIT),
            config_misses: n(CONFIG_MISS),
            domain_hits: n(DOMAIN_HIT),
            domain_misses: n(DOMAIN_MISS),
        }
    }

    pub fn len(&self) -> u64 {
        self.configs.run_pending_tasks();
        self.configs.entry_count()
    }
}
