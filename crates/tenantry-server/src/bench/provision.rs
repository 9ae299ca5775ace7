//! `tenantry bench provision`: sequential dedicated-tenant provisioning through the platform (the
//! operation an operator runs, audit row and storage directory included), per engine.

use super::{
    ms, percentile, progress_bar, scratch_platform, secs, yes_no, BenchServer, ScratchDir,
};
use crate::cli::table;
use anyhow::Context;
use secrecy::SecretString;
use std::time::{Duration, Instant};
use tenantry::platform::{Actor, ProvisionRequest, ServerRef};
use tenantry::pools::{PoolManager, PoolManagerSettings};
use tenantry::registry::DataServer;
use tenantry::tenant::{Engine, Placement, Subdomain, TenantCode};

/// p50 provisioning latency we promise on PostgreSQL.
const PG_P50_TARGET: Duration = Duration::from_millis(300);

/// Admin password of every benchmark tenant (hashing it is part of what is measured).
const ADMIN_PASSWORD: &str = "bench-password";

/// Latencies of one engine's run.
pub struct EngineRun {
    engine: Engine,
    latencies: Vec<Duration>,
    total: Duration,
}

/// Provisions `tenants` tenants one after another on `server` (on a scratch registry), timing
/// each call.
pub async fn measure(server: &BenchServer, tenants: usize) -> anyhow::Result<EngineRun> {
    anyhow::ensure!(tenants > 0, "--tenants must be at least 1");
    let engine = server.engine;
    let scratch = ScratchDir::create(&format!("provision-{engine}"))?;
    let pools = PoolManager::new(PoolManagerSettings::default());
    let platform = scratch_platform(&scratch, pools.clone()).await?;
    let data_server = server.register(platform.registry()).await?;
    let bar = progress_bar(tenants, engine.as_str());
    let mut latencies = Vec::with_capacity(tenants);
    let started = Instant::now();
    for i in 0..tenants {
        let req = request(i, &data_server)?;
        let t = Instant::now();
        let outcome = match platform.provision(&Actor::System, req).await {
            Ok(started) => started.wait(|_| {}).await,
            Err(e) => Err(e),
        };
        latencies.push(t.elapsed());
        if let Err(e) = outcome {
            bar.abandon();
            pools.close_all().await;
            return Err(e).with_context(|| format!("provisioning on {engine}: tenant #{i}"));
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
fn request(i: usize, server: &DataServer) -> anyhow::Result<ProvisionRequest> {
    let code = TenantCode::parse(&format!("BENCH{i:04}"))?;
    let mut req = ProvisionRequest::new(
        code.clone(),
        format!("Bench tenant {i}"),
        Placement::Dedicated,
    );
    req.subdomain = Some(Subdomain::parse(&code.as_str().to_ascii_lowercase())?);
    req.server = Some(ServerRef::Id(server.id));
    req.admin_password = Some(SecretString::from(ADMIN_PASSWORD));
    Ok(req)
}

/// The table of one or more engine runs.
pub fn render(runs: &[EngineRun]) -> String {
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
