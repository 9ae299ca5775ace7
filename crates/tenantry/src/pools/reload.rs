//! A refused login on a new pool connection means the tenant's database password changed since
//! its config was read: by `set-password` in this process (a request that opened a connection
//! between the server's `ALTER` and the registry write), or by another process, whose change this
//! process's config cache has not seen yet. The pool manager then re-reads the tenant's config
//! from the registry, past the cache, and tries once more when its data source changed.
//!
//! Requests refused with the same stale credentials share one re-read, so a burst of them costs
//! the registry a handful of reads, not one per request.

use super::PoolManager;
use crate::registry::{Registry, TenantConfig};
use moka::sync::Cache;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::OnceCell;
use uuid::Uuid;

/// Pauses between registry reads while the registry still holds the refused password: a password
/// change writes the data server first and the registry right after.
const READ_AGAIN_AFTER_MS: [u64; 4] = [50, 100, 200, 400];
/// How long the outcome of one re-read answers every request refused with the same credentials.
const SHARED_FOR: Duration = Duration::from_secs(1);

/// One re-read's outcome: the newer config, or `None` when the registry has nothing newer.
type Outcome = Arc<OnceCell<Option<Arc<TenantConfig>>>>;

pub(super) struct Reloads {
    /// Set once by the platform; without it a refused login is returned as is.
    registry: OnceLock<Registry>,
    /// (tenant id, fingerprint of the refused data source) → its re-read, shared for `SHARED_FOR`.
    outcomes: Cache<(Uuid, u64), Outcome>,
}

impl Default for Reloads {
    fn default() -> Self {
        Self {
            registry: OnceLock::new(),
            outcomes: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(SHARED_FOR)
                .build(),
        }
    }
}

impl PoolManager {
    /// Has a refused login re-read the tenant's credentials from `registry` (the platform does
    /// this when it is built). Only the first call counts.
    pub fn reload_credentials_from(&self, registry: Registry) {
        let _ = self.inner.reloads.registry.set(registry);
    }

    /// The tenant's config as the registry holds it now, when its data source differs from the
    /// refused one's (`None`: nothing newer, or no registry to ask).
    pub(super) async fn reload(&self, refused: &TenantConfig) -> Option<Arc<TenantConfig>> {
        let reloads = &self.inner.reloads;
        let registry = reloads.registry.get()?;
        let key = (refused.tenant.id, refused.source.fingerprint);
        let outcome = reloads.outcomes.get_with(key, Outcome::default);
        outcome
            .get_or_init(|| newer(registry, refused))
            .await
            .clone()
    }
}

async fn newer(registry: &Registry, refused: &TenantConfig) -> Option<Arc<TenantConfig>> {
    let code = &refused.tenant.code;
    for pause in std::iter::once(0).chain(READ_AGAIN_AFTER_MS) {
        tokio::time::sleep(Duration::from_millis(pause)).await;
        match registry.reload_tenant_config(code).await {
            Ok(Some(fresh)) if fresh.source.fingerprint != refused.source.fingerprint => {
                tracing::info!(tenant = %code, "tenant credentials re-read after a refused login");
                return Some(fresh);
            }
            Ok(Some(_)) => {}
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!(tenant = %code, error = %e, "cannot re-read tenant credentials");
                return None;
            }
        }
    }
    tracing::warn!(tenant = %code, "the tenant's database refused its login and the registry has no newer credentials");
    None
}
