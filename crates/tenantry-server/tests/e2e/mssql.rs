//! SQL Server tenants end to end, as a new user tries them: register a SQL Server, provision a
//! tenant on it, log in with `?company=`, serve tickets, onboard a customer's database, migrate
//! the fleet, delete the tenant. On the Babelfish fixture (or `$TENANTRY_TEST_MSSQL_URL`).

use crate::common::{error_code, mssql_tls, On, TestApp, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tenantry::tenant::TenantCode;
use tenantry_testkit::{shared_babelfish, unique_name};

/// Runs T-SQL as the fixture's sysadmin in `database`; rows as `a|b` lines.
pub fn tsql(database: &str, sql: &str) -> String {
    shared_babelfish()
        .tsql(database, sql)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Whether database `name` exists on the fixture.
pub fn database_exists(name: &str) -> bool {
    let q = format!("SELECT COUNT(*) FROM sys.databases WHERE name = N'{name}'");
    tsql("master", &q).trim() == "1"
}

/// Whether server login `name` exists on the fixture.
pub fn login_exists(name: &str) -> bool {
    let q = format!("SELECT COUNT(*) FROM sys.server_principals WHERE name = N'{name}'");
    tsql("master", &q).trim() == "1"
}

/// Registers the fixture through the admin API as server `name`.
pub async fn register(t: &TestApp, owner: &str, name: &str, hosting: &str) -> Value {
    let s = shared_babelfish();
    let body = json!({
        "name": name, "engine": "mssql", "host": s.host(), "port": s.port(),
        "hosting": hosting, "tls": mssql_tls(),
        "adminUsername": s.admin_user(), "adminPassword": s.admin_password(),
    });
    let (status, server) = t
        .call(Method::POST, "/api/admin/servers", Some(owner), Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{server}");
    server
}

/// Provisions tenant `code` through the admin API with `extra` fields merged in.
pub async fn provision(t: &TestApp, owner: &str, code: &str, extra: Value) -> Value {
    let mut body = json!({"code": code, "name": format!("{code} Ltd"), "placement": "dedicated",
        "server": "mssql", "database": unique_name("mt"), "adminPassword": PASSWORD});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let c = t.create_tenant(owner, body).await;
    assert_eq!(c.status, StatusCode::ACCEPTED, "{}", c.answer);
    assert_eq!(c.job["status"], "succeeded", "{}", c.job);
    c.tenant
}

#[tokio::test]
async fn a_new_user_registers_a_sql_server_provisions_a_tenant_and_serves_tickets_from_it() {
    let t = TestApp::spawn().await;
    let owner = t.owner_token().await;
    let server = register(&t, &owner, "mssql", "ours").await;
    assert_eq!(
        (server["engine"].as_str(), server["port"].as_u64()),
        (Some("mssql"), Some(u64::from(shared_babelfish().port())))
    );
    let tenant = provision(&t, &owner, "SQLACME", json!({})).await;
    assert_eq!(tenant["status"], "active", "{tenant}");
    assert_eq!(tenant["engine"], "mssql");
    assert_eq!(
        tenant["schemaVersion"],
        tenantry::migrate::latest_version(tenantry::tenant::Engine::Mssql)
    );

    let token = t.login("SQLACME").await;
    let (s, empty) = t
        .call(
            Method::GET,
            "/api/tickets?company=SQLACME",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{empty}");
    assert_eq!(
        empty,
        json!({"data": [], "page": 1, "limit": 20, "total": 0})
    );

    let (_, site, ticket) = t.seed(&token, "sql").await;
    let (s, list) = t
        .call(Method::GET, "/api/tickets", Some(&token), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert_eq!(list["total"], 1, "{list}");
    let row = &list["data"][0];
    assert_eq!(
        (row["id"].as_i64(), row["siteId"].as_i64()),
        (Some(ticket), Some(site))
    );
    assert_eq!(
        (
            &row["title"],
            &row["status"],
            &row["priority"],
            &row["assignedTo"]
        ),
        (
            &json!("sql ticket"),
            &json!("open"),
            &json!("normal"),
            &Value::Null
        )
    );
    let created = row["createdAt"].as_str().unwrap();
    assert!(created.ends_with('Z') && created.len() == 24, "{created}");
    // The rows live in the tenant's own SQL Server database.
    let db = tenant["database"].as_str().unwrap();
    assert_eq!(tsql(db, "SELECT title FROM tickets").trim(), "sql ticket");
}

#[tokio::test]
async fn a_sql_server_tenant_answers_the_data_api_with_the_same_validation_and_errors() {
    let t = TestApp::spawn().await;
    t.tenant("SQLVAL", On::Mssql).await;
    let token = t.login("SQLVAL").await;
    let (customer, site, _) = t.seed(&token, "val").await;
    let post = |path: &'static str, body: Value| {
        let (t, token) = (&t, &token);
        async move { t.call(Method::POST, path, Some(token), Some(body)).await }
    };
    let (s, e) = post("/api/tickets", json!({"siteId": site})).await;
    assert_eq!(
        (s, error_code(&e)),
        (StatusCode::BAD_REQUEST, "invalid_input")
    );
    assert!(
        e["error"]["message"].as_str().unwrap().contains("title"),
        "{e}"
    );
    let (s, e) = post("/api/tickets", json!({"siteId": 999_999, "title": "x"})).await;
    assert_eq!(
        (s, error_code(&e)),
        (StatusCode::BAD_REQUEST, "invalid_input")
    );
    let (s, e) = post(
        "/api/tickets",
        json!({"siteId": site, "title": "x", "priority": "meh"}),
    )
    .await;
    assert_eq!(
        (s, error_code(&e)),
        (StatusCode::BAD_REQUEST, "invalid_input")
    );

    // Nulls and text round-trip; an update keeps what it does not name.
    let (s, c) = post(
        "/api/customers",
        json!({"name": "Zürich AG", "email": null}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!(
        (&c["name"], &c["email"]),
        (&json!("Zürich AG"), &Value::Null)
    );
    let path = format!("/api/customers/{}", c["id"]);
    let (s, u) = t
        .call(
            Method::PUT,
            &path,
            Some(&token),
            Some(json!({"phone": "+41 44"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{u}");
    assert_eq!(
        (&u["name"], &u["phone"]),
        (&json!("Zürich AG"), &json!("+41 44"))
    );

    // Paging: page 2 of 1 holds the second customer, and the total counts both.
    let (s, page) = t
        .call(
            Method::GET,
            "/api/customers?page=2&limit=1",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(
        (page["total"].as_i64(), page["data"][0]["id"].clone()),
        (Some(2), c["id"].clone())
    );
    let (s, past) = t
        .call(
            Method::GET,
            "/api/customers?page=9&limit=1",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(
        (s, past["data"].clone(), past["total"].as_i64()),
        (StatusCode::OK, json!([]), Some(2))
    );

    // A referenced row is not deleted; a missing one is 404.
    let (s, e) = t
        .call(
            Method::DELETE,
            &format!("/api/customers/{customer}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!((s, error_code(&e)), (StatusCode::CONFLICT, "in_use"));
    let (s, e) = t
        .call(Method::GET, "/api/sites/424242", Some(&token), None)
        .await;
    assert_eq!((s, error_code(&e)), (StatusCode::NOT_FOUND, "not_found"));
    let (s, _) = t.call(Method::DELETE, &path, Some(&token), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_wrong_password_on_a_sql_server_tenant_is_refused_like_on_any_other() {
    let t = TestApp::spawn().await;
    t.tenant("SQLPW", On::Mssql).await;
    let (s, e) = t
        .call(
            Method::POST,
            "/api/auth/login?company=SQLPW",
            None,
            Some(json!({"username": "admin", "password": "not-the-password"})),
        )
        .await;
    assert_eq!(
        (s, error_code(&e)),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
}

#[tokio::test]
async fn shared_placement_without_a_schema_is_refused_on_sql_server() {
    let t = TestApp::spawn().await;
    let owner = t.owner_token().await;
    register(&t, &owner, "mssql", "ours").await;
    let body = json!({"code": "SQLNOSCH", "name": "x", "placement": "shared", "server": "mssql",
        "database": unique_name("sh")});
    let (s, e) = t
        .call(Method::POST, "/api/admin/tenants", Some(&owner), Some(body))
        .await;
    assert_eq!(
        (s, error_code(&e)),
        (StatusCode::BAD_REQUEST, "invalid_input")
    );
    assert!(
        e["error"]["message"].as_str().unwrap().contains("schema"),
        "{e}"
    );
    let code = TenantCode::parse("SQLNOSCH").unwrap();
    assert!(
        t.registry().tenant(&code).await.is_err(),
        "nothing registered"
    );
}

#[tokio::test]
async fn a_sql_server_registered_without_a_tls_mode_encrypts_and_verifies_its_certificate() {
    let t = TestApp::spawn().await;
    let owner = t.owner_token().await;
    let s = shared_babelfish();
    let body = json!({"name": "mssql", "engine": "mssql", "host": s.host(), "hosting": "ours",
        "port": s.port(), "adminUsername": s.admin_user(), "adminPassword": s.admin_password()});
    let (status, server) = t
        .call(Method::POST, "/api/admin/servers", Some(&owner), Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{server}");
    assert_eq!(server["tls"], "verify");
    if s.is_external() {
        return; // a real server's certificate may well verify; Babelfish's is self-signed
    }
    let body = json!({"code": "SQLTLS", "name": "x", "placement": "dedicated", "server": "mssql",
        "database": unique_name("tls")});
    // The database check runs before any job starts: refused at once, nothing registered.
    let (status, e) = t
        .call(Method::POST, "/api/admin/tenants", Some(&owner), Some(body))
        .await;
    assert_eq!(
        (status, error_code(&e)),
        (StatusCode::BAD_GATEWAY, "provisioning_failed")
    );
    let message = e["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("check database") && message.contains("TLS"),
        "{message}"
    );
    let (status, _) = t
        .call(Method::GET, "/api/admin/tenants/SQLTLS", Some(&owner), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
