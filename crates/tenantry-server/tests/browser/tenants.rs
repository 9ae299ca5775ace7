//! The tenant lifecycle in the owner dashboard, in a real headless Chromium: create, search,
//! suspend, reactivate, delete, checked on the page and in the registry.

use crate::common::{On, TestApp};
use crate::webdriver::Browser;
use reqwest::{Method, StatusCode};
use serde_json::json;
use tenantry::tenant::{TenantCode, TenantStatus};

fn code(s: &str) -> TenantCode {
    TenantCode::parse(s).unwrap()
}

#[tokio::test]
async fn owner_creates_a_postgres_tenant_sees_its_admin_password_once_and_finds_it() {
    let t = TestApp::spawn().await;
    t.server(On::Pg(0)).await;
    t.tenant("OTHER", On::Sqlite).await;
    let b = Browser::start(&t).await;
    b.sign_in().await;
    b.click("#new-tenant").await;
    b.type_into("#create-tenant input[name=code]", "nova").await;
    b.type_into("#create-tenant input[name=name]", "Nova Security")
        .await;
    b.select("#create-tenant select[name=server]", "pg0").await;
    b.click("#create-tenant [data-role=submit]").await;
    let password = b.wait_text("#admin-password code", |s| s.len() >= 12).await;
    b.click("#admin-password [data-role=done]").await;
    b.wait_gone("#admin-password").await;
    b.wait_contains("#tenants-table tr[data-code=NOVA]", "Nova Security")
        .await;

    let tenant = t.registry().tenant(&code("NOVA")).await.unwrap();
    assert_eq!(tenant.status, TenantStatus::Active);
    assert_eq!(tenant.server_name.as_str(), "pg0");
    let (s, body) = t
        .call(
            Method::POST,
            "/api/auth/login?company=NOVA",
            None,
            Some(json!({"username": "admin", "password": password})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "the password shown signs in: {body}");

    b.type_into("#tenant-search", "nova").await;
    b.wait_count("#tenants-table tbody tr[data-code]", 1).await;
    b.wait_for("#tenants-table tr[data-code=NOVA]").await;
    assert!(b.script("return location.hash", vec![]).await == json!("#/tenants?search=nova"));
    b.close().await;
}

#[tokio::test]
async fn an_api_error_is_shown_in_words_and_the_dialog_stays_open() {
    let t = TestApp::spawn().await;
    t.tenant("ACME", On::Sqlite).await;
    let b = Browser::start(&t).await;
    b.sign_in().await;
    b.click("#new-tenant").await;
    b.type_into("#create-tenant input[name=code]", "ACME").await;
    b.type_into("#create-tenant input[name=name]", "Acme again")
        .await;
    b.select("#create-tenant select[name=server]", "sqlite")
        .await;
    b.click("#create-tenant [data-role=submit]").await;
    let text = b
        .wait_for("#create-tenant .form-error")
        .await
        .text()
        .await
        .unwrap();
    assert!(text.starts_with("Could not create the tenant:"), "{text}");
    assert!(text.contains("ACME"), "names the tenant: {text}");
    assert!(b.visible("#create-tenant").await);
    b.close().await;
}

#[tokio::test]
async fn owner_suspends_a_tenant_with_a_reason_and_reactivates_it() {
    let t = TestApp::spawn().await;
    t.tenant("ACME", On::Sqlite).await;
    let b = Browser::start(&t).await;
    b.sign_in().await;
    let row = "#tenants-table tr[data-code=ACME]";
    b.click(&format!("{row} [data-action=suspend]")).await;
    b.type_into(
        "#suspend-tenant textarea[name=reason]",
        "invoice 113 unpaid",
    )
    .await;
    b.click("#suspend-tenant [data-role=submit]").await;
    b.wait_for(&format!("{row}[data-status=suspended]")).await;
    let tenant = t.registry().tenant(&code("ACME")).await.unwrap();
    assert_eq!(tenant.status, TenantStatus::Suspended);
    assert_eq!(tenant.status_reason.as_deref(), Some("invoice 113 unpaid"));

    b.click(&format!("{row} [data-action=reactivate]")).await;
    b.wait_contains("#reactivate-tenant", "invoice 113 unpaid")
        .await;
    b.click("#reactivate-tenant [data-role=submit]").await;
    b.wait_for(&format!("{row}[data-status=active]")).await;
    let tenant = t.registry().tenant(&code("ACME")).await.unwrap();
    assert_eq!(tenant.status, TenantStatus::Active);
    b.close().await;
}

#[tokio::test]
async fn owner_deletes_a_tenant_only_after_typing_its_code() {
    let t = TestApp::spawn().await;
    t.tenant("ACME", On::Pg(0)).await;
    let b = Browser::start(&t).await;
    b.sign_in().await;
    b.click("#tenants-table tr[data-code=ACME] [data-action=delete]")
        .await;
    let submit = "#delete-tenant [data-role=submit]";
    assert!(!b.is_enabled(submit).await, "disabled before typing");
    b.type_into("#delete-tenant input[name=confirm]", "ACM")
        .await;
    assert!(!b.is_enabled(submit).await, "disabled for a wrong code");
    b.type_into("#delete-tenant input[name=confirm]", "ACME")
        .await;
    assert!(b.is_enabled(submit).await, "enabled once the code is typed");
    b.click(submit).await;
    b.wait_gone("#delete-tenant").await;
    b.wait_count("#tenants-table tr[data-code=ACME]", 0).await;
    let tenant = t.registry().tenant(&code("ACME")).await.unwrap();
    assert_eq!(tenant.status, TenantStatus::Deleted);
    b.select("#tenant-status", "deleted").await;
    b.wait_for("#tenants-table tr[data-code=ACME][data-status=deleted]")
        .await;
    b.close().await;
}
