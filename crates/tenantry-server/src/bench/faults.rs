//! `tenantry bench faults`: other tenants' latency before vs during a customer-server outage, how
//! fast the outage's tenants fail once the breaker is open, and how soon they are served again.
//!
//! Requests go through the whole HTTP stack in process (`tower::ServiceExt::oneshot` on the
//! router: middleware, tenant layer, extractors, handler), without sockets.

use super::{ms, secs, yes_no, BenchServer};
use super::{percentile, scratch_platform, ScratchDir};
use crate::app::App;
use anyhow::Context;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use secrecy::SecretString;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tenantry::limits::RateLimit;
use tenantry::platform::{Actor, ProvisionRequest, ServerRef, TenantRef};
use tenantry::pools::{PoolManager, PoolManagerSettings};
use tenantry::registry::{NewServer, TenantUpdate};
use tenantry::tenant::{Hosting, Placement, ServerName, TenantCode};
use tower::ServiceExt;

const ADMIN_PASSWORD: &str = "bench-admin-password";
/// Tenants on our server (under load throughout) and on the customer's (the outage's).
const OTHERS: usize = 4;
const CUSTOMERS: usize = 2;

/// What the bench does to the customer's server (the CLI implements it on a throwaway server).
pub trait Outage: Send {
    /// Freezes the server (SIGSTOP): connections are accepted, nothing answers.
    fn pause(&self);
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
    /// From SIGSTOP to the customer server's circuit being open.
    pub outage_to_open_ms: f64,
    pub fail_fast_p50_ms: f64,
    pub fail_fast_p99_ms: f64,
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
        let mut req = ProvisionRequest::new(
            TenantCode::parse(&code)?,
            code.clone(),
            Placement::Dedicated,
        );
        req.server = Some(ServerRef::Id(server));
        req.admin_password = Some(SecretString::from(ADMIN_PASSWORD));
        let started = platform.provision(&Actor::System, req).await?;
        started
            .wait(|_| {})
            .await
            .with_context(|| format!("provisioning {code}"))?;
        // The load is a tight loop on purpose: no plan's rate limit may answer it instead.
        let unlimited = RateLimit {
            requests_per_second: 1_000_000,
            burst: 1_000_000,
        };
        let change = TenantUpdate {
            rate_limit: Some(Some(unlimited)),
            ..TenantUpdate::default()
        };
        let r = TenantRef::Code(TenantCode::parse(&code)?);
        platform.update(&Actor::System, &r, change).await?;
        let token = login(&router, &code).await?;
        match i < OTHERS {
            true => others.push(token),
            false => custs.push(token),
        }
    }

    let outage_on = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let seen: Arc<Mutex<Vec<(bool, Duration, bool)>>> = Arc::default();
    let mut workers = Vec::new();
    for (i, token) in others.iter().chain(&custs).enumerate() {
        let (router, token, stop) = (router.clone(), token.clone(), stop.clone());
        let (seen, outage_on, other) = (seen.clone(), outage_on.clone(), i < OTHERS);
        workers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                // An in-process request that fails fast never waits on I/O: without a yield this
                // loop would hold its worker thread and starve every other task (a real client's
                // requests cross a socket).
                tokio::task::yield_now().await;
                let t = Instant::now();
                let ok = get_customers(&router, &token).await == StatusCode::OK;
                if other {
                    let during = outage_on.load(Ordering::Relaxed);
                    seen.lock()
                        .expect("poisoned")
                        .push((during, t.elapsed(), ok));
                }
            }
        }));
    }
    tokio::time::sleep(phase).await;

    outage_on.store(true, Ordering::Relaxed);
    tokio::task::block_in_place(|| outage.pause());
    let paused = Instant::now();
    tracing::info!("bench faults: customer server frozen");
    while !pools.circuit_open(cust.id) {
        anyhow::ensure!(
            paused.elapsed() < Duration::from_secs(120),
            "the breaker never opened"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let outage_to_open = paused.elapsed();
    tracing::info!(?outage_to_open, "bench faults: circuit open");
    let mut fast = Vec::new();
    while paused.elapsed() < outage_to_open + phase {
        let t = Instant::now();
        let status = get_customers(&router, &custs[0]).await;
        if status == StatusCode::SERVICE_UNAVAILABLE {
            fast.push(t.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::task::block_in_place(|| outage.kill());
    tokio::time::sleep(phase.min(Duration::from_secs(2))).await;
    tokio::task::block_in_place(|| outage.restart())?;
    let back = Instant::now();
    while get_customers(&router, &custs[0]).await != StatusCode::OK {
        anyhow::ensure!(
            back.elapsed() < Duration::from_secs(60),
            "never served again"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let recovery = back.elapsed();
    outage_on.store(false, Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.await;
    }
    pools.close_all().await;

    let seen = std::mem::take(&mut *seen.lock().expect("poisoned"));
    let sorted = |during: bool| {
        let mut v: Vec<Duration> = seen.iter().filter(|s| s.0 == during).map(|s| s.1).collect();
        v.sort();
        v
    };
    let (before, during) = (sorted(false), sorted(true));
    anyhow::ensure!(
        !before.is_empty() && !during.is_empty() && !fast.is_empty(),
        "no samples"
    );
    fast.sort();
    let f = |d: Duration| d.as_secs_f64() * 1_000.0;
    Ok(FaultsRun {
        other_before_p50_ms: f(percentile(&before, 0.5)),
        other_before_p99_ms: f(percentile(&before, 0.99)),
        other_during_p50_ms: f(percentile(&during, 0.5)),
        other_during_p99_ms: f(percentile(&during, 0.99)),
        other_requests: seen.len(),
        other_errors: seen.iter().filter(|s| !s.2).count(),
        outage_to_open_ms: f(outage_to_open),
        fail_fast_p50_ms: f(percentile(&fast, 0.5)),
        fail_fast_p99_ms: f(percentile(&fast, 0.99)),
        recovery_to_success_ms: f(recovery),
    })
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
            "{} / {}",
            ms(d(r.fail_fast_p50_ms)),
            ms(d(r.fail_fast_p99_ms))
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
