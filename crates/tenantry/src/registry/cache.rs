//! In-memory cache of tenant configs and custom domains, so a warm request reads no registry row.
//!
//! Entries live for `ttl` (a safety net for changes made by another process) and are invalidated
//! explicitly by every registry mutation made through this handle.

use super::TenantConfig;
use crate::tenant::TenantCode;
use moka::sync::Cache;
use serde::{Deserialize, Serialize};
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

pub(super) struct TenantCache {
    /// Code → config. `None` entries are not stored: unknown codes always reach the registry, so a
    /// tenant created by another process is found at once.
    configs: Cache<TenantCode, Arc<TenantConfig>>,
    /// `d:{custom domain}` or `s:{subdomain}` → code, including negative answers (`None`), so an
    /// unknown host costs one registry read per TTL, not one per request.
    domains: Cache<String, Option<TenantCode>>,
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
    /// Custom-domain and subdomain lookups answered from memory (negative answers included).
    pub domain_hits: u64,
    pub domain_misses: u64,
}

impl TenantCache {
    pub fn new(settings: CacheSettings) -> Self {
        Self {
            configs: Cache::builder()
                .max_capacity(settings.max_entries)
                .time_to_live(settings.ttl)
                .build(),
            domains: Cache::builder()
                .max_capacity(settings.max_entries)
                .time_to_live(settings.ttl)
                .build(),
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

    pub fn domain(&self, key: &str) -> Option<Option<TenantCode>> {
        let found = self.domains.get(key);
        self.count(&found, DOMAIN_HIT, DOMAIN_MISS);
        found
    }

    pub fn put_domain(&self, host: String, code: Option<TenantCode>) {
        self.domains.insert(host, code);
    }

    /// Forgets one tenant (and all domain answers, which may name it).
    pub fn invalidate(&self, code: &TenantCode) {
        self.configs.invalidate(code);
        self.domains.invalidate_all();
    }

    pub fn clear(&self) {
        self.configs.invalidate_all();
        self.domains.invalidate_all();
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
