//! `tenant set-password`: the server, the registry and the live pool all follow a password change.

use crate::common::{secret, On, TestApp};
use reqwest::{Method, StatusCode};
use sqlx::{AnyConnection, Connection};
use std::process::Command;
use tenantry::platform::{Actor, CredentialError, PlatformError, TenantRef};
use tenantry::registry::Registry;
use tenantry::secrets::expose;
use tenantry::tenant::{Placement, TenantCode};
use tenantry_testkit::{shared_mariadb, shared_pg, unique_name};

const OLD: &str = "old-pw-1234.X";

fn tref(c: &str) -> TenantRef {
    TenantRef::Code(TenantCode::parse(c).unwrap())
}

fn actor() -> Actor {
    Actor::Cli {
        user: "test".into(),
    }
}

/// The credential error inside a platform error.
fn credential(err: &PlatformError) -> &CredentialError {
    match err {
        PlatformError::Credentials(c) => c,
        other => panic!("not a credential error: {other}"),
    }
}

async fn stored_ciphertext(registry: &Registry, code: &str) -> String {
    sqlx::query_scalar(&format!(
        "SELECT password_enc FROM tenants WHERE code = '{code}'"
    ))
    .fetch_one(registry.pool())
    .await
    .unwrap()
}

/// A fresh MariaDB connection as `user` / `password` to `db`.
async fn maria_connect(user: &str, password: &str, db: &str) -> Result<AnyConnection, sqlx::Error> {
    tenantry::db::install_drivers();
    let m = shared_mariadb();
    let url = format!("mysql://{user}:{password}@{}:{}/{db}", m.host(), m.port());
    AnyConnection::connect(&url).await
}

#[tokio::test]
async fn changed_password_is_set_on_the_server_stored_encrypted_audited_and_used_by_the_pool() {
    let user = unique_name("u");
    let t = TestApp::spawn().await;
    let server = t.server(On::MariaDb).await;
    let mut new = TestApp::new_tenant("ACME", &server);
    let db = new.database.clone().unwrap();
    crate::common::mariadb_user_for_database(db.as_str(), &user, OLD);
    new.username = Some(user.clone());
    new.password = Some(secret(OLD));
    let tenant = t.provision(new).await;
    let token = t.login("ACME").await;
    let (s, _) = t
        .call(Method::GET, "/api/customers", Some(&token), None)
        .await;
    assert_eq!(s, StatusCode::OK, "pool warm with the old password");
    let before = stored_ciphertext(t.registry(), "ACME").await;

    let password = t
        .platform()
        .set_password(&actor(), &tref("ACME"), None)
        .await
        .unwrap();
    let pw = expose(&password).to_owned();
    assert_eq!(pw.len(), 24);

    let (s, body) = t
        .call(Method::GET, "/api/customers", Some(&token), None)
        .await;
    assert_eq!(
        s,
        StatusCode::OK,
        "the rebuilt pool uses the new password: {body}"
    );
    let refused = maria_connect(&user, OLD, db.as_str()).await;
    assert!(
        refused.is_err(),
        "the old password must be refused by the server"
    );
    maria_connect(&user, &pw, db.as_str())
        .await
        .expect("the new password opens a fresh connection")
        .close()
        .await
        .unwrap();

    let after = stored_ciphertext(t.registry(), "ACME").await;
    assert_ne!(after, before);
    assert!(!after.contains(&pw));
    let (audit, _) = t
        .registry()
        .list_audit(Some(tenant.id), 1, 50)
        .await
        .unwrap();
    let entry = audit
        .iter()
        .find(|e| e.action == "tenant.set_password")
        .expect("an audit row for the change");
    assert_eq!(entry.result, "ok");
    assert_eq!(entry.detail["password"], "***");
    assert!(!entry.detail.to_string().contains(&pw));
}

#[tokio::test]
async fn a_password_changed_by_another_process_is_picked_up_by_new_connections_at_once() {
    let user = unique_name("u");
    let t = TestApp::spawn().await;
    let server = t.server(On::MariaDb).await;
    let mut new = TestApp::new_tenant("ELSEWHERE", &server);
    let db = new.database.clone().unwrap();
    crate::common::mariadb_user_for_database(db.as_str(), &user, OLD);
    new.username = Some(user.clone());
    new.password = Some(secret(OLD));
    let tenant = t.provision(new).await;
    let token = t.login("ELSEWHERE").await;
    let (s, _) = t
        .call(Method::GET, "/api/customers", Some(&token), None)
        .await;
    assert_eq!(s, StatusCode::OK, "config cached with the old password");

    // Changed through another registry handle: this server's cache still holds the old one.
    t.other_platform()
        .await
        .set_password(&actor(), &tref("ELSEWHERE"), None)
        .await
        .unwrap();
    assert!(maria_connect(&user, OLD, db.as_str()).await.is_err());
    for round in 0..2 {
        // A new connection is needed: the pool is closed and rebuilt.
        t.app.pools().evict(tenant.id);
        let (s, body) = t
            .call(Method::GET, "/api/customers", Some(&token), None)
            .await;
        assert_eq!(s, StatusCode::OK, "round {round}: {body}");
    }
}

#[tokio::test]
async fn a_postgres_tenant_password_is_changed_with_alter_role() {
    let pg = shared_pg(0);
    let user = unique_name("u");
    pg.psql(
        "postgres",
        &format!("CREATE ROLE {user} LOGIN PASSWORD '{OLD}'"),
    )
    .unwrap();
    let hash = || {
        pg.psql(
            "postgres",
            &format!("SELECT rolpassword FROM pg_authid WHERE rolname = '{user}'"),
        )
        .unwrap()
    };
    let before = hash();
    let t = TestApp::spawn().await;
    let server = t.server(On::Pg(0)).await;
    let mut new = TestApp::new_tenant("PGPW", &server);
    new.username = Some(user.clone());
    new.password = Some(secret(OLD));
    t.registry().create_tenant(new).await.unwrap();
    t.platform()
        .set_password(&actor(), &tref("PGPW"), Some(secret("N3w.pw-~!@#%^*+=")))
        .await
        .unwrap();
    assert_ne!(hash(), before, "the role's password hash changed");
}

#[tokio::test]
async fn an_sqlite_tenant_is_refused_because_it_has_no_password() {
    let t = TestApp::spawn().await;
    t.tenant("LITE", On::Sqlite).await;
    let err = t
        .platform()
        .set_password(&actor(), &tref("LITE"), None)
        .await
        .unwrap_err();
    assert!(
        matches!(credential(&err), CredentialError::NoPasswords { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("SQLite"), "{err}");
}

#[tokio::test]
async fn a_password_that_cannot_be_spliced_into_ddl_is_refused_without_being_echoed() {
    let t = TestApp::spawn().await;
    let server = t.server(On::MariaDb).await;
    let mut new = TestApp::new_tenant("QUOTE", &server);
    new.username = Some(unique_name("u"));
    t.registry().create_tenant(new).await.unwrap();
    let bad = "x' OR '1'='1";
    let err = t
        .platform()
        .set_password(&actor(), &tref("QUOTE"), Some(secret(bad)))
        .await
        .unwrap_err();
    assert!(
        matches!(credential(&err), CredentialError::InvalidPassword(_)),
        "{err}"
    );
    assert!(!err.to_string().contains(bad), "{err}");
}

/// An external tenant on the "customer's" PostgreSQL server, connecting as `user`.
async fn external_tenant(t: &TestApp, c: &str, user: &str) {
    let server = t.server(On::Pg(1)).await;
    let mut new = TestApp::new_tenant(c, &server);
    new.placement = Placement::External;
    new.username = Some(user.to_owned());
    new.password = Some(secret("customer-old"));
    t.registry().create_tenant(new).await.unwrap();
}

#[tokio::test]
async fn an_external_tenant_is_refused_and_pointed_to_store_only() {
    let t = TestApp::spawn().await;
    external_tenant(&t, "BYOD", "customer_app").await;
    let err = t
        .platform()
        .set_password(&actor(), &tref("BYOD"), None)
        .await
        .unwrap_err();
    assert!(
        matches!(credential(&err), CredentialError::External { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("--store-only"), "{err}");
}

#[tokio::test]
async fn store_only_on_an_external_tenant_stores_the_password_without_altering_the_server() {
    let t = TestApp::spawn().await;
    // A role that does not exist on the server: any ALTER ROLE would fail.
    let user = unique_name("nobody");
    external_tenant(&t, "BYOD", &user).await;
    let before = stored_ciphertext(t.registry(), "BYOD").await;
    let customers = "Cust0mer's pw";
    t.platform()
        .store_password(&actor(), &tref("BYOD"), secret(customers))
        .await
        .unwrap();
    let config = t
        .registry()
        .tenant_config(&TenantCode::parse("BYOD").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(expose(config.source.password.as_ref().unwrap()), customers);
    assert_ne!(stored_ciphertext(t.registry(), "BYOD").await, before);
    let roles = shared_pg(1)
        .psql(
            "postgres",
            &format!("SELECT count(*) FROM pg_roles WHERE rolname = '{user}'"),
        )
        .unwrap();
    assert_eq!(roles.trim(), "0", "no role was created or altered");
}

#[tokio::test]
async fn cli_refuses_an_sqlite_tenant_and_store_only_without_a_password() {
    let (_dir, data, _) = crate::common::demo_data_dir().await;
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_tenantry"))
            .args(args)
            .env("TENANTRY_DATA_DIR", &data)
            .env_remove("TENANTRY_MASTER_KEY")
            .env_remove("TENANTRY_REGISTRY_URL")
            .output()
            .unwrap()
    };
    let out = run(&["tenant", "set-password", "ACME"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("SQLite"), "{stderr}");
    let out = run(&["tenant", "set-password", "ACME", "--store-only"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--password-env"), "{stderr}");
}
