//! Signing in and out of the owner dashboard in a real headless Chromium, and what an expired
//! token does.

use crate::common::{On, TestApp, PASSWORD};
use crate::webdriver::Browser;
use serde_json::json;
use std::time::Duration;
use tenantry::auth::{Claims, TokenKind, TokenSigner};

#[tokio::test]
async fn owner_signs_in_sees_the_tenants_and_signs_out() {
    let t = TestApp::spawn().await;
    t.tenant("ACME", On::Sqlite).await;
    let b = Browser::start(&t).await;
    b.open("/owner").await;
    b.wait_for("#signin-form").await;
    assert!(
        !b.visible("#shell").await,
        "nothing but sign-in before signing in"
    );
    b.sign_in_here("owner@test.local", PASSWORD).await;
    b.wait_contains("#tenants-table tr[data-code=ACME]", "Test Tenant")
        .await;
    b.wait_contains("#owner-email", "owner@test.local").await;
    let stored = b
        .script(
            "return sessionStorage.getItem('tenantry.owner.token')",
            vec![],
        )
        .await;
    assert!(
        stored.as_str().is_some_and(|s| s.len() > 20),
        "token kept in sessionStorage"
    );
    b.click("#signout").await;
    b.wait_for("#signin-form").await;
    assert!(!b.visible("#shell").await);
    let stored = b
        .script(
            "return sessionStorage.getItem('tenantry.owner.token')",
            vec![],
        )
        .await;
    assert_eq!(stored, json!(null), "token forgotten on sign-out");
    b.close().await;
}

#[tokio::test]
async fn a_wrong_password_is_refused_in_words() {
    let t = TestApp::spawn().await;
    let b = Browser::start(&t).await;
    b.open("/owner").await;
    b.sign_in_here("owner@test.local", "not-the-password").await;
    b.wait_contains("#signin-error", "Wrong email or password")
        .await;
    assert!(!b.visible("#shell").await);
    b.close().await;
}

/// An owner token signed with the app's key that expired a while ago.
async fn expired_owner_token(t: &TestApp) -> String {
    let secrets = t.registry().secrets();
    let signer = TokenSigner::new(secrets.master_key(), Duration::ZERO);
    let owner = t
        .registry()
        .verify_owner("owner@test.local", PASSWORD)
        .await
        .unwrap()
        .unwrap();
    let (token, _) = signer.issue(Claims {
        sub: owner.id.to_string(),
        kind: TokenKind::Owner,
        tid: None,
        tenant: None,
        name: owner.email,
        role: "owner".into(),
        pwv: None,
        iat: 0,
        exp: 0,
    });
    // Past the verifier's 5 s leeway.
    tokio::time::sleep(Duration::from_secs(7)).await;
    token
}

#[tokio::test]
async fn an_expired_token_returns_the_owner_to_the_sign_in_page() {
    let t = TestApp::spawn().await;
    let expired = expired_owner_token(&t).await;
    let b = Browser::start(&t).await;
    b.sign_in().await;
    b.script(
        "sessionStorage.setItem('tenantry.owner.token', arguments[0])",
        vec![json!(expired)],
    )
    .await;
    b.click("a[data-section=servers]").await;
    b.wait_contains("#signin-notice", "session has expired")
        .await;
    assert!(!b.visible("#shell").await);
    b.sign_in_here("owner@test.local", PASSWORD).await;
    b.wait_for("#servers-table").await;
    b.close().await;
}

#[tokio::test]
async fn the_dashboard_signs_out_by_itself_when_the_token_lifetime_ends() {
    let t = TestApp::spawn().await;
    let b = Browser::start(&t).await;
    b.sign_in().await;
    b.script(
        "sessionStorage.setItem('tenantry.owner.expiresAt', String(Date.now() / 1000 - 1)); \
         document.dispatchEvent(new Event('visibilitychange'));",
        vec![],
    )
    .await;
    b.wait_contains("#signin-notice", "session has expired")
        .await;
    let stored = b
        .script(
            "return sessionStorage.getItem('tenantry.owner.token')",
            vec![],
        )
        .await;
    assert_eq!(stored, json!(null));
    b.close().await;
}
