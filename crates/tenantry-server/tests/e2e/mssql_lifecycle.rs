//! SQL Server tenants through their lifecycle: suspend and reactivate, stats, health, a new login
//! password, delete (database and login dropped).

use crate::common::{error_code, On, TestApp};
use crate::mssql::{database_exists, login_exists, provision, register};
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::json;
use tenantry::mssql::{connect, MssqlError};
use tenantry::platform::{Actor, TenantRef};
use tenantry::secrets::expose;
use tenantry::tenant::TenantCode;

fn tref(code: &str) -> TenantRef {
    TenantRef::Code(TenantCode::parse(code).unwrap())
}

fn actor() -> Actor {
    Actor::Cli {
        user: "test".into(),
    }
}

/// Options for the tenant's own login (from the registry, decrypted) on `database`.
async fn tenant_login(t: &TestApp, code: &str, database: &str) -> tenantry::mssql::ConnectOptions {
    let config = t.platform().tenant_config(&tref(code)).await.unwrap();
    let mut opts = tenantry::db::mssql::options(&config.source, std::time::Duration::from_secs(10));
    opts.database = database.to_owned();
    opts
}

#[tokio::test]
async fn a_suspended_sql_server_tenant_is_refused_until_it_is_reactivated() {
    let t = TestApp::spawn().await;
    t.tenant("SQLSUS", On::Mssql).await;
    let token = t.login("SQLSUS").await;
    t.platform()
        .suspend(&actor(), &tref("SQLSUS"), "unpaid")
        .await
        .unwrap();
    let (s, e) = t
        .call(Method::GET, "/api/tickets", Some(&token), None)
        .await;
    assert_eq!(
        (s, error_code(&e)),
        (StatusCode::FORBIDDEN, "tenant_suspended")
    );
    t.platform()
        .reactivate(&actor(), &tref("SQLSUS"))
        .await
        .unwrap();
    let (s, body) = t
        .call(Method::GET, "/api/tickets", Some(&token), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn stats_count_the_rows_of_a_sql_server_tenant() {
    let t = TestApp::spawn().await;
    t.tenant("SQLSTAT", On::Mssql).await;
    let token = t.login("SQLSTAT").await;
    t.seed(&token, "a").await;
    t.seed(&token, "b").await;
    let owner = t.owner_token().await;
    let (s, stats) = t
        .call(
            Method::GET,
            "/api/admin/tenants/SQLSTAT/stats",
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{stats}");
    assert_eq!(
        stats["rows"],
        json!({"users": 1, "customers": 2, "sites": 2, "tickets": 2})
    );
    assert_eq!(stats["latestVersion"], stats["schemaVersion"]);
    // The size comes from sys.dm_db_partition_stats, which SQL Server and Azure SQL have and
    // Babelfish does not: there the size is unknown (null), never a made-up number.
    if tenantry_testkit::shared_babelfish().is_external() {
        assert!(stats["databaseBytes"].as_i64().unwrap() > 0, "{stats}");
    } else {
        assert_eq!(stats["databaseBytes"], serde_json::Value::Null, "{stats}");
    }
}

#[tokio::test]
async fn the_health_view_probes_a_sql_server_tenant_with_its_latency() {
    let t = TestApp::spawn().await;
    t.tenant("SQLHEALTH", On::Mssql).await;
    let owner = t.owner_token().await;
    let (s, probe) = t
        .call(
            Method::GET,
            "/api/admin/tenants/SQLHEALTH/health",
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{probe}");
    assert_eq!(probe["connected"], true, "{probe}");
    assert!(probe["latencyMs"].as_f64().unwrap() > 0.0, "{probe}");
    let (s, all) = t
        .call(Method::GET, "/api/health/tenants", Some(&owner), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{all}");
    let row = all["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["companyCode"] == "SQLHEALTH")
        .unwrap_or_else(|| panic!("{all}"));
    assert_eq!(
        (&row["engine"], &row["connected"]),
        (&json!("mssql"), &json!(true))
    );
}

#[tokio::test]
async fn backing_up_a_sql_server_tenant_is_refused_with_a_clear_error() {
    let t = TestApp::spawn().await;
    t.tenant("SQLBAK", On::Mssql).await;
    let owner = t.owner_token().await;
    let (s, e) = t
        .call(
            Method::POST,
            "/api/admin/tenants/SQLBAK/backups",
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(
        (s, error_code(&e)),
        (StatusCode::CONFLICT, "backup_unsupported")
    );
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("BACKUP DATABASE"),
        "{e}"
    );
}

#[tokio::test]
async fn a_new_password_is_set_with_alter_login_and_the_pool_follows_it() {
    let t = TestApp::spawn().await;
    let owner = t.owner_token().await;
    register(&t, &owner, "mssql", "ours").await;
    let tenant = provision(&t, &owner, "SQLPWD", json!({"separateDbUser": true})).await;
    let db = tenant["database"].as_str().unwrap().to_owned();
    let token = t.login("SQLPWD").await;
    let old = tenant_login(&t, "SQLPWD", &db).await;

    let new = t
        .platform()
        .set_password(&actor(), &tref("SQLPWD"), None)
        .await
        .unwrap();
    let err = connect(&old)
        .await
        .expect_err("the old password still works");
    assert_eq!(err.server_code(), Some(18456), "{err}");
    let fresh = old.with_login(
        old.user.clone(),
        SecretString::from(expose(&new).to_owned()),
    );
    connect(&fresh)
        .await
        .expect("the new password opens a session");
    let (s, body) = t
        .call(Method::GET, "/api/customers", Some(&token), None)
        .await;
    assert_eq!(
        s,
        StatusCode::OK,
        "the rebuilt pool logs in with the new password: {body}"
    );
}

#[tokio::test]
async fn deleting_a_sql_server_tenant_drops_its_database_and_its_own_login() {
    let t = TestApp::spawn().await;
    let owner = t.owner_token().await;
    register(&t, &owner, "mssql", "ours").await;
    let tenant = provision(&t, &owner, "SQLDEL", json!({"separateDbUser": true})).await;
    let db = tenant["database"].as_str().unwrap().to_owned();
    let login = tenant["username"].as_str().unwrap().to_owned();
    assert!(login.starts_with("u_"), "{tenant}");
    assert!(database_exists(&db) && login_exists(&login));
    let token = t.login("SQLDEL").await;
    t.seed(&token, "doomed").await; // the pool holds open sessions on the database

    let (s, gone) = t
        .call(
            Method::DELETE,
            "/api/admin/tenants/SQLDEL",
            Some(&owner),
            Some(json!({"confirm": "DELETE"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{gone}");
    assert_eq!(gone["status"], "deleted");
    assert!(
        gone["statusReason"]
            .as_str()
            .unwrap()
            .contains("database dropped"),
        "{gone}"
    );
    assert!(!database_exists(&db), "database {db} still exists");
    assert!(!login_exists(&login), "login {login} still exists");
}

#[tokio::test]
async fn a_dedicated_tenant_login_cannot_read_another_tenants_database() {
    let t = TestApp::spawn().await;
    let owner = t.owner_token().await;
    register(&t, &owner, "mssql", "ours").await;
    let a = provision(&t, &owner, "SQLISOA", json!({"separateDbUser": true})).await;
    let b = provision(&t, &owner, "SQLISOB", json!({"separateDbUser": true})).await;
    let (db_a, db_b) = (
        a["database"].as_str().unwrap(),
        b["database"].as_str().unwrap(),
    );
    let token_b = t.login("SQLISOB").await;
    t.seed(&token_b, "secret").await;

    // Tenant A's login opens its own database...
    let mut own = connect(&tenant_login(&t, "SQLISOA", db_a).await)
        .await
        .expect("A's login opens A's database");
    // ...but not B's (SQL Server: 4060 "Cannot open database"; Babelfish: its generic number
    // with the same text)...
    let err = connect(&tenant_login(&t, "SQLISOA", db_b).await)
        .await
        .expect_err("A's login opened B's database");
    assert!(matches!(err, MssqlError::Login { .. }), "{err:?}");
    assert!(
        err.server_message()
            .unwrap_or_default()
            .contains("Cannot open database"),
        "{err}"
    );
    // ...nor reads B's tickets by a three-part name from its own session.
    let cross = format!("SELECT title FROM [{db_b}].dbo.tickets");
    let read = match own.simple_query(cross).await {
        Ok(stream) => stream.into_first_result().await.map(|rows| rows.len()),
        Err(e) => Err(e),
    };
    assert!(read.is_err(), "A read B's tickets: {read:?}");
    let _ = own.close().await;
    assert_ne!(a["username"], b["username"]);
}
