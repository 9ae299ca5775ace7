//! The router's lookups: a tenant's config by code, a tenant's code by custom domain or subdomain.
//! Served from the cache (see [`super::cache`]) when warm: no registry query.

use super::cache::HostIndex;
use super::{Registry, Result, TenantConfig};
use crate::tenant::{HostName, Subdomain, TenantCode};
use std::sync::Arc;

impl Registry {
    /// The router's lookup: from memory when warm. A code is first looked up in the name index,
    /// so an unknown code reads no tenant row (see [`Registry::is_known`]); a known one is read
    /// once and then kept until the registry says it changed.
    pub async fn tenant_config(&self, code: &TenantCode) -> Result<Option<Arc<TenantConfig>>> {
        let cache = &self.inner.cache;
        if let Some(hit) = cache.config(code) {
            return Ok(Some(hit));
        }
        if !self.is_known(code).await? {
            return Ok(None);
        }
        self.read_config(code).await
    }

    /// Reads a tenant's config from the registry and caches it, unless a change landed while it
    /// was read (the generation is taken before the read, so such a read is not kept).
    pub(super) async fn read_config(&self, code: &TenantCode) -> Result<Option<Arc<TenantConfig>>> {
        let cache = &self.inner.cache;
        let generation = cache.generation();
        let Some(config) = self.fetch_config("code", code.to_string()).await? else {
            return Ok(None);
        };
        let config = Arc::new(config);
        cache.put_config(config.clone(), generation);
        Ok(Some(config))
    }

    /// Whether `code` names a tenant (any status), from the name index. A code missing from it
    /// may belong to a tenant another process has just created: one change check (shared, and at
    /// most one per `unknown_check_interval`) then tells, so a flood of random codes costs a
    /// bounded number of queries while a new tenant is found at once.
    async fn is_known(&self, code: &TenantCode) -> Result<bool> {
        let key = format!("c:{code}");
        if self.host_index().await?.contains_key(&key) {
            return Ok(true);
        }
        if !self.check_for_unknown().await? {
            return Ok(false);
        }
        Ok(self.host_index().await?.contains_key(&key))
    }

    /// The tenant code whose custom domain is exactly `host`, from the host index. An unknown
    /// host triggers no change check (every request whose `Host` is no tenant's would wait for
    /// one): a domain added by another process is found within `[cache] poll`.
    pub async fn code_for_domain(&self, host: &HostName) -> Result<Option<TenantCode>> {
        Ok(self.host_index().await?.get(&format!("d:{host}")).cloned())
    }

    /// The tenant code whose subdomain is `sub`, from the host index (see
    /// [`Registry::code_for_domain`] for when a new one is found).
    pub async fn code_for_subdomain(&self, sub: &Subdomain) -> Result<Option<TenantCode>> {
        Ok(self.host_index().await?.get(&format!("s:{sub}")).cloned())
    }

    /// Every code, custom domain and subdomain, from memory when warm; else read once (concurrent
    /// callers wait for that one read).
    async fn host_index(&self) -> Result<Arc<HostIndex>> {
        let cache = &self.inner.cache;
        if let Some(hit) = cache.hosts() {
            return Ok(hit);
        }
        let _load = cache.lock_host_load().await;
        if let Some(loaded) = cache.hosts_loaded() {
            return Ok(loaded);
        }
        let generation = cache.generation();
        let domains: Vec<(String, String)> = sqlx::query_as(
            "SELECT d.domain, t.code FROM tenant_domains d JOIN tenants t ON t.id = d.tenant_id",
        )
        .fetch_all(self.pool())
        .await?;
        let tenants: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT code, subdomain FROM tenants")
                .fetch_all(self.pool())
                .await?;
        let mut index = HostIndex::with_capacity(domains.len() + 2 * tenants.len());
        for (domain, code) in domains {
            index.insert(format!("d:{domain}"), TenantCode::parse(&code)?);
        }
        for (code, subdomain) in tenants {
            let code = TenantCode::parse(&code)?;
            if let Some(sub) = subdomain {
                index.insert(format!("s:{sub}"), code.clone());
            }
            index.insert(format!("c:{code}"), code);
        }
        let index = Arc::new(index);
        cache.put_hosts(index.clone(), generation);
        Ok(index)
    }
}
