//! In-memory cache of tenant configs and of every tenant name, so a warm request reads no
//! registry row.
//!
//! Nothing here expires with time: an entry is dropped only when the registry says it changed.
//! This process's own mutations drop their entries at once; changes made by any other process
//! (the CLI, another router instance) arrive through the registry's change stamp, which a
//! watcher polls (see [`super::changes`]). A warm request therefore costs no registry query,
//! however long it has been since the entry was read.
//!
//! Names are answered from one index of every tenant code, custom domain and subdomain, read in
//! one load: a name missing from it is unknown without a registry read, so a flood of random
//! `Host` headers or codes costs no query per name and no memory per name (the index grows with
//! tenants, not requests).

use super::TenantConfig;
use crate::tenant::TenantCode;
use moka::sync::Cache;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Tenant-cache settings (`[cache]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct CacheSettings {
    /// How often the registry's change stamp is read, i.e. how soon a change made by another
    /// process (the CLI, another server) reaches this one's cache. One tiny query per interval,
    /// whatever the load. `0s` turns the watcher off (only this process's own changes and
    /// unknown-code checks then refresh the cache). Default: 1 s. Env: `TENANTRY_CACHE_POLL`.
    #[serde(with = "humantime_serde")]
    pub poll: Duration,
    /// Shortest time between two change checks made for requests naming an unknown tenant code:
    /// a flood of random codes costs at most one registry query per interval, yet a tenant created
    /// by another process is found by the first request after it (or within this interval under
    /// such a flood). Default: 100 ms.
    #[serde(with = "humantime_serde")]
    pub unknown_check_interval: Duration,
    /// Most tenant configs kept in memory. Default: 100,000.
    pub max_entries: u64,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            poll: Duration::from_secs(1),
            unknown_check_interval: Duration::from_millis(100),
            max_entries: 100_000,
        }
    }
}

/// Every tenant code (`c:{code}`), custom domain (`d:{host}`) and subdomain (`s:{label}`) → the
/// code of its tenant.
pub(super) type HostIndex = HashMap<String, TenantCode>;

pub(super) struct TenantCache {
    /// Code → config, for tenants that exist (unknown codes are answered by the index instead).
    configs: Cache<TenantCode, Arc<TenantConfig>>,
    /// The name index, `None` when it must be read again. A std lock, held only to clone or
    /// replace the `Arc` (never across an `.await`).
    hosts: RwLock<Option<Arc<HostIndex>>>,
    /// One index load at a time: a cold flood waits for the first load instead of repeating it.
    /// A tokio lock, held across the load's query and nowhere else (never on a warm request).
    host_load: tokio::sync::Mutex<()>,
    /// Bumped by every invalidation, so a read that raced with a change is not stored.
    generation: AtomicU64,
    /// Lookups answered from memory / from the registry, for metrics (relaxed atomics: counters
    /// only, no ordering with anything else).
    counts: [AtomicU64; 5],
}

const CONFIG_HIT: usize = 0;
const CONFIG_MISS: usize = 1;
const DOMAIN_HIT: usize = 2;
const DOMAIN_MISS: usize = 3;
const UNKNOWN_CHECK: usize = 4;

/// How often the cache answered, since start; for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CacheStats {
    /// Tenant-config lookups answered from memory.
    pub config_hits: u64,
    /// Tenant-config lookups not in memory (answered by the name index or the registry).
    pub config_misses: u64,
    /// Custom-domain and subdomain lookups answered from the host index in memory (unknown hosts
    /// included).
    pub domain_hits: u64,
    /// Lookups that found the host index cold; the index is then read from the registry once.
    pub domain_misses: u64,
    /// Change-stamp reads made because a request named a code missing from the index (at most
    /// one per `unknown_check_interval`).
    pub unknown_checks: u64,
}

impl TenantCache {
    pub fn new(settings: &CacheSettings) -> Self {
        Self {
            configs: Cache::builder().max_capacity(settings.max_entries).build(),
            hosts: RwLock::new(None),
            host_load: tokio::sync::Mutex::new(()),
            generation: AtomicU64::new(0),
            counts: Default::default(),
        }
    }

    fn count<T>(&self, found: &Option<T>, hit: usize, miss: usize) {
        let i = if found.is_some() { hit } else { miss };
        self.counts[i].fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_unknown_check(&self) {
        self.counts[UNKNOWN_CHECK].fetch_add(1, Ordering::Relaxed);
    }

    pub fn config(&self, code: &TenantCode) -> Option<Arc<TenantConfig>> {
        let found = self.configs.get(code);
        self.count(&found, CONFIG_HIT, CONFIG_MISS);
        found
    }

    /// Stores a config read after `generation` was taken, unless something was invalidated since
    /// (the read may then predate that change).
    /// (Checked again after the insert: an invalidation may land between the check and it.)
    pub fn put_config(&self, config: Arc<TenantConfig>, generation: u64) {
        if self.generation() != generation {
            return;
        }
        let code = config.tenant.code.clone();
        self.configs.insert(code.clone(), config);
        if self.generation() != generation {
            self.configs.invalidate(&code);
        }
    }

    /// The host index when warm (a hit), `None` when it must be read (a miss).
    pub fn hosts(&self) -> Option<Arc<HostIndex>> {
        let found = self.hosts_loaded();
        self.count(&found, DOMAIN_HIT, DOMAIN_MISS);
        found
    }

    /// Serialises index loads; see [`TenantCache::host_load`].
    pub async fn lock_host_load(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.host_load.lock().await
    }

    /// The index a concurrent load stored while this one waited for the lock (not counted).
    pub fn hosts_loaded(&self) -> Option<Arc<HostIndex>> {
        self.hosts.read().expect("host index lock poisoned").clone()
    }

    /// The current generation, read before a load's query.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Stores a loaded index unless a change was made since `generation` was read.
    pub fn put_hosts(&self, index: Arc<HostIndex>, generation: u64) {
        let mut hosts = self.hosts.write().expect("host index lock poisoned");
        if self.generation() == generation {
            *hosts = Some(index);
        }
    }

    /// Forgets one tenant (and the host index, which may name it).
    pub fn invalidate(&self, code: &TenantCode) {
        self.forget_config(code);
        self.forget_hosts();
    }

    /// Forgets one tenant's config; the index keeps its names (they did not change).
    pub fn forget_config(&self, code: &TenantCode) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.configs.invalidate(code);
    }

    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.configs.invalidate_all();
        self.forget_hosts();
    }

    pub fn forget_hosts(&self) {
        let mut hosts = self.hosts.write().expect("host index lock poisoned");
        self.generation.fetch_add(1, Ordering::AcqRel);
        *hosts = None;
    }

    pub fn stats(&self) -> CacheStats {
        let n = |i: usize| self.counts[i].load(Ordering::Relaxed);
        CacheStats {
            config_hits: n(CONFIG_HIT),
            config_misses: n(CONFIG_MISS),
            domain_hits: n(DOMAIN_HIT),
            domain_misses: n(DOMAIN_MISS),
            unknown_checks: n(UNKNOWN_CHECK),
        }
    }

    pub fn len(&self) -> u64 {
        self.configs.run_pending_tasks();
        self.configs.entry_count()
    }
}
