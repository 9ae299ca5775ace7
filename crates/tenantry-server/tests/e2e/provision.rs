//! Provisioning through the admin API on PostgreSQL and MariaDB, failure and retry. Provisioning
//! answers 202 once the tenant is registered and runs as a job.

use crate::common::{error_code, On, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tenantry_testkit::{shared_mariadb, shared_pg, unique_name};

pub async fn login_with(t: &TestApp, code: &str, password: &str) -> StatusCode {
    let body = json!({"username": "admin", "password": password});
    t.call(
        Method::POST,
        &format!("/api/auth/login?company={code}"),
        None,
        Some(body),
    )
    .await
    .0
}

async fn retry(t: &TestApp, owner: &str, code: &str, body: Option<Value>) -> (StatusCode, Value) {
    let path = format!("/api/admin/tenants/{code}/retry");
    t.call(Method::POST, &path, Some(owner), body).await
}

#[tokio::test]
async fn dedicated_tenants_are_provisioned_on_postgres_and_mariadb_with_a_generated_admin_password()
{
    let t = TestApp::spawn().await;
    let owner = t.owner_token().await;
    for (code, on, name) in [("PGCO", On::Pg(0), "pg0"), ("MYCO", On::MariaDb, "mariadb")] {
        t.server(on).await;
        let db = unique_name("prov");
        let body = json!({"code": code, "name": "Co", "placement": "dedicated", "server": name, "database": db});
        let c = t.create_tenant(&owner, body).await;
        assert_eq!(c.status, StatusCode::ACCEPTED, "{}", c.answer);
        assert_eq!(c.job["status"], "succeeded", "{}", c.job);
        assert_eq!(c.tenant["status"], "active");
        assert_eq!(
            c.tenant["schemaVersion"],
            tenantry::migrate::latest_version(tenantry::tenant::Engine::Postgres)
        );
        let password = c.admin_password();
        assert!(password.len() >= 16);
        assert_eq!(login_with(&t, code, password).await, StatusCode::OK);
        let exists = match on {
            On::MariaDb => shared_mariadb()
                .sql(&format!("SHOW DATABASES LIKE '{db}'"))
                .unwrap(),
            _ => shared_pg(0)
                .psql(
                    "postgres",
                    &format!("SELECT datname FROM pg_database WHERE datname = '{db}'"),
                )
                .unwrap(),
        };
        assert_eq!(exists.trim(), db);
    }
    let body = json!({"code": "PGCO", "name": "Again", "placement": "dedicated", "server": "pg0"});
    let again = t.create_tenant(&owner, body).await;
    assert_eq!(
        (again.status, error_code(&again.answer)),
        (StatusCode::CONFLICT, "conflict")
    );
    let (_, audit) = t
        .call(Method::GET, "/api/admin/audit", Some(&owner), None)
        .await;
    assert!(
        !audit.to_string().contains("adminPassword\":\""),
        "audit must not keep passwords"
    );
}

#[tokio::test]
async fn shared_placement_on_postgres_needs_a_schema() {
    let t = TestApp::spawn().await;
    let owner = t.owner_token().await;
    t.server(On::Pg(0)).await;
    let db = unique_name("shared");
    let base = json!({"code": "SH1", "name": "Shared", "placement": "shared", "server": "pg0", "database": db});
    let refused = t.create_tenant(&owner, base.clone()).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.answer["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("schema"));
    let mut with_schema = base;
    with_schema["schema"] = json!("sh1");
    with_schema["adminPassword"] = json!("chosen-password");
    let c = t.create_tenant(&owner, with_schema).await;
    assert_eq!(c.status, StatusCode::ACCEPTED, "{}", c.answer);
    assert!(
        c.answer.get("adminPassword").is_none(),
        "a chosen password is not echoed"
    );
    assert_eq!(c.tenant["status"], "active", "{}", c.job);
    assert_eq!(
        login_with(&t, "SH1", "chosen-password").await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn failed_provisioning_is_marked_failed_and_a_retry_finishes_it() {
    let t = TestApp::spawn().await;
    let owner = t.owner_token().await;
    t.server(On::Pg(1)).await;
    let db = unique_name("byod");
    // External: the customer's database does not exist yet.
    let body = json!({"code": "BYOD", "name": "Customer", "placement": "external", "server": "pg1", "database": db, "username": "postgres", "migrate": true});
    let c = t.create_tenant(&owner, body).await;
    assert_eq!(c.status, StatusCode::ACCEPTED, "{}", c.answer);
    assert_eq!(c.job["status"], "failed");
    let error = c.job["error"].as_str().unwrap();
    assert!(error.contains("step onboard"), "{error}");
    assert_eq!(c.tenant["status"], "failed");
    assert!(c.tenant["statusReason"]
        .as_str()
        .unwrap()
        .contains("does not exist"));
    let (s, body) = t
        .call(Method::GET, "/api/customers?company=BYOD", None, None)
        .await;
    assert_eq!(
        (s, error_code(&body)),
        (StatusCode::NOT_FOUND, "tenant_not_found")
    );

    shared_pg(1)
        .psql("postgres", &format!("CREATE DATABASE {db}"))
        .unwrap();
    let (s, answer) = retry(&t, &owner, "BYOD", Some(json!({"migrate": true}))).await;
    let r = t.follow(&owner, s, answer).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.answer);
    assert_eq!(r.tenant["status"], "active", "{}", r.job);
    assert_eq!(
        login_with(&t, "BYOD", r.admin_password()).await,
        StatusCode::OK
    );
    let (s, resp) = retry(&t, &owner, "BYOD", None).await;
    assert_eq!(
        (s, error_code(&resp)),
        (StatusCode::CONFLICT, "invalid_status")
    );
}

#[tokio::test]
async fn external_database_with_an_empty_schema_is_refused_unless_migrations_are_allowed() {
    let t = TestApp::spawn().await;
    let owner = t.owner_token().await;
    t.server(On::Pg(1)).await;
    let db = unique_name("ext");
    shared_pg(1)
        .psql("postgres", &format!("CREATE DATABASE {db}"))
        .unwrap();
    let body = json!({"code": "EXT", "name": "Ext", "placement": "external", "server": "pg1", "database": db, "username": "postgres"});
    let c = t.create_tenant(&owner, body).await;
    assert_eq!(c.job["status"], "failed", "{}", c.job);
    let message = c.job["error"].as_str().unwrap();
    assert!(
        message.contains("step onboard") && message.contains("schema"),
        "{message}"
    );
    let tables = shared_pg(1)
        .psql(
            &db,
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
        )
        .unwrap();
    assert_eq!(
        tables.trim(),
        "0",
        "nothing may be created in the customer's database without --migrate"
    );
    let (s, answer) = retry(&t, &owner, "EXT", Some(json!({"migrate": true}))).await;
    let r = t.follow(&owner, s, answer).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.answer);
    assert_eq!(
        r.tenant["schemaVersion"],
        tenantry::migrate::latest_version(tenantry::tenant::Engine::Mysql)
    );
}

#[tokio::test]
async fn without_a_named_server_the_least_loaded_server_of_ours_is_chosen_and_storage_is_created() {
    let t = TestApp::spawn().await;
    let owner = t.owner_token().await;
    t.server(On::Pg(0)).await;
    t.server(On::Sqlite).await;
    t.tenant("FIRST", On::Pg(0)).await;
    let body = json!({"code": "AUTO", "name": "Auto", "placement": "dedicated"});
    let c = t.create_tenant(&owner, body).await;
    assert_eq!(c.status, StatusCode::ACCEPTED, "{}", c.answer);
    assert_eq!(c.tenant["engine"], "sqlite", "the empty server wins");
    let body =
        json!({"code": "AUTOPG", "name": "Auto", "placement": "dedicated", "engine": "postgres"});
    let c = t.create_tenant(&owner, body).await;
    assert_eq!(c.status, StatusCode::ACCEPTED, "{}", c.answer);
    assert_eq!(c.tenant["serverName"], "pg0");
    let id: uuid::Uuid = c.tenant["id"].as_str().unwrap().parse().unwrap();
    assert!(
        t.app.storage().tenant_dir(id).is_dir(),
        "provisioning creates the storage directory"
    );
    let body = json!({"code": "NOMY", "name": "No", "placement": "dedicated", "engine": "mysql"});
    let c = t.create_tenant(&owner, body).await;
    assert_eq!(
        (c.status, error_code(&c.answer)),
        (StatusCode::BAD_REQUEST, "invalid_input"),
        "{}",
        c.answer
    );
}

#[tokio::test]
async fn separate_db_users_get_their_own_login_that_reaches_only_their_database() {
    let t = TestApp::spawn().await;
    let owner = t.owner_token().await;
    t.server(On::MariaDb).await;
    t.server(On::Pg(0)).await;
    let other = unique_name("other");
    shared_mariadb()
        .sql(&format!("CREATE DATABASE {other}"))
        .unwrap();
    for (code, server) in [("OWNMY", "mariadb"), ("OWNPG", "pg0")] {
        let db = unique_name("own");
        let body = json!({"code": code, "name": "Own", "placement": "dedicated", "server": server, "database": db, "separateDbUser": true});
        let c = t.create_tenant(&owner, body).await;
        assert_eq!(c.tenant["status"], "active", "{}", c.job);
        let user = c.tenant["username"].as_str().unwrap().to_owned();
        assert_eq!(user, format!("u_{db}"));
        let password = c.admin_password();
        assert_eq!(login_with(&t, code, password).await, StatusCode::OK);
        let token = {
            let body = json!({"username": "admin", "password": password});
            let (_, r) = t
                .call(
                    Method::POST,
                    &format!("/api/auth/login?company={code}"),
                    None,
                    Some(body),
                )
                .await;
            r["token"].as_str().unwrap().to_owned()
        };
        t.seed(&token, code).await;
        let database = c.tenant["database"].as_str().unwrap();
        if server == "pg0" {
            let owner_of = shared_pg(0)
                .psql("postgres", &format!("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{database}'"))
                .unwrap();
            assert_eq!(
                owner_of.trim(),
                user,
                "the tenant's login owns its database"
            );
        } else {
            // The login reaches its own database and no other.
            let config = t
                .registry()
                .tenant_config(&code.parse().unwrap())
                .await
                .unwrap()
                .unwrap();
            let pw = tenantry::secrets::expose(config.source.password.as_ref().unwrap()).to_owned();
            let m = shared_mariadb();
            let url = |db: &str| format!("mysql://{user}:{pw}@127.0.0.1:{}/{db}", m.port());
            use sqlx::Connection;
            assert!(sqlx::MySqlConnection::connect(&url(database)).await.is_ok());
            let Err(err) = sqlx::MySqlConnection::connect(&url(&other)).await else {
                panic!("other database must be refused");
            };
            assert!(err.to_string().contains("denied"), "{err}");
        }
    }
}
