//! Registry back-ends, master-key checks, placements and the demo.

use crate::common::{On, TestApp};
use reqwest::{Method, StatusCode};
use tenantry::pools::PoolManagerSettings;
use tenantry::registry::{CacheSettings, Registry, RegistryError};
use tenantry::secrets::{MasterKey, SecretBox};
use tenantry::tenant::{DatabaseName, Placement};
use tenantry_testkit::{shared_pg, unique_name};

#[tokio::test]
async fn registry_runs_on_postgres() {
    let pg = shared_pg(0);
    let db = unique_name("registry");
    pg.psql("postgres", &format!("CREATE DATABASE {db}"))
        .unwrap();
    let t = TestApp::spawn_with(PoolManagerSettings::default(), Some(pg.url(&db))).await;
    t.tenant("ACME", On::Pg(1)).await;
    let token = t.login("ACME").await;
    t.seed(&token, "acme").await;
    let (s, body) = t
        .call(Method::GET, "/api/customers", Some(&token), None)
        .await;
    assert_eq!((s, body["total"].as_i64()), (StatusCode::OK, Some(1)));
    let rows = pg.psql(&db, "SELECT code, status FROM tenants").unwrap();
    assert_eq!(rows.trim(), "ACME|active");
}

#[tokio::test]
async fn registry_refuses_a_master_key_it_was_not_created_with() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/registry.db", dir.path().display());
    let key = MasterKey::generate();
    Registry::open(&url, SecretBox::new(key.clone()), CacheSettings::default())
        .await
        .unwrap()
        .close()
        .await;
    let other = MasterKey::generate();
    let err = Registry::open(
        &url,
        SecretBox::new(other.clone()),
        CacheSettings::default(),
    )
    .await
    .err()
    .unwrap();
    match &err {
        RegistryError::WrongKey { given, expected } => {
            assert_eq!((given.as_str(), expected.as_str()), (other.id(), key.id()));
        }
        e => panic!("expected WrongKey, got {e}"),
    }
    assert!(
        Registry::open(&url, SecretBox::new(key), CacheSettings::default())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn shared_placement_keeps_each_tenant_in_its_own_schema() {
    let t = TestApp::spawn().await;
    let server = t.server(On::Pg(0)).await;
    let shared_db = DatabaseName::parse(&unique_name("shared")).unwrap();
    for code in ["ALPHA", "BETA"] {
        let mut new = TestApp::new_tenant(code, &server);
        new.placement = Placement::Shared;
        new.database = Some(shared_db.clone());
        new.schema = Some(DatabaseName::parse(&format!("t_{}", code.to_lowercase())).unwrap());
        t.provision(new).await;
        let token = t.login(code).await;
        t.seed(&token, code).await;
    }
    for code in ["ALPHA", "BETA"] {
        let token = t.login(code).await;
        let (_, body) = t
            .call(Method::GET, "/api/customers", Some(&token), None)
            .await;
        let names: Vec<_> = body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].clone())
            .collect();
        assert_eq!(names, [serde_json::json!(format!("{code} customer"))]);
    }
    let schemas = shared_pg(0)
        .psql(
            shared_db.as_str(),
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'customers'",
        )
        .unwrap();
    assert_eq!(schemas.trim(), "2");
}

#[tokio::test]
async fn demo_seeds_five_distinct_tenants_and_restarts_idempotently() {
    let dir = tempfile::tempdir().unwrap();
    let config = tenantry_server::config::Config {
        data_dir: dir.path().join("data"),
        ..Default::default()
    };
    let first = tenantry_server::demo::prepare(&config).await.unwrap();
    let counts = |app: tenantry_server::startup::App| async move {
        let mut out = Vec::new();
        for c in app.registry().all_configs().await.unwrap() {
            let mut conn = app.pools().acquire(&c).await.unwrap();
            // The demo's tenants are SQLite: the typed connection is the engine's own.
            let lite = conn.as_sqlite().expect("demo tenants are SQLite");
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM customers")
                .fetch_one(&mut *lite)
                .await
                .unwrap();
            let first: String =
                sqlx::query_scalar("SELECT name FROM customers ORDER BY id LIMIT 1")
                    .fetch_one(&mut *lite)
                    .await
                    .unwrap();
            out.push((
                c.tenant.code.to_string(),
                c.tenant.hosting.to_string(),
                n,
                first,
            ));
        }
        app.pools().close_all().await;
        app.registry().close().await;
        out
    };
    let before = counts(first).await;
    assert_eq!(before.len(), 5);
    let codes: Vec<_> = before.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(codes, ["ACME", "DCPSP", "DEMO", "GLOBALSEC", "TECHSTART"]);
    let firsts: std::collections::HashSet<_> = before.iter().map(|r| r.3.clone()).collect();
    assert_eq!(
        firsts.len(),
        5,
        "seed rows must differ per tenant: {before:?}"
    );
    assert_eq!(before.iter().filter(|r| r.1 == "customer").count(), 3);
    let again = tenantry_server::demo::prepare(&config).await.unwrap();
    assert_eq!(
        counts(again).await,
        before,
        "a second run must not seed again"
    );
}

#[test]
fn serve_without_a_master_key_fails_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tenantry"))
        .arg("serve")
        .env("TENANTRY_DATA_DIR", dir.path())
        .env_remove("TENANTRY_MASTER_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no master key"), "{stderr}");
}
