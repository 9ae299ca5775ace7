//! Fleet migrations: every tenant database brought to the binary's schema version, in parallel with
//! a bound. One tenant's failure stops nobody else; a re-run resumes (applied versions are skipped);
//! drift (tenants behind or ahead of the binary) is reported.

use crate::migrate;
use crate::pools::PoolManager;
use crate::registry::{Registry, RegistryError, TenantConfig};
use crate::tenant::{TenantCode, TenantStatus};
use futures::StreamExt;
use serde::Serialize;

/// What `migrate --all` does.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    /// Tenants migrated at once. Default: 8.
    pub concurrency: usize,
    /// Report what would be migrated; change nothing.
    pub dry_run: bool,
    /// Only these tenants (all when empty).
    pub only: Vec<TenantCode>,
}

impl Default for FleetOptions {
    fn default() -> Self {
        Self {
            concurrency: 8,
            dry_run: false,
            only: Vec::new(),
        }
    }
}

/// The result for one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum Outcome {
    Migrated { from: Option<i64>, to: i64 },
    Current { version: i64 },
    WouldMigrate { from: Option<i64>, to: i64 },
    Failed { reason: String },
}

impl Outcome {
    pub fn is_failure(&self) -> bool {
        matches!(self, Outcome::Failed { .. })
    }
}

/// Tenants a fleet operation covers: not deleted, not suspended-for-deletion; provisioning/failed
/// tenants are left to the provisioner.
async fn fleet(
    registry: &Registry,
    only: &[TenantCode],
) -> Result<Vec<TenantConfig>, RegistryError> {
    let all = registry.all_configs().await?;
    Ok(all
        .into_iter()
        .filter(|c| {
            matches!(
                c.tenant.status,
                TenantStatus::Active | TenantStatus::Suspended
            )
        })
        .filter(|c| only.is_empty() || only.contains(&c.tenant.code))
        .collect())
}

/// Migrates the fleet. `progress` is called once per tenant as it finishes (in completion order).
pub async fn migrate_fleet(
    registry: &Registry,
    pools: &PoolManager,
    options: &FleetOptions,
    progress: impl Fn(&TenantCode, &Outcome),
) -> Result<Vec<(TenantCode, Outcome)>, RegistryError> {
    let tenants = fleet(registry, &options.only).await?;
    let mut results: Vec<(TenantCode, Outcome)> = futures::stream::iter(tenants)
        .map(|config| async move {
            let outcome = migrate_one(registry, pools, &config, options.dry_run).await;
            (config.tenant.code.clone(), outcome)
        })
        .buffer_unordered(options.concurrency.max(1))
        .inspect(|(code, outcome)| progress(code, outcome))
        .collect()
        .await;
    results.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(results)
}

/// How many tenants `migrate_fleet` would visit.
pub async fn fleet_size(registry: &Registry, only: &[TenantCode]) -> Result<usize, RegistryError> {
    Ok(fleet(registry, only).await?.len())
}

#[tracing::instrument(skip_all, fields(tenant = %config.tenant.code))]
async fn migrate_one(
    registry: &Registry,
    pools: &PoolManager,
    config: &TenantConfig,
    dry_run: bool,
) -> Outcome {
    let failed = |reason: String| Outcome::Failed { reason };
    let mut conn = match pools.acquire(config).await {
        Ok(c) => c,
        Err(e) => return failed(e.to_string()),
    };
    let engine = conn.engine();
    let latest = migrate::latest_version(engine);
    let from = match migrate::applied_version(&mut conn).await {
        Ok(v) => v,
        Err(e) => return failed(format!("cannot read applied versions: {e}")),
    };
    if dry_run {
        return match from {
            Some(v) if v >= latest => Outcome::Current { version: v },
            _ => Outcome::WouldMigrate { from, to: latest },
        };
    }
    // The migrator runs even on current tenants: it checks the checksums of what was applied, so a
    // modified migration is refused rather than silently skipped.
    match migrate::migrate_tenant(&mut conn, engine).await {
        Ok(to) => {
            if config.tenant.schema_version != Some(to) {
                if let Err(e) = registry.set_schema_version(&config.tenant.code, to).await {
                    return failed(e.to_string());
                }
            }
            if from == Some(to) {
                Outcome::Current { version: to }
            } else {
                Outcome::Migrated { from, to }
            }
        }
        Err(e) => failed(e.to_string()),
    }
}

/// One tenant's position against the binary.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Drift {
    pub code: TenantCode,
    pub engine: crate::tenant::Engine,
    pub version: Option<i64>,
    pub latest: i64,
    /// `behind`, `current` or `ahead` (a database migrated by a newer binary).
    pub state: &'static str,
}

/// Compares every tenant's recorded version with the binary's (registry only; no tenant I/O).
pub async fn drift(registry: &Registry) -> Result<Vec<Drift>, RegistryError> {
    Ok(fleet(registry, &[])
        .await?
        .into_iter()
        .map(|c| {
            let latest = migrate::latest_version(c.tenant.engine);
            let state = match c.tenant.schema_version {
                Some(v) if v > latest => "ahead",
                Some(v) if v == latest => "current",
                _ => "behind",
            };
            Drift {
                code: c.tenant.code,
                engine: c.tenant.engine,
                version: c.tenant.schema_version,
                latest,
                state,
            }
        })
        .collect())
}
