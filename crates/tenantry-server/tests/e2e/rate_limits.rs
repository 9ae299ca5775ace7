//! Per-tenant rate limits: from the tenant's plan (the registry's `plans` table, migration 0004 on
//! SQLite and PostgreSQL registries) or its own override through `PUT /api/admin/tenants/{id}`;
//! past them 429 `rate_limited` with `Retry-After`, while other tenants are served as before.

use crate::common::{On, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tenantry::pools::PoolManagerSettings;
use tenantry_testkit::{shared_pg, unique_name};

/// Statuses (and whether each 429 named `rate_limited` with a `Retry-After`) of `n` concurrent
/// `GET /api/tickets` with `token`.
async fn burst(t: &TestApp, token: &str, n: usize) -> Vec<(StatusCode, bool)> {
    let calls = (0..n).map(|_| async {
        let rq = t.client.get(t.url("/api/tickets")).bearer_auth(token);
        let resp = rq.send().await.unwrap();
        let status = resp.status();
        let retry = resp.headers().contains_key("retry-after");
        let body: Value = resp.json().await.unwrap();
        let limited = body["error"]["code"] == "rate_limited" && retry;
        (status, limited)
    });
    futures::future::join_all(calls).await
}

fn count(answers: &[(StatusCode, bool)], status: StatusCode) -> usize {
    answers.iter().filter(|(s, _)| *s == status).count()
}

async fn set_limit(t: &TestApp, owner: &str, code: &str, limit: Value) -> Value {
    let path = format!("/api/admin/tenants/{code}");
    let body = json!({"rateLimit": limit});
    let (s, tenant) = t.call(Method::PUT, &path, Some(owner), Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{tenant}");
    tenant
}

#[tokio::test]
async fn a_tenant_past_its_limit_gets_429_while_another_tenant_is_served_in_the_same_moment() {
    let t = TestApp::spawn().await;
    t.tenant("FLOOD", On::Sqlite).await;
    t.tenant("CALM", On::Sqlite).await;
    let (flood, calm) = (t.login("FLOOD").await, t.login("CALM").await);
    let owner = t.owner_token().await;
    set_limit(
        &t,
        &owner,
        "FLOOD",
        json!({"requestsPerSecond": 1, "burst": 3}),
    )
    .await;
    let (flooded, served) = tokio::join!(burst(&t, &flood, 12), burst(&t, &calm, 12));
    assert!(count(&flooded, StatusCode::OK) <= 4, "{flooded:?}");
    let limited = flooded.iter().filter(|(_, l)| *l).count();
    assert!(
        limited >= 8,
        "429 rate_limited with Retry-After: {flooded:?}"
    );
    assert_eq!(count(&served, StatusCode::OK), 12, "{served:?}");
}

#[tokio::test]
async fn an_override_set_through_put_applies_at_once_shows_in_get_and_can_be_removed() {
    let t = TestApp::spawn().await;
    t.tenant("OVR", On::Sqlite).await;
    let token = t.login("OVR").await;
    let owner = t.owner_token().await;
    let (s, before) = t
        .call(Method::GET, "/api/admin/tenants/OVR", Some(&owner), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(before["plan"], "standard");
    assert_eq!(
        before["rateLimit"],
        json!({"requestsPerSecond": 100, "burst": 300})
    );
    assert_eq!(before["rateLimitOverride"], Value::Null);
    assert_eq!(count(&burst(&t, &token, 10).await, StatusCode::OK), 10);

    let limit = json!({"requestsPerSecond": 1, "burst": 2});
    let after = set_limit(&t, &owner, "OVR", limit.clone()).await;
    assert_eq!(
        (&after["rateLimit"], &after["rateLimitOverride"]),
        (&limit, &limit)
    );
    let (_, shown) = t
        .call(Method::GET, "/api/admin/tenants/OVR", Some(&owner), None)
        .await;
    assert_eq!(shown["rateLimitOverride"], limit);
    let limited = burst(&t, &token, 6).await;
    assert!(
        count(&limited, StatusCode::TOO_MANY_REQUESTS) >= 3,
        "{limited:?}"
    );

    let cleared = set_limit(&t, &owner, "OVR", Value::Null).await;
    assert_eq!(cleared["rateLimitOverride"], Value::Null);
    assert_eq!(cleared["rateLimit"]["requestsPerSecond"], 100);
    assert_eq!(count(&burst(&t, &token, 10).await, StatusCode::OK), 10);
}

#[tokio::test]
async fn bad_rate_limits_and_unknown_plans_are_400_naming_the_field() {
    let t = TestApp::spawn().await;
    t.tenant("BADRL", On::Sqlite).await;
    let owner = t.owner_token().await;
    let path = "/api/admin/tenants/BADRL";
    for (body, field) in [
        (
            json!({"rateLimit": {"requestsPerSecond": 0, "burst": 5}}),
            "rateLimit",
        ),
        (
            json!({"rateLimit": {"requestsPerSecond": "many"}}),
            "rateLimit",
        ),
        (json!({"plan": "platinum"}), "plan"),
    ] {
        let (s, answer) = t.call(Method::PUT, path, Some(&owner), Some(body)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{message}");
    }
    let (_, tenant) = t.call(Method::GET, path, Some(&owner), None).await;
    assert_eq!(tenant["plan"], "standard", "nothing changed");
    assert_eq!(tenant["rateLimitOverride"], Value::Null);
}

#[tokio::test]
async fn a_tenants_limits_come_from_its_plan_in_the_plans_table() {
    let t = TestApp::spawn().await;
    t.tenant("PLAN", On::Sqlite).await;
    let token = t.login("PLAN").await;
    let owner = t.owner_token().await;
    let (s, plans) = t
        .call(Method::GET, "/api/admin/plans", Some(&owner), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let names: Vec<&str> = plans["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["enterprise", "free", "premium", "standard"]);
    sqlx::query("UPDATE plans SET requests_per_second = 1, burst = 2 WHERE name = 'free'")
        .execute(t.registry().pool())
        .await
        .unwrap();
    let path = "/api/admin/tenants/PLAN";
    let (s, tenant) = t
        .call(
            Method::PUT,
            path,
            Some(&owner),
            Some(json!({"plan": "free"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{tenant}");
    assert_eq!(
        tenant["rateLimit"],
        json!({"requestsPerSecond": 1, "burst": 2})
    );
    let answers = burst(&t, &token, 6).await;
    assert!(count(&answers, StatusCode::OK) <= 3, "{answers:?}");
    assert!(
        answers.iter().filter(|(_, l)| *l).count() >= 3,
        "{answers:?}"
    );
}

#[tokio::test]
async fn registry_migration_0004_gives_a_postgres_registry_plans_and_overrides() {
    let pg = shared_pg(0);
    let db = unique_name("registry_plans");
    pg.psql("postgres", &format!("CREATE DATABASE {db}"))
        .unwrap();
    let t = TestApp::spawn_with(PoolManagerSettings::default(), Some(pg.url(&db))).await;
    let plans = t.registry().plans().await.unwrap();
    let standard = plans.iter().find(|p| p.name == "standard").expect("seeded");
    assert_eq!(
        (
            standard.rate_limit.requests_per_second,
            standard.rate_limit.burst
        ),
        (100, 300)
    );
    t.tenant("PGPLAN", On::Sqlite).await;
    let token = t.login("PGPLAN").await;
    let owner = t.owner_token().await;
    let limit = json!({"requestsPerSecond": 1, "burst": 2});
    let tenant = set_limit(&t, &owner, "PGPLAN", limit.clone()).await;
    assert_eq!(tenant["rateLimitOverride"], limit);
    let stored = pg
        .psql(
            &db,
            "SELECT rate_limit_rps, rate_limit_burst FROM tenants WHERE code = 'PGPLAN'",
        )
        .unwrap();
    assert_eq!(stored.trim(), "1|2");
    let answers = burst(&t, &token, 6).await;
    assert!(
        count(&answers, StatusCode::TOO_MANY_REQUESTS) >= 3,
        "{answers:?}"
    );
}
