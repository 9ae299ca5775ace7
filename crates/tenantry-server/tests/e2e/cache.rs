//! The tenant cache: warm requests read no registry row however long they run, changes made by
//! another process arrive through the registry's change stamp, and unknown codes cost a bounded
//! number of registry queries.

use crate::common::{error_code, On, TestApp, PASSWORD};
use reqwest::{Method, StatusCode};
use std::time::{Duration, Instant};
use tenantry::platform::{Actor, TenantRef};
use tenantry::pools::{PoolManager, PoolManagerSettings};
use tenantry::provision::Provisioner;
use tenantry::registry::{CacheSettings, TenantUpdate};
use tenantry::tenant::{HostName, TenantCode, TenantStatus};
use tenantry_testkit::{shared_pg, unique_name};

async fn app(cache: CacheSettings) -> TestApp {
    TestApp::spawn_cached(PoolManagerSettings::default(), None, cache, |_| {}, |a| a).await
}

/// The app with the registry's change stamp polled every `poll`.
async fn polling(poll: Duration) -> TestApp {
    app(CacheSettings {
        poll,
        ..Default::default()
    })
    .await
}

fn code(s: &str) -> TenantCode {
    s.parse().unwrap()
}

/// Calls `GET /api/customers` until `done(status, error code)` or `deadline` passes.
async fn until(
    t: &TestApp,
    token: Option<&str>,
    host: &str,
    deadline: Duration,
    done: impl Fn(StatusCode, &str) -> bool,
) -> (StatusCode, String) {
    let started = Instant::now();
    loop {
        let (s, body) = t
            .call_with(
                Method::GET,
                "/api/customers",
                token,
                None,
                &[("Host", host)],
            )
            .await;
        let code = error_code(&body).to_owned();
        if done(s, &code) || started.elapsed() > deadline {
            return (s, code);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_warm_request_reads_no_registry_row_long_after_the_old_ttl_would_have_passed() {
    let t = polling(Duration::from_millis(50)).await;
    t.tenant("WARM", On::Sqlite).await;
    t.lift_rate_limit("WARM").await;
    let token = t.login("WARM").await;
    // The setup's own writes are taken in now, not by the watcher during the measurement.
    t.registry().sync_changes().await.unwrap();
    let by_token = || t.call(Method::GET, "/api/customers", Some(&token), None);
    let host = [("Host", "warm.example.com")];
    let by_host = || t.call_with(Method::GET, "/api/customers", Some(&token), None, &host);
    assert_eq!(by_token().await.0, StatusCode::OK);
    assert_eq!(by_host().await.0, StatusCode::OK);
    let polls = t.registry().background_queries();
    // Many poll intervals (the watcher's checks) and what a short TTL would have been.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let before = t.registry().queries();
    for _ in 0..20 {
        assert_eq!(by_token().await.0, StatusCode::OK);
        assert_eq!(by_host().await.0, StatusCode::OK);
    }
    assert_eq!(
        t.registry().queries() - before,
        0,
        "warm requests queried the registry"
    );
    assert!(
        t.registry().background_queries() > polls,
        "the watcher polls the change stamp meanwhile"
    );
}

#[tokio::test]
async fn a_tenant_created_by_another_process_is_served_on_the_first_request_after() {
    let interval = Duration::from_millis(50);
    let t = app(CacheSettings {
        // No watcher: only the unknown-code check can find the new tenant.
        poll: Duration::ZERO,
        unknown_check_interval: interval,
        ..Default::default()
    })
    .await;
    let server = t.server(On::Sqlite).await;
    let (s, body) = t
        .call(Method::GET, "/api/customers?company=LATER", None, None)
        .await;
    assert_eq!(
        (s, error_code(&body)),
        (StatusCode::NOT_FOUND, "tenant_not_found")
    );

    let other = t.other_registry(None).await;
    Provisioner::new(other.clone(), PoolManager::new(Default::default()))
        .provision(TestApp::new_tenant("LATER", &server), PASSWORD)
        .await
        .unwrap();
    tokio::time::sleep(interval).await;
    let token = t.login("LATER").await;
    let (s, body) = t
        .call(Method::GET, "/api/customers", Some(&token), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn status_and_domain_changes_made_by_another_process_are_seen_within_the_poll() {
    let poll = Duration::from_millis(100);
    let t = polling(poll).await;
    t.tenant("MOVED", On::Sqlite).await;
    let token = t.login("MOVED").await;
    let (s, _) = until(&t, Some(&token), "moved.example.com", poll, |s, _| {
        s.is_success()
    })
    .await;
    assert_eq!(s, StatusCode::OK);
    let other = t.other_registry(None).await;
    let deadline = poll * 30;

    let reason = Some("unpaid");
    other
        .set_status(&code("MOVED"), TenantStatus::Suspended, reason)
        .await
        .unwrap();
    let suspended = |_, c: &str| c == "tenant_suspended";
    let seen = until(&t, Some(&token), "moved.example.com", deadline, suspended).await;
    assert_eq!(
        seen.1, "tenant_suspended",
        "suspension made elsewhere not seen"
    );

    let domains = vec![HostName::parse("portal.moved.test").unwrap()];
    let change = TenantUpdate {
        domains: Some(domains),
        ..Default::default()
    };
    other.update_tenant(&code("MOVED"), change).await.unwrap();
    // The new domain resolves to the (suspended) tenant: 403, no longer 404.
    let seen = until(&t, None, "portal.moved.test", deadline, suspended).await;
    assert_eq!(
        seen.1, "tenant_suspended",
        "domain added elsewhere not seen"
    );

    other
        .set_status(&code("MOVED"), TenantStatus::Active, None)
        .await
        .unwrap();
    let active = |s: StatusCode, _: &str| s.is_success();
    let seen = until(&t, Some(&token), "portal.moved.test", deadline, active).await;
    assert_eq!(
        seen.0,
        StatusCode::OK,
        "reactivation made elsewhere not seen"
    );
}

#[tokio::test]
async fn a_thousand_distinct_unknown_codes_cost_a_bounded_number_of_registry_queries() {
    let interval = Duration::from_millis(200);
    let t = app(CacheSettings {
        unknown_check_interval: interval,
        ..Default::default()
    })
    .await;
    t.tenant("REAL", On::Sqlite).await;
    // Warm the name index.
    t.call(Method::GET, "/api/customers?company=WARMUP", None, None)
        .await;
    let (queries, cached) = (t.registry().queries(), t.registry().cached_configs());
    let started = Instant::now();
    for i in 0..1_000 {
        let code = format!("NX{i}{:08X}", rand::random::<u32>());
        let (s, body) = if i % 2 == 0 {
            let path = format!("/api/customers?company={code}");
            t.call(Method::GET, &path, None, None).await
        } else {
            let header = [("X-Tenant", code.as_str())];
            t.call_with(Method::GET, "/api/customers", None, None, &header)
                .await
        };
        assert_eq!(s, StatusCode::NOT_FOUND, "{code}: {body}");
        assert_eq!(error_code(&body), "tenant_not_found", "{code}: {body}");
    }
    let spent = t.registry().queries() - queries;
    // One stamp read per interval at most (nothing changed, so nothing else is read).
    let bound = (started.elapsed().as_millis() / interval.as_millis()) as u64 + 1;
    assert!(
        spent <= bound,
        "{spent} registry queries for 1,000 unknown codes (bound {bound})"
    );
    assert!(
        spent < 100,
        "{spent} registry queries for 1,000 unknown codes"
    );
    assert_eq!(
        t.registry().cached_configs(),
        cached,
        "unknown codes take no memory"
    );
}

#[tokio::test]
async fn on_a_postgres_registry_a_suspension_made_elsewhere_is_seen_within_the_poll() {
    let pg = shared_pg(0);
    let db = unique_name("registry");
    pg.psql("postgres", &format!("CREATE DATABASE {db}"))
        .unwrap();
    let url = pg.url(&db);
    let poll = Duration::from_millis(100);
    let cache = CacheSettings {
        poll,
        ..Default::default()
    };
    let pools = PoolManagerSettings::default();
    let t = TestApp::spawn_cached(pools, Some(url.clone()), cache, |_| {}, |a| a).await;
    t.tenant("PGREG", On::Sqlite).await;
    let token = t.login("PGREG").await;
    let other = t.other_registry(Some(&url)).await;
    other
        .set_status(&code("PGREG"), TenantStatus::Suspended, None)
        .await
        .unwrap();
    let suspended = |_, c: &str| c == "tenant_suspended";
    let seen = until(&t, Some(&token), "pgreg.example.com", poll * 30, suspended).await;
    assert_eq!(
        seen.1, "tenant_suspended",
        "suspension made elsewhere not seen"
    );
    let before = t.registry().queries();
    let (s, body) = t
        .call(Method::GET, "/api/customers", Some(&token), None)
        .await;
    assert_eq!(error_code(&body), "tenant_suspended", "{s}");
    assert_eq!(
        t.registry().queries(),
        before,
        "the suspended tenant's config is cached"
    );
}

#[tokio::test]
async fn a_user_disabled_through_another_process_is_refused_within_the_poll_not_the_ttl() {
    let poll = Duration::from_millis(100);
    let t = polling(poll).await;
    let ttl = t.app.platform().user_status().ttl();
    assert!(
        ttl >= Duration::from_secs(60),
        "statuses trusted for {ttl:?}"
    );
    t.tenant("EPOCH", On::Sqlite).await;
    let admin = t.login("EPOCH").await;
    let host = "epoch.example.com";
    let (id, token) = t.user_token("EPOCH", &admin, "dana").await;
    let (s, _) = until(&t, Some(&token), host, poll, |s, _| s.is_success()).await;
    assert_eq!(s, StatusCode::OK, "dana's status is now cached here");

    // Disabled through another process: this one's status cache still says enabled, and would
    // for minutes; the tenant's users epoch reaches it with the change stamp.
    let actor = Actor::Cli {
        user: "test".into(),
    };
    (t.other_platform().await)
        .set_user_disabled(&actor, &TenantRef::Code(code("EPOCH")), id, true)
        .await
        .unwrap();
    let started = Instant::now();
    let refused = |s: StatusCode, _: &str| s == StatusCode::UNAUTHORIZED;
    let (s, why) = until(&t, Some(&token), host, poll * 30, refused).await;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "still accepted {:?} after being disabled elsewhere ({why})",
        started.elapsed()
    );
    // The admin, whose status did not change, is still served (read again under the new epoch).
    let (s, _) = until(&t, Some(&admin), host, poll, |s, _| s.is_success()).await;
    assert_eq!(s, StatusCode::OK);
}
