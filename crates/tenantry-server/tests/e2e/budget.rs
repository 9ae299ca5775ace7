//! The connection budget bounds connections *open* on the servers (not only checked out), in total
//! and per data server; health probes leave the pools alone.

use crate::common::{On, TestApp};
use reqwest::{Method, StatusCode};
use sqlx::{Connection, PgConnection};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tenantry::pools::PoolManagerSettings;
use tenantry_testkit::shared_pg;

/// Provisions `n` PostgreSQL tenants on server `pg` and returns (code, token, database) of each.
async fn pg_tenants(
    t: &TestApp,
    prefix: &str,
    pg: usize,
    n: usize,
) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for i in 0..n {
        let code = format!("{prefix}{i}");
        let tenant = t.tenant(&code, On::Pg(pg)).await;
        let token = t.login(&code).await;
        out.push((code, token, tenant.database.to_string()));
    }
    out
}

/// Connections the server itself reports as open to `databases` by tenantry pools, sampled every
/// few milliseconds until `stop`; returns the largest count seen.
fn sample_server_connections(
    pg: usize,
    databases: Vec<String>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<i64> {
    let url = shared_pg(pg).admin_url();
    tokio::spawn(async move {
        let mut conn = PgConnection::connect(&url).await.unwrap();
        let max = AtomicI64::new(0);
        while !stop.load(Ordering::Relaxed) {
            let n: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM pg_stat_activity \
                 WHERE application_name = 'tenantry' AND datname = ANY($1)",
            )
            .bind(&databases)
            .fetch_one(&mut conn)
            .await
            .unwrap();
            max.fetch_max(n, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        max.load(Ordering::Relaxed)
    })
}

/// Sends `rounds` concurrent waves of one `GET /api/customers` per tenant; returns the statuses.
async fn load(t: &TestApp, tenants: &[(String, String, String)], rounds: usize) -> Vec<StatusCode> {
    let mut all = Vec::new();
    for _ in 0..rounds {
        let wave = tenants.iter().map(|(_, token, _)| async move {
            t.call(Method::GET, "/api/customers", Some(token), None)
                .await
                .0
        });
        all.extend(futures::future::join_all(wave).await);
    }
    all
}

#[tokio::test]
async fn open_connections_never_exceed_the_budget_and_idle_ones_of_other_tenants_are_reclaimed() {
    let budget = 4;
    let t = TestApp::spawn_with(
        PoolManagerSettings {
            max_total_connections: Some(budget),
            ..PoolManagerSettings::default()
        },
        None,
    )
    .await;
    let tenants = pg_tenants(&t, "BUD", 0, 10).await;
    let stop = Arc::new(AtomicBool::new(false));
    let dbs = tenants.iter().map(|t| t.2.clone()).collect();
    let sampler = sample_server_connections(0, dbs, stop.clone());
    let statuses = load(&t, &tenants, 8).await;
    stop.store(true, Ordering::Relaxed);
    let seen_on_server = sampler.await.unwrap();

    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    let stats = t.app.pools().stats();
    assert!(stats.connections_peak <= budget, "{stats:?}");
    assert!(
        seen_on_server <= budget as i64,
        "server saw {seen_on_server} connections"
    );
    assert!(
        stats.connections_reclaimed > 0,
        "10 tenants under a budget of 4 must reclaim idle connections: {stats:?}"
    );
    assert!(stats.connections_open <= budget);
}

#[tokio::test]
async fn a_server_cap_bounds_connections_to_that_server_only() {
    let t = TestApp::spawn().await;
    let capped = t.server(On::Pg(2)).await;
    t.registry()
        .set_server_max_connections(capped.id, Some(2))
        .await
        .unwrap();
    let on_capped = pg_tenants(&t, "CAP", 2, 4).await;
    let free = pg_tenants(&t, "FREE", 3, 4).await;
    let stop = Arc::new(AtomicBool::new(false));
    let dbs = on_capped.iter().map(|t| t.2.clone()).collect();
    let sampler = sample_server_connections(2, dbs, stop.clone());
    let all: Vec<_> = on_capped.iter().chain(&free).cloned().collect();
    let statuses = load(&t, &all, 6).await;
    stop.store(true, Ordering::Relaxed);
    let seen = sampler.await.unwrap();
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert!(seen <= 2, "the capped server saw {seen} connections");
    let mut free_open = 0;
    for (code, _, _) in &free {
        let id = t
            .registry()
            .tenant(&code.parse().unwrap())
            .await
            .unwrap()
            .id;
        free_open += t.app.pools().pool_state(id).map_or(0, |s| s.open);
    }
    assert!(
        free_open > 2,
        "the uncapped server is not held to the other's cap"
    );
}

#[tokio::test]
async fn health_probes_neither_open_nor_evict_pools() {
    let t = TestApp::spawn_with(
        PoolManagerSettings {
            max_pools: 2,
            ..PoolManagerSettings::default()
        },
        None,
    )
    .await;
    for code in ["HA", "HB", "HC", "HD", "HE"] {
        t.tenant(code, On::Sqlite).await;
    }
    let (a, b) = (t.login("HA").await, t.login("HB").await);
    for token in [&a, &b] {
        let (s, _) = t.call(Method::GET, "/api/tickets", Some(token), None).await;
        assert_eq!(s, StatusCode::OK);
    }
    let mut ids = Vec::new();
    for code in ["HA", "HB"] {
        ids.push(
            t.registry()
                .tenant(&code.parse().unwrap())
                .await
                .unwrap()
                .id,
        );
    }
    let evictions = t.app.pools().stats().evictions;
    let owner = t.owner_token().await;
    let (s, body) = t
        .call(Method::GET, "/api/health/tenants", Some(&owner), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["tenants"].as_array().unwrap().len(), 5);
    assert!(body["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["connected"] == true));
    for id in ids {
        assert!(
            t.app.pools().has_pool(id),
            "a busy tenant's pool was evicted"
        );
    }
    assert_eq!(t.app.pools().stats().evictions, evictions);
    assert_eq!(t.app.pools().active_pools(), 2);
}
