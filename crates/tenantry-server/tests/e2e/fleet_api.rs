//! The fleet endpoints of the admin API: drift, and "migrate all" as a background job.

use crate::common::{error_code, On, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tenantry::registry::NewServer;
use tenantry::tenant::{Engine, Hosting, TenantCode, TenantStatus, TlsMode};

/// Polls a migration job until it reports `finished`.
async fn finished(t: &TestApp, owner: &str, job: &str) -> Value {
    let started = Instant::now();
    loop {
        let path = format!("/api/admin/fleet/migrate/{job}");
        let (s, body) = t.call(Method::GET, &path, Some(owner), None).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        if body["finished"] == true {
            return body;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "job never finished: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A tenant whose PostgreSQL server accepts connections and never answers: every acquire of it
/// waits its whole acquire timeout (2 s). The listener lives as long as the returned task.
async fn silent_tenant(t: &TestApp, code: &str) -> tokio::task::JoinHandle<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let server = t
        .registry()
        .add_server(NewServer {
            name: "silent".parse().unwrap(),
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
    let mut new = TestApp::new_tenant(code, &server);
    new.status = TenantStatus::Active;
    t.registry().create_tenant(new).await.unwrap();
    held
}

#[tokio::test]
async fn drift_counts_tenants_behind_current_and_ahead_of_the_binary() {
    let t = TestApp::spawn().await;
    t.tenant("CURRENT", On::Sqlite).await;
    t.tenant("AHEAD", On::Pg(0)).await;
    t.unmigrated_tenant("BEHIND", On::Sqlite).await;
    let latest = tenantry::migrate::latest_version(Engine::Postgres);
    t.registry()
        .set_schema_version(&TenantCode::parse("AHEAD").unwrap(), latest + 1)
        .await
        .unwrap();
    let owner = t.owner_token().await;
    let (s, body) = t
        .call(Method::GET, "/api/admin/fleet/drift", Some(&owner), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(
        body["counts"],
        json!({"behind": 1, "current": 1, "ahead": 1})
    );
    assert_eq!(body["latest"]["postgres"], latest);
    let (_, body) = t
        .call(
            Method::GET,
            "/api/admin/fleet/drift?state=ahead",
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(body["total"], 1);
    assert_eq!(body["data"][0]["code"], "AHEAD");
    assert_eq!(body["data"][0]["version"], latest + 1);
}

#[tokio::test]
async fn migrate_all_runs_in_the_background_reports_each_tenant_and_is_audited() {
    let t = TestApp::spawn().await;
    t.tenant("CURRENT", On::Sqlite).await;
    t.unmigrated_tenant("BEHIND1", On::Sqlite).await;
    t.unmigrated_tenant("BEHIND2", On::Pg(0)).await;
    let owner = t.owner_token().await;
    let (s, started) = t
        .call(Method::POST, "/api/admin/fleet/migrate", Some(&owner), None)
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{started}");
    assert_eq!(started["total"], 3);
    let job = started["job"].as_str().unwrap();
    let done = finished(&t, &owner, job).await;
    assert_eq!(
        (done["total"].as_u64(), done["done"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(
        (done["migrated"].as_u64(), done["failed"].as_u64()),
        (Some(2), Some(0))
    );
    let mut codes: Vec<&str> = done["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["code"].as_str().unwrap())
        .collect();
    codes.sort();
    assert_eq!(codes, ["BEHIND1", "BEHIND2", "CURRENT"]);
    let behind2 = t
        .registry()
        .tenant(&TenantCode::parse("BEHIND2").unwrap())
        .await
        .unwrap();
    assert_eq!(
        behind2.schema_version,
        Some(tenantry::migrate::latest_version(Engine::Postgres))
    );
    let (_, since) = t
        .call(
            Method::GET,
            &format!("/api/admin/fleet/migrate/{job}?since=2"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(
        since["outcomes"].as_array().unwrap().len(),
        1,
        "only outcomes from index 2"
    );
    let (_, audit) = t
        .call(Method::GET, "/api/admin/audit", Some(&owner), None)
        .await;
    let rows: Vec<(&str, &str)> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "fleet.migrate")
        .map(|e| (e["actor"].as_str().unwrap(), e["result"].as_str().unwrap()))
        .collect();
    assert_eq!(rows, [("owner:owner@test.local", "ok")]);
}

#[tokio::test]
async fn a_second_migrate_all_while_one_runs_is_refused_and_a_failure_is_reported() {
    let t = TestApp::spawn().await;
    t.tenant("FINE", On::Sqlite).await;
    let _held = silent_tenant(&t, "SILENT").await;
    let owner = t.owner_token().await;
    let (s, started) = t
        .call(Method::POST, "/api/admin/fleet/migrate", Some(&owner), None)
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{started}");
    let (s, body) = t
        .call(Method::POST, "/api/admin/fleet/migrate", Some(&owner), None)
        .await;
    assert_eq!(
        (s, error_code(&body)),
        (StatusCode::CONFLICT, "migration_running")
    );
    let done = finished(&t, &owner, started["job"].as_str().unwrap()).await;
    assert_eq!(
        (done["done"].as_u64(), done["failed"].as_u64()),
        (Some(2), Some(1))
    );
    let failed = done["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["outcome"] == "failed")
        .unwrap();
    assert_eq!(failed["code"], "SILENT");
    assert!(failed["reason"].as_str().is_some_and(|r| !r.is_empty()));
    let (s, _) = t
        .call(Method::POST, "/api/admin/fleet/migrate", Some(&owner), None)
        .await;
    assert_eq!(
        s,
        StatusCode::ACCEPTED,
        "a new job may start once the last one finished"
    );
}

#[tokio::test]
async fn fleet_endpoints_need_an_owner_token() {
    let t = TestApp::spawn().await;
    t.tenant("ACME", On::Sqlite).await;
    let tenant_token = t.login("ACME").await;
    for (method, path) in [
        (Method::GET, "/api/admin/fleet/drift"),
        (Method::POST, "/api/admin/fleet/migrate"),
        (
            Method::GET,
            "/api/admin/fleet/migrate/00000000-0000-0000-0000-000000000000",
        ),
    ] {
        for token in [None, Some(tenant_token.as_str())] {
            let (s, body) = t.call(method.clone(), path, token, None).await;
            assert_eq!(
                (s, error_code(&body)),
                (StatusCode::UNAUTHORIZED, "unauthorized"),
                "{path}"
            );
        }
    }
}

#[tokio::test]
async fn bad_fleet_requests_are_answered_in_words() {
    let t = TestApp::spawn().await;
    let owner = t.owner_token().await;
    let cases = [
        (
            Method::GET,
            "/api/admin/fleet/drift?state=sideways",
            None,
            StatusCode::BAD_REQUEST,
            "invalid_input",
            "state",
        ),
        (
            Method::POST,
            "/api/admin/fleet/migrate",
            Some(json!({"concurrency": 0})),
            StatusCode::BAD_REQUEST,
            "invalid_input",
            "concurrency",
        ),
        (
            Method::POST,
            "/api/admin/fleet/migrate",
            Some(json!({"only": ["X"]})),
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "only",
        ),
        (
            Method::GET,
            "/api/admin/fleet/migrate/not-a-job",
            None,
            StatusCode::NOT_FOUND,
            "job_not_found",
            "not-a-job",
        ),
    ];
    for (method, path, body, status, code, names) in cases {
        let (s, answer) = t.call(method, path, Some(&owner), body).await;
        assert_eq!((s, error_code(&answer)), (status, code), "{path}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(names), "{path}: {message}");
    }
}
