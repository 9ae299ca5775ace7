//! The owner dashboard in a real headless Chromium: the tenant page, pagination, servers, fleet and
//! audit views render real data from the registry and the tenant databases.

use crate::common::{On, TestApp};
use crate::webdriver::Browser;
use reqwest::{Method, StatusCode};
use serde_json::json;
use tenantry::tenant::{Engine, TenantCode, TenantStatus};

#[tokio::test]
async fn tenant_page_shows_details_stats_health_and_its_audit_rows() {
    let t = TestApp::spawn().await;
    let acme = t.tenant("ACME", On::Pg(0)).await;
    let token = t.login("ACME").await;
    t.seed(&token, "x").await;
    let owner = t.owner_token().await;
    let path = format!("/api/admin/tenants/{}", acme.id);
    let (s, _) = t
        .call(
            Method::POST,
            &format!("{path}/suspend"),
            Some(&owner),
            Some(json!({"reason": "audit me"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let b = Browser::start(&t).await;
    b.sign_in().await;
    b.click("#tenants-table tr[data-code=ACME] a").await;
    b.wait_contains("#tenant-title", "Test Tenant").await;
    b.wait_contains("#tenant-details", "pg0").await;
    b.wait_contains("#tenant-details", acme.database.as_str())
        .await;
    b.wait_contains("#tenant-stats", "Rows in customers\n1")
        .await;
    b.wait_contains("#tenant-stats", "Rows in tickets\n1").await;
    b.wait_contains("#health-connected", "yes").await;
    b.wait_contains("#tenant-audit-table", "suspend").await;
    b.wait_contains("#tenant-audit-table", "audit me").await;
    b.close().await;
}

#[tokio::test]
async fn tenant_page_says_files_and_backups_are_not_available_when_their_api_answers_404() {
    let t = TestApp::spawn().await;
    let acme = t.tenant("ACME", On::Sqlite).await;
    let owner = t.owner_token().await;
    let b = Browser::start(&t).await;
    b.sign_in().await;
    b.open("/owner#/tenants/ACME").await;
    for (what, card) in [("files", "#tenant-files"), ("backups", "#tenant-backups")] {
        let api = format!("/api/admin/tenants/{}/{what}", acme.id);
        let (status, _) = t.call(Method::GET, &api, Some(&owner), None).await;
        if status == StatusCode::NOT_FOUND {
            b.wait_contains(card, "not available").await;
        } else {
            b.wait_for(&format!("{card} table")).await;
        }
    }
    b.wait_contains("#tenant-files", "Files\n0").await;
    b.close().await;
}

#[tokio::test]
async fn tenants_view_pages_through_the_registry_on_the_server() {
    let t = TestApp::spawn().await;
    let server = t.server(On::Sqlite).await;
    for i in 0..120 {
        let mut new = TestApp::new_tenant(&format!("T{i:03}"), &server);
        new.status = if i % 10 == 0 {
            TenantStatus::Suspended
        } else {
            TenantStatus::Active
        };
        t.registry().create_tenant(new).await.unwrap();
    }
    let b = Browser::start(&t).await;
    b.sign_in().await;
    b.wait_contains("#tenant-count", "120 tenants").await;
    b.wait_count("#tenants-table tbody tr[data-code]", 25).await;
    b.wait_contains(".pager-range", "1–25 of 120").await;
    b.click(".pager [data-page=next]").await;
    b.wait_contains(".pager-range", "26–50 of 120").await;
    b.wait_for("#tenants-table tr[data-code=T025]").await;
    assert_eq!(b.count("#tenants-table tr[data-code=T024]").await, 0);
    b.select("#tenant-status", "suspended").await;
    b.wait_contains("#tenant-count", "12 tenants").await;
    b.wait_count("#tenants-table tbody tr[data-status=suspended]", 12)
        .await;
    b.close().await;
}

#[tokio::test]
async fn servers_view_shows_tenant_counts_and_adds_and_removes_a_server() {
    let t = TestApp::spawn().await;
    t.tenant("ACME", On::Sqlite).await;
    t.server(On::Pg(0)).await;
    let b = Browser::start(&t).await;
    b.sign_in().await;
    b.click("a[data-section=servers]").await;
    b.wait_contains("#servers-table tr[data-server=sqlite] .tenant-count", "1")
        .await;
    b.wait_contains("#servers-table tr[data-server=pg0] .tenant-count", "0")
        .await;
    b.wait_contains("#servers-table tr[data-server=pg0]", "closed")
        .await;

    b.click("#add-server").await;
    b.type_into("#add-server input[name=name]", "eu-2").await;
    b.select("#add-server select[name=engine]", "mysql").await;
    b.type_into("#add-server input[name=host]", "db2.internal")
        .await;
    b.type_into("#add-server input[name=port]", "3307").await;
    b.select("#add-server select[name=hosting]", "customer")
        .await;
    b.type_into("#add-server input[name=region]", "eu-west")
        .await;
    b.type_into("#add-server input[name=adminUsername]", "root")
        .await;
    b.type_into("#add-server input[name=adminPassword]", "s3cret-pw")
        .await;
    b.click("#add-server [data-role=submit]").await;
    b.wait_contains("#servers-table tr[data-server=eu-2]", "db2.internal:3307")
        .await;
    let added = t
        .registry()
        .server_by_name(&"eu-2".parse().unwrap())
        .await
        .unwrap();
    assert_eq!((added.engine, added.port), (Engine::Mysql, 3307));
    assert!(added.has_admin_password);
    assert!(!b
        .script("return document.body.innerText", vec![])
        .await
        .to_string()
        .contains("s3cret-pw"));

    b.click("#servers-table tr[data-server=eu-2] [data-action=remove]")
        .await;
    b.click("#remove-server [data-role=submit]").await;
    b.wait_count("#servers-table tr[data-server=eu-2]", 0).await;
    assert!(t
        .registry()
        .server_by_name(&"eu-2".parse().unwrap())
        .await
        .is_err());
    b.close().await;
}

#[tokio::test]
async fn removing_a_server_that_holds_tenants_is_refused_in_words() {
    let t = TestApp::spawn().await;
    t.tenant("ACME", On::Sqlite).await;
    let b = Browser::start(&t).await;
    b.sign_in().await;
    b.open("/owner#/servers").await;
    b.click("#servers-table tr[data-server=sqlite] [data-action=remove]")
        .await;
    b.click("#remove-server [data-role=submit]").await;
    b.wait_contains("#remove-server .form-error", "Could not remove sqlite")
        .await;
    assert!(t
        .registry()
        .server_by_name(&"sqlite".parse().unwrap())
        .await
        .is_ok());
    b.close().await;
}

#[tokio::test]
async fn fleet_view_shows_drift_and_migrate_all_brings_every_tenant_current() {
    let t = TestApp::spawn().await;
    t.tenant("CURRENT", On::Sqlite).await;
    for code in ["BEHIND1", "BEHIND2", "BEHIND3"] {
        t.unmigrated_tenant(code, On::Sqlite).await;
    }
    let b = Browser::start(&t).await;
    b.sign_in().await;
    b.click("a[data-section=fleet]").await;
    b.wait_contains("#fleet-behind", "3").await;
    b.wait_contains("#fleet-current", "1").await;
    b.wait_for("#drift-table tr[data-code=BEHIND2][data-state=behind]")
        .await;
    b.click("#migrate-all").await;
    b.wait_contains("#migrate-summary", "Finished").await;
    b.wait_contains("#migrate-summary", "4 of 4 tenants").await;
    b.wait_count("#migrate-outcomes tr[data-outcome=migrated]", 3)
        .await;
    b.wait_contains("#fleet-current", "4").await;
    b.wait_contains("#fleet-behind", "0").await;
    let latest = tenantry::migrate::latest_version(Engine::Sqlite);
    for code in ["BEHIND1", "BEHIND2", "BEHIND3"] {
        let tenant = t
            .registry()
            .tenant(&TenantCode::parse(code).unwrap())
            .await
            .unwrap();
        assert_eq!(tenant.schema_version, Some(latest), "{code}");
    }
    b.close().await;
}

#[tokio::test]
async fn audit_view_filters_by_tenant() {
    let t = TestApp::spawn().await;
    let acme = t.tenant("ACME", On::Sqlite).await;
    let demo = t.tenant("DEMO", On::Sqlite).await;
    let owner = t.owner_token().await;
    for (tenant, reason) in [(&acme, "acme reason"), (&demo, "demo reason")] {
        let path = format!("/api/admin/tenants/{}/suspend", tenant.id);
        let (s, _) = t
            .call(
                Method::POST,
                &path,
                Some(&owner),
                Some(json!({"reason": reason})),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
    }
    let b = Browser::start(&t).await;
    b.sign_in().await;
    b.click("a[data-section=audit]").await;
    b.wait_contains("#audit-table", "demo reason").await;
    b.wait_contains("#audit-table", "acme reason").await;
    b.type_into("#audit-tenant", "acme").await;
    b.click("#audit-filter button[type=submit]").await;
    b.wait_contains("#audit-count", "1 entry").await;
    b.wait_contains("#audit-table", "acme reason").await;
    assert!(!b
        .wait_for("#audit-table")
        .await
        .text()
        .await
        .unwrap()
        .contains("demo reason"));
    b.close().await;
}
