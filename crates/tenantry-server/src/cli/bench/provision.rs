//! `tenantry bench provision`: sequential dedicated-tenant provisioning, per engine.

use super::{ms, percentile, scratch_registry, secs, yes_no, ScratchDir, Throwaway};
use crate::cli::table;
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use std::time::{Duration, Instant};
use tenantry::pools::{PoolManager, PoolManagerSettings};
use tenantry::provision::Provisioner;
use tenantry::registry::{DataServer, NewTenant, PoolSettings};
use tenantry::tenant::{Engine, Placement, Subdomain, TenantCode, TenantStatus};

/// p50 provisioning latency we promise on PostgreSQL.
const PG_P50_TARGET: Duration = Duration::from_millis(300);

/// Admin password of every benchmark tenant (hashing it is part of what is measured).
const ADMIN_PASSWORD: &str = "bench-password";

/// Latencies of one engine's run.
struct EngineRun {
    engine: Engine,
    latencies: Vec<Duration>,
    total: Duration,
}

pub async fn run(tenants: usize, engines: &[Engine]) -> anyhow::Result<()> {
    anyhow::ensure!(tenants > 0, "--tenants must be at least 1");
    anyhow::ensure!(
        !engines.is_empty(),
        "--engines must name at least one engine"
    );
    let mut runs = Vec::new();
    for &engine in engines {
        eprintln!("bench provision: {engine}: preparing a throwaway server…");
        let scratch = ScratchDir::create(engine.as_str())?;
        let server = Throwaway::start(engine, &scratch).await?;
        let result = measure(engine, tenants, &scratch, &server).await;
        server.stop().await;
        let run = result.with_context(|| format!("provisioning on {engine} failed"))?;
        eprintln!(
            "bench provision: {engine}: {tenants} tenants in {} s",
            secs(run.total)
        );
        runs.push(run);
    }
    print!("{}", render(&runs));
    Ok(())
}

/// Provisions `tenants` tenants one after another on `server`, timing each call.
async fn measure(
    engine: Engine,
    tenants: usize,
    scratch: &ScratchDir,
    server: &Throwaway,
) -> anyhow::Result<EngineRun> {
    let registry = scratch_registry(scratch).await?;
    let data_server = server.register(&registry).await?;
    let pools = PoolManager::new(PoolManagerSettings::default());
    let provisioner = Provisioner::new(registry, pools.clone());
    let bar = progress_bar(tenants, engine);
    let mut latencies = Vec::with_capacity(tenants);
    let started = Instant::now();
    for i in 0..tenants {
        let new = new_tenant(i, &data_server)?;
        let t = Instant::now();
        let outcome = provisioner.provision(new, ADMIN_PASSWORD).await;
        latencies.push(t.elapsed());
        if let Err(e) = outcome {
            bar.abandon();
            pools.close_all().await;
            return Err(e).with_context(|| format!("tenant #{i}"));
        }
        bar.inc(1);
    }
    let total = started.elapsed();
    bar.finish_and_clear();
    pools.close_all().await;
    latencies.sort();
    Ok(EngineRun {
        engine,
        latencies,
        total,
    })
}

/// A dedicated tenant `BENCH0000`, `BENCH0001`, … on `server` (database `tenant_bench0000`, …).
fn new_tenant(i: usize, server: &DataServer) -> anyhow::Result<NewTenant> {
    let code = TenantCode::parse(&format!("BENCH{i:04}"))?;
    Ok(NewTenant {
        subdomain: Some(Subdomain::parse(&code.as_str().to_ascii_lowercase())?),
        code,
        name: format!("Bench tenant {i}"),
        domains: Vec::new(),
        placement: Placement::Dedicated,
        server_id: server.id,
        database: None,
        schema: None,
        username: server.admin_username.clone(),
        password: None,
        status: TenantStatus::Provisioning,
        region: None,
        pool: PoolSettings::default(),
        plan: "standard".into(),
        notes: None,
    })
}

fn progress_bar(len: usize, engine: Engine) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>9} [{bar:30}] {pos}/{len} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(engine.as_str().to_owned());
    bar
}

fn render(runs: &[EngineRun]) -> String {
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            let p50 = percentile(&r.latencies, 0.50);
            let (target, met) = if r.engine == Engine::Postgres {
                (
                    format!("p50 < {} ms", PG_P50_TARGET.as_millis()),
                    yes_no(p50 < PG_P50_TARGET),
                )
            } else {
                ("-".to_owned(), "-".to_owned())
            };
            vec![
                r.engine.to_string(),
                r.latencies.len().to_string(),
                ms(p50),
                ms(percentile(&r.latencies, 0.95)),
                ms(*r.latencies.last().unwrap_or(&Duration::ZERO)),
                secs(r.total),
                target,
                met,
            ]
        })
        .collect();
    table::render(
        &[
            "ENGINE", "TENANTS", "P50 MS", "P95 MS", "MAX MS", "TOTAL S", "TARGET", "MET",
        ],
        &rows,
    )
}
