//! Reading a tenant's config past the cache, for the pool manager when a tenant's database refused
//! a login (its password changed, possibly by another process this cache has not heard from).

use super::{Registry, Result, TenantConfig};
use crate::tenant::TenantCode;
use std::sync::Arc;

impl Registry {
    /// The tenant's config as the registry holds it now (not the cached one); the cache then holds
    /// it too, so the next requests use it.
    pub async fn reload_tenant_config(
        &self,
        code: &TenantCode,
    ) -> Result<Option<Arc<TenantConfig>>> {
        // Taken before the read: a change landing meanwhile keeps this read out of the cache.
        let generation = self.inner.cache.generation();
        match self.fetch_config("code", code.to_string()).await? {
            Some(config) => {
                let config = Arc::new(config);
                self.inner.cache.put_config(config.clone(), generation);
                Ok(Some(config))
            }
            None => {
                self.inner.cache.invalidate(code);
                Ok(None)
            }
        }
    }
}
