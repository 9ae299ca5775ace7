//! `tenantry bench scale`: many registered tenants (PostgreSQL schemas in a few shared databases,
//! plus SQLite files), far more than `max_pools`, under a connection budget, with Zipf-distributed
//! `GET /api/tickets` traffic through the whole tenantry stack. Reports warm and cold latency, pool
//! churn, peak server connections, process RSS and registry queries per warm request.

use super::fleet::{self, Fleet, ScaleTenant};
use super::load::{Conn, Target};
use super::{percentile, scratch_platform, yes_no, BenchServer, ScratchDir};
use crate::app::App;
use crate::cli::table;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tenantry::pools::{PoolManager, PoolManagerSettings};
use tenantry::registry::Registry;

const WARM_P99_GOAL_MS: f64 = 5.0;
const COLD_P99_GOAL_MS: f64 = 25.0;
const RSS_GOAL_MIB: f64 = 150.0;
/// Requests of the warm-only pass that counts registry queries.
const WARM_PASS: usize = 2_000;

#[derive(Debug, Clone)]
pub struct ScaleOptions {
    pub tenants: usize,
    /// Share of the tenants on PostgreSQL (schemas); the rest are SQLite files.
    pub pg_share: f64,
    /// Shared PostgreSQL databases the schemas are spread over.
    pub databases: usize,
    pub max_pools: u64,
    pub budget: usize,
    pub requests: usize,
    pub concurrency: usize,
    /// Zipf exponent of the tenant popularity.
    pub zipf: f64,
}

#[derive(Debug, Serialize)]
pub struct ScaleReport {
    pub tenants: usize,
    pub pg_tenants: usize,
    pub sqlite_tenants: usize,
    pub setup_seconds: f64,
    pub requests: usize,
    pub errors: usize,
    pub per_second: f64,
    pub warm_requests: usize,
    pub warm_p50_ms: f64,
    pub warm_p99_ms: f64,
    pub cold_requests: usize,
    pub cold_p50_ms: f64,
    pub cold_p99_ms: f64,
    pub pools_opened: u64,
    pub pools_evicted: u64,
    pub max_pools: u64,
    /// Most client connections PostgreSQL counted at once (`pg_stat_activity`, sampled).
    pub peak_pg_connections: i64,
    /// Most connections the pool manager held open at once, all engines.
    pub peak_connections: usize,
    pub budget: usize,
    pub rss_mib: f64,
    pub registry_queries_per_warm_request: f64,
}

/// Registers the fleet, serves it, and loads it.
pub async fn measure(pg: &BenchServer, options: &ScaleOptions) -> anyhow::Result<ScaleReport> {
    anyhow::ensure!(options.tenants > 0, "--tenants must be at least 1");
    anyhow::ensure!(options.concurrency > 0, "--concurrency must be at least 1");
    anyhow::ensure!(
        (0.0..=1.0).contains(&options.pg_share),
        "--pg-share must be from 0 to 1"
    );
    let scratch = ScratchDir::create("scale")?;
    let pools = PoolManager::new(PoolManagerSettings {
        max_pools: options.max_pools,
        max_total_connections: Some(options.budget),
        ..Default::default()
    });
    let platform = scratch_platform(&scratch, pools.clone()).await?;
    let started = Instant::now();
    let fleet = fleet::register(&platform, pg, &scratch, options).await?;
    let setup = started.elapsed();
    let registry = platform.registry().clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(crate::startup::run(
        listener,
        App::new(platform, None),
        async move {
            let _ = rx.await;
        },
    ));
    let sampler = fleet::PgSampler::start(pg).await?;
    eprintln!("bench scale: {} Zipf requests…", options.requests);
    let run = zipf_run(addr, &fleet, &pools, options).await?;
    let per_warm = warm_registry_queries(addr, &fleet, &pools, &registry).await?;
    let peak_pg = sampler.stop().await;
    let stats = pools.stats();
    let rss_mib = rss_bytes().map_or(0.0, |b| b as f64 / (1024.0 * 1024.0));
    let _ = tx.send(());
    pools.close_all().await;
    let ms = |v: &[Duration], p| {
        if v.is_empty() {
            0.0
        } else {
            percentile(v, p).as_secs_f64() * 1_000.0
        }
    };
    Ok(ScaleReport {
        tenants: fleet.tenants.len(),
        pg_tenants: fleet.pg,
        sqlite_tenants: fleet.tenants.len() - fleet.pg,
        setup_seconds: setup.as_secs_f64(),
        requests: options.requests,
        errors: run.errors,
        per_second: (run.warm.len() + run.cold.len()) as f64 / run.elapsed.as_secs_f64(),
        warm_requests: run.warm.len(),
        warm_p50_ms: ms(&run.warm, 0.5),
        warm_p99_ms: ms(&run.warm, 0.99),
        cold_requests: run.cold.len(),
        cold_p50_ms: ms(&run.cold, 0.5),
        cold_p99_ms: ms(&run.cold, 0.99),
        pools_opened: stats.pools_opened,
        pools_evicted: stats.evictions,
        max_pools: options.max_pools,
        peak_pg_connections: peak_pg,
        peak_connections: stats.connections_peak,
        budget: options.budget,
        rss_mib,
        registry_queries_per_warm_request: per_warm,
    })
}

struct ZipfRun {
    warm: Vec<Duration>,
    cold: Vec<Duration>,
    errors: usize,
    elapsed: Duration,
}

/// Tenant ranks drawn from a Zipf distribution (rank `k` with weight `1 / k^s`), seeded.
fn zipf_sequence(n: usize, s: f64, len: usize) -> Vec<usize> {
    let mut cdf = Vec::with_capacity(n);
    let mut sum = 0.0;
    for k in 1..=n {
        sum += 1.0 / (k as f64).powf(s);
        cdf.push(sum);
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    (0..len)
        .map(|_| {
            let u = rng.gen::<f64>() * sum;
            cdf.partition_point(|&c| c < u).min(n - 1)
        })
        .collect()
}

/// The Zipf pass: a request is *cold* when its tenant had no pool when it was sent.
async fn zipf_run(
    addr: SocketAddr,
    fleet: &Fleet,
    pools: &PoolManager,
    o: &ScaleOptions,
) -> anyhow::Result<ZipfRun> {
    let sequence: Arc<[usize]> = zipf_sequence(fleet.tenants.len(), o.zipf, o.requests).into();
    let next = Arc::new(AtomicUsize::new(0));
    let tenants: Arc<[ScaleTenant]> = fleet.tenants.clone().into();
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..o.concurrency {
        let (sequence, next, tenants, pools) = (
            sequence.clone(),
            next.clone(),
            tenants.clone(),
            pools.clone(),
        );
        workers.spawn(async move {
            let mut conn = Conn::open(addr).await?;
            let (mut warm, mut cold, mut errors) = (Vec::new(), Vec::new(), 0);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&rank) = sequence.get(i) else { break };
                let t = &tenants[rank];
                let was_cold = !pools.has_pool(t.id);
                let sent = Instant::now();
                match conn.get(&t.target.path, &t.target.token).await {
                    Ok((s, _)) if s.is_success() => {
                        if was_cold { &mut cold } else { &mut warm }.push(sent.elapsed())
                    }
                    Ok((s, body)) => {
                        if errors == 0 {
                            eprintln!("bench scale: {s}: {}", String::from_utf8_lossy(&body));
                        }
                        errors += 1;
                    }
                    Err(e) => {
                        errors += 1;
                        eprintln!("bench scale: {e}");
                        conn = Conn::open(addr).await?;
                    }
                }
            }
            anyhow::Ok((warm, cold, errors))
        });
    }
    let mut run = ZipfRun {
        warm: Vec::new(),
        cold: Vec::new(),
        errors: 0,
        elapsed: Duration::ZERO,
    };
    while let Some(done) = workers.join_next().await {
        let (w, c, e) = done??;
        run.warm.extend(w);
        run.cold.extend(c);
        run.errors += e;
    }
    run.elapsed = started.elapsed();
    run.warm.sort_unstable();
    run.cold.sort_unstable();
    Ok(run)
}

/// Registry queries per request over tenants whose pools are open (up to 100 of them).
async fn warm_registry_queries(
    addr: SocketAddr,
    fleet: &Fleet,
    pools: &PoolManager,
    registry: &Registry,
) -> anyhow::Result<f64> {
    let warm: Vec<&Target> = fleet
        .tenants
        .iter()
        .filter(|t| pools.has_pool(t.id))
        .take(100)
        .map(|t| &t.target)
        .collect();
    anyhow::ensure!(!warm.is_empty(), "no tenant has an open pool after the run");
    let mut conn = Conn::open(addr).await?;
    // One request each first, so every user status and config is cached.
    for t in &warm {
        conn.get(&t.path, &t.token).await?;
    }
    let before = registry.queries();
    for i in 0..WARM_PASS {
        let t = warm[i % warm.len()];
        let (status, _) = conn.get(&t.path, &t.token).await?;
        anyhow::ensure!(status.is_success(), "warm request answered {status}");
    }
    Ok((registry.queries() - before) as f64 / WARM_PASS as f64)
}

/// Resident set size of this process (Linux; `None` elsewhere).
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

pub fn render(r: &ScaleReport) -> String {
    let row = |what: &str, value: String, goal: &str, met: Option<bool>| {
        vec![
            what.to_owned(),
            value,
            goal.to_owned(),
            met.map(yes_no).unwrap_or_default(),
        ]
    };
    let rows = vec![
        row(
            "tenants",
            format!(
                "{} ({} pg schemas, {} sqlite)",
                r.tenants, r.pg_tenants, r.sqlite_tenants
            ),
            "",
            None,
        ),
        row("setup s", format!("{:.1}", r.setup_seconds), "", None),
        row(
            "requests (errors)",
            format!("{} ({})", r.requests, r.errors),
            "",
            Some(r.errors == 0),
        ),
        row("req/s", format!("{:.0}", r.per_second), "", None),
        row("warm p50 ms", format!("{:.2}", r.warm_p50_ms), "", None),
        row(
            "warm p99 ms",
            format!("{:.2}", r.warm_p99_ms),
            "< 5",
            Some(r.warm_p99_ms < WARM_P99_GOAL_MS),
        ),
        row("cold requests", r.cold_requests.to_string(), "", None),
        row("cold p50 ms", format!("{:.2}", r.cold_p50_ms), "", None),
        row(
            "cold p99 ms",
            format!("{:.2}", r.cold_p99_ms),
            "< 25",
            Some(r.cold_p99_ms < COLD_P99_GOAL_MS),
        ),
        row(
            "pools opened / evicted",
            format!("{} / {}", r.pools_opened, r.pools_evicted),
            &format!("max {} open", r.max_pools),
            None,
        ),
        row(
            "peak pg connections",
            r.peak_pg_connections.to_string(),
            &format!("<= {}", r.budget),
            Some(r.peak_pg_connections <= r.budget as i64),
        ),
        row(
            "peak pooled connections",
            r.peak_connections.to_string(),
            &format!("<= {}", r.budget),
            Some(r.peak_connections <= r.budget),
        ),
        row(
            "rss MiB",
            format!("{:.1}", r.rss_mib),
            "< 150",
            Some(r.rss_mib < RSS_GOAL_MIB),
        ),
        row(
            "registry queries / warm request",
            format!("{:.3}", r.registry_queries_per_warm_request),
            "0",
            Some(r.registry_queries_per_warm_request == 0.0),
        ),
    ];
    table::render(&["METRIC", "VALUE", "GOAL", "MET"], &rows)
}
