//! Onboarding checks of customer-hosted databases through the admin API, on the throwaway
//! PostgreSQL server "of a customer" (trust auth) and on MariaDB (real passwords and grants).

use crate::common::{error_code, On, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tenantry::registry::NewServer;
use tenantry::tenant::{Engine, Hosting, Placement, TlsMode};
use tenantry_testkit::{closed_port, shared_mariadb, shared_pg, unique_name};

const CHECKS: [&str; 8] = [
    "dns", "tcp", "tls", "login", "read", "write", "ddl", "schema",
];

async fn onboard(t: &TestApp, body: Value) -> Value {
    let owner = t.owner_token().await;
    let (s, report) = t
        .call(
            Method::POST,
            "/api/admin/onboard/check",
            Some(&owner),
            Some(body),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{report}");
    report
}

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    let checks = report["checks"].as_array().unwrap();
    checks.iter().find(|c| c["name"] == name).unwrap()
}

fn message<'a>(report: &'a Value, name: &str) -> &'a str {
    check(report, name)["message"].as_str().unwrap()
}

/// Names of the failed checks, after asserting every check is reported once, in order, and that
/// `password` appears nowhere.
fn failed(report: &Value, password: &str) -> Vec<String> {
    let checks = report["checks"].as_array().unwrap();
    let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, CHECKS, "{report}");
    assert!(
        !report.to_string().contains(password),
        "password leaked: {report}"
    );
    let failed: Vec<String> = checks
        .iter()
        .filter(|c| c["status"] == "failed")
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(report["ok"], failed.is_empty(), "{report}");
    failed
}

fn status<'a>(report: &'a Value, name: &str) -> &'a str {
    check(report, name)["status"].as_str().unwrap()
}

/// A MariaDB database and a user `{db}_u` with `password`, granted `grants` on it.
fn mariadb_user(grants: &str, password: &str) -> (String, String) {
    let db = unique_name("byod");
    let user = format!("{db}_u");
    let mut sql = format!("CREATE DATABASE {db};");
    for host in ["%", "localhost"] {
        sql += &format!("CREATE USER '{user}'@'{host}' IDENTIFIED BY '{password}';");
        sql += &format!("GRANT {grants} ON {db}.* TO '{user}'@'{host}';");
    }
    shared_mariadb().sql(&sql).unwrap();
    (db, user)
}

async fn customer_server(t: &TestApp, name: &str, host: &str, port: u16, tls: TlsMode) {
    t.registry()
        .add_server(NewServer {
            name: crate::common::server_name(name),
            engine: Engine::Postgres,
            host: host.into(),
            port: Some(port),
            hosting: Hosting::Customer,
            region: None,
            tls,
            admin_username: None,
            admin_password: None,
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_good_postgres_database_passes_every_check_and_reads_as_empty() {
    let t = TestApp::spawn().await;
    t.server(On::Pg(1)).await;
    let db = unique_name("byod");
    shared_pg(1)
        .psql("postgres", &format!("CREATE DATABASE {db}"))
        .unwrap();
    let pw = "unused-by-trust-auth";
    let body = json!({"server": "pg1", "database": db, "username": "postgres", "password": pw, "ddl": true});
    let report = onboard(&t, body).await;
    assert!(failed(&report, pw).is_empty(), "{report}");
    assert_eq!(status(&report, "tls"), "skipped");
    assert_eq!(
        message(&report, "schema"),
        "empty database (migrations will create the schema)"
    );
    assert!(check(&report, "tcp")["elapsedMs"].as_f64().is_some());
}

#[tokio::test]
async fn an_unreachable_port_fails_tcp_and_skips_every_later_check() {
    let t = TestApp::spawn().await;
    let port = closed_port();
    customer_server(&t, "closed", "127.0.0.1", port, TlsMode::Disable).await;
    let pw = "never-sent-pw";
    let body = json!({"server": "closed", "database": "app", "username": "app", "password": pw});
    let report = onboard(&t, body).await;
    assert_eq!(failed(&report, pw), ["tcp"]);
    let tcp = message(&report, "tcp");
    assert!(
        tcp.contains(&format!("127.0.0.1:{port}")) && tcp.contains("listening"),
        "{tcp}"
    );
    for name in ["tls", "login", "read", "write", "ddl", "schema"] {
        assert_eq!(status(&report, name), "skipped", "{report}");
        assert!(
            message(&report, name).contains("tcp check failed"),
            "{report}"
        );
    }
}

#[tokio::test]
async fn tls_required_on_a_server_without_tls_fails_tls_and_skips_login() {
    let t = TestApp::spawn().await;
    let pg = shared_pg(1);
    customer_server(&t, "pg1-tls", pg.host(), pg.port(), TlsMode::Require).await;
    let body = json!({"server": "pg1-tls", "database": "postgres", "username": "postgres"});
    let report = onboard(&t, body).await;
    assert_eq!(failed(&report, "<none>"), ["tls"]);
    assert!(
        message(&report, "tls").contains("does not offer TLS"),
        "{report}"
    );
    assert_eq!(status(&report, "login"), "skipped");
}

#[tokio::test]
async fn a_wrong_password_fails_login_with_a_sentence_naming_the_user() {
    let t = TestApp::spawn().await;
    t.server(On::MariaDb).await;
    let (db, user) = mariadb_user("ALL PRIVILEGES", "right-pw-4711");
    let pw = "wrong-pw-0815";
    let body = json!({"server": "mariadb", "database": db, "username": user, "password": pw});
    let report = onboard(&t, body).await;
    assert_eq!(failed(&report, pw), ["login"]);
    assert!(!report.to_string().contains("right-pw-4711"));
    let login = message(&report, "login");
    assert!(login.contains(&format!("user '{user}'")), "{login}");
    assert!(login.contains("wrong password"), "{login}");
    assert_eq!(status(&report, "read"), "skipped");
}

#[tokio::test]
async fn a_missing_database_fails_login_naming_the_database() {
    let t = TestApp::spawn().await;
    t.server(On::Pg(1)).await;
    let db = unique_name("never_created");
    let body = json!({"server": "pg1", "database": db, "username": "postgres"});
    let report = onboard(&t, body).await;
    assert_eq!(failed(&report, "<none>"), ["login"]);
    let login = message(&report, "login");
    assert!(login.contains(&format!("'{db}' does not exist")), "{login}");
    assert!(login.contains("create it"), "{login}");
}

#[tokio::test]
async fn a_read_only_user_fails_write_and_ddl_with_the_grants_to_run() {
    let t = TestApp::spawn().await;
    t.server(On::MariaDb).await;
    let pw = "select-only-pw";
    let (db, user) = mariadb_user("SELECT", pw);
    let body =
        json!({"server": "mariadb", "database": db, "username": user, "password": pw, "ddl": true});
    let report = onboard(&t, body).await;
    assert_eq!(failed(&report, pw), ["write", "ddl"]);
    assert_eq!(status(&report, "read"), "passed");
    let write = message(&report, "write");
    assert!(
        write.contains(&format!(
            "GRANT CREATE TEMPORARY TABLES, INSERT, UPDATE, DELETE ON `{db}`.* TO '{user}'@'%'"
        )),
        "{write}"
    );
    let ddl = message(&report, "ddl");
    assert!(ddl.contains("GRANT CREATE, ALTER, DROP"), "{ddl}");
    assert!(message(&report, "schema").starts_with("empty database"));
}

#[tokio::test]
async fn without_ddl_a_read_only_user_only_fails_write() {
    let t = TestApp::spawn().await;
    t.server(On::MariaDb).await;
    let pw = "select-only-pw";
    let (db, user) = mariadb_user("SELECT", pw);
    let body = json!({"server": "mariadb", "database": db, "username": user, "password": pw, "ddl": false});
    let report = onboard(&t, body).await;
    assert_eq!(failed(&report, pw), ["write", "schema"]);
    assert_eq!(status(&report, "ddl"), "skipped");
    assert!(
        message(&report, "schema").contains("apply the tenant migrations"),
        "{report}"
    );
}

#[tokio::test]
async fn a_schema_ahead_of_the_binary_fails_the_schema_check() {
    let t = TestApp::spawn().await;
    t.server(On::Pg(1)).await;
    let db = unique_name("byod");
    let pg = shared_pg(1);
    pg.psql("postgres", &format!("CREATE DATABASE {db}"))
        .unwrap();
    pg.psql(
        &db,
        "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, \
         installed_on TIMESTAMPTZ NOT NULL DEFAULT now(), success BOOLEAN NOT NULL, \
         checksum BYTEA NOT NULL, execution_time BIGINT NOT NULL); \
         INSERT INTO _sqlx_migrations VALUES (9999, 'future', now(), true, '\\x00', 1);",
    )
    .unwrap();
    let body = json!({"server": "pg1", "database": db, "username": "postgres"});
    let report = onboard(&t, body).await;
    assert_eq!(failed(&report, "<none>"), ["schema"]);
    let schema = message(&report, "schema");
    assert!(
        schema.starts_with("at version 9999, ahead of this binary"),
        "{schema}"
    );
}

#[tokio::test]
async fn an_external_tenant_is_checked_by_id_and_reads_as_current() {
    let t = TestApp::spawn().await;
    let server = t.server(On::Pg(1)).await;
    let mut new = TestApp::new_tenant("BYODCHK", &server);
    new.placement = Placement::External;
    let db = new.database.clone().unwrap();
    shared_pg(1)
        .psql("postgres", &format!("CREATE DATABASE {db}"))
        .unwrap();
    let tenant = t.provision(new).await;
    let owner = t.owner_token().await;
    let path = format!("/api/admin/tenants/{}/onboard-check", tenant.id);
    let (s, report) = t.call(Method::POST, &path, Some(&owner), None).await;
    assert_eq!(s, StatusCode::OK, "{report}");
    assert!(failed(&report, "<none>").is_empty(), "{report}");
    assert!(
        message(&report, "schema").starts_with("current"),
        "{report}"
    );
}

#[tokio::test]
async fn a_tenant_we_host_is_refused_and_bad_input_is_a_400() {
    let t = TestApp::spawn().await;
    let tenant = t.tenant("OURS", On::Sqlite).await;
    let owner = t.owner_token().await;
    let path = format!("/api/admin/tenants/{}/onboard-check", tenant.id);
    let (s, body) = t.call(Method::POST, &path, Some(&owner), None).await;
    assert_eq!(
        (s, error_code(&body)),
        (StatusCode::BAD_REQUEST, "not_external")
    );
    let url = "/api/admin/onboard/check";
    let (s, body) = t
        .call(
            Method::POST,
            url,
            Some(&owner),
            Some(json!({"server": "nope", "database": "x"})),
        )
        .await;
    assert_eq!(
        (s, error_code(&body)),
        (StatusCode::BAD_REQUEST, "unknown_server")
    );
    let (s, body) = t
        .call(
            Method::POST,
            url,
            Some(&owner),
            Some(json!({"database": "x"})),
        )
        .await;
    assert_eq!(
        (s, error_code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_body")
    );
    let (s, _) = t.call(Method::POST, url, None, Some(json!({}))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}
