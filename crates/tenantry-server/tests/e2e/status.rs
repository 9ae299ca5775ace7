//! Every status and error code of the request path.

use crate::common::{error_code, On, TestApp, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::{Duration, Instant};
use tenantry::registry::NewServer;
use tenantry::tenant::{Engine, Hosting, TenantStatus, TlsMode};

#[tokio::test]
async fn unknown_tenant_is_404_tenant_not_found() {
    let t = TestApp::spawn().await;
    let (s, body) = t
        .call(Method::GET, "/api/customers?company=NOPE", None, None)
        .await;
    assert_eq!(
        (s, error_code(&body)),
        (StatusCode::NOT_FOUND, "tenant_not_found")
    );
    let (s, body) = t.call(Method::GET, "/api/customers", None, None).await;
    assert_eq!(
        (s, error_code(&body)),
        (StatusCode::NOT_FOUND, "tenant_not_found")
    );
    let (s, body) = t
        .call(Method::GET, "/api/customers?company=bad%20code", None, None)
        .await;
    assert_eq!(
        (s, error_code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_tenant_code")
    );
}

#[tokio::test]
async fn suspended_tenant_is_403_on_the_next_request() {
    let t = TestApp::spawn().await;
    t.tenant("ACME", On::Sqlite).await;
    let token = t.login("ACME").await;
    let (s, _) = t
        .call(Method::GET, "/api/customers", Some(&token), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    t.registry()
        .set_status(
            &"ACME".parse().unwrap(),
            TenantStatus::Suspended,
            Some("unpaid"),
        )
        .await
        .unwrap();
    let (s, body) = t
        .call(Method::GET, "/api/customers", Some(&token), None)
        .await;
    assert_eq!(
        (s, error_code(&body)),
        (StatusCode::FORBIDDEN, "tenant_suspended")
    );
    assert_eq!(body["error"]["message"], "tenant ACME is suspended");
    t.registry()
        .set_status(&"ACME".parse().unwrap(), TenantStatus::Active, None)
        .await
        .unwrap();
    let (s, _) = t
        .call(Method::GET, "/api/customers", Some(&token), None)
        .await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn provisioning_tenant_is_503_not_ready_and_failed_or_deleted_is_404() {
    let t = TestApp::spawn().await;
    let server = t.server(On::Sqlite).await;
    t.registry()
        .create_tenant(TestApp::new_tenant("NEWCO", &server))
        .await
        .unwrap();
    let (s, body) = t
        .call(Method::GET, "/api/customers?company=NEWCO", None, None)
        .await;
    assert_eq!(
        (s, error_code(&body)),
        (StatusCode::SERVICE_UNAVAILABLE, "tenant_not_ready")
    );
    for status in [TenantStatus::Failed, TenantStatus::Deleted] {
        t.registry()
            .set_status(&"NEWCO".parse().unwrap(), status, None)
            .await
            .unwrap();
        let (s, body) = t
            .call(Method::GET, "/api/customers?company=NEWCO", None, None)
            .await;
        assert_eq!(
            (s, error_code(&body)),
            (StatusCode::NOT_FOUND, "tenant_not_found"),
            "{status}"
        );
    }
}

#[tokio::test]
async fn unreachable_database_is_503_within_the_acquire_timeout_then_fails_fast() {
    let t = TestApp::spawn().await;
    t.tenant("ALIVE", On::Pg(0)).await;
    let alive = t.login("ALIVE").await;
    // A customer server where nothing listens.
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
    new.pool.acquire_timeout_ms = 1_000;
    t.registry().create_tenant(new).await.unwrap();
    let body = Some(json!({"username": "admin", "password": PASSWORD}));
    let started = Instant::now();
    let (s, resp) = t
        .call(
            Method::POST,
            "/api/auth/login?company=DEAD",
            None,
            body.clone(),
        )
        .await;
    assert_eq!(
        (s, error_code(&resp)),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "tenant_database_unavailable"
        )
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        !resp.to_string().contains("127.0.0.1"),
        "answer leaks the server address: {resp}"
    );
    // After the breaker opens, answers come without waiting for the timeout.
    for _ in 0..3 {
        t.call(
            Method::POST,
            "/api/auth/login?company=DEAD",
            None,
            body.clone(),
        )
        .await;
    }
    assert!(!t.app.pools().open_circuits().is_empty());
    // Other tenants are unaffected.
    let (s, _) = t
        .call(Method::GET, "/api/customers", Some(&alive), None)
        .await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn health_tenants_needs_an_owner_token_and_reports_every_tenant() {
    let t = TestApp::spawn().await;
    t.tenant("ONE", On::Pg(0)).await;
    t.tenant("TWO", On::MariaDb).await;
    let (s, body) = t.call(Method::GET, "/api/health/tenants", None, None).await;
    assert_eq!(
        (s, error_code(&body)),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
    let tenant_token = t.login("ONE").await;
    let (s, _) = t
        .call(
            Method::GET,
            "/api/health/tenants",
            Some(&tenant_token),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let owner = t.owner_token().await;
    let pools_before = t.app.pools().active_pools();
    let (s, body) = t
        .call(Method::GET, "/api/health/tenants", Some(&owner), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let tenants = body["tenants"].as_array().unwrap();
    assert_eq!(tenants.len(), 2);
    for r in tenants {
        assert_eq!(r["connected"], true, "{r}");
        assert!(r["latencyMs"].as_f64().unwrap() >= 0.0);
        let engine: tenantry::tenant::Engine = r["engine"].as_str().unwrap().parse().unwrap();
        assert_eq!(
            r["schemaVersion"],
            tenantry::migrate::latest_version(engine)
        );
        assert_eq!(r["status"], "active");
        assert_eq!(r["hosting"], "ours");
    }
    assert_eq!(tenants[1]["engine"], "mysql");
    assert!(tenants[1]["serverHost"].as_str().is_some());
    assert_eq!(tenants[1]["serverLocation"], "test (ours)");
    // Probes use connections of their own: health opens no pool.
    assert_eq!(body["activePools"].as_u64(), Some(pools_before));
    assert_eq!(t.app.pools().active_pools(), pools_before);
    assert!(body["cachedConfigs"].as_u64().is_some());
    let (s, body) = t.call(Method::GET, "/api/health", None, None).await;
    assert_eq!((s, body["status"].as_str()), (StatusCode::OK, Some("ok")));
}
