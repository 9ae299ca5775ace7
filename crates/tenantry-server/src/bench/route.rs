//! `tenantry bench route`: `GET /api/tickets` through the whole tenantry stack (token, resolution,
//! status, user status, pool, statement, JSON, metrics layer) against the hand-written
//! [`super::baseline`] in the same process, on the same PostgreSQL tenants, side by side: the two
//! stacks take turns in short rounds so both see the same machine load.

use super::baseline::{self, Baseline};
use super::load::{self, Load, Target};
use super::{percentile, provision_dedicated, scratch_platform, set_rate_limit, yes_no};
use super::{BenchServer, ScratchDir, UNLIMITED};
use crate::app::App;
use crate::cli::table;
use anyhow::Context;
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tenantry::platform::Platform;
use tenantry::platform::TenantRef;
use tenantry::pools::{PoolManager, PoolManagerSettings};
use tenantry::registry::DataServer;
use tenantry::tenant::{Engine, TenantCode};

/// tenantry's throughput must be at least this share of the baseline's.
const RATIO_GOAL: f64 = 0.95;
const PASSWORD: &str = "bench-password";
/// Tickets in every tenant (a full first page of 20 and a total to count).
const TICKETS: i64 = 30;
/// Each stack's share of a scenario is split into this many alternating rounds.
const ROUNDS: u32 = 4;

/// How to run the benchmark.
#[derive(Debug, Clone)]
pub struct RouteOptions {
    pub tenants: usize,
    pub concurrency: usize,
    /// Load time per stack and scenario.
    pub duration: Duration,
}

/// One stack's figures in one scenario.
#[derive(Debug, Serialize)]
pub struct Figures {
    pub requests: usize,
    pub errors: u64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl Figures {
    fn of(load: &Load) -> Self {
        let ms = |p| {
            if load.latencies.is_empty() {
                return 0.0;
            }
            percentile(&load.latencies, p).as_secs_f64() * 1_000.0
        };
        Self {
            requests: load.latencies.len(),
            errors: load.errors,
            per_second: load.per_second(),
            p50_ms: ms(0.5),
            p99_ms: ms(0.99),
        }
    }
}

/// One scenario: both stacks, side by side.
#[derive(Debug, Serialize)]
pub struct Scenario {
    pub tenants: usize,
    pub concurrency: usize,
    pub tenantry: Figures,
    pub baseline: Figures,
    /// tenantry's req/s over the baseline's.
    pub ratio: f64,
    pub goal: f64,
    pub met: bool,
}

/// Provisions `options.tenants` PostgreSQL tenants on `server`, serves them through tenantry
/// and through the baseline, and loads both: all tenants, then a single tenant.
pub async fn measure(
    server: &BenchServer,
    options: &RouteOptions,
) -> anyhow::Result<Vec<Scenario>> {
    anyhow::ensure!(options.tenants > 0, "--tenants must be at least 1");
    anyhow::ensure!(options.concurrency > 0, "--concurrency must be at least 1");
    anyhow::ensure!(
        server.engine == Engine::Postgres,
        "bench route runs on PostgreSQL"
    );
    let scratch = ScratchDir::create("route")?;
    let pools = PoolManager::new(PoolManagerSettings {
        max_pools: options.tenants as u64 + 10,
        ..Default::default()
    });
    let platform = scratch_platform(&scratch, pools.clone()).await?;
    let data_server = server.register(platform.registry()).await?;
    eprintln!("bench route: provisioning {} tenants…", options.tenants);
    let tenants = provision(&platform, &data_server, options.tenants).await?;
    let baseline = Arc::new(Baseline {
        signer: platform.signer().clone(),
        pools: baseline_pools(server, &tenants).await?,
    });
    for pool in baseline.pools.values().take(options.tenants) {
        seed_tickets(pool).await?;
    }
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let tenantry_addr = serve_tenantry(App::new(platform, None), rx).await?;
    let baseline_addr = serve(baseline::router(baseline.clone())).await?;
    let targets: Vec<Target> = tenants
        .iter()
        .map(|t| Target {
            path: "/api/tickets?page=1&limit=20".into(),
            token: t.token.clone(),
        })
        .collect();
    same_answer(tenantry_addr, baseline_addr, &targets[0]).await?;
    let mut scenarios = Vec::new();
    for subset in [targets.len(), 1] {
        let targets: Arc<[Target]> = targets[..subset].to_vec().into();
        eprintln!("bench route: {subset} tenant(s), side by side…");
        scenarios.push(side_by_side(tenantry_addr, baseline_addr, targets, options).await?);
        if options.tenants == 1 {
            break;
        }
    }
    let _ = tx.send(());
    for pool in baseline.pools.values() {
        pool.close().await;
    }
    pools.close_all().await;
    Ok(scenarios)
}

struct BenchTenant {
    id: uuid::Uuid,
    database: String,
    token: String,
}

/// Provisions `ROUTE0000`, … (dedicated databases), four at a time, and signs their admins in.
async fn provision(
    platform: &Platform,
    server: &DataServer,
    n: usize,
) -> anyhow::Result<Vec<BenchTenant>> {
    futures::stream::iter(0..n)
        .map(|i| async move {
            let code = TenantCode::parse(&format!("ROUTE{i:04}"))?;
            provision_dedicated(platform, &code, server.id, PASSWORD).await?;
            // The baseline has no rate limit: neither may tenantry's plans answer the load.
            set_rate_limit(
                platform,
                TenantRef::Code(code.clone()),
                UNLIMITED,
                UNLIMITED,
            )
            .await?;
            let config = platform
                .registry()
                .tenant_config(&code)
                .await?
                .with_context(|| format!("{code} is not in the registry"))?;
            let session = platform.login_user(&config, "admin", PASSWORD).await?;
            anyhow::Ok(BenchTenant {
                id: config.tenant.id,
                database: config.source.database.clone(),
                token: session.token,
            })
        })
        .buffered(4)
        .try_collect()
        .await
}

/// The baseline's pools: one per tenant, as large as tenantry's default per-tenant pool.
async fn baseline_pools(
    server: &BenchServer,
    tenants: &[BenchTenant],
) -> anyhow::Result<HashMap<uuid::Uuid, sqlx::PgPool>> {
    let mut pools = HashMap::with_capacity(tenants.len());
    for t in tenants {
        let mut options = PgConnectOptions::new_without_pgpass()
            .host(&server.host)
            .port(server.port.unwrap_or(5432))
            .database(&t.database);
        if let Some(user) = &server.admin_user {
            options = options.username(user);
        }
        let pool = PgPoolOptions::new()
            .max_connections(tenantry::registry::PoolSettings::default().max_connections)
            .connect_lazy_with(options);
        pools.insert(t.id, pool);
    }
    Ok(pools)
}

/// One customer, one site and [`TICKETS`] tickets.
async fn seed_tickets(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    sqlx::query(
        "WITH c AS (INSERT INTO customers (name) VALUES ('Bench customer') RETURNING id), \
         s AS (INSERT INTO sites (customer_id, name) SELECT id, 'Bench site' FROM c RETURNING id) \
         INSERT INTO tickets (site_id, title, description) \
         SELECT s.id, 'Ticket ' || g, 'A benchmark ticket' FROM s, generate_series(1, $1) g",
    )
    .bind(TICKETS)
    .execute(pool)
    .await
    .context("cannot seed tickets")?;
    Ok(())
}

async fn serve_tenantry(
    app: App,
    stop: tokio::sync::oneshot::Receiver<()>,
) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(crate::startup::run(listener, app, async move {
        let _ = stop.await;
    }));
    Ok(addr)
}

/// Serves `router` on a fresh local port until the process ends.
pub(super) async fn serve(router: axum::Router) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(addr)
}

/// Both stacks answer the same request with the same JSON (else the comparison means nothing).
async fn same_answer(a: SocketAddr, b: SocketAddr, t: &Target) -> anyhow::Result<()> {
    let mut bodies = Vec::new();
    for addr in [a, b] {
        let (status, body) = load::Conn::open(addr).await?.get(&t.path, &t.token).await?;
        anyhow::ensure!(status.is_success(), "{addr} answered {status}: {body:?}");
        bodies.push(serde_json::from_slice::<serde_json::Value>(&body)?);
    }
    anyhow::ensure!(
        bodies[0] == bodies[1],
        "tenantry and the baseline answer differently:\n{}\n{}",
        bodies[0],
        bodies[1]
    );
    Ok(())
}

async fn side_by_side(
    tenantry_addr: SocketAddr,
    baseline_addr: SocketAddr,
    targets: Arc<[Target]>,
    o: &RouteOptions,
) -> anyhow::Result<Scenario> {
    let round = o.duration / ROUNDS;
    let warm = Duration::from_millis(500);
    for addr in [tenantry_addr, baseline_addr] {
        load::drive(addr, targets.clone(), o.concurrency, warm).await?;
    }
    let (mut ours, mut theirs) = (Load::default(), Load::default());
    for r in 0..ROUNDS {
        // Alternate which stack goes first, so neither always runs right after the other.
        let order = if r % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for is_ours in order {
            let addr = if is_ours {
                tenantry_addr
            } else {
                baseline_addr
            };
            let run = load::drive(addr, targets.clone(), o.concurrency, round).await?;
            if is_ours { &mut ours } else { &mut theirs }.merge(run);
        }
    }
    for (name, l) in [("tenantry", &ours), ("baseline", &theirs)] {
        if let Some(e) = &l.first_error {
            anyhow::bail!("{name}: {} failed requests; first: {e}", l.errors);
        }
    }
    let ratio = ours.per_second() / theirs.per_second().max(1e-9);
    Ok(Scenario {
        tenants: targets.len(),
        concurrency: o.concurrency,
        tenantry: Figures::of(&ours),
        baseline: Figures::of(&theirs),
        ratio,
        goal: RATIO_GOAL,
        met: ratio >= RATIO_GOAL,
    })
}

pub fn render(scenarios: &[Scenario]) -> String {
    let mut rows = Vec::new();
    for s in scenarios {
        for (stack, f) in [("tenantry", &s.tenantry), ("baseline", &s.baseline)] {
            let ours = stack == "tenantry";
            rows.push(vec![
                s.tenants.to_string(),
                s.concurrency.to_string(),
                stack.to_owned(),
                format!("{:.0}", f.per_second),
                format!("{:.2}", f.p50_ms),
                format!("{:.2}", f.p99_ms),
                if ours {
                    format!("{:.3}", s.ratio)
                } else {
                    String::new()
                },
                if ours {
                    format!(">= {}", s.goal)
                } else {
                    String::new()
                },
                if ours { yes_no(s.met) } else { String::new() },
            ]);
        }
    }
    table::render(
        &[
            "TENANTS",
            "CONCURRENCY",
            "STACK",
            "REQ/S",
            "P50 MS",
            "P99 MS",
            "RATIO",
            "GOAL",
            "MET",
        ],
        &rows,
    )
}
