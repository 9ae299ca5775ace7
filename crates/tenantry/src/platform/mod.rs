//! The platform facade: every operation on tenants, servers, owners and keys, once.
//!
//! HTTP, CLI and dashboard are thin adapters: they parse their input, call one [`Platform`] method
//! with the [`Actor`] who asked, and render the answer. Each operation that changes something
//! writes its own audit row (typed [`AuditAction`], outcome ok / failed / refused, secrets masked),
//! whatever the outcome, so no front end can forget it.
//!
//! One concept per file: [`actor`](Actor), [`audit`](AuditAction), [`error`](PlatformError),
//! references ([`TenantRef`], [`ServerRef`]), provisioning (admission, then a background job),
//! lifecycle, credentials, servers, owners, keys, fleet, backups, stats and onboarding checks.

mod actor;
mod audit;
mod backups;
mod counters;
mod credentials;
mod error;
mod fleet;
mod keys;
mod lifecycle;
mod onboarding;
mod owners;
mod provisioning;
mod provisioning_jobs;
mod refs;
mod servers;
mod stats;
mod users;

pub use actor::Actor;
pub use audit::{AuditAction, AuditOutcome};
pub use backups::FleetBackupResult;
pub use counters::CounterSnapshot;
pub use credentials::{check_password, CredentialError};
pub use error::PlatformError;
pub use keys::Rotation;
pub use lifecycle::DELETE_CONFIRMATION;
pub use onboarding::OnboardCandidate;
pub use owners::{check_owner_password, OwnerSession, MIN_OWNER_PASSWORD_LEN};
pub use provisioning::{ProvisionRequest, ProvisionStarted, Provisioned};
pub use provisioning_jobs::Recovery;
pub use refs::{ServerRef, TenantRef};
pub use stats::{PoolStats, TenantStats};
pub use users::{check_user_password, NewUser, UserSession, UserUpdate, MIN_USER_PASSWORD_LEN};

use crate::auth::TokenSigner;
use crate::hashing::{HashPool, HashPoolSettings};
use crate::jobs::Jobs;
use crate::limits::{LoginThrottle, LoginThrottleSettings, TenantLimiter};
use crate::pools::PoolManager;
use crate::registry::{
    AuditEntry, Plan, Registry, RegistryError, Tenant, TenantConfig, TenantFilter,
};
use crate::storage::Storage;
use crate::users::UserStatusCache;
use counters::Counters;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Options of the platform's operations.
#[derive(Debug, Clone)]
pub struct PlatformSettings {
    /// Give each dedicated tenant its own least-privilege database login with a generated password
    /// instead of the server's admin login (a provisioning request may override it). Default: no.
    pub separate_db_users: bool,
    /// The data directory: backups go to `{data_dir}/backups`. Default: `./tenantry-data`.
    pub data_dir: PathBuf,
    /// How long the router trusts a tenant user's cached status (disabled, role, password) before
    /// reading it again. Changes made through this platform apply at once in this process and, by
    /// the tenant's users epoch in the registry, in other processes at their next change-stamp
    /// poll; this bound is for changes made to a `users` table behind tenantry's back.
    /// Default: 5 min.
    pub user_status_ttl: Duration,
    /// The bounded pool password hashes run on (sign-ins, new passwords).
    pub hashing: HashPoolSettings,
    /// Sign-in allowances per account and per client address.
    pub login: LoginThrottleSettings,
}

impl Default for PlatformSettings {
    fn default() -> Self {
        Self {
            separate_db_users: false,
            data_dir: PathBuf::from("./tenantry-data"),
            user_status_ttl: Duration::from_secs(300),
            hashing: HashPoolSettings::default(),
            login: LoginThrottleSettings::default(),
        }
    }
}

/// A cheap `Clone` handle on the registry, the pool manager, the file store, the token signer and
/// the settings; every operation of the platform is a method on it.
#[derive(Clone)]
pub struct Platform {
    inner: Arc<Shared>,
}

struct Shared {
    registry: Registry,
    pools: PoolManager,
    storage: Storage,
    signer: TokenSigner,
    settings: PlatformSettings,
    /// Provisioning and fleet jobs of this process.
    jobs: Jobs,
    /// Tenant users' statuses, shared with the router (which reads them on every tenant-user
    /// request) and invalidated by the user operations.
    user_status: UserStatusCache,
    /// What the platform did since start, for metrics.
    counters: Counters,
    /// Every password hash of a sign-in or a password change runs here (bounded, off the runtime).
    hashes: HashPool,
    /// Sign-in attempts per account and per client address.
    logins: LoginThrottle,
    /// Request allowances per tenant, checked by the router (see [`Platform::tenant_limits`]).
    tenant_limits: TenantLimiter,
}

impl Platform {
    pub fn new(
        registry: Registry,
        pools: PoolManager,
        signer: TokenSigner,
        storage: Storage,
        settings: PlatformSettings,
    ) -> Self {
        // A refused login re-reads the tenant's credentials (a password changed elsewhere).
        pools.reload_credentials_from(registry.clone());
        Self {
            inner: Arc::new(Shared {
                registry,
                pools,
                storage,
                signer,
                user_status: UserStatusCache::new(settings.user_status_ttl),
                hashes: HashPool::new(settings.hashing.clone()),
                logins: LoginThrottle::new(&settings.login),
                tenant_limits: TenantLimiter::default(),
                settings,
                jobs: Jobs::default(),
                counters: Counters::default(),
            }),
        }
    }

    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    pub fn pools(&self) -> &PoolManager {
        &self.inner.pools
    }

    pub fn storage(&self) -> &Storage {
        &self.inner.storage
    }

    pub fn signer(&self) -> &TokenSigner {
        &self.inner.signer
    }

    pub fn settings(&self) -> &PlatformSettings {
        &self.inner.settings
    }

    /// The background jobs of this process (provisioning, fleet migrations).
    pub fn jobs(&self) -> &Jobs {
        &self.inner.jobs
    }

    /// The tenant-user status cache the router checks tokens against (see [`crate::users::status`]).
    pub fn user_status(&self) -> &UserStatusCache {
        &self.inner.user_status
    }

    /// The bounded pool this platform's password hashes run on.
    pub fn hashes(&self) -> &HashPool {
        &self.inner.hashes
    }

    /// Per-tenant request allowances; the router takes one request of a tenant's allowance (its
    /// plan's or its own `rateLimit`) before anything else, and answers 429 `rate_limited` past it.
    pub fn tenant_limits(&self) -> &TenantLimiter {
        &self.inner.tenant_limits
    }

    /// Operations by action and outcome, and fleet-migration outcomes, since start.
    pub fn counters(&self) -> CounterSnapshot {
        self.inner.counters.snapshot()
    }

    /// The tenant named by `r` (tombstones included); `NotFound` names it as it was asked for.
    pub async fn tenant(&self, r: &TenantRef) -> Result<Tenant, PlatformError> {
        let found = match r {
            TenantRef::Id(id) => self.registry().tenant_by_id(*id).await,
            TenantRef::Code(code) => self.registry().tenant(code).await,
        };
        found.map_err(|e| match e {
            RegistryError::NotFound(_) => PlatformError::tenant_not_found(r),
            other => other.into(),
        })
    }

    /// The tenant's full config (registry row + decrypted data source).
    pub async fn tenant_config(&self, r: &TenantRef) -> Result<Arc<TenantConfig>, PlatformError> {
        let tenant = self.tenant(r).await?;
        self.registry()
            .tenant_config(&tenant.code)
            .await?
            .ok_or_else(|| PlatformError::tenant_not_found(r))
    }

    /// A page of tenants (tombstones only when asked for by status) and the total.
    pub async fn list_tenants(
        &self,
        filter: &TenantFilter,
    ) -> Result<(Vec<Tenant>, i64), PlatformError> {
        Ok(self.registry().list_tenants(filter).await?)
    }

    /// The plans of the registry (request limits by plan name).
    pub async fn plans(&self) -> Result<Vec<Plan>, PlatformError> {
        Ok(self.registry().plans().await?)
    }

    /// A page of the audit log, newest first, optionally of one tenant; and the total.
    pub async fn audit_log(
        &self,
        tenant: Option<&TenantRef>,
        page: u32,
        limit: u32,
    ) -> Result<(Vec<AuditEntry>, i64), PlatformError> {
        let tenant_id = match tenant {
            Some(r) => Some(self.tenant(r).await?.id),
            None => None,
        };
        Ok(self.registry().list_audit(tenant_id, page, limit).await?)
    }
}
