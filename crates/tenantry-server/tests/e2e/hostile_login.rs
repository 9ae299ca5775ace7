//! Sign-in under hostile load: throttling per account and per client address (429
//! `too_many_attempts` with `Retry-After`), answers that do not tell whether a user exists, and a
//! bounded hashing pool that answers 503 `busy` instead of queueing without end.

use crate::common::{On, TestApp, PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;
use tenantry::hashing::HashPoolSettings;
use tenantry::limits::LoginThrottleSettings;
use tenantry::platform::PlatformSettings;
use tenantry::pools::PoolManagerSettings;

/// An app whose sign-in throttle and hashing pool are `tune`d, with tenant `code` on SQLite.
async fn app(code: &str, tune: impl FnOnce(&mut PlatformSettings)) -> TestApp {
    let t = TestApp::spawn_tuned(PoolManagerSettings::default(), None, tune, |a| a).await;
    t.tenant(code, On::Sqlite).await;
    t
}

fn throttle(account: u32, address: u32) -> LoginThrottleSettings {
    LoginThrottleSettings {
        per_account_burst: account,
        per_account_every: Duration::from_secs(60),
        per_address_burst: address,
        per_address_every: Duration::from_secs(60),
        ..LoginThrottleSettings::default()
    }
}

/// Status, `Retry-After` and body of a tenant-user sign-in.
async fn login(t: &TestApp, code: &str, user: &str, pw: &str) -> (StatusCode, Option<u64>, Value) {
    let url = t.url(&format!("/api/auth/login?company={code}"));
    let body = json!({"username": user, "password": pw});
    let resp = t.client.post(url).json(&body).send().await.unwrap();
    let status = resp.status();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
    (status, retry, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn an_account_past_its_attempts_gets_429_with_retry_after_even_with_the_right_password() {
    let t = app("THR1", |s| s.login = throttle(3, 1_000)).await;
    for _ in 0..3 {
        let (s, _, _) = login(&t, "THR1", "admin", "wrong password!").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    let (s, retry, body) = login(&t, "THR1", "admin", PASSWORD).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["code"], "too_many_attempts");
    assert!(retry.is_some_and(|r| (1..=60).contains(&r)), "{retry:?}");
    let (s, _, _) = login(&t, "THR1", "someone-else", "wrong password!").await;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "another account is not throttled"
    );
}

#[tokio::test]
async fn one_address_trying_many_user_names_gets_429_with_retry_after() {
    let t = app("THR2", |s| s.login = throttle(1_000, 4)).await;
    for i in 0..4 {
        let (s, _, _) = login(&t, "THR2", &format!("guess{i}"), "wrong password!").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    let (s, retry, body) = login(&t, "THR2", "guess-more", "wrong password!").await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["code"], "too_many_attempts");
    assert!(retry.is_some_and(|r| r >= 1), "{retry:?}");
}

#[tokio::test]
async fn owner_sign_in_is_throttled_per_account() {
    let t = TestApp::spawn_tuned(
        PoolManagerSettings::default(),
        None,
        |s| s.login = throttle(2, 1_000),
        |a| a,
    )
    .await;
    let attempt = async || {
        let body = json!({"email": "owner@test.local", "password": "not the password"});
        let resp = t.client.post(t.url("/api/admin/login")).json(&body).send();
        let resp = resp.await.unwrap();
        (resp.status(), resp.headers().contains_key("retry-after"))
    };
    assert_eq!(attempt().await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(attempt().await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(attempt().await, (StatusCode::TOO_MANY_REQUESTS, true));
}

#[tokio::test]
async fn unknown_and_known_users_with_a_wrong_password_get_the_same_answer() {
    let t = app("THR3", |_| {}).await;
    let known = login(&t, "THR3", "admin", "wrong password!").await;
    let unknown = login(&t, "THR3", "nobody-here", "wrong password!").await;
    assert_eq!(known.0, StatusCode::UNAUTHORIZED);
    assert_eq!((known.0, &known.2), (unknown.0, &unknown.2));
}

#[tokio::test]
async fn a_sign_in_that_waits_past_the_hashing_queue_timeout_gets_503_busy_with_retry_after() {
    let t = app("BUSY1", |s| {
        s.hashing = HashPoolSettings {
            max_concurrent: 1,
            max_queued: 8,
            queue_timeout: Duration::from_millis(300),
        }
    })
    .await;
    // Hold the only hashing slot until the sign-in has given up waiting.
    let (release, held) = std::sync::mpsc::channel::<()>();
    let hashes = t.platform().hashes().clone();
    let holder = tokio::spawn(async move { hashes.run(move || held.recv().ok()).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (s, retry, body) = login(&t, "BUSY1", "admin", PASSWORD).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "busy");
    assert!(retry.is_some_and(|r| r >= 1), "{retry:?}");
    release.send(()).unwrap();
    holder.await.unwrap().unwrap();
    let (s, _, body) = login(&t, "BUSY1", "admin", PASSWORD).await;
    assert_eq!(s, StatusCode::OK, "the slot is free again: {body}");
}

/// Owner sign-in attempts with a wrong password, each claiming `forwarded` as its client.
async fn owner_attempt(t: &TestApp, forwarded: &str) -> StatusCode {
    let body = json!({"email": "owner@test.local", "password": "not the password"});
    let rq = t.client.post(t.url("/api/admin/login")).json(&body);
    rq.header("x-forwarded-for", forwarded)
        .send()
        .await
        .unwrap()
        .status()
}

/// An app whose sign-in allows 2 attempts per address (and many per account).
async fn proxied_app(trusted: &[&str]) -> TestApp {
    let proxies = tenantry_server::http::TrustedProxies::parse(trusted).unwrap();
    TestApp::spawn_tuned(
        PoolManagerSettings::default(),
        None,
        |s| s.login = throttle(1_000, 2),
        |mut a| {
            a.trusted_proxies = proxies;
            a
        },
    )
    .await
}

#[tokio::test]
async fn two_clients_behind_a_trusted_proxy_are_throttled_separately() {
    // The test client connects from 127.0.0.1: the trusted proxy.
    let t = proxied_app(&["127.0.0.1/32", "::1"]).await;
    let a = "198.51.100.1, 127.0.0.1";
    assert_eq!(owner_attempt(&t, a).await, StatusCode::UNAUTHORIZED);
    assert_eq!(owner_attempt(&t, a).await, StatusCode::UNAUTHORIZED);
    assert_eq!(owner_attempt(&t, a).await, StatusCode::TOO_MANY_REQUESTS);
    let b = "198.51.100.2";
    assert_eq!(
        owner_attempt(&t, b).await,
        StatusCode::UNAUTHORIZED,
        "B has its own allowance"
    );
}

#[tokio::test]
async fn x_forwarded_for_from_an_untrusted_peer_is_ignored() {
    let t = proxied_app(&["10.0.0.0/8"]).await;
    assert_eq!(
        owner_attempt(&t, "198.51.100.1").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        owner_attempt(&t, "198.51.100.2").await,
        StatusCode::UNAUTHORIZED
    );
    // A third made-up address does not help: the peer's own allowance is spent.
    assert_eq!(
        owner_attempt(&t, "198.51.100.3").await,
        StatusCode::TOO_MANY_REQUESTS
    );
}
