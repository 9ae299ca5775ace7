//! `tenantry bench faults`: other tenants' latency before vs during a customer-server outage, how
//! fast the outage's tenants fail once the breaker is open, and how soon they are served again.
//!
//! Every tenant's clients send a paced stream of requests (each timed from when it was due). The
//! customer's server is frozen and resumed in rounds, between quiet phases, so "before" and "during"
//! see the same background load of a shared machine; then it is frozen, killed and restarted.
//!
//! Requests go through the whole HTTP stack in process (`tower::ServiceExt::oneshot` on the
//! router: middleware, tenant layer, extractors, handler), without sockets.

use super::{ms, provision_dedicated, secs, set_rate_limit, yes_no, BenchServer, UNLIMITED};
use super::{percentile, scratch_platform, ScratchDir};
use crate::app::App;
use anyhow::Context;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use secrecy::SecretString;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tenantry::platform::TenantRef;
use tenantry::pools::{PoolManager, PoolManagerSettings};
use tenantry::registry::NewServer;
use tenantry::tenant::{Hosting, ServerName, TenantCode};
use tower::ServiceExt;

const ADMIN_PASSWORD: &str = "bench-admin-password";
/// Tenants on our server (under load throughout) and on the customer's (the outage's).
const OTHERS: usize = 4;
const CUSTOMERS: usize = 2;

/// What the bench does to the customer's server (the CLI implements it on a throwaway server).
pub trait Outage: Send {
    /// Freezes the server (SIGSTOP): connections are accepted, nothing answers.
    fn pause(&self);
    /// Lets a frozen server go on (SIGCONT).
    fn resume(&self);
    /// Kills it (SIGKILL).
    fn kill(&self);
    /// Starts it again on the same data and port; returns once it accepts connections.
    fn restart(&mut self) -> anyhow::Result<()>;
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultsRun {
    pub other_before_p50_ms: f64,
    pub other_before_p99_ms: f64,
    pub other_during_p50_ms: f64,
    pub other_during_p99_ms: f64,
    pub other_requests: usize,
    pub other_errors: usize,
    /// From SIGSTOP to the customer server's circuit being open (median of the rounds).
    pub outage_to_open_ms: f64,
    pub fail_fast_p50_ms: f64,
    pub fail_fast_p99_ms: f64,
    /// The customer's tenants' requests while their circuit was open.
    pub fail_fast_requests: usize,
    /// From the restarted server accepting connections to the first 200 of its tenant.
    pub recovery_to_success_ms: f64,
}

pub async fn measure(
    ours: &BenchServer,
    customer: &BenchServer,
    outage: &mut dyn Outage,
    phase: Duration,
) -> anyhow::Result<FaultsRun> {
    let scratch = ScratchDir::create("faults")?;
    let pools = PoolManager::new(PoolManagerSettings::default());
    let platform = scratch_platform(&scratch, pools.clone()).await?;
    let ours_id = ours.register(platform.registry()).await?.id;
    let cust = platform
        .registry()
        .add_server(NewServer {
            name: ServerName::parse("bench-customer")?,
            hosting: Hosting::Customer,
            ..new_server(customer)
        })
        .await
        .context("cannot register the customer server")?;
    let app = App::new(platform.clone(), None);
    let router = crate::http::router(app);
    let mut others = Vec::new();
    let mut custs = Vec::new();
    for i in 0..OTHERS + CUSTOMERS {
        let (code, server) = match i < OTHERS {
            true => (format!("OTHER{i}"), ours_id),
            false => (format!("CUST{}", i - OTHERS), cust.id),
        };
        let code = TenantCode::parse(&code)?;
        provision_dedicated(&platform, &code, server, ADMIN_PASSWORD).await?;
        // The load is paced on purpose: no plan's rate limit may answer it instead.
        set_rate_limit(
            &platform,
            TenantRef::Code(code.clone()),
            UNLIMITED,
            UNLIMITED,
        )
        .await?;
        let token = login(&router, code.as_str()).await?;
        match i < OTHERS {
            true => others.push(token),
            false => custs.push(token),
        }
    }

    let phase_now = Arc::new(AtomicU8::new(TRANSITION));
    let stop = Arc::new(AtomicBool::new(false));
    let seen: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let mut workers = Vec::new();
    for (i, token) in others.iter().chain(&custs).enumerate() {
        let load = Load {
            router: router.clone(),
            token: token.clone(),
            other: i < OTHERS,
            phase: phase_now.clone(),
            stop: stop.clone(),
            seen: seen.clone(),
        };
        workers.push(tokio::spawn(load.run()));
    }
    let set = |p: u8| phase_now.store(p, Ordering::Relaxed);
    let mut to_open = Vec::new();
    for round in 0..ROUNDS {
        set(QUIET);
        tokio::time::sleep(phase).await;
        set(TRANSITION);
        to_open.push(freeze_until_open(outage, &pools, cust.id).await?);
        set(OUTAGE);
        tokio::time::sleep(phase).await;
        set(TRANSITION);
        tokio::task::block_in_place(|| outage.resume());
        served_again(&router, &custs[0]).await?;
        tracing::info!(round, "bench faults: round done");
    }
    // Last: a dead server (frozen, then killed) and its restart.
    freeze_until_open(outage, &pools, cust.id).await?;
    tokio::task::block_in_place(|| outage.kill());
    tokio::time::sleep(phase.min(Duration::from_secs(2))).await;
    tokio::task::block_in_place(|| outage.restart())?;
    let back = Instant::now();
    served_again(&router, &custs[0]).await?;
    let recovery = back.elapsed();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.await;
    }
    pools.close_all().await;

    let seen = std::mem::take(&mut *seen.lock().expect("poisoned"));
    let sorted = |other: bool, phase: u8| {
        let mut v: Vec<Duration> = seen
            .iter()
            .filter(|s| s.other == other && s.phase == phase)
            .map(|s| s.latency)
            .collect();
        v.sort();
        v
    };
    let (before, during, fast) = (
        sorted(true, QUIET),
        sorted(true, OUTAGE),
        sorted(false, OUTAGE),
    );
    anyhow::ensure!(
        !before.is_empty() && !during.is_empty() && !fast.is_empty(),
        "no samples: {} quiet, {} during, {} fail-fast of {} in all",
        before.len(),
        during.len(),
        fast.len(),
        seen.len()
    );
    let others_seen: Vec<&Sample> = seen.iter().filter(|s| s.other).collect();
    to_open.sort();
    let f = |d: Duration| d.as_secs_f64() * 1_000.0;
    Ok(FaultsRun {
        other_before_p50_ms: f(percentile(&before, 0.5)),
        other_before_p99_ms: f(percentile(&before, 0.99)),
        other_during_p50_ms: f(percentile(&during, 0.5)),
        other_during_p99_ms: f(percentile(&during, 0.99)),
        other_requests: others_seen.len(),
        other_errors: others_seen.iter().filter(|s| !s.ok).count(),
        outage_to_open_ms: f(to_open[to_open.len() / 2]),
        fail_fast_p50_ms: f(percentile(&fast, 0.5)),
        fail_fast_p99_ms: f(percentile(&fast, 0.99)),
        fail_fast_requests: fast.len(),
        recovery_to_success_ms: f(recovery),
    })
}

/// Rounds of quiet load then a frozen customer server.
const ROUNDS: usize = 3;
/// Requests per second each tenant sends (paced, so a failing tenant's clients do not turn into a
/// tight loop of instant 503s that would measure the load generator, not the server).
const RATE_PER_TENANT: f64 = 50.0;
/// What the load is in when a request is due: only QUIET and OUTAGE samples are reported.
const QUIET: u8 = 0;
const OUTAGE: u8 = 1;
const TRANSITION: u8 = 2;

struct Sample {
    other: bool,
    phase: u8,
    latency: Duration,
    ok: bool,
}

/// One tenant's clients: a request every `1 / RATE_PER_TENANT` s, each timed from when it was due.
/// The struct is shared by the tenant's in-flight requests.
struct Load {
    router: axum::Router,
    token: String,
    /// One of our server's tenants (else the customer's).
    other: bool,
    phase: Arc<AtomicU8>,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Sample>>>,
}

impl Load {
    /// Sends each request at its due time in a task of its own (open loop): a request stuck on
    /// a frozen server holds up no other, as with real clients.
    async fn run(self) {
        let every = Duration::from_secs_f64(1.0 / RATE_PER_TENANT);
        let this = Arc::new(self);
        let mut due = Instant::now();
        let mut inflight = tokio::task::JoinSet::new();
        while !this.stop.load(Ordering::Relaxed) {
            due += every;
            tokio::time::sleep_until(due.into()).await;
            let (this, due) = (this.clone(), due);
            inflight.spawn(async move {
                let phase = this.phase.load(Ordering::Relaxed);
                let ok = get_customers(&this.router, &this.token).await == StatusCode::OK;
                let sample = Sample {
                    other: this.other,
                    phase,
                    latency: due.elapsed(),
                    ok,
                };
                this.seen.lock().expect("poisoned").push(sample);
            });
            while inflight.try_join_next().is_some() {}
        }
        // Requests still stuck on the frozen server are not waited for.
        inflight.abort_all();
    }
}

/// Freezes the customer's server; returns once its circuit is open (and how long that took).
async fn freeze_until_open(
    outage: &mut dyn Outage,
    pools: &PoolManager,
    server: uuid::Uuid,
) -> anyhow::Result<Duration> {
    tokio::task::block_in_place(|| outage.pause());
    let paused = Instant::now();
    while !pools.circuit_open(server) {
        anyhow::ensure!(
            paused.elapsed() < Duration::from_secs(120),
            "the breaker never opened"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tracing::info!(after = ?paused.elapsed(), "bench faults: circuit open");
    Ok(paused.elapsed())
}

/// Waits for the customer's tenant to be served again.
async fn served_again(router: &axum::Router, token: &str) -> anyhow::Result<()> {
    let back = Instant::now();
    while get_customers(router, token).await != StatusCode::OK {
        anyhow::ensure!(
            back.elapsed() < Duration::from_secs(60),
            "never served again"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

fn new_server(s: &BenchServer) -> NewServer {
    NewServer {
        name: ServerName::parse("bench").expect("valid"),
        engine: s.engine,
        host: s.host.clone(),
        port: s.port,
        hosting: Hosting::Ours,
        region: Some("bench".into()),
        tls: s.tls,
        admin_username: s.admin_user.clone(),
        admin_password: s.admin_password.clone().map(SecretString::from),
    }
}

async fn login(router: &axum::Router, code: &str) -> anyhow::Result<String> {
    let body = serde_json::json!({"username": "admin", "password": ADMIN_PASSWORD});
    let req = Request::post(format!("/api/auth/login?company={code}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))?;
    let resp = router.clone().oneshot(req).await?;
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await?;
    let v: serde_json::Value = serde_json::from_slice(&bytes)?;
    v["token"]
        .as_str()
        .map(str::to_owned)
        .context("login gave no token")
}

async fn get_customers(router: &axum::Router, token: &str) -> StatusCode {
    let req = Request::get("/api/customers")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .expect("a valid request");
    match router.clone().oneshot(req).await {
        Ok(resp) => {
            let status = resp.status();
            let _ = axum::body::to_bytes(resp.into_body(), 1 << 20).await;
            status
        }
        Err(never) => match never {},
    }
}

/// The table of one run, with the targets.
pub fn render(r: &FaultsRun) -> String {
    let d = |v: f64| Duration::from_secs_f64(v / 1_000.0);
    let ratio = r.other_during_p99_ms / r.other_before_p99_ms.max(0.001);
    let mut out = String::new();
    out.push_str("| measure | value | target | met |\n|---|---|---|---|\n");
    let mut row = |m: &str, v: String, t: &str, met: bool| {
        out.push_str(&format!("| {m} | {v} | {t} | {} |\n", yes_no(met)));
    };
    row(
        "other tenants p50 before / during (ms)",
        format!(
            "{} / {}",
            ms(d(r.other_before_p50_ms)),
            ms(d(r.other_during_p50_ms))
        ),
        "",
        true,
    );
    row(
        "other tenants p99 before / during (ms)",
        format!(
            "{} / {} ({ratio:.2}×)",
            ms(d(r.other_before_p99_ms)),
            ms(d(r.other_during_p99_ms))
        ),
        "≤ 1.2×",
        ratio <= 1.2,
    );
    row(
        "other tenants' errors",
        format!("{} of {}", r.other_errors, r.other_requests),
        "0",
        r.other_errors == 0,
    );
    row(
        "SIGSTOP → breaker open (s)",
        secs(d(r.outage_to_open_ms)),
        "",
        true,
    );
    row(
        "fail-fast answer p50 / p99 (ms)",
        format!(
            "{} / {} ({} requests)",
            ms(d(r.fail_fast_p50_ms)),
            ms(d(r.fail_fast_p99_ms)),
            r.fail_fast_requests
        ),
        "< 50",
        r.fail_fast_p99_ms < 50.0,
    );
    row(
        "restart → first success (s)",
        secs(d(r.recovery_to_success_ms)),
        "< 5",
        r.recovery_to_success_ms < 5_000.0,
    );
    out
}
