//! Pool-manager behaviour through the HTTP path: eviction under load, config changes.

use crate::common::{secret, On, TestApp};
use reqwest::{Method, StatusCode};
use std::time::Duration;
use tenantry::pools::PoolManagerSettings;
use tenantry_testkit::{shared_mariadb, unique_name};

#[tokio::test]
async fn pools_evicted_under_load_lose_no_request() {
    let settings = PoolManagerSettings {
        max_pools: 2,
        ..PoolManagerSettings::default()
    };
    let t = TestApp::spawn_with(settings, None).await;
    let codes = ["T1", "T2", "T3", "T4", "T5"];
    let mut tokens = Vec::new();
    for (i, code) in codes.iter().enumerate() {
        t.tenant(code, if i % 2 == 0 { On::Pg(0) } else { On::Sqlite })
            .await;
        tokens.push(t.login(code).await);
    }
    let requests = (0..200).map(|i| {
        let token = tokens[i % tokens.len()].clone();
        let t = &t;
        async move {
            t.call(Method::GET, "/api/customers", Some(&token), None)
                .await
                .0
        }
    });
    let statuses = futures::future::join_all(requests).await;
    let failed = statuses.iter().filter(|s| **s != StatusCode::OK).count();
    assert_eq!(failed, 0, "statuses: {statuses:?}");
    assert!(
        t.app.pools().active_pools() <= 2,
        "LRU cap not kept: {}",
        t.app.pools().active_pools()
    );
}

#[tokio::test]
async fn idle_pools_are_closed() {
    let settings = PoolManagerSettings {
        pool_idle_timeout: Duration::from_millis(300),
        ..PoolManagerSettings::default()
    };
    let t = TestApp::spawn_with(settings, None).await;
    let tenant = t.tenant("IDLE", On::Sqlite).await;
    t.login("IDLE").await;
    assert!(t.app.pools().has_pool(tenant.id));
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(t.app.pools().active_pools(), 0);
}

#[tokio::test]
async fn changed_password_in_the_registry_is_picked_up() {
    let maria = shared_mariadb();
    let user = unique_name("u");
    let t = TestApp::spawn().await;
    let server = t.server(On::MariaDb).await;
    let mut new = TestApp::new_tenant("ACME", &server);
    let db = new.database.clone().unwrap();
    crate::common::mariadb_user_for_database(db.as_str(), &user, "old-pw");
    new.username = Some(user.clone());
    new.password = Some(secret("old-pw"));
    t.provision(new).await;
    let token = t.login("ACME").await;
    let (s, _) = t
        .call(Method::GET, "/api/customers", Some(&token), None)
        .await;
    assert_eq!(s, StatusCode::OK);

    // The DBA changes the password on the server: fresh connections with the old one now fail.
    maria
        .sql(&format!("ALTER USER '{user}'@'%' IDENTIFIED BY 'new-pw'; ALTER USER '{user}'@'localhost' IDENTIFIED BY 'new-pw';"))
        .unwrap();
    let tenant_id = t
        .registry()
        .tenant(&"ACME".parse().unwrap())
        .await
        .unwrap()
        .id;
    t.app.pools().evict(tenant_id);
    let (s, _) = t
        .call(Method::GET, "/api/customers", Some(&token), None)
        .await;
    assert_eq!(
        s,
        StatusCode::SERVICE_UNAVAILABLE,
        "old password must no longer work"
    );

    // The registry learns the new password: the very next request uses it.
    t.registry()
        .set_tenant_password(&"ACME".parse().unwrap(), &secret("new-pw"))
        .await
        .unwrap();
    let (s, body) = t
        .call(Method::GET, "/api/customers", Some(&token), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn stored_password_is_ciphertext_in_the_registry() {
    let t = TestApp::spawn().await;
    let server = t.server(On::Sqlite).await;
    let mut new = TestApp::new_tenant("ACME", &server);
    new.password = Some(secret("very-secret-pw"));
    t.registry().create_tenant(new).await.unwrap();
    let stored: String = sqlx::query_scalar("SELECT password_enc FROM tenants WHERE code = 'ACME'")
        .fetch_one(t.registry().pool())
        .await
        .unwrap();
    assert!(stored.starts_with("v1:"), "{stored}");
    assert!(!stored.contains("very-secret-pw"));
    let config = t
        .registry()
        .tenant_config(&"ACME".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(!format!("{config:?}").contains("very-secret-pw"));
}
