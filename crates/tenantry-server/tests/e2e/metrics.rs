//! `/metrics`: requests per route template and tenant, tenant labels bounded to the top N and
//! `other`, pools, breakers, caches, operation and migration outcomes, and who may scrape it.

use crate::common::{error_code, On, TestApp, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::collections::BTreeSet;
use tenantry::platform::{Actor, ProvisionRequest};
use tenantry::pools::PoolManagerSettings;
use tenantry::registry::NewServer;
use tenantry::tenant::{Engine, Hosting, Placement, TenantCode, TenantStatus, TlsMode};
use tenantry_server::telemetry::{Metrics, MetricsSettings};

const METRICS_TOKEN: &str = "prometheus-scrape-token";

/// An app whose `/metrics` also answers to [`METRICS_TOKEN`] and labels the `top` busiest tenants.
async fn spawn_with_metrics(top: usize) -> TestApp {
    let settings = MetricsSettings {
        top_tenants: top,
        token: Some(METRICS_TOKEN.to_owned().into()),
        ..MetricsSettings::default()
    };
    let metrics = Metrics::new(&settings).unwrap();
    TestApp::spawn_configured(PoolManagerSettings::default(), None, |app| {
        app.with_metrics(metrics)
    })
    .await
}

async fn scrape(t: &TestApp) -> String {
    let (s, body) = t
        .call(Method::GET, "/metrics", Some(METRICS_TOKEN), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    body.as_str().unwrap().to_owned()
}

/// The value of the sample whose name and labels are exactly `series`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_per_route_template_with_the_tenant_label() {
    let t = spawn_with_metrics(20).await;
    t.tenant("ACME", On::Sqlite).await;
    let token = t.login("ACME").await;
    let (_, _, ticket) = t.seed(&token, "m").await;
    for _ in 0..2 {
        let path = format!("/api/tickets/{ticket}");
        let (s, _) = t.call(Method::GET, &path, Some(&token), None).await;
        assert_eq!(s, StatusCode::OK);
    }
    let text = scrape(&t).await;
    let labels = r#"method="GET",route="/api/tickets/{id}",status="2xx",tenant="ACME""#;
    let counter = format!("tenantry_http_requests_total{{{labels}}}");
    assert_eq!(sample(&text, &counter), Some(2.0), "{text}");
    let bucket = format!("tenantry_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}}");
    assert_eq!(sample(&text, &bucket), Some(2.0), "{text}");
    assert!(
        !text.contains(&format!("route=\"/api/tickets/{ticket}\"")),
        "raw path as label"
    );
    let login = r#"tenantry_http_requests_total{method="POST",route="/api/auth/login",status="2xx",tenant="ACME"}"#;
    assert_eq!(sample(&text, login), Some(1.0), "{text}");
}

#[tokio::test]
async fn tenant_label_values_stay_within_the_top_n_and_other() {
    let t = spawn_with_metrics(3).await;
    let server = t.server(On::Sqlite).await;
    let mut sent = 0;
    for i in 0..12 {
        // Registered and active; the requests below stop at authorization, before any database.
        let mut new = TestApp::new_tenant(&format!("T{i:02}"), &server);
        new.status = TenantStatus::Active;
        t.registry().create_tenant(new).await.unwrap();
        for _ in 0..=i % 3 {
            let path = format!("/api/customers?company=T{i:02}");
            let (s, _) = t.call(Method::GET, &path, None, None).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED);
            sent += 1;
        }
    }
    let text = scrape(&t).await;
    let mut tenants = BTreeSet::new();
    let mut counted = 0.0;
    for line in text
        .lines()
        .filter(|l| l.starts_with("tenantry_http_requests_total{"))
    {
        let tenant = line
            .split("tenant=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        if tenant != "none" {
            tenants.insert(tenant.to_owned());
            counted += line.rsplit(' ').next().unwrap().parse::<f64>().unwrap();
        }
    }
    assert_eq!(tenants.len(), 4, "three tenants and other: {tenants:?}");
    assert!(tenants.contains("other"), "{tenants:?}");
    assert_eq!(
        counted,
        f64::from(sent),
        "every request counted under some label"
    );
}

#[tokio::test]
async fn pool_gauges_and_the_breaker_of_every_server_are_exported() {
    let t = spawn_with_metrics(20).await;
    t.tenant("ACME", On::Sqlite).await;
    let token = t.login("ACME").await;
    let (s, _) = t
        .call(Method::GET, "/api/customers", Some(&token), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let dead = dead_tenant(&t).await;
    let body = Some(json!({"username": "admin", "password": PASSWORD}));
    let path = format!("/api/auth/login?company={dead}");
    for _ in 0..10 {
        if !t.app.pools().open_circuits().is_empty() {
            break;
        }
        t.call(Method::POST, &path, None, body.clone()).await;
    }
    let text = scrape(&t).await;
    assert_eq!(
        sample(&text, "tenantry_breaker_open{server=\"dead\"}"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "tenantry_breaker_open{server=\"sqlite\"}"),
        Some(0.0),
        "{text}"
    );
    assert!(
        sample(&text, "tenantry_pools_open").is_some_and(|n| n >= 1.0),
        "{text}"
    );
    let open = sample(&text, "tenantry_pool_connections{state=\"open\"}");
    assert!(open.is_some_and(|n| n >= 1.0), "{text}");
    for series in [
        "tenantry_pool_connections{state=\"idle\"}",
        "tenantry_pool_connections{state=\"in_use\"}",
        "tenantry_connection_budget_used",
        "tenantry_pool_evictions_total",
        "tenantry_connections_reclaimed_total",
        "tenantry_connections_taken_over_total",
        "tenantry_spare_connections",
        "tenantry_connections_opened_total",
    ] {
        assert!(sample(&text, series).is_some(), "{series} missing: {text}");
    }
    let hits = sample(
        &text,
        "tenantry_registry_cache_hits_total{cache=\"config\"}",
    );
    assert!(
        hits.is_some_and(|n| n >= 1.0),
        "warm requests hit the cache: {text}"
    );
}

/// An active tenant on a registered server where nothing listens; returns its code.
pub async fn dead_tenant(t: &TestApp) -> &'static str {
    let dead = t
        .registry()
        .add_server(NewServer {
            name: crate::common::server_name("dead"),
            engine: Engine::Postgres,
            host: "127.0.0.1".into(),
            port: Some(tenantry_testkit::closed_port()),
            hosting: Hosting::Customer,
            region: None,
            tls: TlsMode::Disable,
            admin_username: Some("postgres".into()),
            admin_password: None,
        })
        .await
        .unwrap();
    let mut new = TestApp::new_tenant("DEAD", &dead);
    new.status = TenantStatus::Active;
    new.pool.acquire_timeout_ms = 500;
    t.registry().create_tenant(new).await.unwrap();
    "DEAD"
}

#[tokio::test]
async fn provisioning_outcomes_are_counted_by_outcome() {
    let t = spawn_with_metrics(20).await;
    t.server(On::Sqlite).await;
    let request = || {
        let code = TenantCode::parse("NEWCO").unwrap();
        ProvisionRequest::new(code, "New Co", Placement::Dedicated)
    };
    let actor = Actor::System;
    let started = t.platform().provision(&actor, request()).await.unwrap();
    let done = started.wait(|_| {}).await;
    assert!(done.is_ok(), "{:?}", done.err());
    let again = t.platform().provision(&actor, request()).await;
    assert!(again.is_err(), "the code is taken");
    let text = scrape(&t).await;
    let series = |outcome: &str| {
        format!("tenantry_operations_total{{action=\"tenant.provision\",outcome=\"{outcome}\"}}")
    };
    assert_eq!(sample(&text, &series("ok")), Some(1.0), "{text}");
    assert_eq!(sample(&text, &series("refused")), Some(1.0), "{text}");
}

#[tokio::test]
async fn fleet_migration_outcomes_are_counted_by_outcome() {
    let t = spawn_with_metrics(20).await;
    t.tenant("CURRENT", On::Sqlite).await;
    t.unmigrated_tenant("BEHIND", On::Sqlite).await;
    let options = tenantry::fleet::FleetOptions::default();
    let done = t
        .platform()
        .migrate_fleet(&Actor::System, &options, |_, _| {});
    done.await.unwrap();
    let text = scrape(&t).await;
    let series = |o: &str| format!("tenantry_tenant_migrations_total{{outcome=\"{o}\"}}");
    assert_eq!(sample(&text, &series("current")), Some(1.0), "{text}");
    assert_eq!(sample(&text, &series("migrated")), Some(1.0), "{text}");
}

#[tokio::test]
async fn metrics_need_the_metrics_token_or_an_owner_token() {
    let t = spawn_with_metrics(20).await;
    t.tenant("ACME", On::Sqlite).await;
    let tenant_token = t.login("ACME").await;
    let owner = t.owner_token().await;
    for token in [
        None,
        Some(tenant_token.as_str()),
        Some("prometheus-scrape-tokeN"),
    ] {
        let (s, body) = t.call(Method::GET, "/metrics", token, None).await;
        assert_eq!(
            (s, error_code(&body)),
            (StatusCode::UNAUTHORIZED, "unauthorized")
        );
    }
    let resp = t
        .client
        .get(t.url("/metrics"))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    assert!(resp
        .text()
        .await
        .unwrap()
        .contains("# TYPE tenantry_http_requests_total counter"));
}

#[tokio::test]
async fn unknown_tenant_codes_show_as_bounded_registry_checks() {
    let t = spawn_with_metrics(20).await;
    t.tenant("ACME", On::Sqlite).await;
    let started = std::time::Instant::now();
    for i in 0..50 {
        let path = format!("/api/customers?company=NOPE{i}");
        let (s, body) = t.call(Method::GET, &path, None, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{body}");
        assert_eq!(error_code(&body), "tenant_not_found");
    }
    let elapsed = started.elapsed();
    let text = scrape(&t).await;
    let checks = sample(&text, "tenantry_registry_unknown_code_checks_total")
        .unwrap_or_else(|| panic!("no unknown-code counter in:\n{text}"));
    // At least one check, and at most one per `unknown_check_interval` (default 100 ms).
    let bound = (elapsed.as_millis() / 100) as f64 + 1.0;
    assert!(
        checks >= 1.0 && checks <= bound,
        "{checks} checks in {elapsed:?}:\n{text}"
    );
}
