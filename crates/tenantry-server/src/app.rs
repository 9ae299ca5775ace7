//! The state every HTTP handler shares: the platform facade and the tenant layer's services.

use crate::telemetry::{Metrics, MetricsSettings};
use tenantry::auth::TokenSigner;
use tenantry::platform::Platform;
use tenantry::pools::PoolManager;
use tenantry::registry::Registry;
use tenantry::router::TenantRouter;
use tenantry::storage::Storage;
use tenantry::tenant::HostName;

/// Shared state of every handler; a cheap `Clone`.
#[derive(Clone)]
pub struct App {
    /// Every operation (admin API, CLI, dashboard) goes through it.
    pub platform: Platform,
    /// What the tenant layer needs on the request path (same registry, pools and signer).
    pub tenants: TenantRouter,
    /// The request metrics and `/metrics` (one recorder per app).
    metrics: Metrics,
    /// Largest request body other than a file upload (413 above). Default: 1 MiB.
    pub max_body_bytes: usize,
    /// Reverse proxies whose `X-Forwarded-For` names the client (`[http] trusted_proxies`).
    /// Default: none.
    pub trusted_proxies: crate::http::TrustedProxies,
}

impl App {
    /// `base_domain`: `example.com` makes `acme.example.com` resolve to tenant `acme`.
    pub fn new(platform: Platform, base_domain: Option<HostName>) -> Self {
        let tenants = TenantRouter {
            registry: platform.registry().clone(),
            pools: platform.pools().clone(),
            signer: platform.signer().clone(),
            base_domain,
            users: platform.user_status().clone(),
            limits: platform.tenant_limits().clone(),
        };
        let metrics = Metrics::new(&MetricsSettings::default())
            .expect("the default metrics settings are valid");
        Self {
            platform,
            tenants,
            metrics,
            max_body_bytes: crate::http::limits::DEFAULT_MAX_BODY_BYTES,
            trusted_proxies: Default::default(),
        }
    }

    /// Uses `metrics` (e.g. built from the config's `[metrics]`) instead of the defaults.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn platform(&self) -> &Platform {
        &self.platform
    }

    pub fn registry(&self) -> &Registry {
        self.platform.registry()
    }

    pub fn pools(&self) -> &PoolManager {
        self.platform.pools()
    }

    pub fn signer(&self) -> &TokenSigner {
        self.platform.signer()
    }

    /// Per-tenant files (`/api/files`).
    pub fn storage(&self) -> &Storage {
        self.platform.storage()
    }
}
