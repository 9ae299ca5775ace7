//! Tenants on different servers and engines are served side by side, and never see each other's rows.

use crate::common::{error_code, On, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::Value;

fn names(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn tenants_on_two_postgres_servers_mariadb_sqlite_and_sql_server_see_only_their_own_rows() {
    let t = TestApp::spawn().await;
    let tenants = [
        ("OURS", On::Pg(0)),
        ("THEIRS", On::Pg(1)),
        ("MARIA", On::MariaDb),
        ("LITE", On::Sqlite),
        ("SQLSRV", On::Mssql),
    ];
    let mut tokens = Vec::new();
    for (code, on) in tenants {
        t.tenant(code, on).await;
        let token = t.login(code).await;
        t.seed(&token, code).await;
        tokens.push((code, token));
    }
    // Interleave requests so every pool is warm at once.
    for _round in 0..3 {
        for (code, token) in &tokens {
            let (s, body) = t
                .call(Method::GET, "/api/customers", Some(token), None)
                .await;
            assert_eq!(s, StatusCode::OK);
            assert_eq!(
                names(&body),
                [format!("{code} customer")],
                "tenant {code} saw {body}"
            );
            let (s, body) = t.call(Method::GET, "/api/sites", Some(token), None).await;
            assert_eq!(s, StatusCode::OK);
            assert_eq!(names(&body), [format!("{code} site")]);
        }
    }
    // The PostgreSQL tenants really live on two different servers.
    let a = t.registry().tenant(&"OURS".parse().unwrap()).await.unwrap();
    let b = t
        .registry()
        .tenant(&"THEIRS".parse().unwrap())
        .await
        .unwrap();
    assert_ne!(a.server_id, b.server_id);
}

#[tokio::test]
async fn token_for_acme_is_rejected_on_demo() {
    let t = TestApp::spawn().await;
    t.tenant("ACME", On::Sqlite).await;
    t.tenant("DEMO", On::Pg(0)).await;
    let acme = t.login("ACME").await;
    for (path, headers) in [
        ("/api/customers?company=DEMO", vec![]),
        ("/api/customers", vec![("x-tenant", "DEMO")]),
        ("/api/customers", vec![("host", "demo.example.com")]),
    ] {
        let (s, body) = t
            .call_with(Method::GET, path, Some(&acme), None, &headers)
            .await;
        assert_eq!(
            (s, error_code(&body)),
            (StatusCode::FORBIDDEN, "tenant_mismatch"),
            "{path} {headers:?}"
        );
    }
}

#[tokio::test]
async fn a_sql_server_tenants_token_is_rejected_on_a_postgres_tenant_and_back() {
    let t = TestApp::spawn().await;
    t.tenant("SQLTOK", On::Mssql).await;
    t.tenant("PGTOK", On::Pg(0)).await;
    for (token_of, other) in [("SQLTOK", "PGTOK"), ("PGTOK", "SQLTOK")] {
        let token = t.login(token_of).await;
        let path = format!("/api/customers?company={other}");
        let (s, body) = t.call(Method::GET, &path, Some(&token), None).await;
        assert_eq!(
            (s, error_code(&body)),
            (StatusCode::FORBIDDEN, "tenant_mismatch"),
            "{token_of} on {other}"
        );
    }
}

#[tokio::test]
async fn row_ids_of_another_tenant_are_not_reachable() {
    let t = TestApp::spawn().await;
    t.tenant("ACME", On::Pg(0)).await;
    t.tenant("DEMO", On::Pg(0)).await;
    let acme = t.login("ACME").await;
    let demo = t.login("DEMO").await;
    let (customer, _, _) = t.seed(&acme, "acme").await;
    // DEMO has no rows: the same id finds nothing there, and cannot be changed or deleted.
    let path = format!("/api/customers/{customer}");
    let (s, _) = t.call(Method::GET, &path, Some(&demo), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = t.call(Method::DELETE, &path, Some(&demo), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, body) = t.call(Method::GET, &path, Some(&acme), None).await;
    assert_eq!(
        (s, body["name"].as_str()),
        (StatusCode::OK, Some("acme customer"))
    );
}

#[tokio::test]
async fn tenant_resolves_from_subdomain_custom_domain_and_header() {
    let t = TestApp::spawn().await;
    let server = t.server(On::Sqlite).await;
    let mut new = TestApp::new_tenant("ACME", &server);
    new.domains = vec![tenantry::tenant::HostName::parse("portal.acme.test").unwrap()];
    t.provision(new).await;
    let token = t.login("ACME").await;
    for headers in [
        vec![("host", "acme.example.com")],
        vec![("host", "portal.acme.test:8080")],
        vec![("x-tenant", "acme")],
    ] {
        let (s, body) = t
            .call_with(Method::GET, "/api/customers", Some(&token), None, &headers)
            .await;
        assert_eq!(s, StatusCode::OK, "{headers:?}: {body}");
    }
    // The login itself resolves from the subdomain.
    let (s, _) = t
        .call_with(
            Method::POST,
            "/api/auth/login",
            None,
            Some(serde_json::json!({"username": "admin", "password": crate::common::PASSWORD})),
            &[("host", "acme.example.com")],
        )
        .await;
    assert_eq!(s, StatusCode::OK);
}
