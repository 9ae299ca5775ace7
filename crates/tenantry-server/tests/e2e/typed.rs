//! Typed connections: each tenant pool holds its engine's own driver, the tenant schema uses real
//! timestamp types (v1 text timestamps are converted), migrations run on a connection of their own.

use crate::common::{secret, On, TestApp};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::migrate::Migrator;
use std::borrow::Cow;
use tenantry::db::{EngineConnection, Purpose};
use tenantry::fleet::{self, FleetOptions, Outcome};
use tenantry::migrate;
use tenantry::provision::ServerAdmin;
use tenantry::registry::PoolSettings;
use tenantry::router::{ApiError, TenantPg};
use tenantry::tenant::{Engine, Placement};
use tenantry_testkit::unique_name;

#[tokio::test]
async fn a_postgres_tenant_connection_reads_timestamptz_as_a_real_timestamp() {
    let t = TestApp::spawn().await;
    let tenant = t.tenant("TYPEDPG", On::Pg(0)).await;
    let token = t.login("TYPEDPG").await;
    t.seed(&token, "typed").await;
    let config = t
        .registry()
        .tenant_config(&tenant.code)
        .await
        .unwrap()
        .unwrap();
    let mut conn = t.app.pools().acquire(&config).await.unwrap();
    let pg = conn
        .as_postgres()
        .expect("a PostgreSQL tenant has a PgConnection");
    let (created, kind): (DateTime<Utc>, String) = sqlx::query_as(
        "SELECT created_at, pg_typeof(created_at)::text FROM customers ORDER BY id LIMIT 1",
    )
    .fetch_one(&mut *pg)
    .await
    .unwrap();
    assert_eq!(kind, "timestamp with time zone");
    assert!((Utc::now() - created).num_seconds().abs() < 120);
    assert!(conn.as_mysql().is_none() && conn.as_sqlite().is_none());
}

#[tokio::test]
async fn a_mariadb_tenant_stores_datetime_and_the_api_shows_utc_rfc3339() {
    let t = TestApp::spawn().await;
    let tenant = t.tenant("TYPEDMY", On::MariaDb).await;
    let token = t.login("TYPEDMY").await;
    let (_, _, ticket) = t.seed(&token, "typed").await;
    let (s, body) = t
        .call(
            Method::GET,
            &format!("/api/tickets/{ticket}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let shown = body["createdAt"].as_str().unwrap();
    assert!(shown.ends_with('Z') && shown.contains('T'), "{shown}");
    let config = t
        .registry()
        .tenant_config(&tenant.code)
        .await
        .unwrap()
        .unwrap();
    let mut conn = t.app.pools().acquire(&config).await.unwrap();
    let my = conn
        .as_mysql()
        .expect("a MariaDB tenant has a MySqlConnection");
    let kind: String = sqlx::query_scalar(
        "SELECT DATA_TYPE FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'tickets' AND COLUMN_NAME = 'created_at'",
    )
    .fetch_one(&mut *my)
    .await
    .unwrap();
    assert_eq!(kind, "datetime");
    let stored: DateTime<Utc> = sqlx::query_scalar("SELECT created_at FROM tickets WHERE id = ?")
        .bind(ticket)
        .fetch_one(&mut *my)
        .await
        .unwrap();
    assert_eq!(tenantry::db::timestamp(&stored), shown);
}

/// A database at tenant schema v1 (text timestamps) holding one customer created at `at`.
async fn v1_database(t: &TestApp, code: &str, on: On, at: &str) -> tenantry::registry::Tenant {
    let tenant = t.unmigrated_tenant(code, on).await;
    let config = t
        .registry()
        .tenant_config(&tenant.code)
        .await
        .unwrap()
        .unwrap();
    let purpose = Purpose::Migration {
        lock_timeout_ms: 1_000,
    };
    let timeout = std::time::Duration::from_secs(5);
    let mut conn = EngineConnection::connect(&config.source, purpose, timeout)
        .await
        .unwrap();
    let all = migrate::migrator(tenant.engine).expect("a sqlx engine");
    let v1 = Migrator {
        migrations: Cow::Owned(all.iter().filter(|m| m.version == 1).cloned().collect()),
        ..Migrator::DEFAULT
    };
    match &mut conn {
        EngineConnection::Postgres(c) => v1.run_direct(c).await.unwrap(),
        EngineConnection::Mysql(c) => v1.run_direct(c).await.unwrap(),
        EngineConnection::Sqlite(c) => v1.run_direct(c).await.unwrap(),
        _ => unreachable!(),
    }
    conn.execute_raw(&format!(
        "INSERT INTO customers (name, created_at, updated_at) VALUES ('Old Co', '{at}', '{at}')"
    ))
    .await
    .unwrap();
    t.registry()
        .set_schema_version(&tenant.code, 1)
        .await
        .unwrap();
    tenant
}

#[tokio::test]
async fn schema_v2_converts_v1_text_timestamps_on_every_engine() {
    let t = TestApp::spawn().await;
    let at = "2024-02-29T13:45:06.789Z";
    for (code, on) in [
        ("V1PG", On::Pg(0)),
        ("V1MY", On::MariaDb),
        ("V1LITE", On::Sqlite),
    ] {
        v1_database(&t, code, on, at).await;
    }
    let results = fleet::migrate_fleet(
        t.registry(),
        t.app.pools(),
        &FleetOptions::default(),
        |_, _| {},
    )
    .await
    .unwrap();
    for (code, outcome) in &results {
        let to = migrate::latest_version(Engine::Postgres);
        assert_eq!(*outcome, Outcome::Migrated { from: Some(1), to }, "{code}");
    }
    for code in ["V1PG", "V1MY", "V1LITE"] {
        let config = t
            .registry()
            .tenant_config(&code.parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        let mut conn = t.app.pools().acquire(&config).await.unwrap();
        let rows = conn
            .fetch_all(
                "SELECT created_at, updated_at FROM customers",
                &[],
                &[tenantry::db::ColType::Time, tenantry::db::ColType::Time],
            )
            .await
            .unwrap();
        assert_eq!(rows.len(), 1, "{code}");
        for v in &rows[0] {
            assert_eq!(v.to_json(), json!(at), "{code}");
        }
    }
}

#[tokio::test]
async fn migrations_run_without_the_pooled_statement_timeout_but_with_a_lock_timeout() {
    let t = TestApp::spawn().await;
    let server = t.server(On::Pg(0)).await;
    let mut new = TestApp::new_tenant("SLOWDDL", &server);
    new.pool = PoolSettings {
        statement_timeout_ms: 100,
        ..PoolSettings::default()
    };
    let tenant = t.provision(new).await;
    let config = t
        .registry()
        .tenant_config(&tenant.code)
        .await
        .unwrap()
        .unwrap();
    let mut pooled = t.app.pools().acquire(&config).await.unwrap();
    let cut = pooled.execute_raw("SELECT pg_sleep(0.3)").await;
    assert!(
        cut.is_err(),
        "the pooled statement timeout applies to requests"
    );
    let purpose = Purpose::Migration {
        lock_timeout_ms: migrate::LOCK_TIMEOUT_MS,
    };
    let mut own =
        EngineConnection::connect(&config.source, purpose, std::time::Duration::from_secs(5))
            .await
            .unwrap();
    own.execute_raw("SELECT pg_sleep(0.3)").await.unwrap();
    let pg = own.as_postgres().unwrap();
    let lock: String = sqlx::query_scalar("SHOW lock_timeout")
        .fetch_one(&mut *pg)
        .await
        .unwrap();
    assert_eq!(lock, "10s");
}

#[tokio::test]
async fn customer_hosted_tenants_are_skipped_by_fleet_migrations_unless_managed_by_us() {
    let t = TestApp::spawn().await;
    let server = t.server(On::Pg(1)).await;
    let mut onboarded = Vec::new();
    for (code, migrate_allowed) in [("CUSTOWN", false), ("CUSTOURS", true)] {
        let db = unique_name("cust");
        // The customer's own database, already at the current schema.
        let mut new = TestApp::new_tenant(code, &server);
        new.placement = Placement::External;
        new.database = Some(db.parse().unwrap());
        new.password = Some(secret("unused"));
        ServerAdmin {
            server: &server,
            password: None,
        }
        .create_database(&db.parse().unwrap())
        .await
        .unwrap();
        let p = tenantry::provision::Provisioner::new(t.registry().clone(), t.app.pools().clone())
            .migrate_external(true);
        p.provision(new, "admin-password").await.unwrap();
        if !migrate_allowed {
            t.registry()
                .set_schema_managed(&code.parse().unwrap(), false)
                .await
                .unwrap();
        }
        onboarded.push(code);
    }
    let results = fleet::migrate_fleet(
        t.registry(),
        t.app.pools(),
        &FleetOptions {
            verify: true,
            ..FleetOptions::default()
        },
        |_, _| {},
    )
    .await
    .unwrap();
    let outcome = |code: &str| {
        results
            .iter()
            .find(|(c, _)| c.as_str() == code)
            .unwrap()
            .1
            .clone()
    };
    assert!(
        matches!(outcome("CUSTOWN"), Outcome::Skipped { .. }),
        "{:?}",
        outcome("CUSTOWN")
    );
    assert!(
        matches!(outcome("CUSTOURS"), Outcome::Current { .. }),
        "{:?}",
        outcome("CUSTOURS")
    );
}

/// An embedding application's handler written against PostgreSQL's own driver.
async fn pg_only(mut pg: TenantPg) -> Result<Json<Value>, ApiError> {
    let at: DateTime<Utc> = sqlx::query_scalar("SELECT now()")
        .fetch_one(&mut *pg)
        .await?;
    Ok(Json(json!({"now": at})))
}

#[tokio::test]
async fn tenant_pg_serves_postgres_tenants_and_refuses_others_with_a_configuration_error() {
    let t = TestApp::spawn().await;
    t.tenant("EMBEDPG", On::Pg(0)).await;
    t.tenant("EMBEDLITE", On::Sqlite).await;
    let app =
        Router::new()
            .route("/pg", get(pg_only))
            .route_layer(axum::middleware::from_fn_with_state(
                t.app.tenants.clone(),
                tenantry::router::tenant_layer,
            ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = reqwest::Client::new();
    let ok = client
        .get(format!("http://{addr}/pg?company=EMBEDPG"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let refused = client
        .get(format!("http://{addr}/pg?company=EMBEDLITE"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "tenant_engine_unsupported");
}
