//! SQL Server placements and fleet work: a customer's own database onboarded, tenants sharing
//! one database in schemas of their own, fleet migrations and drift.

use crate::common::{mssql_tls, On, TestApp};
use crate::mssql::{provision, register, tsql};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tenantry::fleet::{FleetOptions, Outcome};
use tenantry::platform::{Actor, TenantRef};
use tenantry::tenant::{Engine, TenantCode};
use tenantry_testkit::{shared_babelfish, unique_name};

const CUSTOMER_PASSWORD: &str = "Cust0mer-Secret-9";

/// As the customer's DBA would: a database and a login that owns it.
fn customer_database(db: &str, login: &str) {
    tsql(
        "master",
        &format!(
            "CREATE DATABASE [{db}]\nGO\nCREATE LOGIN [{login}] WITH PASSWORD = N'{CUSTOMER_PASSWORD}'\n\
             GO\nALTER AUTHORIZATION ON DATABASE::[{db}] TO [{login}]"
        ),
    );
}

/// Registers the fixture as a customer's server: no admin credentials.
async fn customer_server(t: &TestApp, owner: &str) {
    let s = shared_babelfish();
    let body = json!({"name": "customer-sql", "engine": "mssql", "host": s.host(),
        "port": s.port(), "hosting": "customer", "tls": mssql_tls()});
    let (status, server) = t
        .call(Method::POST, "/api/admin/servers", Some(owner), Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{server}");
}

fn statuses(report: &Value) -> Vec<(String, String)> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_customers_sql_server_database_is_checked_onboarded_and_served() {
    let t = TestApp::spawn().await;
    let owner = t.owner_token().await;
    customer_server(&t, &owner).await;
    let (db, login) = (unique_name("cust"), unique_name("cust_app"));
    customer_database(&db, &login);

    let check = json!({"server": "customer-sql", "database": db, "username": login,
        "password": CUSTOMER_PASSWORD, "ddl": true});
    let (s, report) = t
        .call(
            Method::POST,
            "/api/admin/onboard/check",
            Some(&owner),
            Some(check),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{report}");
    assert_eq!(report["ok"], true, "{report}");
    let names: Vec<String> = statuses(&report).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        ["dns", "tcp", "tls", "login", "read", "write", "ddl", "schema"]
    );
    assert!(!report.to_string().contains(CUSTOMER_PASSWORD), "{report}");

    let tenant = provision(
        &t,
        &owner,
        "SQLCUST",
        json!({"placement": "external",
        "server": "customer-sql", "database": db, "username": login,
        "password": CUSTOMER_PASSWORD, "migrate": true}),
    )
    .await;
    assert_eq!(
        (&tenant["status"], &tenant["hosting"]),
        (&json!("active"), &json!("customer"))
    );
    let token = t.login("SQLCUST").await;
    t.seed(&token, "byod").await;
    assert_eq!(
        tsql(&db, "SELECT name FROM customers").trim(),
        "byod customer"
    );
}

#[tokio::test]
async fn a_wrong_password_for_a_customers_sql_server_fails_the_login_check_with_advice() {
    let t = TestApp::spawn().await;
    let owner = t.owner_token().await;
    customer_server(&t, &owner).await;
    let (db, login) = (unique_name("cust"), unique_name("cust_app"));
    customer_database(&db, &login);
    let wrong = "Wr0ng-Guess-123";
    let check = json!({"server": "customer-sql", "database": db, "username": login,
        "password": wrong});
    let (s, report) = t
        .call(
            Method::POST,
            "/api/admin/onboard/check",
            Some(&owner),
            Some(check),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{report}");
    assert_eq!(report["ok"], false);
    let login_check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "login")
        .unwrap();
    assert_eq!(login_check["status"], "failed", "{report}");
    assert!(
        login_check["message"]
            .as_str()
            .unwrap()
            .contains("CREATE LOGIN"),
        "{login_check}"
    );
    for later in ["read", "write", "ddl", "schema"] {
        assert!(statuses(&report).contains(&(later.to_owned(), "skipped".to_owned())));
    }
    assert!(!report.to_string().contains(wrong), "{report}");
}

#[tokio::test]
async fn tenants_sharing_a_sql_server_database_each_get_a_schema_and_login_of_their_own() {
    let t = TestApp::spawn().await;
    let owner = t.owner_token().await;
    register(&t, &owner, "mssql", "ours").await;
    let db = unique_name("shared");
    let shared = |schema: &str| json!({"placement": "shared", "database": db, "schema": schema});
    let a = provision(&t, &owner, "SQLSHA", shared("tenant_sha")).await;
    let b = provision(&t, &owner, "SQLSHB", shared("tenant_shb")).await;
    assert_ne!(a["username"], b["username"]);
    for (code, tag) in [("SQLSHA", "alpha"), ("SQLSHB", "beta")] {
        let token = t.login(code).await;
        t.seed(&token, tag).await;
        let (s, list) = t
            .call(Method::GET, "/api/tickets", Some(&token), None)
            .await;
        assert_eq!(s, StatusCode::OK, "{list}");
        assert_eq!(list["total"], 1, "{code}: {list}");
        assert_eq!(list["data"][0]["title"], format!("{tag} ticket"));
    }
    assert_eq!(
        tsql(&db, "SELECT title FROM tenant_shb.tickets").trim(),
        "beta ticket"
    );

    // A's login, in the shared database, cannot read B's schema.
    let config = t
        .platform()
        .tenant_config(&TenantRef::Code(TenantCode::parse("SQLSHA").unwrap()))
        .await
        .unwrap();
    let opts = tenantry::db::mssql::options(&config.source, Duration::from_secs(10));
    let mut a_session = tenantry::mssql::connect(&opts).await.unwrap();
    let read = match a_session
        .simple_query("SELECT title FROM tenant_shb.tickets")
        .await
    {
        Ok(stream) => stream.into_first_result().await.map(|rows| rows.len()),
        Err(e) => Err(e),
    };
    assert!(read.is_err(), "A read B's schema: {read:?}");
    let _ = a_session.close().await;

    // Deleting A drops its schema, user and login; B carries on.
    let (s, gone) = t
        .call(
            Method::DELETE,
            "/api/admin/tenants/SQLSHA",
            Some(&owner),
            Some(json!({"confirm": "DELETE"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{gone}");
    let left = tsql(
        &db,
        "SELECT name FROM sys.schemas WHERE name LIKE N'tenant_sh%'",
    );
    assert_eq!(left.trim(), "tenant_shb");
    assert!(!crate::mssql::login_exists(a["username"].as_str().unwrap()));
    let token = t.login("SQLSHB").await;
    let (s, _) = t
        .call(Method::GET, "/api/tickets", Some(&token), None)
        .await;
    assert_eq!(s, StatusCode::OK);
}

/// Polls a fleet migration job until it finishes.
async fn finished(t: &TestApp, owner: &str, job: &str) -> Value {
    let started = Instant::now();
    loop {
        let path = format!("/api/admin/fleet/migrate/{job}");
        let (s, body) = t.call(Method::GET, &path, Some(owner), None).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        if body["finished"] == true {
            return body;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_fleet_migrates_a_sql_server_tenant_that_is_behind_and_reports_the_drift() {
    let t = TestApp::spawn().await;
    t.tenant("SQLCUR", On::Mssql).await;
    let behind = t.unmigrated_tenant("SQLBEHIND", On::Mssql).await;
    let owner = t.owner_token().await;
    let latest = tenantry::migrate::latest_version(Engine::Mssql);
    let (_, drift) = t
        .call(Method::GET, "/api/admin/fleet/drift", Some(&owner), None)
        .await;
    assert_eq!(
        drift["counts"],
        json!({"behind": 1, "current": 1, "ahead": 0}),
        "{drift}"
    );
    assert_eq!(drift["latest"]["mssql"], latest);

    let (s, job) = t
        .call(Method::POST, "/api/admin/fleet/migrate", Some(&owner), None)
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{job}");
    let done = finished(&t, &owner, job["job"].as_str().unwrap()).await;
    assert_eq!(
        (done["migrated"].as_u64(), done["failed"].as_u64()),
        (Some(1), Some(0)),
        "{done}"
    );
    let (_, drift) = t
        .call(Method::GET, "/api/admin/fleet/drift", Some(&owner), None)
        .await;
    assert_eq!(
        drift["counts"],
        json!({"behind": 0, "current": 2, "ahead": 0}),
        "{drift}"
    );
    let applied = tsql(
        behind.database.as_str(),
        "SELECT COUNT(*) FROM _tenantry_migrations",
    );
    assert_eq!(applied.trim(), latest.to_string());
}

#[tokio::test]
async fn a_current_sql_server_tenant_is_skipped_by_its_fingerprint_without_a_connection() {
    let t = TestApp::spawn().await;
    let tenant = t.tenant("SQLMIRROR", On::Mssql).await;
    let latest = tenantry::migrate::latest_version(Engine::Mssql);
    assert_eq!(
        tenant.schema_checksum.as_deref(),
        Some(tenantry::migrate::fingerprint(Engine::Mssql, latest).as_str())
    );
    // The server moves to a port where nothing listens: only a run that connects notices.
    let port = tenantry_testkit::closed_port();
    t.registry()
        .set_server_address(tenant.server_id, "127.0.0.1", port)
        .await
        .unwrap();
    let actor = Actor::System;
    let run = |verify| FleetOptions {
        verify,
        ..FleetOptions::default()
    };
    let results = t
        .platform()
        .migrate_fleet(&actor, &run(false), |_, _| {})
        .await
        .unwrap();
    assert_eq!(results[0].1, Outcome::Current { version: latest });
    let results = t
        .platform()
        .migrate_fleet(&actor, &run(true), |_, _| {})
        .await
        .unwrap();
    assert!(results[0].1.is_failure(), "{:?}", results[0].1);
}
