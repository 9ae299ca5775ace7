//! Fault injection: a customer's PostgreSQL server hangs (SIGSTOP), dies (SIGKILL) and comes back
//! while tenants on two other servers (our PostgreSQL, MariaDB) are under concurrent load.

use crate::common::{error_code, On, TestApp};
use reqwest::{Method, StatusCode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tenantry::pools::PoolManagerSettings;
use tenantry::registry::{DataServer, NewServer};
use tenantry::tenant::{Engine, Hosting, TlsMode};
use tenantry_testkit::PgServer;

/// One answer seen by a load worker: tenant, status, error code, latency.
type Seen = (&'static str, StatusCode, String, Duration);

/// Workers sending `GET /api/customers` for their tenant until stopped, recording every answer.
struct Load {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Seen>>>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(t: &TestApp, tenants: &[(&'static str, String, usize)]) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        // A hung request must end on our side (request timeout), not the client's.
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let mut workers = Vec::new();
        for (code, token, n) in tenants {
            for _ in 0..*n {
                let (stop, seen, client) = (stop.clone(), seen.clone(), client.clone());
                let (code, token, url) = (*code, token.clone(), t.url("/api/customers"));
                workers.push(tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let started = Instant::now();
                        let resp = client.get(&url).bearer_auth(&token).send().await;
                        let resp = resp.expect("the server answers every request");
                        let status = resp.status();
                        let body: serde_json::Value = resp.json().await.unwrap_or_default();
                        let code_seen = error_code(&body).to_owned();
                        seen.lock()
                            .unwrap()
                            .push((code, status, code_seen, started.elapsed()));
                    }
                }));
            }
        }
        Self {
            stop,
            seen,
            workers,
        }
    }

    async fn finish(self) -> Vec<Seen> {
        self.stop.store(true, Ordering::Relaxed);
        for w in self.workers {
            w.await.unwrap();
        }
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

/// Registers a private PostgreSQL server (one this test may freeze and kill) as a customer server.
async fn customer_server(t: &TestApp, pg: &PgServer) -> DataServer {
    t.registry()
        .add_server(NewServer {
            name: crate::common::server_name("customer-pg"),
            engine: Engine::Postgres,
            host: pg.host().to_owned(),
            port: Some(pg.port()),
            hosting: Hosting::Customer,
            region: Some("test".into()),
            tls: TlsMode::Disable,
            admin_username: Some("postgres".into()),
            admin_password: None,
        })
        .await
        .unwrap()
}

/// Requests for CUST until one succeeds; how long that took.
async fn until_served(t: &TestApp, token: &str, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let (s, _) = t
            .call(Method::GET, "/api/customers", Some(token), None)
            .await;
        if s == StatusCode::OK {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "not served again within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// CUST's acquire timeout: a request that waited for it was let through to a hung server.
const ACQUIRE_TIMEOUT: Duration = Duration::from_millis(1_000);

/// Direct requests for CUST while its circuit is open, spanning several cooldowns (so probes fall
/// due meanwhile): every one a 503 JSON error with `Retry-After`, none waiting anywhere near the
/// acquire timeout (no request is ever the probe).
async fn assert_fails_fast(t: &TestApp, token: &str, phase: &str) {
    for i in 0..25 {
        let started = Instant::now();
        let resp = t
            .client
            .get(t.url("/api/customers"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let took = started.elapsed();
        let status = resp.status();
        let retry_after = resp.headers().get("retry-after").cloned();
        let body: serde_json::Value = resp.json().await.unwrap_or_default();
        assert_eq!(
            (status, error_code(&body)),
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "tenant_database_unavailable"
            ),
            "{phase} #{i}: {body}"
        );
        assert!(retry_after.is_some(), "{phase} #{i}: no Retry-After");
        assert!(
            took < ACQUIRE_TIMEOUT / 2,
            "{phase} #{i}: took {took:?}, as if it waited for the server"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits (bounded) until the customer server's circuit is open.
async fn until_open(t: &TestApp, server: &DataServer) {
    let since = Instant::now();
    while !t.app.pools().circuit_open(server.id) {
        assert!(
            since.elapsed() < Duration::from_secs(20),
            "the breaker never opened for the hung server"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A test app with a fast breaker, and tenant CUST on a private PostgreSQL server.
async fn app_with_customer() -> (TestApp, PgServer, DataServer) {
    let settings = PoolManagerSettings {
        request_timeout: Duration::from_secs(3),
        breaker_cooldown: Duration::from_secs(1),
        ..PoolManagerSettings::default()
    };
    let t = TestApp::spawn_with(settings, None).await;
    let pg = tokio::task::spawn_blocking(PgServer::start)
        .await
        .unwrap()
        .unwrap();
    let server = customer_server(&t, &pg).await;
    let mut new = TestApp::new_tenant("CUST", &server);
    new.pool.acquire_timeout_ms = ACQUIRE_TIMEOUT.as_millis() as u64;
    t.provision(new).await;
    t.lift_rate_limit("CUST").await;
    (t, pg, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn once_open_no_request_waits_for_a_hung_server_and_serving_resumes_when_it_thaws() {
    let (t, pg, server) = app_with_customer().await;
    let cust = t.login("CUST").await;
    until_served(&t, &cust, Duration::from_secs(10)).await;
    let load = Load::start(&t, &[("CUST", cust.clone(), 2)]);

    pg.pause();
    until_open(&t, &server).await;
    assert_fails_fast(&t, &cust, "hung").await;
    pg.resume();
    until_served(&t, &cust, Duration::from_secs(10)).await;
    assert!(!t.app.pools().circuit_open(server.id));
    load.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hung_then_dead_customer_server_fails_fast_alone_and_serves_again_on_return() {
    let (t, pg, server) = app_with_customer().await;
    t.tenant("OURS", On::Pg(0)).await;
    t.tenant("MARIA", On::MariaDb).await;
    // The fail-fast loops are past any plan's rate limit: this test is about the breaker.
    for code in ["OURS", "MARIA"] {
        t.lift_rate_limit(code).await;
    }
    let cust = t.login("CUST").await;
    let load = Load::start(
        &t,
        &[
            ("OURS", t.login("OURS").await, 3),
            ("MARIA", t.login("MARIA").await, 3),
            ("CUST", cust.clone(), 3),
        ],
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Hung: the kernel still accepts connections, nothing answers.
    pg.pause();
    until_open(&t, &server).await;
    assert_fails_fast(&t, &cust, "hung").await;

    // Dead: connections refused.
    pg.kill();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_fails_fast(&t, &cust, "dead").await;

    // Back on the same data directory and port: serving resumes within seconds.
    let pg = tokio::task::spawn_blocking(move || {
        let mut pg = pg;
        pg.restart().map(|()| pg)
    })
    .await
    .unwrap()
    .unwrap();
    until_served(&t, &cust, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let seen = load.finish().await;
    drop(pg);

    for tenant in ["OURS", "MARIA"] {
        let answers: Vec<_> = seen.iter().filter(|s| s.0 == tenant).collect();
        assert!(
            answers.len() > 20,
            "{tenant}: only {} answers",
            answers.len()
        );
        let failed: Vec<_> = answers.iter().filter(|s| s.1 != StatusCode::OK).collect();
        assert!(failed.is_empty(), "{tenant} saw errors: {failed:?}");
    }
    let cust_answers: Vec<_> = seen.iter().filter(|s| s.0 == "CUST").collect();
    let odd: Vec<_> = cust_answers
        .iter()
        .filter(|s| {
            s.1 != StatusCode::OK
                && (s.1, s.2.as_str())
                    != (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "tenant_database_unavailable",
                    )
        })
        .collect();
    assert!(odd.is_empty(), "CUST answers other than 200/503: {odd:?}");
    assert!(
        cust_answers.iter().any(|s| s.1 == StatusCode::OK)
            && cust_answers.iter().any(|s| s.1 != StatusCode::OK),
        "the customer tenant's load saw neither service or outage"
    );
}
