//! `tenantry bench scale`: many registered tenants (PostgreSQL schemas in a few shared databases,
//! plus SQLite files), far more than `max_pools`, under a connection budget, with Zipf-distributed
//! `GET /api/tickets` traffic through the whole tenantry stack. Reports warm and cold latency, pool
//! churn, peak server connections, process RSS and registry queries per warm request.

use super::fleet::{self, Fleet};
use super::host::{self, HostCpu};
use super::load::{Conn, Target};
use super::{
    percentile, scratch_platform, set_rate_limit, yes_no, zipf, BenchServer, ScratchDir, UNLIMITED,
};
use crate::app::App;
use crate::cli::table;
use serde::Serialize;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Quiet time after the flush before a timed pass.
const SETTLE: Duration = Duration::from_secs(2);
use tenantry::platform::TenantRef;
use tenantry::pools::{PoolManager, PoolManagerSettings};
use tenantry::registry::Registry;

const WARM_P99_GOAL_MS: f64 = 5.0;
const COLD_P99_GOAL_MS: f64 = 25.0;
const RSS_GOAL_MIB: f64 = 150.0;
/// Requests of the warm-only pass that counts registry queries.
const WARM_PASS: usize = 2_000;
/// Tenants at the top of the Zipf ranking whose rate limit is lifted (rank 50 gets under 1% of the
/// requests of a fleet of 100 or more).
const UNLIMITED_TENANTS: usize = 50;

#[derive(Debug, Clone)]
pub struct ScaleOptions {
    pub tenants: usize,
    /// Share of the tenants on PostgreSQL (schemas); the rest are SQLite files.
    pub pg_share: f64,
    /// Shared PostgreSQL databases the schemas are spread over.
    pub databases: usize,
    pub max_pools: u64,
    pub budget: usize,
    /// The pool setting `spare_connections`.
    pub spare_connections: usize,
    /// Requests of each pass (closed loop, then paced).
    pub requests: usize,
    /// Clients of the closed-loop pass (the paced pass uses twice as many, so a slow answer
    /// does not hold the next due request back).
    pub concurrency: usize,
    /// Requests per second of the paced pass; 0: half the closed-loop throughput.
    pub rate: f64,
    /// Zipf exponent of the tenant popularity.
    pub zipf: f64,
    /// Shares of the closed-loop throughput for more paced passes after the judged one.
    pub sweep: Vec<f64>,
}

/// One paced pass of the sweep.
#[derive(Debug, Serialize)]
pub struct SweepPoint {
    /// Share of the closed-loop throughput, and the rate it came to.
    pub share: f64,
    pub rate: f64,
    pub warm_p50_ms: f64,
    pub warm_p99_ms: f64,
    pub cold_p50_ms: f64,
    pub cold_p99_ms: f64,
    pub errors: usize,
    /// The machine's cores over the pass (busy share, steal, longest stall).
    pub cpu: HostCpu,
}

#[derive(Debug, Serialize)]
pub struct ScaleReport {
    pub tenants: usize,
    pub pg_tenants: usize,
    pub sqlite_tenants: usize,
    pub setup_seconds: f64,
    pub requests: usize,
    pub errors: usize,
    /// Throughput of the closed-loop pass, and its latencies (queueing behind the other clients
    /// included: shown, not judged).
    pub per_second: f64,
    pub saturated_p50_ms: f64,
    pub saturated_p99_ms: f64,
    /// Offered load of the paced pass; the warm and cold figures are that pass's.
    pub paced_rate: f64,
    pub warm_requests: usize,
    pub warm_p50_ms: f64,
    pub warm_p99_ms: f64,
    pub cold_requests: usize,
    pub cold_p50_ms: f64,
    pub cold_p99_ms: f64,
    /// The machine's cores over the paced pass: how busy, the time the hypervisor took (steal),
    /// and the longest stall of a core (a core the host stops stops every thread on it at once).
    pub paced_cpu: HostCpu,
    pub pools_opened: u64,
    /// New connections opened, and idle connections of evicted pools taken over by another
    /// tenant of the same database instead (PostgreSQL schemas).
    pub connections_opened: u64,
    pub connections_taken_over: u64,
    /// Idle connections closed to make room under the budget.
    pub connections_reclaimed: u64,
    pub pools_evicted: u64,
    pub max_pools: u64,
    /// Most client connections PostgreSQL counted at once (`pg_stat_activity`, sampled).
    pub peak_pg_connections: i64,
    /// Most connections the pool manager held open at once, all engines.
    pub peak_connections: usize,
    pub budget: usize,
    pub rss_mib: f64,
    pub registry_queries_per_warm_request: f64,
    /// The passes of `--sweep`, in the order given (after the judged pass, so not in its figures).
    pub sweep: Vec<SweepPoint>,
}

/// Registers the fleet, serves it, and loads it.
pub async fn measure(pg: &BenchServer, options: &ScaleOptions) -> anyhow::Result<ScaleReport> {
    anyhow::ensure!(options.tenants > 0, "--tenants must be at least 1");
    anyhow::ensure!(options.concurrency > 0, "--concurrency must be at least 1");
    anyhow::ensure!(
        (0.0..=1.0).contains(&options.pg_share),
        "--pg-share must be from 0 to 1"
    );
    anyhow::ensure!(
        options.sweep.iter().all(|&s| s > 0.0 && s <= 1.0),
        "--sweep takes shares of the closed-loop throughput, each above 0 and at most 1"
    );
    let scratch = ScratchDir::create("scale")?;
    let pools = PoolManager::new(PoolManagerSettings {
        max_pools: options.max_pools,
        max_total_connections: Some(options.budget),
        spare_connections: options.spare_connections,
        ..Default::default()
    });
    let platform = scratch_platform(&scratch, pools.clone()).await?;
    let started = Instant::now();
    let fleet = fleet::register(&platform, pg, &scratch, options).await?;
    let setup = started.elapsed();
    // The most popular tenants of a small fleet would pass their plan's limit in the closed loop:
    // the bench measures pools, not a plan.
    for t in fleet.tenants.iter().take(UNLIMITED_TENANTS) {
        set_rate_limit(&platform, TenantRef::Id(t.id), UNLIMITED, UNLIMITED).await?;
    }
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
    let n = fleet.tenants.len();
    settle().await;
    eprintln!(
        "bench scale: {} Zipf requests, closed loop…",
        options.requests
    );
    let closed_seq = zipf::sequence(n, options.zipf, options.requests, 9);
    let closed = zipf::run(addr, &fleet, &pools, closed_seq, options.concurrency, None).await?;
    let rate = if options.rate > 0.0 {
        options.rate
    } else {
        (closed.per_second() / 2.0).max(1.0)
    };
    settle().await;
    eprintln!(
        "bench scale: {} Zipf requests paced at {rate:.0}/s…",
        options.requests
    );
    let paced_seq = zipf::sequence(n, options.zipf, options.requests, 10);
    let workers = options.concurrency * 2;
    let (run, paced_cpu) = host::over(zipf::run(
        addr,
        &fleet,
        &pools,
        paced_seq,
        workers,
        Some(rate),
    ))
    .await;
    let run = run?;
    let ms = |v: &[Duration], p| {
        if v.is_empty() {
            0.0
        } else {
            percentile(v, p).as_secs_f64() * 1_000.0
        }
    };
    let mut sweep = Vec::with_capacity(options.sweep.len());
    for (k, &share) in options.sweep.iter().enumerate() {
        let rate = (closed.per_second() * share).max(1.0);
        settle().await;
        eprintln!(
            "bench scale: sweep {}/{}: {} Zipf requests paced at {rate:.0}/s…",
            k + 1,
            options.sweep.len(),
            options.requests
        );
        let seq = zipf::sequence(n, options.zipf, options.requests, 11 + k as u64);
        let (pass, cpu) =
            host::over(zipf::run(addr, &fleet, &pools, seq, workers, Some(rate))).await;
        let pass = pass?;
        sweep.push(SweepPoint {
            share,
            rate,
            warm_p50_ms: ms(&pass.warm, 0.5),
            warm_p99_ms: ms(&pass.warm, 0.99),
            cold_p50_ms: ms(&pass.cold, 0.5),
            cold_p99_ms: ms(&pass.cold, 0.99),
            errors: pass.errors,
            cpu,
        });
    }
    let mut saturated: Vec<Duration> = closed.warm.iter().chain(&closed.cold).copied().collect();
    saturated.sort_unstable();
    let per_warm = warm_registry_queries(addr, &fleet, &pools, &registry).await?;
    let peak_pg = sampler.stop().await;
    let stats = pools.stats();
    let rss_mib = rss_bytes().map_or(0.0, |b| b as f64 / (1024.0 * 1024.0));
    let _ = tx.send(());
    pools.close_all().await;
    Ok(ScaleReport {
        tenants: fleet.tenants.len(),
        pg_tenants: fleet.pg,
        sqlite_tenants: fleet.tenants.len() - fleet.pg,
        setup_seconds: setup.as_secs_f64(),
        requests: options.requests * 2,
        errors: closed.errors + run.errors,
        per_second: closed.per_second(),
        saturated_p50_ms: ms(&saturated, 0.5),
        saturated_p99_ms: ms(&saturated, 0.99),
        paced_rate: rate,
        warm_requests: run.warm.len(),
        warm_p50_ms: ms(&run.warm, 0.5),
        warm_p99_ms: ms(&run.warm, 0.99),
        cold_requests: run.cold.len(),
        cold_p50_ms: ms(&run.cold, 0.5),
        cold_p99_ms: ms(&run.cold, 0.99),
        paced_cpu,
        pools_opened: stats.pools_opened,
        connections_opened: stats.connections_opened,
        connections_taken_over: stats.connections_taken_over,
        connections_reclaimed: stats.connections_reclaimed,
        pools_evicted: stats.evictions,
        max_pools: options.max_pools,
        peak_pg_connections: peak_pg,
        peak_connections: stats.connections_peak,
        budget: options.budget,
        rss_mib,
        registry_queries_per_warm_request: per_warm,
        sweep,
    })
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
        row(
            "closed loop: req/s",
            format!("{:.0}", r.per_second),
            "",
            None,
        ),
        row(
            "closed loop: p50 / p99 ms",
            format!("{:.2} / {:.2}", r.saturated_p50_ms, r.saturated_p99_ms),
            "(queueing)",
            None,
        ),
        row("paced at req/s", format!("{:.0}", r.paced_rate), "", None),
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
            "cpu busy / steal ms / longest stall ms",
            r.paced_cpu.cell(),
            "(paced pass; the host's)",
            None,
        ),
        row(
            "pools opened / evicted",
            format!("{} / {}", r.pools_opened, r.pools_evicted),
            &format!("max {} open", r.max_pools),
            None,
        ),
        row(
            "connections opened / taken over / reclaimed",
            format!(
                "{} / {} / {}",
                r.connections_opened, r.connections_taken_over, r.connections_reclaimed
            ),
            "",
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
    let mut out = table::render(&["METRIC", "VALUE", "GOAL", "MET"], &rows);
    if !r.sweep.is_empty() {
        let rows: Vec<Vec<String>> = r
            .sweep
            .iter()
            .map(|p| {
                vec![
                    format!("{:.2}", p.share),
                    format!("{:.0}", p.rate),
                    format!("{:.2} / {:.2}", p.warm_p50_ms, p.warm_p99_ms),
                    yes_no(p.warm_p99_ms < WARM_P99_GOAL_MS),
                    format!("{:.2} / {:.2}", p.cold_p50_ms, p.cold_p99_ms),
                    yes_no(p.cold_p99_ms < COLD_P99_GOAL_MS),
                    p.errors.to_string(),
                    p.cpu.cell(),
                ]
            })
            .collect();
        out.push_str("\nsweep (paced passes after the judged one):\n");
        out.push_str(&table::render(
            &[
                "SHARE OF CLOSED LOOP",
                "REQ/S",
                "WARM P50 / P99 MS",
                "P99 < 5",
                "COLD P50 / P99 MS",
                "P99 < 25",
                "ERRORS",
                "CPU BUSY / STEAL / STALL MS",
            ],
            &rows,
        ));
    }
    out
}

/// Lets the machine settle before a timed pass: the previous step's file writes (setup, or the
/// closed loop's pool churn) are flushed to disk and the kernel's writeback is over, so a pass
/// does not time the one before it.
async fn settle() {
    let _ = tokio::task::spawn_blocking(|| std::process::Command::new("sync").status()).await;
    tokio::time::sleep(SETTLE).await;
}
