//! `tenantry bench migrate`: a fleet of fresh PostgreSQL tenants migrated through the platform's
//! `migrate_fleet`, then the same fleet again (every tenant current: the no-op run, answered from
//! the registry's mirror of each tenant's schema version and checksum), then again with `verify`
//! (every tenant database opened and its applied checksums checked: the floor of a full check).

use super::{progress_bar, scratch_platform, secs, yes_no, BenchServer, ScratchDir};
use crate::cli::table;
use anyhow::Context;
use std::time::{Duration, Instant};
use tenantry::fleet::{FleetOptions, Outcome};
use tenantry::platform::{Actor, Platform};
use tenantry::pools::{PoolManager, PoolManagerSettings};
use tenantry::provision::ServerAdmin;
use tenantry::registry::{DataServer, NewTenant, PoolSettings, Registry};
use tenantry::tenant::{DatabaseName, Engine, Placement, TenantCode, TenantStatus};

/// Fleet size the targets are stated for.
const TARGET_FLEET: usize = 1_000;
/// Migrating 1,000 fresh tenants must take less than this.
const FIRST_TARGET: Duration = Duration::from_secs(60);
/// Re-running over 1,000 current tenants must take less than this.
const NOOP_TARGET: Duration = Duration::from_secs(2);

/// One timed `migrate_fleet` run.
pub struct FleetRun {
    label: &'static str,
    /// None for the verifying run: shown as the floor of a full check, not judged.
    target: Option<Duration>,
    tenants: usize,
    total: Duration,
}

/// Registers `tenants` unmigrated PostgreSQL tenant databases on `server` (on a scratch
/// registry), migrates them all, then runs the same migration again as a no-op.
pub async fn measure(
    server: &BenchServer,
    tenants: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<FleetRun>> {
    anyhow::ensure!(tenants > 0, "--tenants must be at least 1");
    anyhow::ensure!(
        server.engine == Engine::Postgres,
        "bench migrate runs on PostgreSQL"
    );
    let scratch = ScratchDir::create("migrate")?;
    // One small pool per tenant and at most 2×concurrency pools open, so the fleet stays well
    // under PostgreSQL's default max_connections (100).
    let pools = PoolManager::new(PoolManagerSettings {
        max_pools: (FleetOptions {
            concurrency,
            ..Default::default()
        }
        .per_server()
            * 2) as u64,
        ..Default::default()
    });
    let platform = scratch_platform(&scratch, pools.clone()).await?;
    let data_server = server.register(platform.registry()).await?;
    eprintln!("bench migrate: creating {tenants} unmigrated tenant databases…");
    create_fleet(platform.registry(), &data_server, tenants).await?;
    let mut runs = Vec::new();
    for (label, target) in [
        ("first", Some(FIRST_TARGET)),
        ("no-op", Some(NOOP_TARGET)),
        ("verify", None),
    ] {
        let options = FleetOptions {
            concurrency,
            verify: label == "verify",
            ..Default::default()
        };
        eprintln!("bench migrate: {label} run over {tenants} tenants…");
        let result = timed_run(&platform, &options, tenants).await;
        if result.is_err() {
            pools.close_all().await;
        }
        let (total, migrated) = result.with_context(|| format!("{label} run failed"))?;
        let expected = if label == "first" { tenants } else { 0 };
        anyhow::ensure!(
            migrated == expected,
            "{label} run migrated {migrated} tenants, expected {expected}"
        );
        runs.push(FleetRun {
            label,
            target,
            tenants,
            total,
        });
    }
    pools.close_all().await;
    Ok(runs)
}

/// Registers `n` active tenants (`FLEET0000`, …) with databases that exist but are unmigrated.
async fn create_fleet(registry: &Registry, server: &DataServer, n: usize) -> anyhow::Result<()> {
    let admin = ServerAdmin {
        server,
        password: None,
    };
    let bar = progress_bar(n, "setup");
    for i in 0..n {
        let code = TenantCode::parse(&format!("FLEET{i:04}"))?;
        let database = DatabaseName::for_tenant(&code, uuid::Uuid::new_v4());
        admin
            .create_database(&database)
            .await
            .with_context(|| format!("cannot create database {database}"))?;
        registry
            .create_tenant(NewTenant {
                code,
                name: format!("Fleet tenant {i}"),
                subdomain: None,
                domains: Vec::new(),
                placement: Placement::Dedicated,
                server_id: server.id,
                database: Some(database),
                schema: None,
                username: server.admin_username.clone(),
                password: None,
                status: TenantStatus::Active,
                region: None,
                pool: PoolSettings {
                    max_connections: 1,
                    ..Default::default()
                },
                plan: "standard".into(),
                notes: None,
            })
            .await?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(())
}

/// Runs `migrate_fleet` once; returns its wall time and how many tenants it migrated. Any
/// failed tenant is an error (with the first reason).
async fn timed_run(
    platform: &Platform,
    options: &FleetOptions,
    tenants: usize,
) -> anyhow::Result<(Duration, usize)> {
    let bar = progress_bar(tenants, "migrate");
    let started = Instant::now();
    let results = platform
        .migrate_fleet(&Actor::System, options, |_, _| bar.inc(1))
        .await?;
    let total = started.elapsed();
    bar.finish_and_clear();
    if let Some((code, Outcome::Failed { reason })) = results.iter().find(|(_, o)| o.is_failure()) {
        let failed = results.iter().filter(|(_, o)| o.is_failure()).count();
        anyhow::bail!("{failed} tenants failed; first: {code}: {reason}");
    }
    anyhow::ensure!(
        results.len() == tenants,
        "the fleet has {} tenants, expected {tenants}",
        results.len()
    );
    let migrated = results
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Migrated { .. }))
        .count();
    Ok((total, migrated))
}

/// The table of a first and a no-op run.
pub fn render(runs: &[FleetRun], concurrency: usize) -> String {
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            let at_target = r.total.mul_f64(TARGET_FLEET as f64 / r.tenants as f64);
            vec![
                r.label.to_owned(),
                r.tenants.to_string(),
                concurrency.to_string(),
                secs(r.total),
                format!("{:.1}", r.tenants as f64 / r.total.as_secs_f64()),
                secs(at_target),
                r.target
                    .map_or("-".into(), |t| format!("< {} s", t.as_secs())),
                r.target.map_or("-".into(), |t| yes_no(at_target < t)),
            ]
        })
        .collect();
    table::render(
        &[
            "RUN",
            "TENANTS",
            "CONCURRENCY",
            "TOTAL S",
            "TENANTS/S",
            "AT 1,000 S",
            "TARGET (1,000)",
            "MET",
        ],
        &rows,
    )
}
