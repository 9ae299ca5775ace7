//! Serving the owner dashboard (embedded files, content types, CSP, revalidation) and the server
//! list's tenant counts and breaker state that the dashboard shows.

use crate::common::{error_code, On, TestApp};
use reqwest::{header, Method, StatusCode};
use std::time::Duration;
use tenantry::pools::PoolManagerSettings;
use tenantry::registry::NewServer;
use tenantry::tenant::{Engine, Hosting, TenantStatus, TlsMode};

#[tokio::test]
async fn dashboard_files_are_served_with_their_content_type_and_a_strict_csp() {
    let t = TestApp::spawn().await;
    let cases = [
        ("/owner", "text/html; charset=utf-8"),
        ("/owner/", "text/html; charset=utf-8"),
        ("/owner/js/main.js", "text/javascript; charset=utf-8"),
        ("/owner/style.css", "text/css; charset=utf-8"),
        ("/owner/favicon.svg", "image/svg+xml"),
    ];
    for (path, kind) in cases {
        let resp = t.client.get(t.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let h = resp.headers();
        assert_eq!(h[header::CONTENT_TYPE], kind, "{path}");
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(
            csp.contains("default-src 'none'") && csp.contains("script-src 'self';"),
            "{csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(h[header::CACHE_CONTROL], "no-cache");
    }
}

#[tokio::test]
async fn an_unchanged_dashboard_file_is_answered_304_on_revalidation() {
    let t = TestApp::spawn().await;
    let first = t
        .client
        .get(t.url("/owner/js/api.js"))
        .send()
        .await
        .unwrap();
    let etag = first.headers()[header::ETAG].clone();
    let again = t
        .client
        .get(t.url("/owner/js/api.js"))
        .header(header::IF_NONE_MATCH, etag.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()[header::ETAG], etag);
    assert!(again.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_unknown_dashboard_file_is_a_json_404() {
    let t = TestApp::spawn().await;
    for path in ["/owner/nope.js", "/owner/../Cargo.toml", "/owner/js/"] {
        let (s, body) = t.call(Method::GET, path, None, None).await;
        assert_eq!(
            (s, error_code(&body)),
            (StatusCode::NOT_FOUND, "not_found"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn server_list_counts_live_tenants_per_server() {
    let t = TestApp::spawn().await;
    t.tenant("ACME", On::Sqlite).await;
    t.tenant("DEMO", On::Sqlite).await;
    t.server(On::Pg(0)).await;
    let mut gone = TestApp::new_tenant("GONE", &t.server(On::Sqlite).await);
    gone.status = TenantStatus::Deleted;
    t.registry().create_tenant(gone).await.unwrap();
    let owner = t.owner_token().await;
    let (s, body) = t
        .call(Method::GET, "/api/admin/servers", Some(&owner), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let count = |name: &str| {
        let list = body["data"].as_array().unwrap();
        list.iter().find(|s| s["name"] == name).unwrap()["tenantCount"].clone()
    };
    assert_eq!(count("sqlite"), 2, "tombstones are not counted");
    assert_eq!(count("pg0"), 0);
}

#[tokio::test]
async fn server_list_shows_the_breaker_of_an_unreachable_server_open() {
    let settings = PoolManagerSettings {
        breaker_threshold: 1,
        breaker_cooldown: Duration::from_secs(300),
        ..PoolManagerSettings::default()
    };
    let t = TestApp::spawn_with(settings, None).await;
    t.tenant("ACME", On::Sqlite).await;
    // A closed port: connecting is refused at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = t
        .registry()
        .add_server(NewServer {
            name: "dead".parse().unwrap(),
            engine: Engine::Postgres,
            host: "127.0.0.1".into(),
            port: Some(port),
            hosting: Hosting::Customer,
            region: None,
            tls: TlsMode::Disable,
            admin_username: Some("postgres".into()),
            admin_password: None,
        })
        .await
        .unwrap();
    let mut new = TestApp::new_tenant("DOWN", &dead);
    new.status = TenantStatus::Active;
    t.registry().create_tenant(new).await.unwrap();
    let owner = t.owner_token().await;
    // A tenant request (not a health probe: probes never touch pools or breakers) trips it.
    let (s, _) = t
        .call(
            Method::POST,
            "/api/auth/login?company=DOWN",
            None,
            Some(serde_json::json!({"username": "admin", "password": "x"})),
        )
        .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    let (_, body) = t
        .call(Method::GET, "/api/admin/servers", Some(&owner), None)
        .await;
    let breaker = |name: &str| {
        let list = body["data"].as_array().unwrap();
        list.iter().find(|s| s["name"] == name).unwrap()["breaker"].clone()
    };
    assert_eq!(breaker("dead"), "open");
    assert_eq!(breaker("sqlite"), "closed");
}
