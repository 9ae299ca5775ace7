//! Fleet migrations: every tenant database brought to the binary's schema version, in parallel with
//! a bound. One tenant's failure stops nobody else; a re-run resumes (applied versions are skipped);
//! drift (tenants behind or ahead of the binary) is reported.

use crate::db::{EngineConnection, Purpose};
use crate::migrate;
use crate::pools::PoolManager;
use crate::registry::{Registry, RegistryError, TenantConfig};
use crate::tenant::{TenantCode, TenantStatus};
use futures::StreamExt;
use serde::Serialize;
use std::time::Duration;

/// Longest a fleet run waits to connect to one tenant database.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What `migrate --all` does.
#[derive(Debug, Clone, Default)]
pub struct FleetOptions {
    /// Tenants migrated at once on each data server (servers run side by side). Default: 0, which
    /// picks [`auto_concurrency`] from the machine's cores.
    pub concurrency: usize,
    /// Report what would be migrated; change nothing.
    pub dry_run: bool,
    /// Only these tenants (all when empty).
    pub only: Vec<TenantCode>,
    /// Open every tenant database and let the migrator verify the checksums of what was applied,
    /// even when the registry's mirror says the tenant is current. Default: false.
    pub verify: bool,
}

/// The result for one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum Outcome {
    Migrated {
        from: Option<i64>,
        to: i64,
    },
    Current {
        version: i64,
    },
    WouldMigrate {
        from: Option<i64>,
        to: i64,
    },
    /// A customer-hosted tenant whose owner manages its schema (not opted in at onboarding).
    Skipped {
        reason: String,
    },
    Failed {
        reason: String,
    },
}

/// Tenants migrated at once per data server when none is asked for: two per core (a migration
/// mostly waits on its server), at least 4 and at most 16, so one server is not flooded with
/// connections while another sits idle (each server gets its own bound).
pub fn auto_concurrency() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (cores * 2).clamp(4, 16)
}

impl FleetOptions {
    /// The per-server bound this run uses.
    pub fn per_server(&self) -> usize {
        match self.concurrency {
            0 => auto_concurrency(),
            n => n,
        }
    }
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
    let _ = pools; // Migrations use connections of their own, never a tenant's pool.
    let tenants = fleet(registry, &options.only).await?;
    // One bounded stream per data server, all servers at once: a slow server does not hold up
    // the others, and none gets more than `per_server` migration connections.
    let mut by_server: std::collections::BTreeMap<uuid::Uuid, Vec<TenantConfig>> =
        Default::default();
    for config in tenants {
        by_server
            .entry(config.source.server_id)
            .or_default()
            .push(config);
    }
    let per_server = options.per_server();
    let streams = by_server.into_values().map(|group| {
        futures::stream::iter(group)
            .map(|config| async move {
                let outcome = migrate_one(registry, &config, options).await;
                (config.tenant.code.clone(), outcome)
            })
            .buffer_unordered(per_server)
            .boxed()
    });
    let mut results: Vec<(TenantCode, Outcome)> = futures::stream::select_all(streams)
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
    config: &TenantConfig,
    options: &FleetOptions,
) -> Outcome {
    let tenant = &config.tenant;
    if !tenant.schema_managed {
        return Outcome::Skipped {
            reason: "customer-hosted; its owner manages the schema".into(),
        };
    }
    let latest = migrate::latest_version(tenant.engine);
    let expected = migrate::fingerprint(tenant.engine, latest);
    let mirrored_current = tenant.schema_version == Some(latest)
        && tenant.schema_checksum.as_deref() == Some(expected.as_str());
    if mirrored_current && !options.verify {
        // The registry says this tenant applied exactly this binary's migrations.
        return Outcome::Current { version: latest };
    }
    let failed = |reason: String| Outcome::Failed { reason };
    let purpose = Purpose::Migration {
        lock_timeout_ms: migrate::LOCK_TIMEOUT_MS,
    };
    let mut conn = match EngineConnection::connect(&config.source, purpose, CONNECT_TIMEOUT).await {
        Ok(c) => c,
        Err(e) => return failed(format!("cannot connect: {e}")),
    };
    let outcome = migrate_connection(registry, config, &mut conn, options.dry_run).await;
    let _ = conn.close().await;
    outcome
}

async fn migrate_connection(
    registry: &Registry,
    config: &TenantConfig,
    conn: &mut EngineConnection,
    dry_run: bool,
) -> Outcome {
    let failed = |reason: String| Outcome::Failed { reason };
    let engine = config.tenant.engine;
    let latest = migrate::latest_version(engine);
    let from = match migrate::applied_version(conn).await {
        Ok(v) => v,
        Err(e) => return failed(format!("cannot read applied versions: {e}")),
    };
    if dry_run {
        return match from {
            Some(v) if v >= latest => Outcome::Current { version: v },
            _ => Outcome::WouldMigrate { from, to: latest },
        };
    }
    // The migrator verifies the checksums of what was applied, so a modified migration is
    // refused rather than silently skipped.
    match migrate::migrate_tenant(conn).await {
        Ok(to) => {
            let checksum = migrate::fingerprint(engine, to);
            let t = &config.tenant;
            if t.schema_version != Some(to) || t.schema_checksum.as_deref() != Some(&checksum) {
                if let Err(e) = registry
                    .set_schema_state(&t.code, to, Some(&checksum))
                    .await
                {
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
