//! Per-tenant request rates: each tenant's requests/s and burst come from its plan (the registry's
//! `plans` table) unless the tenant has its own override; past them a request is refused with
//! HTTP 429 `rate_limited` and `Retry-After`, before it touches a pool. The limits travel in the
//! cached tenant config, so a changed plan or override applies on the next request after the
//! registry change invalidates the cache (no restart).

use super::KeyedLimiter;
use governor::Quota;
use serde::{Deserialize, Serialize};
use std::num::NonZeroU32;
use std::time::Duration;
use uuid::Uuid;

/// Requests per second and burst of one tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimit {
    pub requests_per_second: u32,
    /// Requests allowed at once above the steady rate.
    pub burst: u32,
}

impl RateLimit {
    /// What a tenant gets whose plan is not in the `plans` table: the seeded `standard` plan.
    pub const FALLBACK: RateLimit = RateLimit {
        requests_per_second: 100,
        burst: 300,
    };

    /// Both values from 1 to 1,000,000; `field` names the input in the error.
    pub fn check(&self, field: &'static str) -> Result<(), crate::tenant::InvalidValue> {
        let ok = |n: u32| (1..=1_000_000).contains(&n);
        if ok(self.requests_per_second) && ok(self.burst) {
            Ok(())
        } else {
            Err(crate::tenant::InvalidValue::new(
                field,
                "requestsPerSecond and burst must be from 1 to 1000000",
            ))
        }
    }

    fn quota(&self) -> Quota {
        let n = |v: u32| NonZeroU32::new(v.max(1)).expect("at least 1");
        Quota::per_second(n(self.requests_per_second)).allow_burst(n(self.burst))
    }
}

/// A cheap `Clone` handle on the request allowances of every tenant this process serves.
#[derive(Clone)]
pub struct TenantLimiter {
    tenants: KeyedLimiter<Uuid>,
}

impl Default for TenantLimiter {
    fn default() -> Self {
        Self::new(100_000)
    }
}

impl TenantLimiter {
    /// Remembers at most `max_tenants` tenants (the least used are forgotten; their allowance is
    /// full again by then).
    pub fn new(max_tenants: u64) -> Self {
        Self {
            tenants: KeyedLimiter::new(max_tenants, Duration::from_secs(600)),
        }
    }

    /// Takes one request of `tenant`'s allowance under `limit`; `Err(wait)` past it.
    pub fn check(&self, tenant: Uuid, limit: RateLimit) -> Result<(), Duration> {
        self.tenants.check(&tenant, limit.quota())
    }
}
