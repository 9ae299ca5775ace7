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
        let found = self.read_config(code).await?;
        if found.is_none() {
            self.inner.cache.invalidate(code);
        }
        Ok(found)
    }
}
